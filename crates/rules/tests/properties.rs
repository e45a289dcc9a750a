//! Invariants of deciding, over random requests against the example rulebook.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use cedar_policy::{Authorizer, Decision as CedarDecision};
use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;
use utbyte_rules::{Class, DisclosureRequest, Ground, Notice, Outcome, Rulebook, Subject};

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
        // Half of them to an authority a notice provision names.
        let authorities: Vec<String> = match recipient % 2 {
            0 => v.group_members("valfardsutbetalare").chain(v.group_members("brottsbekampande")).map(|a| a.id.clone()).collect(),
            _ => v.authorities.keys().cloned().collect(),
        };
        let recipient = pick(&authorities, recipient / 2).clone();
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

/// The notice property below must see notices sent automatically, not only refusals.
#[test]
fn generated_notices_include_automatic_ones() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut sent = 0;
    for _ in 0..400 {
        let n = notice().new_tree(&mut runner).unwrap().current();
        let d = example().decide_notice(&n).unwrap();
        sent += usize::from(d.fields.iter().any(|f| f.outcome == Outcome::Disclose));
    }
    assert!(
        sent >= 10,
        "only {sent} of 400 generated notices were sent automatically"
    );
}

prop_compose! {
    /// A request near a pre-assessment: its parties, offering, basis and purpose (or one in its
    /// group), some of its fields and some others, on a day around its validity; now and then
    /// another unit, role or purpose.
    fn near_pre_assessment()(
        which in any::<usize>(), unit in any::<usize>(), role in any::<usize>(),
        purpose in any::<usize>(), extra in proptest::collection::vec(any::<usize>(), 0..4),
        agreed in proptest::collection::vec(any::<usize>(), 1..4), day in -30i64..1500,
        astray in 0usize..8, protected in proptest::bool::weighted(0.1),
    ) -> DisclosureRequest {
        let rb = example();
        let v = &rb.vocabulary;
        let pa = &rb.pre_assessments[which % rb.pre_assessments.len()];
        let all_units: Vec<String> = v.authorities[&pa.recipient].units.iter().map(|u| u.id.clone()).collect();
        let unit = match (astray, pa.units.is_empty()) {
            (0, _) | (_, true) => pick(&all_units, unit).clone(),
            _ => pick(&pa.units, unit).clone(),
        };
        let roles = ["handlaggare", "kontrollutredare", "utredare", "underrattelseanalytiker", "chef"];
        let role = match (astray, pa.roles.is_empty()) {
            (1, _) | (_, true) => roles[role % roles.len()].to_owned(),
            _ => pick(&pa.roles, role).clone(),
        };
        let in_group: Vec<String> = v.purposes.values().filter(|p| p.id == pa.purpose || p.groups.contains(&pa.purpose)).map(|p| p.id.clone()).collect();
        let all_purposes: Vec<String> = v.purposes.keys().cloned().collect();
        let purpose = match astray {
            2 => pick(&all_purposes, purpose).clone(),
            _ => pick(&in_group, purpose).clone(),
        };
        let offered: Vec<String> = v.offerings[&pa.offering].fields().map(|(_, f)| f.id.clone()).collect();
        let mut fields: Vec<String> = agreed.iter().map(|i| pick(&pa.fields, *i).clone()).collect();
        fields.extend(extra.iter().map(|i| pick(&offered, *i).clone()));
        fields.sort();
        fields.dedup();
        let start = pa.valid_from.with_hms(12, 0, 0).unwrap().assume_utc();
        DisclosureRequest {
            recipient: pa.recipient.clone(),
            unit,
            role,
            officer: None,
            vouched_by: None,
            offering: pa.offering.clone(),
            fields,
            purpose,
            legal_basis: pa.provision.clone(),
            case_ref: "P 2026/2".into(),
            operation: None,
            subject: Subject { id: "19121212-1212".into(), protected_identity: protected },
            time: start + time::Duration::days(day),
        }
    }
}

