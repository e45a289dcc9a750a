//! The ways an offering can be disclosed, read off the rulebook's grants: which legal basis each
//! requires, which recipients it can reach, and whether it discloses automatically or after a
//! human assessment. The catalog shows these, so legal bases are never typed twice.
//!
//! Each grant's scope gives its recipients; Cedar itself then narrows them, asked for every unit
//! and field with only the recipient, the provider and the claimed legal basis known: a grant
//! that certainly fails for every field, or is certainly refused by an override, is dropped for
//! that recipient. What depends on the rest of a request (purpose, role, date, the subject) stays
//! possible, so the result is still an upper bound: only a decision says what a request gets.

use crate::entities::Types;
use crate::footprint;
use crate::index::{offerings, recipients, Reach};
use crate::policy::{Citation, Class};
use crate::vocabulary::Offering;
use crate::Rulebook;
use cedar_policy::{
    AuthorizationError, Authorizer, Context, Policy, PolicySet, Request, RestrictedExpression,
};
use serde::Serialize;
use std::collections::HashSet;

/// One grant that can disclose fields of an offering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisclosurePath {
    /// The grant policy's id.
    pub policy: String,
    /// The provision a request must claim for the grant to apply (`context.legal_basis`), if
    /// the grant requires one.
    pub legal_basis: Option<String>,
    /// The recipient authorities the grant can reach; `None` means every authority.
    pub recipients: Option<Vec<String>>,
    /// Disclose automatically, or route to review.
    pub class: Class,
    pub citation: Citation,
    /// The pre-assessment the grant was compiled from, if any.
    pub pre_assessment: Option<String>,
}

/// One way an officer can ask for an offering: the legal basis to claim and the purposes it can
/// be claimed for, given the officer's authority, unit and role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestOption {
    /// The grant policy's id.
    pub policy: String,
    pub legal_basis: String,
    /// Purposes for which some field may be disclosed (automatically or after review), in the
    /// rulebook's order.
    pub purposes: Vec<String>,
    pub class: Class,
    pub citation: Citation,
}

impl Rulebook {
    /// The legal bases and purposes an officer of `unit` (of `recipient`) in `role` can claim
    /// for `offering` on the day `on` — only purposes the role is competent to ask for, and only
    /// the law in force that day: every grant with a legal basis that reaches the recipient, kept with the
    /// purposes for which Cedar, asked with the recipient, unit, role, basis and purpose known,
    /// does not certainly refuse every field. An upper bound, like [`Self::disclosure_paths`]:
    /// what depends on the subject is decided by the request itself.
    pub fn request_options(
        &self,
        offering: &str,
        recipient: &str,
        unit: &str,
        role: &str,
        on: time::Date,
    ) -> Vec<RequestOption> {
        let Some(known) = self.vocabulary.offerings.get(offering) else {
            return Vec::new();
        };
        let (_, policies) = self.reaching(offering);
        let refusals = self.refusal_ids();
        let day = crate::dates::number(on);
        let asker = crate::competence::Asker {
            authority: recipient,
            unit,
            role,
        };
        self.disclosure_paths(offering)
            .into_iter()
            .filter(|path| {
                path.recipients
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|r| r == recipient))
            })
            // Only the law in force on the day: the grant and the provision it requires.
            .filter(|path| {
                self.policy_info(&path.policy)
                    .is_some_and(|info| info.period.contains(day))
                    && path.legal_basis.as_ref().is_none_or(|basis| {
                        self.vocabulary
                            .provisions
                            .get(basis)
                            .is_some_and(|p| p.period().contains(day))
                    })
            })
            .filter_map(|path| {
                let basis = path.legal_basis.clone()?;
                let purposes: Vec<String> = self
                    .vocabulary
                    .purposes
                    .keys()
                    // Only what the officer's role at the unit is competent to ask for.
                    .filter(|purpose| self.vocabulary.may_ask(asker, offering, purpose))
                    .filter(|purpose| {
                        known.fields().any(|(_, field)| {
                            let probe = Probe {
                                recipient,
                                unit,
                                field: &field.id,
                                basis: Some(&basis),
                                purpose: Some(purpose),
                                role: Some(role),
                                date: Some(day),
                            };
                            open(
                                &self.known(known, &probe, &policies),
                                &path.policy,
                                &refusals,
                            )
                            .0
                        })
                    })
                    .cloned()
                    .collect();
                (!purposes.is_empty()).then_some(RequestOption {
                    policy: path.policy,
                    legal_basis: basis,
                    purposes,
                    class: path.class,
                    citation: path.citation,
                })
            })
            .collect()
    }

    /// The policies whose resource scope reaches `offering`, in load order, and the same as a
    /// policy set to ask Cedar with.
    fn reaching(&self, offering: &str) -> (Vec<&(Policy, crate::policy::PolicyInfo)>, PolicySet) {
        let reaching: Vec<&(Policy, crate::policy::PolicyInfo)> = self
            .policies
            .iter()
            .filter(|(policy, _)| {
                reaches(
                    &offerings(&policy.resource_constraint(), &self.vocabulary),
                    offering,
                )
            })
            .collect();
        let mut policies = PolicySet::new();
        for (policy, _) in &reaching {
            // Ids are unique within a rulebook, so adding cannot fail.
            let _ = policies.add((*policy).clone());
        }
        (reaching, policies)
    }

    fn refusal_ids(&self) -> Vec<&str> {
        self.policies
            .iter()
            .filter(|(_, info)| info.class == Class::Refuse)
            .map(|(_, info)| info.id.as_str())
            .collect()
    }

    /// Every grant that can disclose fields of `offering`, in load order, each narrowed to the
    /// recipients it can serve there.
    pub fn disclosure_paths(&self, offering: &str) -> Vec<DisclosurePath> {
        let Some(known) = self.vocabulary.offerings.get(offering) else {
            return Vec::new();
        };
        let (reaching, policies) = self.reaching(offering);
        reaching
            .into_iter()
            .filter(|(_, info)| info.class.is_grant())
            .filter_map(|(policy, info)| {
                let to = recipients(&policy.principal_constraint(), &self.vocabulary);
                let recipients = match to {
                    Reach::All => None,
                    Reach::Only(set) if set.is_empty() => return None,
                    Reach::Only(set) => Some(set.into_iter().collect()),
                };
                Some(DisclosurePath {
                    policy: info.id.clone(),
                    legal_basis: footprint::of(policy).basis,
                    recipients,
                    class: info.class,
                    citation: info.citation.clone(),
                    pre_assessment: info.pre_assessment.clone(),
                })
            })
            .filter_map(|path| self.narrow(known, path, &policies))
            .collect()
    }
}

