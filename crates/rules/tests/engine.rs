//! The outcome rules of a decision, each on a rulebook written for it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixture;

use fixture::{load, request, rulebook, CITE, PLIKT};
use utbyte_rules::{Class, Ground, Outcome, RequestError, Rulebook};

/// The decision of the first field of the fixture request for `f1`, after `change`.
fn first_field(
    rb: &utbyte_rules::Rulebook,
    change: impl FnOnce(&mut utbyte_rules::DisclosureRequest),
) -> utbyte_rules::FieldDecision {
    let mut r = request(&["f1"]);
    change(&mut r);
    rb.decide(&r).unwrap().fields.remove(0)
}

fn grant(id: &str, outcome: &str, condition: &str) -> String {
    format!(
        "@id(\"{id}\") @outcome(\"{outcome}\") {CITE}\npermit(principal in Group::\"mottagare\", action == Action::\"disclose\", resource in Offering::\"reg\") when {{ {condition} }};\n"
    )
}

fn forbid(id: &str, outcome: &str, condition: &str) -> String {
    format!("@id(\"{id}\") @outcome(\"{outcome}\") {CITE}\nforbid(principal, action, resource) when {{ {condition} }};\n")
}

#[test]
fn a_disclose_grant_discloses_and_cites_its_provision() {
    let rb = rulebook(
        &grant(
            "g",
            "disclose",
            "context.legal_basis == Provision::\"plikt\"",
        ),
        "",
    );
    let d = rb.decide(&request(&["f1"])).unwrap();
    let f = &d.fields[0];
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Disclose, Ground::Provision)
    );
    assert_eq!(f.determining[0].id, "g");
    assert_eq!(f.determining[0].citation.to_string(), "SFS 2024:307 3 §");
    assert_eq!(d.rulebook.hash, rb.hash());
    assert_eq!(d.rulebook.hash.len(), 64);
}

#[test]
fn no_grant_is_an_explicit_refusal_without_citation() {
    let rb = rulebook(
        &grant("g", "disclose", "context.purpose == Purpose::\"annat\""),
        "",
    );
    let f = &rb.decide(&request(&["f1"])).unwrap().fields[0];
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Refuse, Ground::NoLegalBasis)
    );
    assert!(f.determining.is_empty() && f.candidates.is_empty());
}

#[test]
fn a_review_grant_routes_to_review_with_what_to_weigh() {
    let text = grant("g", "review", "true").replace("@id(\"g\")", "@id(\"g\") @weigh(\"behov\")");
    let rb = rulebook(&text, "");
    let f = &rb.decide(&request(&["f1"])).unwrap().fields[0];
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Review, Ground::NeedsAssessment)
    );
    assert_eq!(f.candidates[0].weigh.as_deref(), Some("behov"));
}

#[test]
fn disclose_wins_over_review_when_both_hold() {
    let rb = rulebook(
        &(grant("r", "review", "true") + &grant("d", "disclose", "true")),
        "",
    );
    let f = &rb.decide(&request(&["f1"])).unwrap().fields[0];
    assert_eq!(f.outcome, Outcome::Disclose);
    assert_eq!(f.determining.len(), 1);
    assert_eq!(f.determining[0].id, "d");
}

#[test]
fn a_refuse_override_beats_every_grant() {
    let policies = grant("d", "disclose", "true")
        + &forbid("no", "refuse", "resource in Category::\"reg/kanslig\"");
    let rb = rulebook(&policies, "");
    let d = rb.decide(&request(&["f1", "k1"])).unwrap();
    assert_eq!(d.fields[0].outcome, Outcome::Disclose);
    assert_eq!(
        (d.fields[1].outcome, d.fields[1].ground),
        (Outcome::Refuse, Ground::Forbidden)
    );
    assert_eq!(d.fields[1].determining[0].id, "no");
    assert_eq!(d.fields[1].determining[0].class, Class::Refuse);
}

#[test]
fn a_review_override_turns_disclosure_into_review_naming_the_grants() {
    let policies = grant("d", "disclose", "true")
        + &forbid("skydd", "review", "context.subject.protected_identity");
    let rb = rulebook(&policies, "");
    let f = first_field(&rb, |r| r.subject.protected_identity = true);
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Review, Ground::ForcedReview)
    );
    assert_eq!(f.determining[0].id, "skydd");
    assert_eq!(f.candidates[0].id, "d");
}

