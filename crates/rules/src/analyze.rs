//! Static analysis of a rulebook: what a legal expert must know before it goes live.
//!
//! - **Never applies**: policies Cedar's validator proves impossible, scopes that resolve to no
//!   authority or offering, pre-assessments that have expired (or are not yet in force).
//! - **Overlap and contradiction**: pre-assessments that agree the same disclosure twice (or under
//!   different provisions), and pre-assessments that another rule defeats — found by deciding the
//!   request each one was agreed for and checking that every field it covers is disclosed.
//! - **Within the provision**: proof that every automatic disclosure lies within a grant of the
//!   provision it cites — a hand-written disclosing grant is the provision's own rule, and every
//!   policy compiled from a pre-assessment must imply a grant of its provision from its structure
//!   alone (see `containment`).
//! - **The law in time**: pre-assessments, joint operations and versions of a provision's wording
//!   whose days lie (partly) outside the force of the provision they rest on — those days decide
//!   nothing automatically, whatever the agreement or the decision to cooperate says.
//! - **Protected identity**: proof that no rule can disclose automatically about a subject with
//!   protected identity. The proof is structural: a `forbid` with an unconstrained scope whose
//!   condition is exactly `context.subject.protected_identity` holds for every such request, and a
//!   satisfied override can never yield *disclose* (see the outcome rules in `decide`). Without
//!   such a guard — in force on every day, whatever the dates of its provision — every
//!   auto-disclosing policy is reported. The agreed requests of all
//!   pre-assessments are also decided with protected identity as a cross-check.

use crate::dates::Period;
use crate::decision::Outcome;
use crate::index::{offerings, recipients};
use crate::policy::Class;
use crate::preassessment::{self, PreAssessment};
use crate::request::{DisclosureRequest, Subject};
use crate::Rulebook;
use cedar_policy::{
    ActionConstraint, Effect, Policy, PrincipalConstraint, ResourceConstraint, ValidationMode,
    ValidationWarning, Validator,
};
use serde::Serialize;
use std::fmt;
use time::{Date, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    NeverApplies,
    Expired,
    NotYetInForce,
    Overlap,
    Contradiction,
    ProtectedIdentity,
    WithinProvision,
    OutsideForce,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let kind = serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        write!(
            f,
            "{severity}[{kind}] {}:{}: {}",
            self.file, self.line, self.message
        )
    }
}

/// Today's Swedish date, for judging validity periods.
pub fn today() -> Date {
    crate::dates::swedish_date(OffsetDateTime::now_utc())
}

/// Runs every analysis; findings are sorted most severe first.
pub fn analyze(rulebook: &Rulebook, today: Date) -> Vec<Finding> {
    let mut findings = Vec::new();
    never_applies(rulebook, &mut findings);
    validity(rulebook, today, &mut findings);
    overlaps(rulebook, &mut findings);
    contradictions(rulebook, &mut findings);
    protected_identity(rulebook, &mut findings);
    within_provision(rulebook, &mut findings);
    law_in_time(rulebook, &mut findings);
    findings.sort_by(|a, b| (a.severity, &a.file, a.line).cmp(&(b.severity, &b.file, b.line)));
    findings
}

fn finding(severity: Severity, kind: Kind, file: &str, line: usize, message: String) -> Finding {
    Finding {
        severity,
        kind,
        file: file.to_owned(),
        line,
        message,
    }
}

fn never_applies(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    let validator = Validator::new(rulebook.schema.clone());
    let result = validator.validate(&rulebook.all, ValidationMode::Strict);
    for warning in result.validation_warnings() {
        if let ValidationWarning::ImpossiblePolicy(_) = warning {
            if let Some(info) = rulebook.infos.get(warning.policy_id().as_ref() as &str) {
                findings.push(finding(
                    Severity::Warning,
                    Kind::NeverApplies,
                    &info.file,
                    info.line,
                    format!("policy `{}` can never hold: its condition is false for every valid request", info.id),
                ));
            }
        }
    }
    for (policy, info) in &rulebook.policies {
        let to = recipients(&policy.principal_constraint(), &rulebook.vocabulary);
        let of = offerings(&policy.resource_constraint(), &rulebook.vocabulary);
        let reason = if to.is_empty() {
            Some("its principal scope names no authority or unit of the federation")
        } else if of.is_empty() {
            Some("its resource scope names no offering, category or field")
        } else {
            None
        };
        if let Some(reason) = reason {
            findings.push(finding(
                Severity::Warning,
                Kind::NeverApplies,
                &info.file,
                info.line,
                format!("policy `{}` can never apply: {reason}", info.id),
            ));
        }
    }
}

