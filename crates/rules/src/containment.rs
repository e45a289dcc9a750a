//! A pre-assessment within its provision: compiled so, and proved so.
//!
//! A förhandsbedömning settles the needs or interest assessment *within* a provision that
//! applies; it can never widen the provision. The *grants of a provision* are the hand-written
//! grants (`permit`, disclose or review) whose `when` clause requires
//! `context.legal_basis == Provision::"x"` (the footprint's basis conjunct) — the policies that
//! say to whom, for what and from whom the provision lets information go. A grant that names its
//! basis in any other way does not count, which can only make a pre-assessment narrower.
//!
//! **Compiling.** [`conjoin`] adds the conditions of the provision's grants to the policy a
//! pre-assessment compiles to: each grant's scope and conditions as one conjunction, the grants
//! that can reach the agreement's recipient and offering joined by `||`. The generated policy can
//! therefore only hold where one of its provision's grants holds, whatever the agreement says.
//!
//! Why conjoin rather than decide the pre-assessment as *disclose only when a grant of its
//! provision holds for the field*: the conjunction keeps the compiled policy a plain, self-
//! contained Cedar policy, so plain Cedar, `paths` (the catalog's ways to disclose), `explain`
//! and the decision all see the same thing, and it costs the index nothing. The grant's conditions
//! are placed after the agreement's own terms (legal basis, validity, purpose, roles, units),
//! which are the most selective, and — where they do not read the field — before the field test,
//! so they become part of the policy's *gate* (see `footprint`): they are evaluated at most once
//! per request, and only for agreements whose own terms already held. Conditions of the grant
//! that read the field follow the field test.
//!
//! **Proving.** [`implies_grant`] checks, from a policy's structure alone, that whenever it
//! holds some grant of its provision holds: every conjunct of that grant (its scope written as
//! conditions, its `when` conjuncts, its `unless` clauses negated) is among the policy's own
//! conjuncts, or — for a conjunct of the policy that is a disjunction — among the policy's
//! conjuncts together with those of each disjunct. A policy whose conjuncts all held to `true`
//! has thereby evaluated every conjunct of that grant to `true`, so the grant holds too.

use crate::footprint;
use crate::index::{offerings, recipients};
use crate::policy::PolicyInfo;
use cedar_policy::{Policy, PolicyId};
use serde_json::{json, Value};

/// A policy and its meaning, as the rulebook keeps them.
pub type Annotated = (Policy, PolicyInfo);

/// The grants of `provision`: hand-written permits whose condition requires
/// `context.legal_basis == Provision::"provision"`.
pub fn provision_grants<'a>(
    policies: impl IntoIterator<Item = &'a Annotated>,
    provision: &str,
) -> Vec<&'a Annotated> {
    policies
        .into_iter()
        .filter(|(policy, info)| {
            info.class.is_grant()
                && info.pre_assessment.is_none()
                && footprint::of(policy).basis.as_deref() == Some(provision)
        })
        .collect()
}

/// `{"Value": {"__entity": …}}` for a scope's entity (written `{"type", "id"}` in scope JSON).
fn entity_value(entity: &Value) -> Value {
    match entity.get("__entity") {
        Some(_) => json!({ "Value": entity }),
        None => json!({ "Value": { "__entity": entity } }),
    }
}

/// A scope constraint (`principal in X`, `action == A`, `resource is T in X`, …) as the
/// condition it stands for; `None` for an unconstrained scope. `Err` for a template slot, which
/// a rulebook never has.
fn scope_condition(var: &str, constraint: &Value) -> Result<Option<Value>, ()> {
    let left = json!({ "Var": var });
    let target = |c: &Value| -> Result<Value, ()> {
        if let Some(entity) = c.get("entity") {
            Ok(entity_value(entity))
        } else if let Some(entities) = c.get("entities").and_then(Value::as_array) {
            Ok(json!({ "Set": entities.iter().map(entity_value).collect::<Vec<_>>() }))
        } else {
            Err(())
        }
    };
    match constraint.get("op").and_then(Value::as_str) {
        Some("All") | Some("all") => Ok(None),
        Some("==") => Ok(Some(
            json!({ "==": { "left": left, "right": target(constraint)? } }),
        )),
        Some("in") => Ok(Some(
            json!({ "in": { "left": left, "right": target(constraint)? } }),
        )),
        Some("is") => {
            let entity_type = constraint.get("entity_type").ok_or(())?;
            let mut is = json!({ "left": left, "entity_type": entity_type });
            if let Some(within) = constraint.get("in") {
                is["in"] = target(within)?;
            }
            Ok(Some(json!({ "is": is })))
        }
        _ => Err(()),
    }
}