#[test]
fn a_review_override_without_any_grant_still_refuses() {
    let policies = grant("d", "disclose", "context.purpose == Purpose::\"annat\"")
        + &forbid("skydd", "review", "context.subject.protected_identity");
    let rb = rulebook(&policies, "");
    let f = first_field(&rb, |r| r.subject.protected_identity = true);
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Refuse, Ground::NoLegalBasis)
    );
}

#[test]
fn a_policy_that_errors_routes_the_field_to_review_not_to_silence() {
    // Integer overflow passes validation and fails at evaluation.
    let policies =
        grant("ok", "review", "true") + &grant("boom", "disclose", "9223372036854775807 + 1 > 0");
    let rb = rulebook(&policies, "");
    let f = &rb.decide(&request(&["f1"])).unwrap().fields[0];
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Review, Ground::EvaluationError)
    );
    assert!(f.errors[0].contains("boom"), "{:?}", f.errors);
    // An erroring override is not skipped either: a would-be disclosure goes to review.
    let policies =
        grant("d", "disclose", "true") + &forbid("boom", "refuse", "9223372036854775807 + 1 > 0");
    let f = &rulebook(&policies, "")
        .decide(&request(&["f1"]))
        .unwrap()
        .fields[0];
    assert_eq!(
        (f.outcome, f.ground),
        (Outcome::Review, Ground::EvaluationError)
    );
}

#[test]
fn errors_before_and_after_the_field_test_are_reported_where_evaluation_reaches_them() {
    // The overflow comes before the field test: every field errs, once the gate has erred.
    let before = grant(
        "g",
        "disclose",
        "9223372036854775807 + 1 > 0 && resource in [Field::\"reg/f1\"]",
    );
    let d = rulebook(&before, "")
        .decide(&request(&["f1", "f2"]))
        .unwrap();
    assert!(
        d.fields.iter().all(|f| f.ground == Ground::EvaluationError),
        "{d:?}"
    );
    // After the field test: only the field that reaches it errs.
    let after = grant(
        "g",
        "disclose",
        "resource in [Field::\"reg/f1\"] && 9223372036854775807 + 1 > 0",
    );
    let d = rulebook(&after, "")
        .decide(&request(&["f1", "f2"]))
        .unwrap();
    assert_eq!(d.fields[0].ground, Ground::EvaluationError);
    assert_eq!(d.fields[1].ground, Ground::NoLegalBasis);
    // A gate that is false keeps the policy from being evaluated, and from holding.
    let gated = grant(
        "g",
        "disclose",
        "context.role == \"chef\" && resource in [Field::\"reg/f1\"]",
    );
    let d = rulebook(&gated, "").decide(&request(&["f1"])).unwrap();
    assert_eq!(d.fields[0].ground, Ground::NoLegalBasis);
}

#[test]
fn membership_tests_after_a_gate_are_read_off_each_field_as_cedar_reads_them() {
    // Each policy is a gate followed only by membership tests, so `decide` answers them from
    // the field's category and offering without asking Cedar per field.
    let gate = "context.role == \"handlaggare\"";
    let policies = [
        grant(
            "set",
            "disclose",
            &format!("{gate} && resource in [Field::\"reg/f1\", Field::\"reg/k1\"]"),
        ),
        grant(
            "categories",
            "disclose",
            &format!("{gate} && resource in [Category::\"reg/kanslig\", Category::\"other/vanlig\"]"),
        ),
        grant(
            "exact-category",
            "disclose",
            &format!("{gate} && resource == Category::\"reg/vanlig\""),
        ),
        grant(
            "exact-field",
            "disclose",
            &format!("{gate} && Field::\"reg/f2\" == resource"),
        ),
        grant(
            "both",
            "disclose",
            &format!("{gate} && resource in Category::\"reg/vanlig\" && resource in [Field::\"reg/f3\", Field::\"reg/k1\"]"),
        ),
        grant(
            "elsewhere",
            "disclose",
            &format!("{gate} && resource in [Field::\"other/g1\"]"),
        ),
        format!("@id(\"scoped\") @outcome(\"refuse\") {CITE}\nforbid(principal, action, resource in Category::\"reg/kanslig\") when {{ context.case_ref == \"B 2026/9\" && resource in Offering::\"reg\" }};\n"),
    ]
    .concat();
    let rb = rulebook(&policies, "");
    let determining = |r: &utbyte_rules::DisclosureRequest| {
        let d = rb.decide(r).unwrap();
        assert_eq!(d.fields, rb.decide_unindexed(r).unwrap().fields);
        d.fields
            .iter()
            .map(|f| f.determining.iter().map(|c| c.id.to_string()).collect())
            .collect::<Vec<Vec<String>>>()
    };
    let mut r = request(&["f1", "f2", "f3", "k1"]);
    assert_eq!(
        determining(&r),
        [
            vec!["set"],
            vec!["exact-field"],
            vec!["both"],
            vec!["categories", "set"]
        ]
    );
    r.case_ref = "B 2026/9".into();
    assert_eq!(determining(&r)[3], ["scoped"]);
    // When the gate is false nothing after it holds.
    let other_role = first_field(&rb, |r| r.role = "chef".into());
    assert_eq!(other_role.ground, Ground::NoLegalBasis);
}