fn located<'a>(rulebook: &'a Rulebook, pa: &PreAssessment) -> (&'a str, usize) {
    rulebook
        .infos
        .get(&preassessment::policy_id(&pa.id))
        .map_or(("pre-assessments", 1), |i| (i.file.as_str(), i.line))
}

fn validity(rulebook: &Rulebook, today: Date, findings: &mut Vec<Finding>) {
    for pa in &rulebook.pre_assessments {
        let (file, line) = located(rulebook, pa);
        if pa.valid_until < today {
            findings.push(finding(
                Severity::Warning,
                Kind::Expired,
                file,
                line,
                format!(
                    "pre-assessment `{}` expired on {}; it can never apply again",
                    pa.id,
                    crate::dates::format(pa.valid_until)
                ),
            ));
        } else if pa.valid_from > today {
            findings.push(finding(
                Severity::Info,
                Kind::NotYetInForce,
                file,
                line,
                format!(
                    "pre-assessment `{}` applies from {}",
                    pa.id,
                    crate::dates::format(pa.valid_from)
                ),
            ));
        }
    }
}

fn law_in_time(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    let vocabulary = &rulebook.vocabulary;
    let force = |provision: &str| vocabulary.provisions.get(provision).map(|p| p.period());
    let days = |from: Date, until: Date| Period {
        from: crate::dates::number(from),
        until: crate::dates::number(until),
    };
    for pa in &rulebook.pre_assessments {
        let Some(period) = force(&pa.provision) else {
            continue;
        };
        if !period.covers(days(pa.valid_from, pa.valid_until)) {
            let (file, line) = located(rulebook, pa);
            findings.push(finding(
                Severity::Warning,
                Kind::OutsideForce,
                file,
                line,
                format!(
                    "pre-assessment `{}` is agreed for {}–{}, but `{}` is in force {period}; on the other days it discloses nothing",
                    pa.id,
                    crate::dates::format(pa.valid_from),
                    crate::dates::format(pa.valid_until),
                    pa.provision
                ),
            ));
        }
    }
    for operation in vocabulary.operations.values() {
        let Some(provision) = &operation.provision else {
            continue;
        };
        let Some(period) = force(provision) else {
            continue;
        };
        if !period.covers(days(operation.starts, operation.ends)) {
            findings.push(finding(
                Severity::Warning,
                Kind::OutsideForce,
                "operations.toml",
                vocabulary.line_of(&format!("operation:{}", operation.id)),
                format!(
                    "operation `{}` runs {}–{}, but `{provision}` is in force {period}; on the other days it supports no request",
                    operation.id,
                    crate::dates::format(operation.starts),
                    crate::dates::format(operation.ends),
                ),
            ));
        }
    }
    for (_, info) in &rulebook.policies {
        if info.period.is_empty() {
            findings.push(finding(
                Severity::Warning,
                Kind::OutsideForce,
                &info.file,
                info.line,
                format!(
                    "policy `{}` never applies: its own dates lie outside the force of the provision it cites",
                    info.id
                ),
            ));
        }
    }
}

/// Whether two lists restrict to overlapping sets, where an empty list means "no restriction".
fn restrictions_meet(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|x| b.contains(x))
}

/// Whether two purpose ids (purposes or purpose groups) can both hold for one request.
fn purposes_meet(rulebook: &Rulebook, a: &str, b: &str) -> bool {
    let members = |id: &str| -> Vec<String> {
        if rulebook.vocabulary.purposes.contains_key(id) {
            return vec![id.to_owned()];
        }
        let groups = |p: &crate::vocabulary::Purpose| -> bool {
            p.groups.iter().any(|g| group_within(rulebook, g, id))
        };
        rulebook
            .vocabulary
            .purposes
            .values()
            .filter(|p| groups(p))
            .map(|p| p.id.clone())
            .collect()
    };
    let b_members = members(b);
    members(a).iter().any(|p| b_members.contains(p))
}

fn group_within(rulebook: &Rulebook, group: &str, ancestor: &str) -> bool {
    let mut pending = vec![group.to_owned()];
    let mut seen = std::collections::HashSet::new();
    while let Some(g) = pending.pop() {
        if g == ancestor {
            return true;
        }
        if seen.insert(g.clone()) {
            if let Some(pg) = rulebook.vocabulary.purpose_groups.get(&g) {
                pending.extend(pg.within.iter().cloned());
            }
        }
    }
    false
}

