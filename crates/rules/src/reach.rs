//! Whether a pre-assessment's provision reaches every request it was agreed for.
//!
//! A förhandsbedömning can only settle the needs or interest assessment within a provision that
//! applies. `rules check` therefore asks Cedar, for every request the agreement covers, whether a
//! grant of its provision (see [`crate::containment`]) holds, and refuses the agreement with the
//! condition it fails — e.g. *recipient `x` is not among those SFS 2024:307 3 § lists* — located
//! at the line of the agreement that says it.
//!
//! The agreed requests are enumerated from the agreement: every unit (those listed, or all of the
//! recipient's), every purpose (the one named, or each purpose within the named group), and,
//! only where a grant reads them, every listed role, every field, and its first and last day.
//! What an agreement does not fix — the subject, a joint operation, the case reference, and the
//! role when none is listed — is left out of the context: a grant that reads it fails to
//! evaluate, and the agreement is refused as one whose reach cannot be told, never assumed.

use crate::containment::{self, Annotated};
use crate::entities::Types;
use crate::policy::Citation;
use crate::preassessment::PreAssessment;
use crate::source::{Problem, SourceFile};
use crate::vocabulary::Vocabulary;
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression,
};
use serde_json::{json, Value};

/// Most distinct unmet conditions reported for one agreement.
const MAX_REPORTED: usize = 3;

/// What the rulebook offers the check.
pub struct Checker<'a> {
    pub vocabulary: &'a Vocabulary,
    pub entities: &'a Entities,
    pub types: &'a Types,
}

/// One request an agreement covers.
struct Agreed<'p> {
    unit: &'p str,
    purpose: &'p str,
    role: Option<&'p str>,
    field: &'p str,
    date: time::Date,
}

/// Whether `v` reads `context.<attr>` (or tests `context has <attr>`).
fn reads_context(v: &Value, attr: &str) -> bool {
    let is_context = |args: &Value| {
        args["left"].get("Var").and_then(Value::as_str) == Some("context")
            && args.get("attr").and_then(Value::as_str) == Some(attr)
    };
    match v {
        Value::Object(map) => {
            map.get(".").is_some_and(is_context)
                || map.get("has").is_some_and(is_context)
                || map.values().any(|c| reads_context(c, attr))
        }
        Value::Array(items) => items.iter().any(|c| reads_context(c, attr)),
        _ => false,
    }
}

fn mentions_var(v: &Value, var: &str) -> bool {
    match v {
        Value::Object(map) => {
            map.get("Var").and_then(Value::as_str) == Some(var)
                || map.values().any(|c| mentions_var(c, var))
        }
        Value::Array(items) => items.iter().any(|c| mentions_var(c, var)),
        _ => false,
    }
}

/// A policy that holds exactly when `condition` does.
fn probe(condition: &Value) -> Option<PolicySet> {
    let json = json!({
        "effect": "permit",
        "principal": {"op": "All"},
        "action": {"op": "All"},
        "resource": {"op": "All"},
        "conditions": [{"kind": "when", "body": condition}],
    });
    let policy = Policy::from_json(Some(PolicyId::new("probe")), json).ok()?;
    PolicySet::from_policies([policy]).ok()
}

/// The Cedar text of a condition, for a message.
fn text(condition: &Value) -> String {
    probe(condition)
        .and_then(|set| set.policies().next().map(ToString::to_string))
        .and_then(|policy| {
            let start = policy.find("when")?;
            let body = policy[start + 4..].trim();
            Some(
                body.trim_end_matches(';')
                    .trim()
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .trim()
                    .to_owned(),
            )
        })
        .unwrap_or_default()
}