#[test]
fn a_policy_is_left_out_only_for_requests_its_leading_date_and_purpose_conditions_exclude() {
    // Out of its days the policy is false before it reaches the overflow; on them it errs, for
    // every field (the overflow comes before the field test).
    let policies = [
        grant(
            "dated",
            "disclose",
            "context.date >= 20260401 && 9223372036854775807 + 1 > 0 && resource in [Field::\"reg/f1\"]",
        ),
        forbid(
            "dated-request-level",
            "refuse",
            "context.date <= 20260301 && context.purpose in PurposeGroup::\"kontroll\"",
        ),
    ]
    .concat();
    let rb = rulebook(&policies, "");
    let decided = |r: &utbyte_rules::DisclosureRequest| {
        let d = rb.decide(r).unwrap();
        assert_eq!(d.fields, rb.decide_unindexed(r).unwrap().fields);
        (d.fields[0].ground, d.fields[1].ground)
    };
    let mut r = request(&["f1", "f2"]);
    assert_eq!(decided(&r), (Ground::NoLegalBasis, Ground::NoLegalBasis));
    r.time = time::macros::datetime!(2026-04-01 09:00 UTC);
    assert_eq!(
        decided(&r),
        (Ground::EvaluationError, Ground::EvaluationError)
    );
    r.time = time::macros::datetime!(2026-02-28 09:00 UTC);
    assert_eq!(decided(&r), (Ground::Forbidden, Ground::Forbidden));
    // The same for a leading purpose test.
    let rb = rulebook(
        &grant(
            "for-another-purpose",
            "disclose",
            "context.purpose in Purpose::\"annat\" && 9223372036854775807 + 1 > 0 && resource in [Field::\"reg/f1\"]",
        ),
        "",
    );
    let mut r = request(&["f1"]);
    let ground = |r: &utbyte_rules::DisclosureRequest| {
        let d = rb.decide(r).unwrap();
        assert_eq!(d.fields, rb.decide_unindexed(r).unwrap().fields);
        d.fields[0].ground
    };
    assert_eq!(ground(&r), Ground::NoLegalBasis);
    r.purpose = "annat".into();
    assert_eq!(ground(&r), Ground::EvaluationError);
}

#[test]
fn unknown_things_are_refused_with_their_own_ground() {
    let rb = rulebook(&grant("d", "disclose", "true"), "");
    let d = rb.decide(&request(&["f1", "nope"])).unwrap();
    assert_eq!(d.fields[1].ground, Ground::UnknownField);
    assert_eq!(
        first_field(&rb, |r| r.offering = "saknas".into()).ground,
        Ground::UnknownOffering
    );
    assert_eq!(
        first_field(&rb, |r| r.purpose = "saknas".into()).ground,
        Ground::UnknownPurpose
    );
    assert_eq!(
        first_field(&rb, |r| r.legal_basis = "saknas".into()).ground,
        Ground::UnknownLegalBasis
    );
    assert_eq!(
        first_field(&rb, |r| r.operation = Some("saknas".into())).ground,
        Ground::UnknownOperation
    );
}

