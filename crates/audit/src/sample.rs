//! Deterministic sample records, for tests and for `utbyte audit sample` (demo ledgers).
//!
//! The authorities, offerings and provisions are those of the mission brief; the subject
//! identifiers are the well-known example numbers used throughout the project's tests.

use crate::record::{Actor, AuditRecord, Basis, EventKind, FieldOutcome, Outcome, FORMAT_VERSION};
use crate::subject::SubjectIdentifier;
use sha2::{Digest, Sha256};

/// Example subjects (canonical forms) that sample records are about.
pub const SAMPLE_SUBJECTS: [&str; 4] = [
    "19121212-1212",
    "19701063-2391",
    "19811228-9874",
    "556016-0680",
];

const REQUESTERS: [(&str, &str, &str, &str); 4] = [
    (
        "Försäkringskassan",
        "Kontroll av felaktiga utbetalningar",
        "handläggare",
        "FK",
    ),
    (
        "Polismyndigheten",
        "Nationella operativa avdelningen",
        "utredare",
        "PM",
    ),
    ("Kronofogden", "Indrivning", "handläggare", "KFM"),
    (
        "Utbetalningsmyndigheten",
        "Kontroll före utbetalning",
        "analytiker",
        "UBM",
    ),
];
const OFFERINGS: [(&str, [&str; 3]); 3] = [
    ("inkomstuppgifter", ["arbetsgivare", "inkomst", "period"]),
    (
        "folkbokforingsuppgifter",
        ["adress", "civilstand", "skyddad_folkbokforing"],
    ),
    (
        "utbetalningar",
        ["belopp", "mottagarkonto", "utbetalningsdag"],
    ),
];
const BASES: [(&str, &str); 4] = [
    ("SFS 2024:307 3 §", "kontroll av felaktiga utbetalningar"),
    ("SFS 2025:170 2 §", "brottsutredning"),
    ("OSL 10:27", "handläggning av ärende om bistånd"),
    (
        "SFS 2016:774 2 §",
        "myndighetsgemensam insats mot organiserad brottslighet",
    ),
];

/// Sample record number `i`, and the subject it is about (none for configuration changes).
pub fn sample_record(i: u64, provider: &str) -> (AuditRecord, Vec<SubjectIdentifier>) {
    let pick = |n: usize| (i as usize).wrapping_mul(2_654_435_761).rotate_left(7) % n;
    let (authority, unit, role, code) = REQUESTERS[pick(REQUESTERS.len())];
    let (offering, fields) = OFFERINGS[i as usize % OFFERINGS.len()];
    let (basis, purpose) = BASES[(i as usize / 3) % BASES.len()];
    let event = match i % 10 {
        0..=5 => EventKind::Disclosure,
        6 | 7 => EventKind::Refusal,
        8 => EventKind::ReviewDecision,
        _ => EventKind::ConfigurationChange,
    };
    let outcome_for = |k: usize| match event {
        EventKind::Refusal => Outcome::Refuse,
        EventKind::Disclosure | EventKind::ReviewDecision
            if k == 2 && offering == "folkbokforingsuppgifter" =>
        {
            Outcome::Refuse
        }
        _ => Outcome::Disclose,
    };
    let day = 1 + (i / 40) % 28;
    let time = format!(
        "2025-03-{day:02}T{:02}:{:02}:{:02}Z",
        8 + i % 9,
        i % 60,
        (i * 7) % 60
    );
    let mut record = AuditRecord {
        message: None,
        bulk: None,
        notices: None,
        actor: Actor {
            authority: authority.into(),
            client: None,
            role: role.into(),
            unit: unit.into(),
            vouch: None,
        },
        change: None,
        event,
        fields: fields
            .iter()
            .enumerate()
            .map(|(k, f)| FieldOutcome {
                citations: vec![basis.to_owned(), "OSL 10:28".to_owned()],
                field: (*f).to_owned(),
                outcome: outcome_for(k),
            })
            .collect(),
        offering: Some(offering.into()),
        payload_sha256: (event == EventKind::Disclosure)
            .then(|| hex::encode(Sha256::digest(i.to_be_bytes()))),
        provider: provider.to_owned(),
        refers_to: (event == EventKind::ReviewDecision).then(|| i.saturating_sub(1)),
        rulebook_sha256: "5f7c5b1e0a8f3a2d9c4e6b7a8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f80912"
            .to_owned(),
        subjects: Vec::new(),
        time,
        v: FORMAT_VERSION,
        why: Some(Basis {
            case_ref: format!("{code}-2025-{i:06}"),
            legal_basis: basis.to_owned(),
            operation_ref: basis
                .starts_with("SFS 2016:774")
                .then(|| "Operation Vinterljus".to_owned()),
            purpose: purpose.to_owned(),
        }),
    };
    if event == EventKind::ConfigurationChange {
        record.fields.clear();
        record.offering = None;
        record.why = None;
        record.actor = Actor {
            authority: provider.to_owned(),
            client: None,
            role: "förvaltare".into(),
            unit: "IT-drift".into(),
            vouch: None,
        };
        record.change = Some(format!("regelbok version {} aktiverad", 1 + i / 10));
        return (record, Vec::new());
    }
    let subject = SAMPLE_SUBJECTS[pick(SAMPLE_SUBJECTS.len())];
    let subjects = SubjectIdentifier::new(subject)
        .map(|s| vec![s])
        .unwrap_or_default();
    (record, subjects)
}