/// The containment property below must see disclosures under pre-assessments.
#[test]
fn generated_requests_include_pre_assessed_disclosures() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut pre_assessed = 0;
    for _ in 0..400 {
        let r = near_pre_assessment()
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let d = example().decide(&r).unwrap();
        pre_assessed += usize::from(d.fields.iter().any(|f| f.ground == Ground::PreAssessed));
    }
    assert!(
        pre_assessed >= 40,
        "only {pre_assessed} of 400 generated requests disclosed under a pre-assessment"
    );
}

prop_compose! {
    /// A notice from a notice kind's sender to any authority (a unit of it or itself), for any
    /// purpose and basis.
    fn notice()(
        kind in any::<usize>(), fields in proptest::collection::btree_set(0usize..20, 1..5),
        recipient in any::<usize>(), unit in proptest::option::of(any::<usize>()),
        purpose in any::<usize>(), basis in any::<usize>(), protected in any::<bool>(),
        day in 0i64..7000,
    ) -> Notice {
        let v = &example().vocabulary;
        let kinds: Vec<&utbyte_rules::vocabulary::Offering> =
            v.offerings.values().filter(|o| o.notice).collect();
        let kind = kinds[kind % kinds.len()];
        let all_fields: Vec<String> = kind.fields().map(|(_, f)| f.id.clone()).collect();
        let mut fields: Vec<String> = fields.into_iter().map(|i| pick(&all_fields, i).clone()).collect();
        fields.sort();
        fields.dedup();
        // Half of them to an authority a notice provision names.
        let authorities: Vec<String> = match recipient % 2 {
            0 => v.group_members("valfardsutbetalare").chain(v.group_members("brottsbekampande")).map(|a| a.id.clone()).collect(),
            _ => v.authorities.keys().cloned().collect(),
        };
        let recipient = pick(&authorities, recipient / 2).clone();
        let units: Vec<String> = v.authorities[&recipient].units.iter().map(|u| u.id.clone()).collect();
        let purposes: Vec<String> = v.purposes.keys().cloned().collect();
        let provisions: Vec<String> = v.provisions.keys().cloned().collect();
        Notice {
            sender: kind.provider.clone(),
            sender_unit: v.authorities[&kind.provider].units[0].id.clone(),
            role: "handlaggare".into(),
            officer: None,
            recipient_unit: unit.map(|u| pick(&units, u).clone()),
            recipient,
            kind: kind.id.clone(),
            fields,
            // A third of the notices claim what a notice provision names, so that many are sent.
            purpose: match basis % 3 {
                0 => "underrattelse-felaktig-utbetalning".into(),
                1 => "verkstallighet".into(),
                _ => pick(&purposes, purpose).clone(),
            },
            legal_basis: match basis % 3 {
                0 => "sfs-2008-206".into(),
                1 => "osl-10-27".into(),
                _ => pick(&provisions, basis / 3).clone(),
            },
            case_ref: "U 2026/1".into(),
            subject: Subject { id: "19121212-1212".into(), protected_identity: protected },
            time: time::macros::datetime!(2008-01-01 12:00 UTC) + time::Duration::days(day),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// A notice is decided field by field like a request: every field once, in order; never
    /// automatically about a subject with protected identity; never to the sender itself; and
    /// every automatic notice rests on a policy of a provision in force on its day.
    #[test]
    fn notices_are_decided_like_requests(n in notice()) {
        let rb = example();
        let d = rb.decide_notice(&n).unwrap();
        let decided: Vec<&str> = d.fields.iter().map(|f| f.field.as_str()).collect();
        let asked: Vec<&str> = n.fields.iter().map(String::as_str).collect();
        prop_assert_eq!(decided, asked);
        for f in &d.fields {
            if f.outcome == Outcome::Disclose {
                prop_assert!(!n.subject.protected_identity, "{:?}", f);
                prop_assert_ne!(&n.recipient, &n.sender);
                prop_assert!(!f.determining.is_empty());
                for cited in &f.determining {
                    let info = rb.policy_info(&cited.id).unwrap();
                    prop_assert!(info.period.contains(n.date()), "{} on {}", cited.id, n.date());
                }
            }
        }
    }

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
                    | Ground::UnknownPurpose | Ground::UnknownLegalBasis | Ground::UnknownOperation
                    | Ground::NotInForce | Ground::NoCompetence) => {
                    prop_assert!(f.citations().next().is_none());
                }
                other => prop_assert!(false, "unexpected combination {:?}", other),
            }
        }
    }

    /// The index, the basis narrowing and the field classes change nothing: the decision equals
    /// the one made by evaluating every field against the whole rulebook.
    #[test]
    fn indexed_decisions_equal_unindexed_ones(r in prop_oneof![request(), near_pre_assessment()]) {
        let mut fast = example().decide(&r).unwrap();
        let slow = example().decide_unindexed(&r).unwrap();
        fast.policies_evaluated = slow.policies_evaluated;
        prop_assert_eq!(fast, slow);
    }

    /// A pre-assessment never widens its provision: wherever a field is disclosed under one, plain
    /// Cedar finds a hand-written grant citing the same provision, in force that day, that holds
    /// for the same field.
    #[test]
    fn every_automatic_disclosure_lies_within_a_grant_of_its_provision(r in prop_oneof![request(), near_pre_assessment()]) {
        let rb = example();
        let d = rb.decide(&r).unwrap();
        let requests = rb.cedar_requests(&r).unwrap();
        let known = d.fields.iter().filter(|f| f.ground != Ground::UnknownField);
        let day = r.date();
        for (field, request) in known.zip(&requests) {
            if field.ground != Ground::PreAssessed {
                continue;
            }
            for cited in field.determining.iter().filter(|c| c.pre_assessment.is_some()) {
                let mut grants = cedar_policy::PolicySet::new();
                for (policy, info) in rb.policies() {
                    if info.class.is_grant() && info.pre_assessment.is_none()
                        && info.provision == cited.provision && info.period.contains(day) {
                        grants.add(policy.clone()).unwrap();
                    }
                }
                let plain = Authorizer::new().is_authorized(request, &grants, rb.entities());
                prop_assert_eq!(
                    plain.decision(), CedarDecision::Allow,
                    "{} discloses {} under {:?} where no grant of it holds", cited.id, field.field, cited.provision
                );
            }
        }
    }

    /// The index never leaves out a policy that applies: plain Cedar over every policy in force
    /// on the request's day allows a field exactly when the indexed decision found a grant and
    /// no override.
    #[test]
    fn the_index_agrees_with_plain_cedar_over_the_whole_rulebook(r in prop_oneof![request(), near_pre_assessment()]) {
        let rb = example();
        let d = rb.decide(&r).unwrap();
        let known: Vec<_> = d.fields.iter().filter(|f| f.ground != Ground::UnknownField).collect();
        let requests = rb.cedar_requests(&r).unwrap();
        // Refused before any policy (a notice kind is no offering to ask for): nothing to compare.
        if d.fields.iter().any(|f| matches!(f.ground, Ground::UnknownOffering | Ground::UnknownPurpose | Ground::UnknownLegalBasis
            | Ground::UnknownOperation | Ground::NotInForce | Ground::NoCompetence)) {
            return Ok(());
        }
        let day = r.date();
        let mut in_force = cedar_policy::PolicySet::new();
        for (policy, info) in rb.policies() {
            if info.period.contains(day) {
                in_force.add(policy.clone()).unwrap();
            }
        }
        prop_assert_eq!(known.len(), requests.len());
        for (field, request) in known.iter().zip(&requests) {
            let plain = Authorizer::new().is_authorized(request, &in_force, rb.entities());
            let allowed = plain.decision() == CedarDecision::Allow;
            let granted = matches!(field.ground, Ground::Provision | Ground::PreAssessed | Ground::NeedsAssessment);
            prop_assert_eq!(allowed, granted, "field {} decided {:?}", field.field, field);
        }
    }
}
