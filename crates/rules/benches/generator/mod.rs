//! A deterministic generator of realistic rulebooks with an exact number of policies.
//!
//! The vocabulary grows with the rulebook: 20/40/60 authorities with one to four units each in
//! four to six recipient groups, 10/25/50 offerings of six categories and 24–36 fields, the
//! provision kinds of the example rulebook, purposes in groups, two joint operations. The
//! statutory part ([`policies::statutory`]) is modelled on `rulebook/policies`; every remaining
//! policy is a pre-assessment ([`policies::pre_assessments`]), so that the rulebook has exactly
//! `n` policies.
//!
//! The benchmark request asks a LUFFA authority (`myndighet-01`) for 20 fields of the most
//! popular offering (`register-00`): one pre-assessment covers 8 of them (disclose), 4 are health
//! data (refuse) and the other 8 rest on the LUFFA group grant alone (review).

mod policies;
mod vocabulary;

use std::str::FromStr;
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

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A recipient group, the duty provision that names it, and the purpose group the duty serves.
struct Duty {
    group: &'static str,
    provision: &'static str,
    sfs: &'static str,
    section: &'static str,
    title: &'static str,
    purpose_group: &'static str,
}

const fn duty(
    group: &'static str,
    provision: &'static str,
    sfs: &'static str,
    section: &'static str,
    title: &'static str,
    purpose_group: &'static str,
) -> Duty {
    Duty {
        group,
        provision,
        sfs,
        section,
        title,
        purpose_group,
    }
}

/// Group 1 is the law-enforcement group; group 2's purposes lie within group 1's.
const DUTIES: [Duty; 6] = [
    duty(
        "luffa-aktorer",
        "luffa",
        "2024:307",
        "3 §",
        "Lag om uppgiftsskyldighet (LUFFA)",
        "felaktiga-utbetalningar",
    ),
    duty(
        "brottsbekampande",
        "lub",
        "2025:170",
        "2 §",
        "Lag om uppgiftsskyldighet (LUB)",
        "brottsbekampning",
    ),
    duty(
        "samverkan-ok",
        "sfs-2016-774",
        "2016:774",
        "2 §",
        "Samverkanslagen",
        "organiserad-brottslighet",
    ),
    duty(
        "tillsynsmyndigheter",
        "tillsyn-uppgifter",
        "2019:1181",
        "5 §",
        "Tillsynslagen",
        "tillsyn",
    ),
    duty(
        "kommuner",
        "kommun-uppgifter",
        "2021:42",
        "4 §",
        "Kommunal kontroll",
        "kommunal-kontroll",
    ),
    duty(
        "migrationsaktorer",
        "migration-uppgifter",
        "2005:716",
        "1 §",
        "Utlänningslagen",
        "migrationskontroll",
    ),
];

