//! The policies of a generated rulebook: a statutory part modelled on `rulebook/policies`, and
//! pre-assessments shaped by demand.

use super::{authority, quoted, sensitive, unit, units_of, Rng, Vocab, DUTIES};
use std::fmt::Write as _;

/// The pre-assessment the benchmark request relies on.
pub struct Target {
    pub recipient: usize,
    pub offering: usize,
    pub fields: Vec<String>,
    pub purpose: String,
}

/// Writes annotated policies (the annotations `policy.rs` requires) and counts them.
struct Writer {
    text: String,
    count: usize,
}

impl Writer {
    /// `head`: id, outcome, SFS, chapter (may be empty), section. `weigh`: for review grants.
    fn policy(&mut self, head: [&str; 5], weigh: Option<&str>, body: &str) {
        let [id, outcome, sfs, chapter, section] = head;
        let t = &mut self.text;
        let _ = writeln!(t, "@id(\"{id}\")\n@outcome(\"{outcome}\")\n@sfs(\"{sfs}\")");
        if !chapter.is_empty() {
            let _ = writeln!(t, "@chapter(\"{chapter}\")");
        }
        let _ = writeln!(
            t,
            "@section(\"{section}\")\n@title(\"Bestämmelse i SFS {sfs}\")"
        );
        if let Some(weigh) = weigh {
            let _ = writeln!(t, "@weigh(\"{weigh}\")");
        }
        let _ = writeln!(t, "{body};\n");
        self.count += 1;
    }
}

/// The example rulebook's organised-crime policies: a group grant and the refusal outside a
/// decided, running joint operation. Every name they use is in the generated vocabulary.
pub const SAMVERKAN: &str = include_str!("../../../../rulebook/policies/samverkan.cedar");

const DISCLOSE: &str = "action == Action::\"disclose\"";