fn reaches(reach: &Reach, offering: &str) -> bool {
    match reach {
        Reach::All => true,
        Reach::Only(set) => set.contains(offering),
    }
}

/// One question put to Cedar: this unit of this recipient asks for this field, claiming this
/// basis, for this purpose (if known); nothing else about the request is known.
#[derive(Clone, Copy)]
struct Probe<'a> {
    recipient: &'a str,
    unit: &'a str,
    field: &'a str,
    basis: Option<&'a str>,
    purpose: Option<&'a str>,
    /// The officer's role (`context.role`), if known.
    role: Option<&'a str>,
    /// The day of the request (`context.date`), if known.
    date: Option<i64>,
}

/// Whether `grant` may disclose under what Cedar knows, and whether that answer is settled
/// (holds whatever the unknown rest of the request is).
fn open(known: &Known, grant: &str, refusals: &[&str]) -> (bool, bool) {
    let granted = known.holds.contains(grant) || known.unknown.contains(grant);
    let refused = refusals.iter().any(|r| known.holds.contains(*r));
    let settled = !granted
        || refused
        || (known.holds.contains(grant) && !refusals.iter().any(|r| known.unknown.contains(*r)));
    (granted && !refused, settled)
}

/// What the policies that reach an offering say about one (unit, field) when only the
/// recipient, the provider and the claimed legal basis are known.
struct Known {
    /// Policies whose condition held without reading anything unknown: they hold for every
    /// request with this unit, field and basis.
    holds: HashSet<String>,
    /// Policies that read something unknown: they may or may not hold.
    unknown: HashSet<String>,
}

