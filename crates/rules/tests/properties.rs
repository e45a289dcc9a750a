//! Invariants of deciding, over random requests against the example rulebook.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use cedar_policy::{Authorizer, Decision as CedarDecision};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;
use utbyte_rules::{Class, DisclosureRequest, Ground, Outcome, Rulebook, Subject};

fn example() -> &'static Rulebook {
    static RULEBOOK: OnceLock<Rulebook> = OnceLock::new();
    RULEBOOK.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
        Rulebook::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn pick(items: &[String], i: usize) -> &String {
    &items[i % items.len()]
}

prop_compose! {
    fn request()(
        recipient in any::<usize>(), unit in any::<usize>(), role in 0usize..5,
        offering in any::<usize>(), fields in proptest::collection::btree_set(0usize..40, 1..8),
        purpose in any::<usize>(), basis in any::<usize>(), operation in any::<usize>(),
        protected in any::<bool>(), day in 0i64..1500, unknown_field in any::<bool>(),
    ) -> DisclosureRequest {
        let v = &example().vocabulary;
        let authorities: Vec<String> = v.authorities.keys().cloned().collect();
        let recipient = pick(&authorities, recipient).clone();
        let units: Vec<String> = v.authorities[&recipient].units.iter().map(|u| u.id.clone()).collect();
        let offerings: Vec<String> = v.offerings.keys().cloned().collect();
        let offering = pick(&offerings, offering).clone();
        let all_fields: Vec<String> = v.offerings[&offering].fields().map(|(_, f)| f.id.clone()).collect();
        let mut fields: Vec<String> = fields.into_iter().map(|i| pick(&all_fields, i).clone()).collect();
        fields.dedup();
        fields.sort();
        fields.dedup();
        if unknown_field {
            fields.push("finns-inte".into());
        }
        let purposes: Vec<String> = v.purposes.keys().cloned().collect();
        let provisions: Vec<String> = v.provisions.keys().cloned().collect();
        let operations: Vec<String> = v.operations.keys().cloned().collect();
        let roles = ["handlaggare", "kontrollutredare", "utredare", "underrattelseanalytiker", "chef"];
        DisclosureRequest {
            unit: pick(&units, unit).clone(),
            recipient,
            role: roles[role].into(),
            officer: None,
            vouched_by: None,
            offering,
            fields,
            purpose: pick(&purposes, purpose).clone(),
            legal_basis: pick(&provisions, basis).clone(),
            case_ref: "P 2026/1".into(),
            operation: (operation % 2 == 0).then(|| pick(&operations, operation / 2).clone()),
            subject: Subject { id: "19121212-1212".into(), protected_identity: protected },
            time: time::macros::datetime!(2024-01-01 12:00 UTC) + time::Duration::days(day),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_field_is_decided_once_in_order(r in request()) {
        let d = example().decide(&r).unwrap();
        let decided: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        let asked: Vec<&str> = r.fields.iter().map(String::as_str).collect();
        prop_assert_eq!(decided, asked);
        prop_assert_eq!(&d, &example().decide(&r).unwrap(), "deciding is deterministic");
    }

    #[test]
    fn protected_identity_is_never_disclosed_automatically(mut r in request()) {
        r.subject.protected_identity = true;
        let d = example().decide(&r).unwrap();
        prop_assert!(d.fields.iter().all(|f| f.outcome != Outcome::Disclose), "{:?}", d);
    }

    #[test]
    fn every_outcome_carries_its_grounds(r in request()) {
        for f in example().decide(&r).unwrap().fields {
            match (f.outcome, f.ground) {
                (Outcome::Disclose, Ground::PreAssessed | Ground::Provision) => {
                    prop_assert!(!f.determining.is_empty());
                    prop_assert!(f.determining.iter().all(|c| c.class == Class::Disclose));
                }
                (Outcome::Review, Ground::NeedsAssessment) => {
                    prop_assert!(!f.candidates.is_empty());
                    prop_assert!(f.candidates.iter().all(|c| c.class == Class::Review));
                }
                (Outcome::Review, Ground::ForcedReview) => {
                    prop_assert!(!f.determining.is_empty() && !f.candidates.is_empty());
                }
                (Outcome::Refuse, Ground::Forbidden) => {
                    prop_assert!(f.determining.iter().all(|c| c.class == Class::Refuse));
                }
                (Outcome::Refuse, Ground::NoLegalBasis | Ground::UnknownField | Ground::UnknownOffering
                    | Ground::UnknownPurpose | Ground::UnknownLegalBasis | Ground::UnknownOperation) => {
                    prop_assert!(f.citations().next().is_none());
                }
                other => prop_assert!(false, "unexpected combination {:?}", other),
            }
        }
    }

    /// The index, the basis narrowing and the field classes change nothing: the decision equals
    /// the one made by evaluating every field against the whole rulebook.
    #[test]
    fn indexed_decisions_equal_unindexed_ones(r in request()) {
        let mut fast = example().decide(&r).unwrap();
        let slow = example().decide_unindexed(&r).unwrap();
        fast.policies_evaluated = slow.policies_evaluated;
        prop_assert_eq!(fast, slow);
    }

    /// The index never leaves out a policy that applies: plain Cedar over the whole rulebook
    /// allows a field exactly when the indexed decision found a grant and no override.
    #[test]
    fn the_index_agrees_with_plain_cedar_over_the_whole_rulebook(r in request()) {
        let rb = example();
        let d = rb.decide(&r).unwrap();
        let known: Vec<_> = d.fields.iter().filter(|f| f.ground != Ground::UnknownField).collect();
        let requests = rb.cedar_requests(&r).unwrap();
        if d.fields.iter().any(|f| matches!(f.ground, Ground::UnknownPurpose | Ground::UnknownLegalBasis | Ground::UnknownOperation)) {
            return Ok(());
        }
        prop_assert_eq!(known.len(), requests.len());
        for (field, request) in known.iter().zip(&requests) {
            let plain = Authorizer::new().is_authorized(request, rb.policy_set(), rb.entities());
            let allowed = plain.decision() == CedarDecision::Allow;
            let granted = matches!(field.ground, Ground::Provision | Ground::PreAssessed | Ground::NeedsAssessment);
            prop_assert_eq!(allowed, granted, "field {} decided {:?}", field.field, field);
        }
    }
}
