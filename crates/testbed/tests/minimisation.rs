//! Property, end to end over mutual TLS: whatever a recipient asks for, under whichever legal
//! basis and about whomever, a field the decision does not disclose never appears in the answer,
//! and a disclosed field carries exactly the register's value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use utbyte_domain::SubjectId;
use utbyte_store::Register;

const FIELDS: [&str; 10] = [
    "forman",
    "belopp",
    "period",
    "utbetalningskonto",
    "beslut",
    "handlaggningsstatus",
    "diagnos",
    "lakarintyg",
    "no-such-field",
    "lon",
];

/// (legal basis, purpose, unit, role) as Malmö stad might claim them, lawful or not.
const BASES: [(&str, &str); 4] = [
    ("luffa", "kontroll-ekonomiskt-bistand"),
    ("osl-10-27", "kontroll-ekonomiskt-bistand"),
    ("sfb-110-31", "handlaggning-formaner"),
    ("luffa", "myndighetsgemensam-insats"),
];

#[test]
fn no_field_outside_the_decision_ever_leaves_the_provider() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_dir, federation) = runtime.block_on(federation(&["forsakringskassan", "malmo-stad"]));
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let register = federation.register("forsakringskassan").unwrap();
    let (open, protected) = fk_subjects();
    let subjects: Vec<String> = open
        .iter()
        .take(12)
        .chain(protected.iter().take(3))
        .cloned()
        .collect();
    let counter = AtomicUsize::new(0);
    // The property must not hold only vacuously: the lawful request discloses values.
    let lawful = runtime.block_on(submit(
        malmo,
        "lawful",
        &luffa_case(&open[0], &["forman", "belopp", "period"]),
    ));
    assert!(
        !lawful.body["values"].as_object().unwrap().is_empty(),
        "{:#}",
        lawful.body
    );
    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        mask in 1u16..(1 << FIELDS.len()),
        subject in 0..subjects.len(),
        basis in 0..BASES.len(),
    )| {
        let fields: Vec<&str> = FIELDS.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, f)| *f).collect();
        let (legal_basis, purpose) = BASES[basis];
        let mut case = luffa_case(&subjects[subject], &fields);
        case["legal_basis"] = json!(legal_basis);
        case["purpose"] = json!(purpose);
        let key = format!("prop-{}", counter.fetch_add(1, Ordering::Relaxed));
        let answer = runtime.block_on(submit(malmo, &key, &case));
        prop_assert!(answer.status == 200 || answer.status == 202, "{:#}", answer.body);
        let verdicts = answer.body["fields"].as_array().unwrap();
        let disclosed: Vec<&str> = verdicts.iter().filter(|v| v["outcome"] == "disclose").map(|v| v["field"].as_str().unwrap()).collect();
        let values = answer.body["values"].as_object().unwrap();
        for (field, value) in values {
            prop_assert!(disclosed.contains(&field.as_str()), "`{field}` left without a disclose decision: {:#}", answer.body);
            let id: SubjectId = subjects[subject].parse().unwrap();
            let held = runtime.block_on(register.fetch("fk-formaner", &id, &[field.as_str()])).unwrap().unwrap();
            prop_assert_eq!(Some(value), held.get(field));
        }
        prop_assert_eq!(verdicts.len(), fields.len());
    });
    runtime.block_on(federation.stop());
}