impl Rulebook {
    /// Narrows a path to the recipients for which some field of `offering` may be disclosed
    /// under it: the grant does not certainly fail, and no refusal override certainly holds.
    ///
    /// Sound as an upper bound because Cedar is only ever asked with part of the context:
    /// a policy that evaluates without error never read the missing part, so its answer holds
    /// for every value of it, and a policy that errs is counted as possibly holding.
    fn narrow(
        &self,
        offering: &Offering,
        path: DisclosurePath,
        policies: &PolicySet,
    ) -> Option<DisclosurePath> {
        let candidates: Vec<String> = match &path.recipients {
            Some(list) => list.clone(),
            None => self.vocabulary.authorities.keys().cloned().collect(),
        };
        let refusals = self.refusal_ids();
        let kept: Vec<String> = candidates
            .into_iter()
            .filter(|recipient| {
                let Some(authority) = self.vocabulary.authorities.get(recipient) else {
                    return true;
                };
                authority.units.iter().any(|unit| {
                    offering.fields().any(|(_, field)| {
                        let probe = |purpose: Option<&str>| {
                            let known = self.known(
                                offering,
                                &Probe {
                                    recipient,
                                    unit: &unit.id,
                                    field: &field.id,
                                    basis: path.legal_basis.as_deref(),
                                    purpose,
                                    role: None,
                                    date: None,
                                },
                                policies,
                            );
                            open(&known, &path.policy, &refusals)
                        };
                        // Without a purpose first; only where that leaves the answer open (a
                        // condition read the purpose) is every purpose of the rulebook tried.
                        match probe(None) {
                            (possible, true) => possible,
                            (_, false) => self
                                .vocabulary
                                .purposes
                                .keys()
                                .any(|purpose| probe(Some(purpose)).0),
                        }
                    })
                })
            })
            .collect();
        if kept.is_empty() {
            return None;
        }
        let all = path.recipients.is_none() && kept.len() == self.vocabulary.authorities.len();
        Some(DisclosurePath {
            recipients: if all { None } else { Some(kept) },
            ..path
        })
    }

    fn known(&self, offering: &Offering, probe: &Probe<'_>, policies: &PolicySet) -> Known {
        let Probe {
            recipient,
            unit,
            field,
            basis,
            purpose,
            role,
            date,
        } = *probe;
        let t = &self.types;
        let entity = |ty, id: &str| RestrictedExpression::new_entity_uid(Types::uid(ty, id));
        let mut pairs = vec![
            ("recipient".to_owned(), entity(&t.authority, recipient)),
            (
                "provider".to_owned(),
                entity(&t.authority, &offering.provider),
            ),
        ];
        if let Some(basis) = basis {
            pairs.push(("legal_basis".to_owned(), entity(&t.provision, basis)));
        }
        if let Some(purpose) = purpose {
            pairs.push(("purpose".to_owned(), entity(&t.purpose, purpose)));
        }
        if let Some(date) = date {
            pairs.push(("date".to_owned(), RestrictedExpression::new_long(date)));
        }
        if let Some(role) = role {
            pairs.push((
                "role".to_owned(),
                RestrictedExpression::new_string(role.to_owned()),
            ));
        }
        let everything_unknown = || Known {
            holds: HashSet::new(),
            unknown: self.policies.iter().map(|(_, i)| i.id.clone()).collect(),
        };
        let Ok(context) = Context::from_pairs(pairs) else {
            return everything_unknown();
        };
        let Ok(request) = Request::new(
            Types::uid(&t.unit, unit),
            t.disclose(),
            t.field_uid(&offering.id, field),
            context,
            None,
        ) else {
            return everything_unknown();
        };
        let response = Authorizer::new().is_authorized(&request, policies, &self.entities);
        let diagnostics = response.diagnostics();
        let mut known = Known {
            holds: diagnostics.reason().map(ToString::to_string).collect(),
            unknown: diagnostics
                .errors()
                .map(|error| {
                    let AuthorizationError::PolicyEvaluationError(e) = error;
                    e.policy_id().to_string()
                })
                .collect(),
        };
        // `context has x` is false, not an error, when `x` is merely unknown here, so a policy
        // that tests for an optional attribute (a joint operation) settles nothing.
        for policy in policies.policies() {
            if policy.to_string().contains("context has") {
                let id = policy.id().to_string();
                known.holds.remove(&id);
                known.unknown.insert(id);
            }
        }
        known
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::Class;
    use crate::rulebook::read_dir;
    use crate::Rulebook;
    use std::path::PathBuf;

    #[test]
    fn grants_are_read_with_their_legal_basis_recipients_and_outcome() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
        let rulebook = Rulebook::from_sources(&read_dir(&dir).unwrap()).unwrap();
        let paths = rulebook.disclosure_paths("fk-formaner");
        assert!(paths
            .iter()
            .any(|p| p.legal_basis.as_deref() == Some("luffa")
                && p.class == Class::Disclose
                && p.recipients
                    .as_ref()
                    .is_some_and(|r| r.contains(&"malmo-stad".to_owned()))
                && p.pre_assessment.is_some()));
        assert!(paths.iter().all(|p| p.class.is_grant()));
        // Narrowed by the rulebook itself: a grant limited to some categories, or refused by an
        // override for an offering's secrecy, is not a legal basis there.
        let basis_of = |offering: &str, basis: &str| {
            rulebook
                .disclosure_paths(offering)
                .into_iter()
                .any(|p| p.legal_basis.as_deref() == Some(basis))
        };
        assert!(!basis_of("malmo-ekonomiskt-bistand", "osl-10-27"));
        assert!(!basis_of("pm-misstanke", "sfb-110-31"));
        assert!(!basis_of("pm-misstanke", "luffa"));
        assert!(basis_of("skv-inkomst", "sfb-110-31"));
        // The general clause reaches Kronofogden's debts only through a human assessment.
        let debts = rulebook.disclosure_paths("kfm-skulder");
        assert!(debts
            .iter()
            .any(|p| p.legal_basis.as_deref() == Some("osl-10-27") && p.class == Class::Review));
        assert!(!debts
            .iter()
            .any(|p| p.legal_basis.as_deref() == Some("osl-10-27") && p.class == Class::Disclose));
    }

