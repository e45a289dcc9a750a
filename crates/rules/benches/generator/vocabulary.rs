//! The vocabulary files of a generated rulebook.

use super::{authority, in_group, orgnr, quoted, unit, units_of, Vocab, DUTIES, SECRECY};
use std::fmt::Write as _;

pub fn authorities_toml(v: &Vocab) -> String {
    let mut text = String::new();
    for d in v.duties() {
        let _ = writeln!(
            text,
            "[[group]]\nid = \"{}\"\ntitle = \"Mottagare enligt {}\"\n",
            d.group, d.sfs
        );
    }
    for i in 0..v.authorities {
        let groups: Vec<String> = v
            .groups_of(i)
            .iter()
            .map(|g| DUTIES[*g].group.to_owned())
            .collect();
        let units: Vec<String> = (0..units_of(i))
            .map(|j| format!("{{ id = \"{}\", name = \"Enhet {j}\" }}", unit(i, j)))
            .collect();
        let _ = writeln!(
            text,
            "[[authority]]\nid = \"{}\"\nname = \"Myndighet {i}\"\norgnr = \"{}\"\n\
             groups = [{}]\nunits = [{}]\n",
            authority(i),
            orgnr(i),
            quoted(&groups),
            units.join(", ")
        );
    }
    text
}

pub fn provisions_toml(v: &Vocab) -> String {
    let mut text = String::new();
    let mut provision = |[id, sfs, chapter, section, kind, title]: [&str; 6]| {
        let _ = writeln!(
            text,
            "[[provision]]\nid = \"{id}\"\nsfs = \"{sfs}\"\nchapter = \"{chapter}\"\n\
             section = \"{section}\"\ntitle = \"{title}\"\nshort = \"{id}\"\nkind = \"{kind}\"\n"
        );
    };
    for (id, chapter, title) in SECRECY {
        provision([
            id,
            "2009:400",
            chapter,
            "1 §",
            "secrecy",
            &format!("Sekretess — {title}"),
        ]);
    }
    provision([
        "tf-2-1",
        "1949:105",
        "2",
        "1 §",
        "public_access",
        "Allmänna handlingar",
    ]);
    provision([
        "osl-21-3",
        "2009:400",
        "21",
        "3 §",
        "protected_identity",
        "Skyddade personuppgifter",
    ]);
    provision([
        "osl-10-27",
        "2009:400",
        "10",
        "27 §",
        "interest_balancing",
        "Generalklausulen",
    ]);
    provision([
        "osl-10-15a",
        "2009:400",
        "10",
        "15 a §",
        "interest_balancing",
        "Brottslig verksamhet",
    ]);
    for d in v.duties() {
        provision([
            d.provision,
            d.sfs,
            "",
            d.section,
            "duty_on_request",
            d.title,
        ]);
    }
    for k in 0..v.statutory {
        let (id, section) = (format!("sfb-110-{}", 31 + k), format!("{} §", 31 + k));
        provision([
            &id,
            "2010:110",
            "110",
            &section,
            "statutory_duty",
            "Uppgifter till Försäkringskassan",
        ]);
    }
    text
}

pub fn purposes_toml(v: &Vocab) -> String {
    let mut text = String::new();
    for (g, d) in v.duties().iter().enumerate() {
        let within = if g == 2 {
            "within = [\"brottsbekampning\"]\n"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "[[group]]\nid = \"{}\"\ntitle = \"Ändamål {}\"\n{within}",
            d.purpose_group, d.sfs
        );
        for p in v.purposes(g) {
            let _ = writeln!(
                text,
                "[[purpose]]\nid = \"{p}\"\ntitle = \"Ändamål {p}\"\ngroups = [\"{}\"]\n",
                d.purpose_group
            );
        }
    }
    text.push_str(
        "[[purpose]]\nid = \"handlaggning-formaner\"\ntitle = \"Handläggning av förmåner\"\n",
    );
    text
}

pub fn offerings_toml(v: &Vocab) -> String {
    let mut text = String::new();
    for o in &v.offerings {
        let _ = writeln!(
            text,
            "[[offering]]\nid = \"{}\"\ntitle = \"Register {}\"\nprovider = \"{}\"\nsecrecy = \"{}\"\n",
            o.id,
            o.id,
            authority(o.provider),
            o.secrecy
        );
        for (c, fields) in &o.categories {
            let fields: Vec<String> = fields
                .iter()
                .map(|f| format!("{{ id = \"{f}\", title = \"Uppgift {f}\" }}"))
                .collect();
            let _ = writeln!(
                text,
                "[[offering.category]]\nid = \"{c}\"\ntitle = \"Kategori {c}\"\nfields = [{}]\n",
                fields.join(", ")
            );
        }
    }
    text
}

/// A running and an ended joint operation among the first six organised-crime authorities.
pub fn operations_toml(v: &Vocab) -> String {
    let participants: Vec<String> = (0..v.authorities)
        .filter(|i| in_group(*i, 2))
        .take(6)
        .map(authority)
        .collect();
    let mut text = String::new();
    for (k, (from, to)) in [("2026-01-01", "2026-12-31"), ("2024-01-01", "2024-12-31")]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            text,
            "[[operation]]\nid = \"insats-{k}\"\ntitle = \"Insats {k}\"\nparticipants = [{}]\n\
             decided = true\nstarts = \"{from}\"\nends = \"{to}\"\n",
            quoted(&participants)
        );
    }
    text
}
