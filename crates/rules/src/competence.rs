//! Competence (behörighet): which roles at which units may ask for what, for which purposes,
//! and who may review.
//!
//! A statute lets information go to an *authority*; within it, only officers whose duties
//! include the matter may ask. `competence.toml` writes those duties down: the roles officers
//! hold, and for each authority which roles at which units may ask for which offerings for which
//! purposes (`[[ask]]`), and which roles at which units may decide reviews (`[[review]]`). A
//! request from a role without competence is refused with the ground *no competence* — recorded
//! like any refusal — before any policy is evaluated, so an invented role can never reach a grant
//! or a pre-assessment that happens not to list roles.
//!
//! The file is optional: a rulebook without it decides by unit and role as its policies say, as
//! before competence was modelled. With it, every role a request carries must be defined.

use crate::source::{parse_toml, Problems, SourceFile};
use crate::vocabulary::Vocabulary;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The file competence is written in, inside a rulebook directory.
pub const FILE: &str = "competence.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: String,
    pub title: String,
}

/// Roles at units of one authority that may ask for offerings for purposes. An empty list does
/// not restrict: every unit of the authority, every offering, every purpose.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    pub authority: String,
    #[serde(default)]
    pub units: Vec<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub offerings: Vec<String>,
    /// Purposes or purpose groups.
    #[serde(default)]
    pub purposes: Vec<String>,
}

/// Roles at units of one authority that may decide its reviews (of these offerings; empty:
/// all of the authority's offerings).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub authority: String,
    #[serde(default)]
    pub units: Vec<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub offerings: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Competence {
    #[serde(default, rename = "role")]
    pub role_list: Vec<Role>,
    #[serde(default)]
    pub ask: Vec<Ask>,
    #[serde(default)]
    pub review: Vec<Review>,
    #[serde(skip)]
    pub roles: BTreeMap<String, Role>,
}

/// Who asks: the authority, unit and role of a request.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub authority: &'a str,
    pub unit: &'a str,
    pub role: &'a str,
}

fn open(list: &[String], item: &str) -> bool {
    list.is_empty() || list.iter().any(|x| x == item)
}

impl Competence {
    /// Reads and checks `competence.toml` against the rest of the vocabulary.
    pub(crate) fn load(
        file: &SourceFile,
        vocabulary: &Vocabulary,
        problems: &mut Problems,
    ) -> Option<Self> {
        let mut competence: Competence = match parse_toml(file) {
            Ok(parsed) => parsed,
            Err(problem) => {
                problems.push(problem);
                return None;
            }
        };
        for role in std::mem::take(&mut competence.role_list) {
            let id = role.id.clone();
            if id.trim().is_empty() || id.contains('"') || id.chars().any(char::is_control) {
                problems.push(file.problem_near(
                    &format!("\"{id}\""),
                    format!("`{id}` is not a valid role id"),
                ));
            }
            if competence.roles.insert(id.clone(), role).is_some() {
                problems.push(file.problem_near(
                    &format!("\"{id}\""),
                    format!("role `{id}` is defined twice"),
                ));
            }
        }
        let mut check =
            |authority: &str, units: &[String], roles: &[String], offerings: &[String]| {
                let mut problem = |needle: &str, message: String| {
                    problems.push(file.problem_near(&format!("\"{needle}\""), message));
                };
                if !vocabulary.authorities.contains_key(authority) {
                    problem(authority, format!("`{authority}` is not an authority"));
                }
                for unit in units {
                    if vocabulary.unit_authority.get(unit).map(String::as_str) != Some(authority) {
                        problem(
                            unit,
                            format!("unit `{unit}` is not a unit of `{authority}`"),
                        );
                    }
                }
                if roles.is_empty() {
                    problem(
                        authority,
                        format!("a competence of `{authority}` names no role"),
                    );
                }
                for role in roles {
                    if !competence.roles.contains_key(role) {
                        problem(role, format!("role `{role}` is not defined in a [[role]]"));
                    }
                }
                for offering in offerings {
                    if !vocabulary.offerings.contains_key(offering) {
                        problem(offering, format!("offering `{offering}` is not defined"));
                    }
                }
            };
        for ask in &competence.ask {
            check(&ask.authority, &ask.units, &ask.roles, &ask.offerings);
        }
        for review in &competence.review {
            check(
                &review.authority,
                &review.units,
                &review.roles,
                &review.offerings,
            );
        }
        for ask in &competence.ask {
            for purpose in &ask.purposes {
                if !vocabulary.purposes.contains_key(purpose)
                    && !vocabulary.purpose_groups.contains_key(purpose)
                {
                    problems.push(file.problem_near(
                        &format!("\"{purpose}\""),
                        format!("purpose `{purpose}` is neither a purpose nor a purpose group"),
                    ));
                }
            }
        }
        Some(competence)
    }

    /// Whether `asker` may ask for `offering` for `purpose`.
    pub fn may_ask(
        &self,
        vocabulary: &Vocabulary,
        asker: Asker,
        offering: &str,
        purpose: &str,
    ) -> bool {
        self.ask.iter().any(|ask| {
            ask.authority == asker.authority
                && open(&ask.units, asker.unit)
                && ask.roles.iter().any(|r| r == asker.role)
                && open(&ask.offerings, offering)
                && (ask.purposes.is_empty()
                    || ask
                        .purposes
                        .iter()
                        .any(|scope| vocabulary.purpose_within(purpose, scope)))
        })
    }

    /// Whether `reviewer` may decide reviews of `offering` for its own authority.
    pub fn may_review(&self, reviewer: Asker, offering: &str) -> bool {
        self.review.iter().any(|review| {
            review.authority == reviewer.authority
                && open(&review.units, reviewer.unit)
                && review.roles.iter().any(|r| r == reviewer.role)
                && open(&review.offerings, offering)
        })
    }
}

impl Vocabulary {
    /// Whether `asker` may ask for `offering` for `purpose`: always, when the rulebook does not
    /// model competence.
    pub fn may_ask(&self, asker: Asker, offering: &str, purpose: &str) -> bool {
        self.competence
            .as_ref()
            .is_none_or(|c| c.may_ask(self, asker, offering, purpose))
    }

    /// Whether `reviewer` may decide reviews of `offering`: always, when the rulebook does not
    /// model competence.
    pub fn may_review(&self, reviewer: Asker, offering: &str) -> bool {
        self.competence
            .as_ref()
            .is_none_or(|c| c.may_review(reviewer, offering))
    }
}
