//! A deterministic generator of realistic rulebooks with an exact number of policies.
//!
//! The vocabulary grows with the rulebook: 20/40/60 authorities with one to four units each in
//! up to six recipient groups, 10/25/50 offerings of six categories and 24–36 fields, the
//! provision kinds of the example rulebook, purposes in groups. The fixed, statutory part is
//! modelled on `rulebook/policies`: one group-scoped review grant per duty provision, refuse
//! overrides (restricted offerings, sensitive categories, the general clause's exceptions, use
//! outside a joint operation), statutory-duty grants, the protected-identity overrides and the
//! public-data grant. Every remaining policy is a pre-assessment, so that the rulebook has
//! exactly `n` policies. Pre-assessments follow demand: offerings are drawn with Zipf weights
//! (popular registers such as income or population data get most agreements), recipients
//! uniformly; a mix of current, expired and future agreements, some restricted to units or roles.
//!
//! The benchmark request asks a LUFFA authority for 20 fields of the most popular offering, where
//! one pre-assessment covers 8 fields (disclose), 4 fields are health data (refuse) and the rest
//! rest on the group grant alone (review).

use std::fmt::Write as _;
use utbyte_rules::source::SourceFile;

/// A generated rulebook and the benchmark request's parameters.
pub struct Generated {
    pub files: Vec<SourceFile>,
    pub fixed_policies: usize,
    pub pre_assessments: usize,
    pub recipient: String,
    pub unit: String,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
}

/// SplitMix64: small, deterministic, good enough to spread data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn percent(&mut self) -> usize {
        self.below(100)
    }
}

/// A recipient group, the duty provision that names it and the purposes the duty serves.
struct Duty {
    group: &'static str,
    provision: &'static str,
    sfs: &'static str,
    section: &'static str,
    title: &'static str,
    purpose_group: &'static str,
}

const DUTIES: [Duty; 6] = [
    Duty { group: "luffa-aktorer", provision: "luffa", sfs: "2024:307", section: "3 §", title: "Lag om uppgiftsskyldighet för att motverka felaktiga utbetalningar från välfärdssystemen", purpose_group: "felaktiga-utbetalningar" },
    Duty { group: "brottsbekampande", provision: "lub", sfs: "2025:170", section: "2 §", title: "Lag om skyldighet att lämna uppgifter till de brottsbekämpande myndigheterna", purpose_group: "brottsbekampning" },
    Duty { group: "samverkan-ok", provision: "sfs-2016-774", sfs: "2016:774", section: "2 §", title: "Lag om uppgiftsskyldighet vid samverkan mot viss organiserad brottslighet", purpose_group: "organiserad-brottslighet" },
    Duty { group: "tillsynsmyndigheter", provision: "tillsynslagen", sfs: "2019:1181", section: "5 §", title: "Lag om uppgiftsskyldighet till tillsynsmyndigheter", purpose_group: "tillsyn" },
    Duty { group: "kommuner", provision: "kommunlagen-uppgifter", sfs: "2021:42", section: "4 §", title: "Lag om uppgiftsskyldighet till kommunernas kontrollverksamhet", purpose_group: "kommunal-kontroll" },
    Duty { group: "migrationsaktorer", provision: "utlanningslagen-uppgifter", sfs: "2005:716", section: "17 kap. 1 §", title: "Utlänningslagen — uppgiftsskyldighet", purpose_group: "migrationskontroll" },
];

const SECRECY: [(&str, &str, &str); 6] = [
    ("osl-22-1", "22", "sekretess i folkbokföringsverksamheten"),
    ("osl-27-1", "27", "skattesekretess"),
    ("osl-28-1", "28", "sekretess inom socialförsäkringen"),
    ("osl-26-1", "26", "socialtjänstsekretess"),
    (
        "osl-34-1",
        "34",
        "sekretess i Kronofogdemyndighetens verksamhet",
    ),
    ("osl-35-1", "35", "sekretess i brottsbekämpande verksamhet"),
];

const CATEGORIES: [&str; 8] = [
    "identitet",
    "adress",
    "familj",
    "inkomst",
    "utbetalning",
    "arende",
    "skulder",
    "beslut",
];