#[test]
fn malformed_requests_are_rejected_precisely() {
    let rb = rulebook(&grant("d", "disclose", "true"), "");
    let mut r = request(&["f1"]);
    r.subject.id = "19121212-1213".into();
    assert!(matches!(
        rb.decide(&r),
        Err(RequestError::InvalidSubject(_))
    ));
    let mut r = request(&["f1"]);
    r.unit = "b-1".into();
    assert!(matches!(
        rb.decide(&r),
        Err(RequestError::UnitNotOfRecipient { .. })
    ));
    assert!(matches!(
        rb.decide(&request(&[])),
        Err(RequestError::NoFields)
    ));
    assert!(matches!(
        rb.decide(&request(&["f1", "f1"])),
        Err(RequestError::DuplicateField(_))
    ));
    let mut r = request(&["f1"]);
    r.recipient = "x".into();
    assert!(matches!(
        rb.decide(&r),
        Err(RequestError::UnknownRecipient(_))
    ));
    let mut r = request(&["f1"]);
    r.case_ref = "x".repeat(300);
    assert!(matches!(
        rb.decide(&r),
        Err(RequestError::TooLong {
            name: "case_ref",
            ..
        })
    ));
}

#[test]
fn only_policies_that_can_reach_the_request_are_evaluated() {
    let other = format!(
        "@id(\"other\") @outcome(\"disclose\") {CITE}\npermit(principal in Authority::\"c\", action, resource in Offering::\"other\");\n"
    );
    let rb = rulebook(&(grant("d", "disclose", "true") + &other), "");
    let d = rb.decide(&request(&["f1"])).unwrap();
    assert_eq!((d.policies_evaluated, d.policies_total), (1, 2));
}

const PA: &str = r#"
[[pre_assessment]]
id = "avtal"
title = "Avtal"
offering = "reg"
fields = ["f1", "f2"]
recipient = "a"
units = ["a-1"]
roles = ["handlaggare"]
purpose = "kontroll"
provision = "plikt"
valid_from = "2026-01-01"
valid_until = "2026-06-30"
approved_by_provider = "B"
approved_by_recipient = "A"
approved_on = "2025-12-01"
"#;

#[test]
fn a_pre_assessment_discloses_exactly_its_fields_within_its_validity() {
    let rb = rulebook(
        &grant(
            "luffa",
            "review",
            "context.legal_basis == Provision::\"plikt\"",
        ),
        PA,
    );
    let d = rb.decide(&request(&["f1", "f2", "f3"])).unwrap();
    let outcomes: Vec<_> = d.fields.iter().map(|f| (f.outcome, f.ground)).collect();
    assert_eq!(
        outcomes,
        vec![
            (Outcome::Disclose, Ground::PreAssessed),
            (Outcome::Disclose, Ground::PreAssessed),
            (Outcome::Review, Ground::NeedsAssessment)
        ]
    );
    assert_eq!(
        d.fields[0].determining[0].pre_assessment.as_deref(),
        Some("avtal")
    );
    assert_eq!(
        d.fields[0].determining[0].citation.to_string(),
        "SFS 2024:307 3 §"
    );

    let at = |when: time::OffsetDateTime| {
        let mut r = request(&["f1"]);
        r.time = when;
        rb.decide(&r).unwrap().fields[0].outcome
    };
    use time::macros::datetime;
    // Both ends are whole Swedish days: from midnight CET on 1 January to midnight CEST
    // after 30 June, whatever the UTC calendar says.
    assert_eq!(at(datetime!(2025-12-31 23:59:59 +01:00)), Outcome::Review);
    assert_eq!(at(datetime!(2026-01-01 00:00 +01:00)), Outcome::Disclose);
    assert_eq!(at(datetime!(2025-12-31 23:00 UTC)), Outcome::Disclose);
    assert_eq!(at(datetime!(2026-06-30 23:59:59 +02:00)), Outcome::Disclose);
    assert_eq!(at(datetime!(2026-07-01 00:00 +02:00)), Outcome::Review);
    assert_eq!(at(datetime!(2026-06-30 22:00 UTC)), Outcome::Review);

    assert_eq!(
        first_field(&rb, |r| r.unit = "a-2".into()).outcome,
        Outcome::Review
    );
    assert_eq!(
        first_field(&rb, |r| r.role = "chef".into()).outcome,
        Outcome::Review
    );
    let mut other_purpose = request(&["f1"]);
    other_purpose.purpose = "annat".into();
    // The pre-assessment no longer applies; the general grant (no purpose condition) still does.
    assert_eq!(
        rb.decide(&other_purpose).unwrap().fields[0].outcome,
        Outcome::Review
    );
}