/// The conjuncts of a `&&` chain, in evaluation order.
pub fn flatten(op: &str, v: &Value, out: &mut Vec<Value>) {
    match v.get(op) {
        Some(args) => {
            flatten(op, &args["left"], out);
            flatten(op, &args["right"], out);
        }
        None => out.push(v.clone()),
    }
}

fn join(op: &str, items: Vec<Value>) -> Option<Value> {
    items
        .into_iter()
        .reduce(|left, right| json!({ op: { "left": left, "right": right } }))
}

/// A policy's scope, written as conditions: principal, action, resource.
pub fn scope_conditions(json: &Value) -> Result<Vec<Value>, ()> {
    let mut out = Vec::new();
    for var in ["principal", "action", "resource"] {
        let constraint = json.get(var).ok_or(())?;
        out.extend(scope_condition(var, constraint)?);
    }
    Ok(out)
}

/// Everything that must hold for a policy to hold, in evaluation order: its scope as conditions,
/// the conjuncts of its `when` clauses, its `unless` clauses negated.
pub fn conditions(policy: &Policy) -> Option<Vec<Value>> {
    let json = policy.to_json().ok()?;
    let mut out = scope_conditions(&json).ok()?;
    for condition in json.get("conditions")?.as_array()? {
        let body = condition.get("body")?;
        match condition.get("kind").and_then(Value::as_str)? {
            "when" => flatten("&&", body, &mut out),
            "unless" => out.push(json!({ "!": { "arg": body } })),
            _ => return None,
        }
    }
    Some(out)
}

pub fn mentions_resource(v: &Value) -> bool {
    match v {
        Value::Object(map) => {
            map.get("Var").and_then(Value::as_str) == Some("resource")
                || map.values().any(mentions_resource)
        }
        Value::Array(items) => items.iter().any(mentions_resource),
        _ => false,
    }
}

/// Adds the conditions of `grants` (the grants of the pre-assessment's provision) to the policy
/// a pre-assessment compiled to, so that it holds only where one of them holds. Grants whose
/// scope cannot reach the agreement's recipient or offering are left out (they can never hold
/// for it); with none left the policy can never hold.
pub fn conjoin(
    compiled: &Policy,
    recipient: &str,
    offering: &str,
    grants: &[&Annotated],
    vocabulary: &crate::vocabulary::Vocabulary,
) -> Result<Policy, String> {
    let fail = |what: &str| format!("cannot conjoin its provision's grants: {what}");
    let mut json = compiled.to_json().map_err(|e| fail(&e.to_string()))?;
    let body = json["conditions"][0]["body"].clone();
    let mut own = Vec::new();
    flatten("&&", &body, &mut own);
    // What the agreement already says (its action and offering, its legal basis, a purpose group
    // it names) need not be said twice.
    let mut said = scope_conditions(&json).map_err(|()| fail("unexpected scope"))?;
    said.extend(own.iter().cloned());
    let mut alternatives: Vec<Vec<Value>> = Vec::new();
    for (grant, info) in grants {
        let to = recipients(&grant.principal_constraint(), vocabulary);
        let of = offerings(&grant.resource_constraint(), vocabulary);
        if !to.contains(recipient) || !of.contains(offering) {
            continue;
        }
        let conjuncts = conditions(grant).ok_or_else(|| fail(&format!("grant `{}`", info.id)))?;
        alternatives.push(
            conjuncts
                .into_iter()
                .filter(|c| !said.contains(c))
                .collect(),
        );
    }
    // The agreement's field test is its last conjunct (see `PreAssessment::to_cedar`).
    let field_test = own.pop().ok_or_else(|| fail("empty condition"))?;
    let (mut before, mut after) = (own, Vec::new());
    match alternatives.len() {
        0 => before.push(json!({ "Value": false })),
        1 => {
            let only = alternatives.remove(0);
            let split = only
                .iter()
                .position(mentions_resource)
                .unwrap_or(only.len());
            let (free, rest) = only.split_at(split);
            before.extend(free.iter().cloned());
            after.extend(rest.iter().cloned());
        }
        _ => {
            let either = alternatives
                .into_iter()
                .map(|a| join("&&", a).unwrap_or(json!({ "Value": true })))
                .collect();
            let either = join("||", either).unwrap_or(json!({ "Value": false }));
            if mentions_resource(&either) {
                after.push(either);
            } else {
                before.push(either);
            }
        }
    }
    before.push(field_test);
    before.extend(after);
    json["conditions"] = json!([{ "kind": "when", "body": join("&&", before) }]);
    Policy::from_json(Some(PolicyId::new(compiled.id().as_ref() as &str)), json)
        .map_err(|e| fail(&e.to_string()))
}