struct Offering {
    id: String,
    provider: usize,
    secrecy: &'static str,
    /// (category, fields); sensitive categories are `halsa` and `social`.
    categories: Vec<(&'static str, Vec<String>)>,
}

impl Offering {
    fn ordinary_fields(&self) -> Vec<&String> {
        let ordinary = self
            .categories
            .iter()
            .filter(|(c, _)| !matches!(*c, "halsa" | "social"));
        ordinary.flat_map(|(_, f)| f).collect()
    }
}

fn orgnr(i: usize) -> String {
    let digits: Vec<u32> = format!("202100{:03}", i % 1000)
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(k, d)| {
            if k % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                *d
            }
        })
        .sum();
    format!("202100-{:03}{}", i % 1000, (10 - sum % 10) % 10)
}

fn in_group(i: usize, g: usize) -> bool {
    match g {
        0 => i % 5 != 4,
        1 => i % 4 == 1,
        2 => i % 3 == 0 || i % 4 == 1,
        3 => i % 6 == 2,
        4 => i % 7 == 3 || i % 7 == 5,
        _ => i % 8 == 6,
    }
}

fn authority(i: usize) -> String {
    format!("myndighet-{i:02}")
}

fn unit(i: usize, j: usize) -> String {
    format!("myndighet-{i:02}-enhet-{j}")
}

fn purposes(group: usize, per_group: usize) -> Vec<String> {
    (1..=per_group)
        .map(|k| format!("{}-{k}", DUTIES[group].purpose_group))
        .collect()
}

/// Writes one annotated policy (the annotations `policy.rs` requires).
fn policy(out: &mut String, count: &mut usize, head: [&str; 5], extra: &str, body: &str) {
    let [id, outcome, sfs, chapter, section] = head;
    let _ = writeln!(
        out,
        "@id(\"{id}\")\n@outcome(\"{outcome}\")\n@sfs(\"{sfs}\")"
    );
    if !chapter.is_empty() {
        let _ = writeln!(out, "@chapter(\"{chapter}\")");
    }
    let _ = writeln!(
        out,
        "@section(\"{section}\")\n@title(\"Genererad bestämmelse {sfs}\")\n{extra}{body};\n"
    );
    *count += 1;
}