#[test]
fn notices_carry_values_only_under_a_pre_assessment_that_says_so() {
    let general = grant(
        "luffa",
        "disclose",
        "context.legal_basis == Provision::\"plikt\"",
    );
    let carried = |rulebook: &Rulebook| {
        let decision = rulebook.decide(&request(&["f1", "f3"])).unwrap();
        decision
            .fields
            .iter()
            .map(|f| rulebook.notice_may_carry(f))
            .collect::<Vec<_>>()
    };
    // Disclosed automatically, but not under an agreement that lets notices carry values.
    assert_eq!(carried(&rulebook(&general, PA)), [false, false]);
    // The agreement says so: its field may travel in notices; f3, disclosed only by the
    // general grant, may not.
    let says_so = format!("{PA}notice_values = true\n");
    assert_eq!(carried(&rulebook(&general, &says_so)), [true, false]);
    // Outside the agreement's validity nothing is carried, though f1 is still disclosed.
    let rb = rulebook(&general, &says_so);
    let mut late = request(&["f1"]);
    late.time = time::macros::datetime!(2026-07-01 00:00 +02:00);
    let decision = rb.decide(&late).unwrap();
    assert_eq!(decision.fields[0].outcome, Outcome::Disclose);
    assert!(!rb.notice_may_carry(&decision.fields[0]));
}

#[test]
fn a_pre_assessment_with_a_bad_reference_is_reported_in_its_file() {
    let bad = PA.replace("fields = [\"f1\", \"f2\"]", "fields = [\"f1\", \"saknas\"]");
    let err = load(&grant("g", "review", "true"), &bad).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.file, "pre-assessments/pa.toml");
    assert_eq!(p.line, 3, "{p}");
    assert!(p.message.contains("has no field `saknas`"), "{p}");
}

/// A policy applies only on the Swedish days its provision is in force and its own version's
/// dates allow; a request claiming a provision not in force is refused on that ground.
#[test]
fn a_request_is_decided_under_the_law_in_force_on_its_swedish_day() {
    let mut files = fixture::files(
        &format!(
            "{PLIKT}\n@id(\"ny-lydelse\") @outcome(\"disclose\") @in_force(\"2027-01-01\") {CITE}\n\
             permit(principal, action, resource in Category::\"reg/vanlig\")\n\
             when {{ context.legal_basis == Provision::\"plikt\" }};\n"
        ),
        "",
    );
    files[2].text = files[2].text.replace(
        "kind = \"duty_on_request\"",
        "kind = \"duty_on_request\"\nin_force = \"2024-07-01\"\nrepealed = \"2028-01-01\"",
    );
    let rulebook = utbyte_rules::Rulebook::from_sources(&files).unwrap_or_else(|e| panic!("{e}"));
    let at = |time: time::OffsetDateTime| {
        let mut r = request(&["f1"]);
        r.time = time;
        let d = rulebook.decide(&r).unwrap();
        (d.fields[0].outcome, d.fields[0].ground)
    };
    use time::macros::datetime;
    // 22:00 UTC on 30 June is 00:00 on 1 July in Sweden (summer time).
    assert_eq!(
        at(datetime!(2024-06-30 21:59:59 UTC)),
        (Outcome::Refuse, Ground::NotInForce)
    );
    assert_eq!(
        at(datetime!(2024-06-30 22:00 UTC)),
        (Outcome::Review, Ground::NeedsAssessment)
    );
    // The new wording discloses from Swedish midnight on 1 January 2027 (winter time).
    assert_eq!(
        at(datetime!(2026-12-31 22:59:59 UTC)),
        (Outcome::Review, Ground::NeedsAssessment)
    );
    assert_eq!(
        at(datetime!(2026-12-31 23:00 UTC)),
        (Outcome::Disclose, Ground::Provision)
    );
    // Repealed: nothing applies, whatever the policies' own dates say.
    assert_eq!(
        at(datetime!(2027-12-31 23:00 UTC)),
        (Outcome::Refuse, Ground::NotInForce)
    );
}