fn overlaps(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    let pas = &rulebook.pre_assessments;
    for (i, a) in pas.iter().enumerate() {
        for b in &pas[i + 1..] {
            let shared: Vec<&String> = a.fields.iter().filter(|f| b.fields.contains(f)).collect();
            let meet = a.offering == b.offering
                && a.recipient == b.recipient
                && !shared.is_empty()
                && a.valid_from <= b.valid_until
                && b.valid_from <= a.valid_until
                && restrictions_meet(&a.units, &b.units)
                && restrictions_meet(&a.roles, &b.roles)
                && purposes_meet(rulebook, &a.purpose, &b.purpose);
            if !meet {
                continue;
            }
            let (file, line) = located(rulebook, b);
            let fields = shared
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let (severity, kind, what) = if a.provision == b.provision {
                (
                    Severity::Warning,
                    Kind::Overlap,
                    "agree the same disclosure".to_owned(),
                )
            } else {
                (
                    Severity::Warning,
                    Kind::Contradiction,
                    format!(
                        "agree the same disclosure under different provisions (`{}` and `{}`)",
                        a.provision, b.provision
                    ),
                )
            };
            findings.push(finding(
                severity,
                kind,
                file,
                line,
                format!(
                    "pre-assessments `{}` and `{}` {what} of [{fields}] to `{}`",
                    a.id, b.id, a.recipient
                ),
            ));
        }
    }
}

/// The requests a pre-assessment was agreed for: each combination of joint operation (none or
/// any) and instant (its first day, and the start of every operation within its validity).
fn agreed_requests(
    rulebook: &Rulebook,
    pa: &PreAssessment,
    protected: bool,
) -> Vec<DisclosureRequest> {
    let v = &rulebook.vocabulary;
    let unit = pa
        .units
        .first()
        .cloned()
        .or_else(|| {
            v.authorities
                .get(&pa.recipient)
                .and_then(|a| a.units.first())
                .map(|u| u.id.clone())
        })
        .unwrap_or_default();
    let role = pa
        .roles
        .first()
        .cloned()
        .unwrap_or_else(|| "handlaggare".to_owned());
    let purpose = if v.purposes.contains_key(&pa.purpose) {
        pa.purpose.clone()
    } else {
        v.purposes
            .values()
            .find(|p| {
                p.groups
                    .iter()
                    .any(|g| group_within(rulebook, g, &pa.purpose))
            })
            .map_or_else(|| pa.purpose.clone(), |p| p.id.clone())
    };
    // Days on which both the agreement and its provision are in force: the first such day,
    // and the first day of each operation within them.
    let force = v
        .provisions
        .get(&pa.provision)
        .map(|p| p.period())
        .unwrap_or_default();
    let first = v
        .provisions
        .get(&pa.provision)
        .and_then(|p| p.in_force)
        .map_or(pa.valid_from, |d| d.max(pa.valid_from));
    let days: Vec<Date> = std::iter::once(first)
        .chain(v.operations.values().map(|o| o.starts))
        .filter(|d| pa.in_force_on(*d) && force.contains(crate::dates::number(*d)))
        .collect();
    let operations: Vec<Option<String>> = std::iter::once(None)
        .chain(v.operations.keys().cloned().map(Some))
        .collect();
    let mut requests = Vec::new();
    for day in days {
        for operation in &operations {
            requests.push(DisclosureRequest {
                recipient: pa.recipient.clone(),
                unit: unit.clone(),
                role: role.clone(),
                officer: None,
                vouched_by: None,
                offering: pa.offering.clone(),
                fields: pa.fields.clone(),
                purpose: purpose.clone(),
                legal_basis: pa.provision.clone(),
                case_ref: format!("analys {}", pa.id),
                operation: operation.clone(),
                subject: Subject {
                    id: "19121212-1212".to_owned(),
                    protected_identity: protected,
                },
                time: OffsetDateTime::new_utc(day, time::macros::time!(12:00)),
            });
        }
    }
    requests
}

fn contradictions(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    for pa in &rulebook.pre_assessments {
        let mut best: Option<crate::Decision> = None;
        for request in agreed_requests(rulebook, pa, false) {
            let Ok(decision) = rulebook.decide(&request) else {
                continue;
            };
            let disclosed = decision.fields_with(Outcome::Disclose).count();
            if best
                .as_ref()
                .is_none_or(|b| b.fields_with(Outcome::Disclose).count() < disclosed)
            {
                best = Some(decision);
            }
        }
        let Some(decision) = best else { continue };
        for field in decision
            .fields
            .iter()
            .filter(|f| f.outcome != Outcome::Disclose)
        {
            let by: Vec<String> = field
                .determining
                .iter()
                .map(|c| format!("`{}` ({})", c.id, c.citation))
                .collect();
            let (file, line) = located(rulebook, pa);
            findings.push(finding(
                Severity::Error,
                Kind::Contradiction,
                file,
                line,
                format!(
                    "pre-assessment `{}` is contradicted: field `{}` is {} ({}){}",
                    pa.id,
                    field.field,
                    field.outcome,
                    field.ground,
                    if by.is_empty() {
                        String::new()
                    } else {
                        format!(" by {}", by.join(", "))
                    }
                ),
            ));
        }
    }
}