impl Checker<'_> {
    /// Every problem with `pa`'s reach: none when each agreed request meets a grant of its
    /// provision. Call only for a pre-assessment that passed [`PreAssessment::check`].
    pub fn check(
        &self,
        pa: &PreAssessment,
        file: &SourceFile,
        grants: &[&Annotated],
    ) -> Vec<Problem> {
        let v = self.vocabulary;
        let (Some(provision), Some(offering)) = (
            v.provisions.get(&pa.provision),
            v.offerings.get(&pa.offering),
        ) else {
            return Vec::new();
        };
        let citation = Citation {
            sfs: provision.sfs.clone(),
            chapter: provision.chapter.clone(),
            section: provision.section.clone(),
            title: provision.title.clone(),
        };
        let located = |key: &str, message: String| {
            let (line, column) = key_position(file, &pa.id, key);
            Problem::new(&file.path, line, column, format!("pre-assessment `{}` reaches beyond its provision: {message}", pa.id))
                .with_help(format!(
                    "a pre-assessment settles the needs assessment within {citation}; it cannot widen the provision{}",
                    if grants.is_empty() { String::new() } else {
                        format!(" (its grants: {})", grants.iter().map(|(_, i)| format!("`{}`", i.id)).collect::<Vec<_>>().join(", "))
                    }
                ))
        };
        if grants.is_empty() {
            return vec![located("provision", format!(
                "no grant in the rulebook applies {citation} (none requires `context.legal_basis == Provision::\"{}\"`)",
                pa.provision
            ))];
        }
        let mut set = PolicySet::new();
        for (policy, _) in grants {
            // Ids are unique in the rulebook.
            let _ = set.add(policy.clone());
        }
        let jsons: Vec<Value> = grants
            .iter()
            .filter_map(|(p, _)| p.to_json().ok())
            .collect();
        let reads = |attr: &str| jsons.iter().any(|j| reads_context(j, attr));
        let by_field = grants
            .iter()
            .any(|(p, _)| crate::footprint::of(p).resource != crate::footprint::ResourceUse::None);
        let units: Vec<&str> = if pa.units.is_empty() {
            v.authorities
                .get(&pa.recipient)
                .map(|a| a.units.iter().map(|u| u.id.as_str()).collect())
                .unwrap_or_default()
        } else {
            pa.units.iter().map(String::as_str).collect()
        };
        let purposes: Vec<&str> = if v.purposes.contains_key(&pa.purpose) {
            vec![pa.purpose.as_str()]
        } else {
            v.purposes
                .values()
                .filter(|p| v.purpose_within(&p.id, &pa.purpose))
                .map(|p| p.id.as_str())
                .collect()
        };
        let roles: Vec<Option<&str>> = if reads("role") && !pa.roles.is_empty() {
            pa.roles.iter().map(|r| Some(r.as_str())).collect()
        } else {
            vec![None]
        };
        let fields: Vec<&str> = if by_field {
            pa.fields.iter().map(String::as_str).collect()
        } else {
            pa.fields.iter().take(1).map(String::as_str).collect()
        };
        let dates = if reads("date") {
            vec![pa.valid_from, pa.valid_until]
        } else {
            vec![pa.valid_from]
        };
        let mut problems: Vec<Problem> = Vec::new();
        for unit in &units {
            for purpose in &purposes {
                for role in &roles {
                    for field in &fields {
                        for date in &dates {
                            let agreed = Agreed {
                                unit,
                                purpose,
                                role: *role,
                                field,
                                date: *date,
                            };
                            let Some(request) = self.request(pa, &offering.provider, &agreed)
                            else {
                                continue;
                            };
                            let response =
                                Authorizer::new().is_authorized(&request, &set, self.entities);
                            if response.decision() == Decision::Allow {
                                continue;
                            }
                            let (key, message) = self.unmet(
                                pa,
                                &offering.provider,
                                &agreed,
                                grants,
                                &request,
                                &citation,
                            );
                            let problem = located(key, message);
                            if !problems.iter().any(|p| p.message == problem.message) {
                                problems.push(problem);
                            }
                            if problems.len() >= MAX_REPORTED {
                                return problems;
                            }
                        }
                    }
                }
            }
        }
        problems
    }

    fn request(&self, pa: &PreAssessment, provider: &str, agreed: &Agreed) -> Option<Request> {
        let t = self.types;
        let entity = |ty, id: &str| RestrictedExpression::new_entity_uid(Types::uid(ty, id));
        let mut pairs = vec![
            ("recipient".to_owned(), entity(&t.authority, &pa.recipient)),
            ("provider".to_owned(), entity(&t.authority, provider)),
            ("purpose".to_owned(), entity(&t.purpose, agreed.purpose)),
            (
                "legal_basis".to_owned(),
                entity(&t.provision, &pa.provision),
            ),
            (
                "date".to_owned(),
                RestrictedExpression::new_long(crate::dates::number(agreed.date)),
            ),
        ];
        if let Some(role) = agreed.role {
            pairs.push((
                "role".to_owned(),
                RestrictedExpression::new_string(role.to_owned()),
            ));
        }
        let context = Context::from_pairs(pairs).ok()?;
        Request::new(
            Types::uid(&t.unit, agreed.unit),
            t.disclose(),
            t.field_uid(&pa.offering, agreed.field),
            context,
            None,
        )
        .ok()
    }

    /// The condition the agreed request fails, in words, and the key of the agreement that
    /// decides it: the furthest any grant got decides which condition is reported.
    fn unmet(
        &self,
        pa: &PreAssessment,
        provider: &str,
        agreed: &Agreed,
        grants: &[&Annotated],
        request: &Request,
        citation: &Citation,
    ) -> (&'static str, String) {
        let mut furthest: Option<(usize, Value, bool, &str)> = None;
        for (grant, info) in grants {
            let Some(conditions) = containment::conditions(grant) else {
                continue;
            };
            for (at, condition) in conditions.into_iter().enumerate() {
                let Some(set) = probe(&condition) else { break };
                let response = Authorizer::new().is_authorized(request, &set, self.entities);
                let erred = response.diagnostics().errors().next().is_some();
                if response.decision() == Decision::Allow {
                    continue;
                }
                if furthest.as_ref().is_none_or(|(best, ..)| at > *best) {
                    furthest = Some((at, condition, erred, info.id.as_str()));
                }
                break;
            }
        }
        let Some((_, condition, erred, grant)) = furthest else {
            return (
                "provision",
                format!("no grant of {citation} holds for its agreed requests"),
            );
        };
        if erred {
            let unfixed: Vec<&str> = ["subject", "operation", "case_ref", "role"]
                .into_iter()
                .filter(|a| reads_context(&condition, a))
                .collect();
            return ("provision", format!(
                "whether {citation} reaches it cannot be told: grant `{grant}` reads {} which a pre-assessment does not fix (`{}`)",
                if unfixed.is_empty() { "something".to_owned() } else { unfixed.iter().map(|a| format!("`context.{a}`")).collect::<Vec<_>>().join(", ") },
                text(&condition)
            ));
        }
        if mentions_var(&condition, "principal") || reads_context(&condition, "recipient") {
            return (
                "recipient",
                format!(
                    "recipient `{}` (unit `{}`) is not among those {citation} lists",
                    pa.recipient, agreed.unit
                ),
            );
        }
        if reads_context(&condition, "provider") {
            return (
                "offering",
                format!(
                    "provider `{provider}` of offering `{}` is not among those {citation} lists",
                    pa.offering
                ),
            );
        }
        if reads_context(&condition, "purpose") {
            return (
                "purpose",
                format!(
                    "purpose `{}` is not among those {citation} covers",
                    agreed.purpose
                ),
            );
        }
        if mentions_var(&condition, "resource") {
            return (
                "fields",
                format!(
                    "field `{}` of `{}` is not among those {citation} covers",
                    agreed.field, pa.offering
                ),
            );
        }
        if reads_context(&condition, "role") {
            return (
                "roles",
                format!(
                    "role `{}` is not among those {citation} covers",
                    agreed.role.unwrap_or_default()
                ),
            );
        }
        if reads_context(&condition, "date") {
            return (
                "valid_from",
                format!(
                    "{citation} does not apply on {}",
                    crate::dates::format(agreed.date)
                ),
            );
        }
        (
            "provision",
            format!(
                "condition `{}` of grant `{grant}` does not hold for its agreed requests",
                text(&condition)
            ),
        )
    }
}

/// The position of `key = …` within the pre-assessment `id`, or of its id.
fn key_position(file: &SourceFile, id: &str, key: &str) -> (usize, usize) {
    let anchor = format!("\"{id}\"");
    let Some(start) = file.text.find(&anchor) else {
        return (1, 1);
    };
    let block = &file.text[start..];
    let end = block.find("[[pre_assessment]]").unwrap_or(block.len());
    let found = block[..end]
        .match_indices(key)
        .find(|(at, _)| {
            block[..*at].ends_with('\n') && block[at + key.len()..].trim_start().starts_with('=')
        })
        .map(|(at, _)| at);
    file.position(start + found.unwrap_or(0))
}