/// Whether `policy` can only hold where one of `grants` holds, judged from structure alone
/// (see the module documentation). `None` when the policy's structure is not one we read.
pub fn implies_grant(policy: &Policy, grants: &[&Annotated]) -> Option<bool> {
    let own = conditions(policy)?;
    let required: Vec<Vec<Value>> = grants
        .iter()
        .map(|(grant, _)| conditions(grant))
        .collect::<Option<_>>()?;
    let covered = |facts: &[&Value]| {
        required
            .iter()
            .any(|grant| grant.iter().all(|c| facts.contains(&c)))
    };
    let facts: Vec<&Value> = own.iter().collect();
    if covered(&facts) {
        return Some(true);
    }
    // A conjunct that is a disjunction: each alternative, with the rest, must imply a grant.
    let proved = own.iter().any(|conjunct| {
        let mut alternatives = Vec::new();
        flatten("||", conjunct, &mut alternatives);
        alternatives.len() > 1
            && alternatives.iter().all(|alternative| {
                let mut extra = Vec::new();
                flatten("&&", alternative, &mut extra);
                let facts: Vec<&Value> = own.iter().chain(&extra).collect();
                covered(&facts)
            })
    });
    Some(proved)
}

/// The outcome of proving, for one rulebook, that every automatic disclosure lies within a grant
/// of the provision it cites.
#[derive(Debug, Default)]
pub struct Proof<'a> {
    /// Disclosing policies compiled from (or marked as) pre-assessments, each proved to imply a
    /// grant of its provision.
    pub proved: Vec<&'a PolicyInfo>,
    /// Hand-written disclosing grants: each is itself a rule of the provision it cites.
    pub own_rules: Vec<&'a PolicyInfo>,
    /// Pre-assessment policies for which no grant of their provision is implied, with the
    /// provision they require (if any).
    pub unproved: Vec<(&'a PolicyInfo, Option<String>)>,
}

/// Proves structurally that every policy that discloses automatically is either a provision's
/// own grant or implies one (see [`implies_grant`]).
pub fn prove(policies: &[Annotated]) -> Proof<'_> {
    let mut proof = Proof::default();
    for (policy, info) in policies {
        if info.class != crate::policy::Class::Disclose {
            continue;
        }
        if info.pre_assessment.is_none() {
            proof.own_rules.push(info);
            continue;
        }
        let basis = footprint::of(policy).basis;
        let implied = basis.as_deref().is_some_and(|basis| {
            let grants = provision_grants(policies, basis);
            !grants.is_empty() && implies_grant(policy, &grants) == Some(true)
        });
        if implied {
            proof.proved.push(info);
        } else {
            proof.unproved.push((info, basis));
        }
    }
    proof
}
