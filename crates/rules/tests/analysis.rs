//! `analyze` finds what a legal expert must know before a rulebook goes live.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixture;

use fixture::{rulebook, CITE, PLIKT};
use utbyte_rules::analyze::{analyze, Finding, Kind, Severity};

const TODAY: time::Date = time::macros::date!(2026 - 03 - 01);

fn pa(id: &str, fields: &str, from: &str, until: &str) -> String {
    format!(
        r#"
[[pre_assessment]]
id = "{id}"
title = "{id}"
offering = "reg"
fields = {fields}
recipient = "a"
purpose = "kontroll-x"
provision = "plikt"
valid_from = "{from}"
valid_until = "{until}"
approved_by_provider = "B"
approved_by_recipient = "A"
approved_on = "2025-01-01"
"#
    )
}

const GUARD: &str = "@id(\"skydd\") @outcome(\"review\") @sfs(\"2009:400\") @chapter(\"21\") @section(\"3 §\") @title(\"Skydd\")\nforbid(principal, action, resource) when { context.subject.protected_identity };\n";

/// The guard and the grant of `plikt`, under which the pre-assessments of these tests are made.
fn guarded(more: &str) -> String {
    format!("{GUARD}{PLIKT}{more}")
}

fn of(findings: &[Finding], kind: Kind) -> Vec<&Finding> {
    findings.iter().filter(|f| f.kind == kind).collect()
}

#[test]
fn a_guard_proves_protected_identity_is_never_auto_disclosed() {
    let rb = rulebook(
        &guarded(""),
        &pa("p1", "[\"f1\"]", "2026-01-01", "2026-12-31"),
    );
    let findings = analyze(&rb, TODAY);
    let found = of(&findings, Kind::ProtectedIdentity);
    assert_eq!(found.len(), 1, "{findings:?}");
    assert_eq!(found[0].severity, Severity::Info);
    assert!(found[0].message.contains("`skydd`"));
}

#[test]
fn without_a_guard_every_auto_disclosing_rule_is_an_error() {
    let rb = rulebook(PLIKT, &pa("p1", "[\"f1\"]", "2026-01-01", "2026-12-31"));
    let findings = analyze(&rb, TODAY);
    let errors: Vec<_> = of(&findings, Kind::ProtectedIdentity)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    // The policy itself, and the probe of the request it was agreed for.
    assert_eq!(errors.len(), 2, "{findings:?}");
    assert!(errors.iter().all(|f| f.message.contains("p1")));
}

#[test]
fn a_guard_with_a_narrower_condition_is_not_a_guard() {
    let narrow = GUARD.replace(
        "context.subject.protected_identity }",
        "context.subject.protected_identity && context.role == \"x\" }",
    );
    let rb = rulebook(
        &format!("{narrow}{PLIKT}"),
        &pa("p1", "[\"f1\"]", "2026-01-01", "2026-12-31"),
    );
    let findings = analyze(&rb, TODAY);
    assert!(of(&findings, Kind::ProtectedIdentity)
        .iter()
        .any(|f| f.severity == Severity::Error));
}

#[test]
fn a_guard_not_in_force_on_every_day_is_not_a_guard() {
    // A version of the protection that enters into force on a day leaves the days before it
    // unguarded: an agreement in force then could disclose about a protected subject.
    let dated = GUARD.replace(
        "@outcome(\"review\")",
        "@outcome(\"review\") @in_force(\"2026-06-01\")",
    );
    let rb = rulebook(
        &format!("{dated}{PLIKT}"),
        &pa("p1", "[\"f1\"]", "2026-01-01", "2026-12-31"),
    );
    let findings = analyze(&rb, TODAY);
    assert!(
        of(&findings, Kind::ProtectedIdentity)
            .iter()
            .any(|f| f.severity == Severity::Error && f.message.contains("in force on every day")),
        "{findings:?}"
    );
}

#[test]
fn overlapping_pre_assessments_are_reported_once() {
    let pas = pa("p1", "[\"f1\", \"f2\"]", "2026-01-01", "2026-12-31")
        + &pa("p2", "[\"f2\", \"f3\"]", "2026-06-01", "2027-12-31");
    let findings = analyze(&rulebook(&guarded(""), &pas), TODAY);
    let overlaps = of(&findings, Kind::Overlap);
    assert_eq!(overlaps.len(), 1, "{findings:?}");
    assert!(overlaps[0].message.contains("[f2]"));
    // Disjoint validity periods do not overlap.
    let pas = pa("p1", "[\"f1\"]", "2026-01-01", "2026-05-31")
        + &pa("p2", "[\"f1\"]", "2026-06-01", "2027-12-31");
    assert!(of(
        &analyze(&rulebook(&guarded(""), &pas), TODAY),
        Kind::Overlap
    )
    .is_empty());
}