/// The statutory policies, and how many there are.
///
/// - per duty provision: a review grant scoped to its recipient group, and (except for law
///   enforcement) a refusal for the intelligence register (as LUFFA 4 §);
/// - per offering with health or social-services data: a refusal of that category under every
///   duty, scoped to the category;
/// - the general clause (OSL 10:27) as a review grant with its social-services exception;
///   OSL 10:15 a for law enforcement;
/// - statutory duties to disclose named categories to one authority (as SFB 110:31);
/// - the protected-identity overrides (forced review; addresses only to law enforcement);
/// - the public-data grant; a unit-scoped grant (as LUB for a tax-crime unit).
pub fn statutory(v: &Vocab) -> (String, usize) {
    let mut w = Writer {
        text: String::new(),
        count: 0,
    };
    let restricted = v
        .offerings
        .iter()
        .find(|o| o.secrecy == "osl-35-1")
        .map_or("register-05", |o| &o.id);
    // The organised-crime duty's grant and its joint-operation refusal come verbatim from
    // the example rulebook (see `SAMVERKAN`), so they follow its schema.
    for d in v.duties() {
        let body = format!(
            "permit (principal in Group::\"{}\", {DISCLOSE}, resource)\nwhen {{\n  \
             context.legal_basis == Provision::\"{}\" &&\n  \
             context.purpose in PurposeGroup::\"{}\" &&\n  context.recipient != context.provider\n}}",
            d.group, d.provision, d.purpose_group
        );
        let id = format!("{}-uppgiftsskyldighet", d.provision);
        if d.provision != "sfs-2016-774" {
            w.policy(
                [&id, "review", d.sfs, "", d.section],
                Some("Behövs uppgiften för ändamålet?"),
                &body,
            );
        }
        if d.group != "brottsbekampande" {
            let body = format!(
                "forbid (principal, {DISCLOSE}, resource in Offering::\"{restricted}\")\n\
                 when {{ context.legal_basis == Provision::\"{}\" }}",
                d.provision
            );
            let id = format!("{}-omfattar-inte-underrattelser", d.provision);
            w.policy([&id, "refuse", d.sfs, "", d.section], None, &body);
        }
    }
    let duties: Vec<String> = v
        .duties()
        .iter()
        .map(|d| format!("Provision::\"{}\"", d.provision))
        .collect();
    for o in &v.offerings {
        for (category, _) in o.categories.iter().filter(|(c, _)| sensitive(c)) {
            let body = format!(
                "forbid (principal, {DISCLOSE}, resource in Category::\"{}/{category}\")\n\
                 when {{ [{}].contains(context.legal_basis) }}",
                o.id,
                duties.join(", ")
            );
            let id = format!("{}-{category}-omfattas-inte", o.id);
            w.policy([&id, "refuse", "2009:400", "10", "2 §"], None, &body);
        }
    }
    let body = format!(
        "permit (principal, {DISCLOSE}, resource)\nwhen {{\n  \
         context.legal_basis == Provision::\"osl-10-27\" &&\n  context.recipient != context.provider\n}}"
    );
    let head = [
        "osl-10-27-generalklausul",
        "review",
        "2009:400",
        "10",
        "27 §",
    ];
    w.policy(
        head,
        Some("Har intresset av att uppgiften lämnas uppenbart företräde?"),
        &body,
    );
    let body = format!(
        "forbid (principal, {DISCLOSE}, resource)\nwhen {{\n  \
         context.legal_basis == Provision::\"osl-10-27\" &&\n  \
         resource.offering.secrecy == Provision::\"osl-26-1\"\n}}"
    );
    w.policy(
        [
            "osl-10-27-galler-inte-socialtjanst",
            "refuse",
            "2009:400",
            "10",
            "27 §",
        ],
        None,
        &body,
    );
    let body = format!(
        "permit (principal in Group::\"brottsbekampande\", {DISCLOSE}, resource)\nwhen {{\n  \
         context.legal_basis == Provision::\"osl-10-15a\" &&\n  \
         context.purpose in PurposeGroup::\"brottsbekampning\" &&\n  context.recipient != context.provider\n}}"
    );
    let head = [
        "osl-10-15a-brottslig-verksamhet",
        "review",
        "2009:400",
        "10",
        "15 a §",
    ];
    w.policy(
        head,
        Some("Kan uppgiften bidra till att förhindra brottslig verksamhet?"),
        &body,
    );
    for k in 0..v.statutory {
        let categories: Vec<String> = (0..3)
            .map(|j| {
                let o = &v.offerings[(k * 3 + j) % v.offerings.len()];
                format!("resource in Category::\"{}/{}\"", o.id, o.categories[0].0)
            })
            .collect();
        let body = format!(
            "permit (principal in Authority::\"{}\", {DISCLOSE}, resource)\nwhen {{\n  \
             context.legal_basis == Provision::\"sfb-110-{}\" &&\n  \
             context.purpose == Purpose::\"handlaggning-formaner\" &&\n  ({})\n}}",
            authority((2 + 5 * k) % v.authorities),
            31 + k,
            categories.join(" || ")
        );
        let (id, section) = (
            format!("sfb-110-{}-uppgifter", 31 + k),
            format!("{} §", 31 + k),
        );
        w.policy([&id, "disclose", "2010:110", "110", &section], None, &body);
    }
    let body = "forbid (principal, action, resource)\nwhen { context.subject.protected_identity }";
    let head = [
        "skyddade-personuppgifter-kraver-provning",
        "review",
        "2009:400",
        "21",
        "3 §",
    ];
    w.policy(
        head,
        Some("Kan uppgiften röja var den registrerade vistas?"),
        body,
    );
    let address = v
        .offerings
        .iter()
        .find(|o| o.categories.iter().any(|(c, _)| *c == "adress"));
    let body = format!(
        "forbid (principal, {DISCLOSE}, resource in Category::\"{}/adress\")\nwhen {{\n  \
         context.subject.protected_identity &&\n  !(principal in Group::\"brottsbekampande\")\n}}",
        address.map_or("register-00", |o| &o.id)
    );
    w.policy(
        [
            "skyddad-adress-endast-till-brottsbekampande",
            "refuse",
            "2009:400",
            "21",
            "3 §",
        ],
        None,
        &body,
    );
    let body = format!(
        "permit (principal, {DISCLOSE}, resource)\n\
         when {{ resource.offering.secrecy == Provision::\"tf-2-1\" }}"
    );
    w.policy(
        ["offentlig-uppgift", "disclose", "1949:105", "2", "1 §"],
        None,
        &body,
    );
    let body = format!(
        "permit (principal in Unit::\"{}\", {DISCLOSE}, resource)\nwhen {{\n  \
         context.legal_basis == Provision::\"lub\" &&\n  \
         context.purpose in PurposeGroup::\"brottsbekampning\" &&\n  \
         context.provider != Authority::\"{}\"\n}}",
        unit(2, 0),
        authority(2)
    );
    w.policy(
        ["lub-enhet", "review", "2025:170", "", "2 §"],
        Some("Behövs uppgiften i enhetens brottsbekämpning?"),
        &body,
    );
    (w.text, w.count)
}