const SECRECY: [(&str, &str, &str); 6] = [
    ("osl-22-1", "22", "folkbokföring"),
    ("osl-27-1", "27", "skattesekretess"),
    ("osl-28-1", "28", "socialförsäkringen"),
    ("osl-26-1", "26", "socialtjänstsekretess"),
    ("osl-34-1", "34", "Kronofogdemyndigheten"),
    ("osl-35-1", "35", "brottsbekämpande verksamhet"),
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

fn sensitive(category: &str) -> bool {
    matches!(category, "halsa" | "social")
}

struct Offering {
    id: String,
    provider: usize,
    secrecy: &'static str,
    /// (category, fields).
    categories: Vec<(&'static str, Vec<String>)>,
}

impl Offering {
    fn ordinary_fields(&self) -> Vec<&String> {
        let ordinary = self.categories.iter().filter(|(c, _)| !sensitive(c));
        ordinary.flat_map(|(_, f)| f).collect()
    }
}

/// The vocabulary's dimensions and offerings, shared by the policy generators.
struct Vocab {
    authorities: usize,
    groups: usize,
    purposes_per_group: usize,
    statutory: usize,
    offerings: Vec<Offering>,
}

impl Vocab {
    fn duties(&self) -> &'static [Duty] {
        &DUTIES[..self.groups]
    }

    /// The recipient groups an authority belongs to.
    fn groups_of(&self, i: usize) -> Vec<usize> {
        (0..self.groups).filter(|g| in_group(i, *g)).collect()
    }

    fn purposes(&self, group: usize) -> Vec<String> {
        let pg = DUTIES[group].purpose_group;
        (1..=self.purposes_per_group)
            .map(|k| format!("{pg}-{k}"))
            .collect()
    }
}

fn in_group(i: usize, g: usize) -> bool {
    match g {
        0 => i % 5 != 4,
        1 => i % 4 == 1,
        2 => i.is_multiple_of(3) || i % 4 == 1,
        3 => i % 6 == 2,
        4 => i % 7 == 3 || i % 7 == 5,
        _ => i % 8 == 6,
    }
}

fn units_of(i: usize) -> usize {
    1 + i % 4
}

fn authority(i: usize) -> String {
    format!("myndighet-{i:02}")
}

fn unit(i: usize, j: usize) -> String {
    format!("myndighet-{i:02}-enhet-{j}")
}

/// A valid organisationsnummer in the public-sector group: `202100-NNNC`, Luhn check digit.
fn orgnr(i: usize) -> String {
    let body = format!("202100{:03}", i % 1000);
    let sum: u32 = body
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(k, d)| {
            if k % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    format!("202100-{:03}{}", i % 1000, (10 - sum % 10) % 10)
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Generates a rulebook of exactly `n` policies (`n` ≥ 100).
pub fn generate(n: usize) -> Generated {
    let (authorities, offerings, groups, purposes_per_group, statutory) = match n {
        0..=300 => (20, 10, 4, 3, 2),
        301..=3000 => (40, 25, 5, 4, 3),
        _ => (60, 50, 6, 6, 4),
    };
    let offerings = (0..offerings).map(|i| offering(i, authorities)).collect();
    let vocab = Vocab {
        authorities,
        groups,
        purposes_per_group,
        statutory,
        offerings,
    };
    let mut files = vec![
        SourceFile::new(
            "rulebook.toml",
            format!("name = \"genererad-{n}\"\nversion = \"bench\"\nillustrative = true\n"),
        ),
        SourceFile::new("authorities.toml", vocabulary::authorities_toml(&vocab)),
        SourceFile::new("provisions.toml", vocabulary::provisions_toml(&vocab)),
        SourceFile::new("purposes.toml", vocabulary::purposes_toml(&vocab)),
        SourceFile::new("offerings.toml", vocabulary::offerings_toml(&vocab)),
        SourceFile::new("operations.toml", vocabulary::operations_toml(&vocab)),
    ];
    let (statutory_text, generated) = policies::statutory(&vocab);
    files.push(SourceFile::new("policies/generated.cedar", statutory_text));
    let samverkan =
        cedar_policy::PolicySet::from_str(policies::SAMVERKAN).map_or(0, |s| s.num_of_policies());
    files.push(SourceFile::new(
        "policies/samverkan.cedar",
        policies::SAMVERKAN,
    ));
    let fixed = generated + samverkan;
    assert!(
        fixed < n,
        "{fixed} statutory policies leave no room in a rulebook of {n}"
    );

    // The target: authority 1 (in the LUFFA group) asks for fields of register-00 (provider 0).
    let covered: Vec<String> = ["identitet", "adress"]
        .iter()
        .flat_map(|c| (1..=4).map(move |j| format!("{c}-{j}")))
        .collect();
    let mut fields = covered.clone();
    let rest = [("halsa", 4), ("familj", 5), ("inkomst", 3)];
    fields.extend(
        rest.iter()
            .flat_map(|(c, k)| (1..=*k).map(move |j| format!("{c}-{j}"))),
    );
    let purpose = vocab.purposes(0)[0].clone();
    let target = policies::Target {
        recipient: 1,
        offering: 0,
        fields: covered,
        purpose: purpose.clone(),
    };

    let count = n - fixed;
    let mut rng = Rng(0x5EED_0000 ^ n as u64);
    let texts = policies::pre_assessments(&vocab, &target, count, &mut rng);
    // Small files: loading locates each pre-assessment by searching its file for its id.
    for (k, chunk) in texts.chunks(50).enumerate() {
        files.push(SourceFile::new(
            format!("pre-assessments/pa-{k:04}.toml"),
            chunk.concat(),
        ));
    }
    Generated {
        files,
        fixed_policies: fixed,
        pre_assessments: count,
        recipient: authority(1),
        unit: unit(1, 0),
        offering: vocab.offerings[0].id.clone(),
        fields,
        purpose,
        legal_basis: DUTIES[0].provision.into(),
    }
}

/// Offering `i`: five ordinary categories and a sixth that is health data (every third
/// offering), social-services data (every third) or ordinary; every tenth offering is public.
fn offering(i: usize, authorities: usize) -> Offering {
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
    // 7 is prime to 20, 40 and 60: every offering has its own provider, offering 0 authority 0.
    Offering {
        id: format!("register-{i:02}"),
        provider: (i * 7) % authorities,
        secrecy,
        categories,
    }
}