#[test]
fn a_pre_assessment_defeated_by_a_refusal_is_a_contradiction() {
    let refuse = format!("@id(\"nej\") @outcome(\"refuse\") {CITE}\nforbid(principal, action, resource in Category::\"reg/kanslig\");\n");
    let rb = rulebook(
        &guarded(&refuse),
        &pa("p1", "[\"f1\", \"k1\"]", "2026-01-01", "2026-12-31"),
    );
    let findings = analyze(&rb, TODAY);
    let contradictions = of(&findings, Kind::Contradiction);
    assert_eq!(contradictions.len(), 1, "{findings:?}");
    assert_eq!(contradictions[0].severity, Severity::Error);
    assert!(
        contradictions[0].message.contains("`k1`") && contradictions[0].message.contains("`nej`")
    );
}

#[test]
fn expired_and_future_pre_assessments_and_unreachable_policies_are_reported() {
    let unreachable = format!("@id(\"ingen\") @outcome(\"review\") {CITE}\npermit(principal in Group::\"mottagare\", action, resource) when {{ false }};\n");
    let pas = pa("gammal", "[\"f1\"]", "2024-01-01", "2025-12-31")
        + &pa("ny", "[\"f2\"]", "2027-01-01", "2027-12-31");
    let findings = analyze(&rulebook(&guarded(&unreachable), &pas), TODAY);
    assert_eq!(of(&findings, Kind::Expired).len(), 1, "{findings:?}");
    assert_eq!(of(&findings, Kind::NotYetInForce).len(), 1, "{findings:?}");
    let never = of(&findings, Kind::NeverApplies);
    assert!(
        never.iter().any(|f| f.message.contains("`ingen`")),
        "{findings:?}"
    );
}

#[test]
fn every_pre_assessment_is_proved_within_its_provision() {
    let pas = pa("p1", "[\"f1\"]", "2026-01-01", "2026-12-31")
        + &pa("p2", "[\"f2\"]", "2026-01-01", "2026-12-31");
    let findings = analyze(&rulebook(&guarded(""), &pas), TODAY);
    let within = of(&findings, Kind::WithinProvision);
    assert_eq!(within.len(), 1, "{findings:?}");
    assert_eq!(within[0].severity, Severity::Info);
    assert!(
        within[0]
            .message
            .contains("2 pre-assessments each imply a grant"),
        "{}",
        within[0].message
    );
}

/// A hand-written policy that claims to be a pre-assessment but tests only its own terms is
/// exactly the widening the proof exists to catch: it would disclose to `c`, which `plikt`
/// does not reach.
#[test]
fn a_disclosure_that_implies_no_grant_of_its_provision_is_an_error() {
    let wide = format!(
        "@id(\"handskriven\") @outcome(\"disclose\") @pre_assessment(\"handskriven\") {CITE}\n\
         permit(principal, action == Action::\"disclose\", resource in Offering::\"reg\")\n\
         when {{ context.legal_basis == Provision::\"plikt\" && context.purpose == Purpose::\"kontroll-x\" }};\n"
    );
    let findings = analyze(&rulebook(&guarded(&wide), ""), TODAY);
    let within = of(&findings, Kind::WithinProvision);
    assert_eq!(within.len(), 1, "{findings:?}");
    assert_eq!(within[0].severity, Severity::Error);
    assert!(within[0].message.contains("`handskriven`") && within[0].message.contains("`plikt`"));
    // The same policy with the grant's conditions conjoined is proved.
    let narrow = wide.replace(
        "context.purpose == Purpose::\"kontroll-x\"",
        "context.purpose == Purpose::\"kontroll-x\" && principal in Group::\"mottagare\" && \
         action == Action::\"disclose\" && context.purpose in PurposeGroup::\"kontroll\" && \
         context.recipient != context.provider",
    );
    let findings = analyze(&rulebook(&guarded(&narrow), ""), TODAY);
    let within = of(&findings, Kind::WithinProvision);
    assert_eq!(within[0].severity, Severity::Info, "{findings:?}");
}