/// `count` pre-assessments, the target first. The others follow demand: the offering is drawn
/// with Zipf weights (a few registers — income, population — get most agreements), the recipient
/// uniformly among authorities in some group. Mostly the recipient's own duties, some OSL 10:27
/// and 10:15 a; a purpose or a whole purpose group; 2–8 ordinary fields; sometimes only some
/// units or roles; 60 % in force around 2026, 25 % expired, 15 % not yet in force.
pub fn pre_assessments(v: &Vocab, target: &Target, count: usize, rng: &mut Rng) -> Vec<String> {
    let eligible: Vec<usize> = (0..v.offerings.len())
        .filter(|o| v.offerings[*o].secrecy != "tf-2-1")
        .collect();
    let weights: Vec<f64> = (0..eligible.len())
        .map(|r| 1.0 / (r as f64 + 1.0))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let body = if k == 0 {
            format!(
                "offering = \"{}\"\nfields = [{}]\nrecipient = \"{}\"\n\
                 roles = [\"handlaggare\", \"kontrollutredare\"]\npurpose = \"{}\"\nprovision = \"{}\"\n\
                 valid_from = \"2025-01-01\"\nvalid_until = \"2027-12-31\"\napproved_on = \"2024-11-20\"\n",
                v.offerings[target.offering].id,
                quoted(&target.fields),
                authority(target.recipient),
                target.purpose,
                DUTIES[0].provision
            )
        } else {
            let mut pick = rng.unit() * total;
            let o = eligible
                .iter()
                .zip(&weights)
                .find(|(_, w)| {
                    pick -= **w;
                    pick < 0.0
                })
                .map_or(eligible[0], |(o, _)| *o);
            pre_assessment(v, o, rng)
        };
        out.push(format!(
            "[[pre_assessment]]\nid = \"pa-{k:05}\"\ntitle = \"Förhandsbedömning {k}\"\n{body}\
             approved_by_provider = \"Rättsavdelningen (dnr P-{k})\"\n\
             approved_by_recipient = \"Rättsenheten (dnr M-{k})\"\n\n"
        ));
    }
    out
}

fn pre_assessment(v: &Vocab, o: usize, rng: &mut Rng) -> String {
    let offering = &v.offerings[o];
    let recipient = loop {
        let r = rng.below(v.authorities);
        if r != offering.provider && !v.groups_of(r).is_empty() {
            break r;
        }
    };
    let mine = v.groups_of(recipient);
    let roll = rng.percent();
    let (provision, purpose) = if roll < 15 {
        let g = rng.below(v.groups);
        (
            "osl-10-27",
            v.purposes(g)[rng.below(v.purposes_per_group)].clone(),
        )
    } else if roll < 20 && mine.contains(&1) {
        (
            "osl-10-15a",
            v.purposes(1)[rng.below(v.purposes_per_group)].clone(),
        )
    } else {
        let g = mine[rng.below(mine.len())];
        let purpose = if rng.percent() < 20 {
            DUTIES[g].purpose_group.to_owned()
        } else {
            v.purposes(g)[rng.below(v.purposes_per_group)].clone()
        };
        // The organised-crime duty binds only participating providers (its grant, from the
        // example rulebook, says so): an agreement from any other provider rests on the general
        // clause instead, as a pre-assessment never reaches beyond its provision.
        if g == 2 && !super::in_group(offering.provider, 2) {
            (
                "osl-10-27",
                v.purposes(g)[rng.below(v.purposes_per_group)].clone(),
            )
        } else {
            (DUTIES[g].provision, purpose)
        }
    };
    let mut pool = offering.ordinary_fields();
    let fields: Vec<String> = (0..2 + rng.below(7))
        .map(|_| pool.swap_remove(rng.below(pool.len())).clone())
        .collect();
    let mut scope = String::new();
    if rng.percent() < 40 {
        let units: Vec<String> = (0..units_of(recipient))
            .filter(|_| rng.percent() < 60)
            .map(|j| unit(recipient, j))
            .collect();
        if !units.is_empty() {
            let _ = writeln!(scope, "units = [{}]", quoted(&units));
        }
    }
    match rng.percent() {
        0..50 => scope.push_str("roles = [\"handlaggare\"]\n"),
        50..70 => scope.push_str("roles = [\"handlaggare\", \"kontrollutredare\"]\n"),
        _ => {}
    }
    let (year, span) = match rng.percent() {
        0..60 => (2024 + rng.below(3), 2 + rng.below(3)),
        60..85 => (2020 + rng.below(3), 1 + rng.below(2)),
        _ => (2027 + rng.below(2), 2 + rng.below(2)),
    };
    let month = 1 + rng.below(12);
    format!(
        "offering = \"{}\"\nfields = [{}]\nrecipient = \"{}\"\n{scope}purpose = \"{purpose}\"\n\
         provision = \"{provision}\"\nvalid_from = \"{year}-{month:02}-01\"\n\
         valid_until = \"{}-{month:02}-28\"\napproved_on = \"{}-{month:02}-15\"\n",
        offering.id,
        quoted(&fields),
        authority(recipient),
        year + span,
        year - 1
    )
}