    #[test]
    fn request_options_follow_the_officers_role_and_unit() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
        let rulebook = Rulebook::from_sources(&read_dir(&dir).unwrap()).unwrap();
        let day = time::macros::date!(2026 - 03 - 02);
        let options = |role: &str| {
            rulebook.request_options(
                "fk-formaner",
                "malmo-stad",
                "malmo-ekonomiskt-bistand",
                role,
                day,
            )
        };
        let officer = options("handlaggare");
        let automatic = officer
            .iter()
            .find(|o| o.legal_basis == "luffa" && o.class == Class::Disclose)
            .expect("the pre-assessment's basis");
        assert_eq!(automatic.purposes, ["kontroll-ekonomiskt-bistand"]);
        // The pre-assessment names its roles: another role gets no automatic path under it.
        // Outside its validity the pre-assessment offers nothing.
        assert!(!rulebook
            .request_options(
                "fk-formaner",
                "malmo-stad",
                "malmo-ekonomiskt-bistand",
                "handlaggare",
                time::macros::date!(2031 - 06 - 01),
            )
            .iter()
            .any(|o| o.policy == automatic.policy));
        assert!(!options("vaktmastare")
            .iter()
            .any(|o| o.policy == automatic.policy));
        // Nor does an authority the grant does not reach.
        assert!(!rulebook
            .request_options(
                "fk-formaner",
                "bolagsverket",
                "bv-registrering",
                "handlaggare",
                day,
            )
            .iter()
            .any(|o| o.policy == automatic.policy));
        assert!(rulebook
            .request_options("no-such-offering", "malmo-stad", "x", "y", day)
            .is_empty());
    }

    #[test]
    fn request_options_offer_only_what_the_role_is_competent_to_ask() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
        let rulebook = Rulebook::from_sources(&read_dir(&dir).unwrap()).unwrap();
        let day = time::macros::date!(2026 - 03 - 02);
        let purposes = |offering: &str, unit: &str, role: &str| {
            let recipient = rulebook.vocabulary.unit_authority[unit].clone();
            let mut all: Vec<String> = rulebook
                .request_options(offering, &recipient, unit, role, day)
                .into_iter()
                .flat_map(|o| o.purposes)
                .collect();
            all.sort();
            all.dedup();
            all
        };
        // A role nobody defined is offered nothing, though a pre-assessment lists no roles.
        assert!(purposes("skv-folkbokforing", "fk-bostadsbidrag", "praktikant").is_empty());
        assert!(!purposes("skv-folkbokforing", "fk-bostadsbidrag", "handlaggare").is_empty());
        // Customer service at the housing-allowance unit: its own control only.
        assert_eq!(
            purposes("skv-inkomst", "fk-bostadsbidrag", "kundhandlaggare"),
            ["kontroll-bostadsbidrag"]
        );
        // An offering outside the unit's competence is offered under no basis at all.
        assert!(purposes("pm-misstanke", "malmo-ekonomiskt-bistand", "handlaggare").is_empty());
        // Every purpose offered is one the role may ask for.
        let vocabulary = &rulebook.vocabulary;
        for purpose in purposes("kfm-skulder", "pm-syd", "utredare") {
            let asker = crate::competence::Asker {
                authority: "polismyndigheten",
                unit: "pm-syd",
                role: "utredare",
            };
            assert!(
                vocabulary.may_ask(asker, "kfm-skulder", &purpose),
                "{purpose}"
            );
        }
    }
}