/// Whether a policy is an unconditional protected-identity guard (see the module docs).
fn is_guard(policy: &Policy) -> bool {
    if policy.effect() != Effect::Forbid {
        return false;
    }
    let scope_open = matches!(policy.principal_constraint(), PrincipalConstraint::Any)
        && matches!(policy.resource_constraint(), ResourceConstraint::Any)
        && match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(a) => a.id().unescaped() == "disclose",
            ActionConstraint::In(_) => false,
        };
    if !scope_open {
        return false;
    }
    let Ok(json) = policy.to_json() else {
        return false;
    };
    let Some(conditions) = json.get("conditions").and_then(|c| c.as_array()) else {
        return false;
    };
    let protected = serde_json::json!({".": {"left": {".": {"left": {"Var": "context"}, "attr": "subject"}}, "attr": "protected_identity"}});
    let is_true = serde_json::json!({"==": {"left": protected.clone(), "right": {"Value": true}}});
    conditions.len() == 1
        && conditions[0].get("kind").and_then(|k| k.as_str()) == Some("when")
        && conditions[0]
            .get("body")
            .is_some_and(|b| *b == protected || *b == is_true)
}

fn protected_identity(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    // A guard protects only on the days it is in force: one whose provision has a date of entry
    // into force or a repeal leaves the other days unguarded, so it proves nothing on its own.
    let guards: Vec<&str> = rulebook
        .policies
        .iter()
        .filter(|(p, i)| is_guard(p) && i.period.is_always())
        .map(|(_, i)| i.id.as_str())
        .collect();
    if let Some(guard) = guards.first() {
        let info = &rulebook.infos[*guard];
        findings.push(finding(
            Severity::Info,
            Kind::ProtectedIdentity,
            &info.file,
            info.line,
            format!(
                "no rule can disclose automatically about a subject with protected identity: `{guard}` overrides every grant for every such request"
            ),
        ));
    } else {
        for (_, info) in rulebook
            .policies
            .iter()
            .filter(|(_, i)| i.class == Class::Disclose)
        {
            findings.push(finding(
                Severity::Error,
                Kind::ProtectedIdentity,
                &info.file,
                info.line,
                format!(
                    "policy `{}` may disclose automatically about a subject with protected identity: no unconditional forbid on `context.subject.protected_identity`, in force on every day, overrides it",
                    info.id
                ),
            ));
        }
    }
    for pa in &rulebook.pre_assessments {
        for request in agreed_requests(rulebook, pa, true) {
            let Ok(decision) = rulebook.decide(&request) else {
                continue;
            };
            let disclosed = decision
                .fields_with(Outcome::Disclose)
                .next()
                .map(|f| f.field.clone());
            if let Some(field) = disclosed {
                let (file, line) = located(rulebook, pa);
                findings.push(finding(
                    Severity::Error,
                    Kind::ProtectedIdentity,
                    file,
                    line,
                    format!(
                        "pre-assessment `{}` discloses `{}` automatically about a subject with protected identity",
                        pa.id, field
                    ),
                ));
                break;
            }
        }
    }
}

fn within_provision(rulebook: &Rulebook, findings: &mut Vec<Finding>) {
    let proof = crate::containment::prove(&rulebook.policies);
    for (info, basis) in &proof.unproved {
        let message = match basis {
            Some(basis) => format!(
                "policy `{}` may disclose beyond its provision: its condition implies no grant of `{basis}`",
                info.id
            ),
            None => format!(
                "policy `{}` discloses as a pre-assessment but requires no legal basis, so it rests on no provision",
                info.id
            ),
        };
        findings.push(finding(
            Severity::Error,
            Kind::WithinProvision,
            &info.file,
            info.line,
            message,
        ));
    }
    if proof.unproved.is_empty() {
        let (file, line) = proof
            .proved
            .first()
            .map_or(("rulebook.toml", 1), |i| (i.file.as_str(), i.line));
        findings.push(finding(
            Severity::Info,
            Kind::WithinProvision,
            file,
            line,
            format!(
                "every automatic disclosure lies within a grant of the provision it cites: {} pre-assessments each imply a grant of their provision, {} disclosing grants are provisions' own rules",
                proof.proved.len(),
                proof.own_rules.len()
            ),
        ));
    }
}