/// Generates a rulebook of exactly `n` policies (`n` ≥ 100).
pub fn generate(n: usize) -> Generated {
    let (authorities, offerings_n, groups, per_group, statutory) = match n {
        0..=300 => (20, 10, 4, 3, 2),
        301..=3000 => (40, 25, 5, 4, 3),
        _ => (60, 50, 6, 6, 4),
    };
    let mut rng = Rng(0x5EED_0000 ^ n as u64);
    let mut files = Vec::new();
    files.push(SourceFile::new(
        "rulebook.toml",
        format!("name = \"genererad-{n}\"\nversion = \"bench\"\nillustrative = true\n"),
    ));

    // Authorities, units, groups.
    let mut text = String::new();
    for d in &DUTIES[..groups] {
        let _ = writeln!(
            text,
            "[[group]]\nid = \"{}\"\ntitle = \"Mottagare enligt {}\"\n",
            d.group, d.sfs
        );
    }
    let units_of = |i: usize| 1 + i % 4;
    for i in 0..authorities {
        let member: Vec<String> = (0..groups)
            .filter(|g| in_group(i, *g))
            .map(|g| format!("\"{}\"", DUTIES[g].group))
            .collect();
        let units: Vec<String> = (0..units_of(i))
            .map(|j| format!("{{ id = \"{}\", name = \"Enhet {j}\" }}", unit(i, j)))
            .collect();
        let _ = writeln!(
            text,
            "[[authority]]\nid = \"{}\"\nname = \"Myndighet {i}\"\norgnr = \"{}\"\ngroups = [{}]\nunits = [{}]\n",
            authority(i),
            orgnr(i),
            member.join(", "),
            units.join(", ")
        );
    }
    files.push(SourceFile::new("authorities.toml", text));

    // Provisions of every kind the example uses.
    let mut text = String::new();
    let mut provision = |id: &str, sfs: &str, chapter: &str, section: &str, kind: &str| {
        let _ = writeln!(text, "[[provision]]\nid = \"{id}\"\nsfs = \"{sfs}\"\nchapter = \"{chapter}\"\nsection = \"{section}\"\ntitle = \"Bestämmelse {id}\"\nshort = \"{id}\"\nkind = \"{kind}\"\n");
    };
    for (id, chapter, _) in SECRECY {
        provision(id, "2009:400", chapter, "1 §", "secrecy");
    }
    provision("tf-2-1", "1949:105", "2", "1 §", "public_access");
    provision("osl-21-3", "2009:400", "21", "3 §", "protected_identity");
    provision("osl-10-27", "2009:400", "10", "27 §", "interest_balancing");
    provision(
        "osl-10-15a",
        "2009:400",
        "10",
        "15 a §",
        "interest_balancing",
    );
    for d in &DUTIES[..groups] {
        provision(d.provision, d.sfs, "", d.section, "duty_on_request");
    }
    for k in 0..statutory {
        provision(
            &format!("sfb-110-{}", 31 + k),
            "2010:110",
            "110",
            &format!("{} §", 31 + k),
            "statutory_duty",
        );
    }
    files.push(SourceFile::new("provisions.toml", text));

    // Purposes: a group per duty (organised crime within law enforcement), plus one ungrouped.
    let mut text = String::new();
    for (g, d) in DUTIES[..groups].iter().enumerate() {
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
        for p in purposes(g, per_group) {
            let _ = writeln!(
                text,
                "[[purpose]]\nid = \"{p}\"\ntitle = \"Ändamål {p}\"\ngroups = [\"{}\"]\n",
                d.purpose_group
            );
        }
    }
    let _ = writeln!(
        text,
        "[[purpose]]\nid = \"handlaggning-formaner\"\ntitle = \"Handläggning av förmåner\"\n"
    );
    files.push(SourceFile::new("purposes.toml", text));

    // Offerings: six categories, 24–36 fields; every third has health, every third social data.
    let offerings: Vec<Offering> = (0..offerings_n)
        .map(|i| {
            let mut names: Vec<&'static str> = (0..5).map(|k| CATEGORIES[(i + k) % 8]).collect();
            names.push(match i % 3 {
                0 => "halsa",
                1 => "social",
                _ => CATEGORIES[(i + 5) % 8],
            });
            let categories = names
                .into_iter()
                .enumerate()
                .map(|(k, c)| {
                    (
                        c,
                        (1..=4 + (i + k) % 3).map(|j| format!("{c}-{j}")).collect(),
                    )
                })
                .collect();
            let secrecy = if i % 10 == 9 {
                "tf-2-1"
            } else {
                SECRECY[i % 6].0
            };
            Offering {
                id: format!("register-{i:02}"),
                provider: (i * 7) % authorities,
                secrecy,
                categories,
            }
        })
        .collect();
    let mut text = String::new();
    for o in &offerings {
        let _ = writeln!(text, "[[offering]]\nid = \"{}\"\ntitle = \"Register {}\"\nprovider = \"{}\"\nsecrecy = \"{}\"\n", o.id, o.id, authority(o.provider), o.secrecy);
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
    files.push(SourceFile::new("offerings.toml", text));

    // Joint operations for the organised-crime duty.
    let participants: Vec<String> = (0..authorities)
        .filter(|i| in_group(*i, 2))
        .take(6)
        .map(|i| format!("\"{}\"", authority(i)))
        .collect();
    let mut text = String::new();
    for (k, (from, to)) in [("2026-01-01", "2026-12-31"), ("2024-01-01", "2024-12-31")]
        .iter()
        .enumerate()
    {
        let _ = writeln!(text, "[[operation]]\nid = \"insats-{k}\"\ntitle = \"Insats {k}\"\nparticipants = [{}]\ndecided = true\nstarts = \"{from}\"\nends = \"{to}\"\n", participants.join(", "));
    }
    files.push(SourceFile::new("operations.toml", text));

    // The statutory part.
    let mut fixed = 0;
    let mut text = String::new();
    let t = &mut text;
    let c = &mut fixed;
    let restricted = offerings
        .iter()
        .find(|o| o.secrecy == "osl-35-1")
        .map_or("register-05", |o| o.id.as_str());
    for d in &DUTIES[..groups] {
        let (id, weigh) = (
            format!("{}-uppgiftsskyldighet", d.provision),
            "@weigh(\"Behövs uppgiften för ändamålet?\")\n",
        );
        let body = format!("permit (principal in Group::\"{}\", action == Action::\"disclose\", resource)\nwhen {{\n  context.legal_basis == Provision::\"{}\" &&\n  context.purpose in PurposeGroup::\"{}\" &&\n  context.recipient != context.provider\n}}", d.group, d.provision, d.purpose_group);
        policy(t, c, [&id, "review", d.sfs, "", d.section], weigh, &body);
        if d.group != "brottsbekampande" {
            let body = format!("forbid (principal, action == Action::\"disclose\", resource in Offering::\"{restricted}\")\nwhen {{ context.legal_basis == Provision::\"{}\" }}", d.provision);
            policy(
                t,
                c,
                [
                    &format!("{}-omfattar-inte-underrattelser", d.provision),
                    "refuse",
                    d.sfs,
                    "",
                    d.section,
                ],
                "",
                &body,
            );
        }
    }
    let duty_list: Vec<String> = DUTIES[..groups]
        .iter()
        .map(|d| format!("Provision::\"{}\"", d.provision))
        .collect();
    for o in offerings.iter().filter(|o| {
        o.categories
            .iter()
            .any(|(c, _)| matches!(*c, "halsa" | "social"))
    }) {
        let category = o
            .categories
            .iter()
            .map(|(c, _)| *c)
            .find(|c| matches!(*c, "halsa" | "social"))
            .unwrap_or("halsa");
        let body = format!("forbid (principal, action == Action::\"disclose\", resource in Category::\"{}/{category}\")\nwhen {{ [{}].contains(context.legal_basis) }}", o.id, duty_list.join(", "));
        policy(
            t,
            c,
            [
                &format!("{}-{category}-omfattas-inte", o.id),
                "refuse",
                "2009:400",
                "10",
                "2 §",
            ],
            "",
            &body,
        );
    }
    let body = "permit (principal, action == Action::\"disclose\", resource)\nwhen {\n  context.legal_basis == Provision::\"osl-10-27\" &&\n  context.recipient != context.provider\n}";
    policy(
        t,
        c,
        [
            "osl-10-27-generalklausul",
            "review",
            "2009:400",
            "10",
            "27 §",
        ],
        "@weigh(\"Uppenbart företräde?\")\n",
        body,
    );
    let body = "forbid (principal, action == Action::\"disclose\", resource)\nwhen {\n  context.legal_basis == Provision::\"osl-10-27\" &&\n  resource.offering.secrecy == Provision::\"osl-26-1\"\n}";
    policy(
        t,
        c,
        [
            "osl-10-27-galler-inte-socialtjanst",
            "refuse",
            "2009:400",
            "10",
            "27 §",
        ],
        "",
        body,
    );
    let body = "permit (principal in Group::\"brottsbekampande\", action == Action::\"disclose\", resource)\nwhen {\n  context.legal_basis == Provision::\"osl-10-15a\" &&\n  context.purpose in PurposeGroup::\"brottsbekampning\" &&\n  context.recipient != context.provider\n}";
    policy(
        t,
        c,
        [
            "osl-10-15a-brottslig-verksamhet",
            "review",
            "2009:400",
            "10",
            "15 a §",
        ],
        "@weigh(\"Brottslig verksamhet?\")\n",
        body,
    );
    if groups > 2 {
        let body = "forbid (principal, action == Action::\"disclose\", resource)\nwhen {\n  context.legal_basis == Provision::\"sfs-2016-774\" &&\n  !(context has operation &&\n    context.operation.decided &&\n    context.operation.participants.contains(context.recipient) &&\n    context.operation.participants.contains(context.provider) &&\n    context.now >= context.operation.starts &&\n    context.now < context.operation.ends)\n}";
        policy(
            t,
            c,
            [
                "samverkan-endast-inom-beslutad-insats",
                "refuse",
                "2016:774",
                "",
                "1 §",
            ],
            "",
            body,
        );
    }
    for k in 0..statutory {
        let recipient = authority((2 + 5 * k) % authorities);
        let cats: Vec<String> = (0..3)
            .map(|j| {
                let o = &offerings[(k * 3 + j) % offerings.len()];
                format!("resource in Category::\"{}/{}\"", o.id, o.categories[0].0)
            })
            .collect();
        let body = format!("permit (principal in Authority::\"{recipient}\", action == Action::\"disclose\", resource)\nwhen {{\n  context.legal_basis == Provision::\"sfb-110-{}\" &&\n  context.purpose == Purpose::\"handlaggning-formaner\" &&\n  ({})\n}}", 31 + k, cats.join(" || "));
        policy(
            t,
            c,
            [
                &format!("sfb-110-{}-uppgifter", 31 + k),
                "disclose",
                "2010:110",
                "110",
                &format!("{} §", 31 + k),
            ],
            "",
            &body,
        );
    }
    let body = "forbid (principal, action, resource)\nwhen { context.subject.protected_identity }";
    policy(
        t,
        c,
        [
            "skyddade-personuppgifter-kraver-provning",
            "review",
            "2009:400",
            "21",
            "3 §",
        ],
        "@weigh(\"Skyddade personuppgifter.\")\n",
        body,
    );
    let adress = offerings
        .iter()
        .find(|o| o.categories.iter().any(|(c, _)| *c == "adress"))
        .map_or("register-00", |o| o.id.as_str());
    let body = format!("forbid (principal, action == Action::\"disclose\", resource in Category::\"{adress}/adress\")\nwhen {{\n  context.subject.protected_identity &&\n  !(principal in Group::\"brottsbekampande\")\n}}");
    policy(
        t,
        c,
        [
            "skyddad-adress-endast-till-brottsbekampande",
            "refuse",
            "2009:400",
            "21",
            "3 §",
        ],
        "",
        &body,
    );
    let body = "permit (principal, action == Action::\"disclose\", resource)\nwhen { resource.offering.secrecy == Provision::\"tf-2-1\" }";
    policy(
        t,
        c,
        ["offentlig-uppgift", "disclose", "1949:105", "2", "1 §"],
        "",
        body,
    );
    let body = format!("permit (principal in Unit::\"{}\", action == Action::\"disclose\", resource)\nwhen {{\n  context.legal_basis == Provision::\"lub\" &&\n  context.purpose in PurposeGroup::\"brottsbekampning\" &&\n  context.provider != Authority::\"{}\"\n}}", unit(2, 0), authority(2));
    policy(
        t,
        c,
        [
            "lub-enhet-med-brottsbekampning",
            "review",
            "2025:170",
            "",
            "2 §",
        ],
        "@weigh(\"Brottsbekämpande enhet?\")\n",
        &body,
    );
    files.push(SourceFile::new("policies/generated.cedar", text));
    assert!(
        fixed < n,
        "{fixed} statutory policies leave no room in a rulebook of {n}"
    );

    // The benchmark's target: authority 1 (a LUFFA recipient) asks for register-00.
    let target = &offerings[0];
    let field = |c: &str, j: usize| format!("{c}-{j}");
    let covered: Vec<String> = (1..=4)
        .map(|j| field("identitet", j))
        .chain((1..=4).map(|j| field("adress", j)))
        .collect();
    let mut fields = covered.clone();
    fields.extend((1..=4).map(|j| field("halsa", j)));
    fields.extend(
        (1..=5)
            .map(|j| field("familj", j))
            .chain((1..=3).map(|j| field("inkomst", j))),
    );
    let purpose = purposes(0, per_group)[0].clone();

    // Pre-assessments: the target first, then demand-shaped ones.
    let count = n - fixed;
    let eligible: Vec<&Offering> = offerings.iter().filter(|o| o.secrecy != "tf-2-1").collect();
    let weights: Vec<f64> = (0..eligible.len())
        .map(|r| 1.0 / (r as f64 + 1.0))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut chunk = String::new();
    for k in 0..count {
        let quoted = |items: &[String]| {
            items
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let pa = if k == 0 {
            let roles = "[\"handlaggare\", \"kontrollutredare\"]";
            format!("id = \"pa-00000\"\noffering = \"{}\"\nfields = [{}]\nrecipient = \"{}\"\nroles = {roles}\npurpose = \"{purpose}\"\nprovision = \"luffa\"\nvalid_from = \"2025-01-01\"\nvalid_until = \"2027-12-31\"\napproved_on = \"2024-11-20\"\n", target.id, quoted(&covered), authority(1))
        } else {
            let mut pick = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let o = eligible
                .iter()
                .zip(&weights)
                .find(|(_, w)| {
                    pick -= **w;
                    pick < 0.0
                })
                .map_or(eligible[0], |(o, _)| *o);
            let recipient = loop {
                let r = rng.below(authorities);
                if r != o.provider && (0..groups).any(|g| in_group(r, g)) {
                    break r;
                }
            };
            let mine: Vec<usize> = (0..groups).filter(|g| in_group(recipient, *g)).collect();
            let roll = rng.percent();
            let (provision, purpose) = if roll < 15 {
                let g = rng.below(groups);
                (
                    "osl-10-27",
                    purposes(g, per_group)[rng.below(per_group)].clone(),
                )
            } else if roll < 20 && in_group(recipient, 1) {
                (
                    "osl-10-15a",
                    purposes(1, per_group)[rng.below(per_group)].clone(),
                )
            } else {
                let g = mine[rng.below(mine.len())];
                let p = if rng.percent() < 20 {
                    DUTIES[g].purpose_group.to_owned()
                } else {
                    purposes(g, per_group)[rng.below(per_group)].clone()
                };
                (DUTIES[g].provision, p)
            };
            let mut pool = o.ordinary_fields();
            let mut chosen = Vec::new();
            for _ in 0..2 + rng.below(7) {
                chosen.push(pool.swap_remove(rng.below(pool.len())).clone());
            }
            let mut extra = String::new();
            if rng.percent() < 40 {
                let units: Vec<String> = (0..units_of(recipient))
                    .filter(|_| rng.percent() < 60)
                    .map(|j| unit(recipient, j))
                    .collect();
                if !units.is_empty() {
                    let _ = writeln!(extra, "units = [{}]", quoted(&units));
                }
            }
            match rng.percent() {
                0..50 => extra.push_str("roles = [\"handlaggare\"]\n"),
                50..70 => extra.push_str("roles = [\"handlaggare\", \"kontrollutredare\"]\n"),
                _ => {}
            }
            let (year, span) = match rng.percent() {
                0..60 => (2024 + rng.below(3), 2 + rng.below(3)),
                60..85 => (2020 + rng.below(3), 1 + rng.below(2)),
                _ => (2027 + rng.below(2), 2 + rng.below(2)),
            };
            let month = 1 + rng.below(12);
            format!("id = \"pa-{k:05}\"\noffering = \"{}\"\nfields = [{}]\nrecipient = \"{}\"\n{extra}purpose = \"{purpose}\"\nprovision = \"{provision}\"\nvalid_from = \"{year}-{month:02}-01\"\nvalid_until = \"{}-{month:02}-28\"\napproved_on = \"{}-{month:02}-15\"\n", o.id, quoted(&chosen), authority(recipient), year + span, year - 1)
        };
        let _ = writeln!(chunk, "[[pre_assessment]]\n{pa}title = \"Förhandsbedömning {k}\"\napproved_by_provider = \"Rättsavdelningen (dnr {k})\"\napproved_by_recipient = \"Rättsenheten (dnr {k})\"\n");
        // Small files: loading locates each pre-assessment by searching its file.
        if k % 50 == 49 || k + 1 == count {
            files.push(SourceFile::new(
                format!("pre-assessments/pa-{:04}.toml", k / 50),
                std::mem::take(&mut chunk),
            ));
        }
    }
    Generated {
        files,
        fixed_policies: fixed,
        pre_assessments: count,
        recipient: authority(1),
        unit: unit(1, 0),
        offering: target.id.clone(),
        fields,
        purpose,
        legal_basis: "luffa".into(),
    }
}
