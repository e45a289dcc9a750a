//! Pre-assessments (förhandsbedömningar): agreed data that makes a disclosure automatic.
//!
//! A provider and a recipient agree that a set of fields of one offering may be disclosed to the
//! recipient (optionally only some units and roles), for one purpose, under one provision, within
//! a validity period. That agreement is data; [`PreAssessment::to_cedar`] compiles it into a
//! Cedar policy with the provision's citation, so it is decided, explained and analysed like any
//! other policy.
//!
//! Why static policies and not Cedar templates: a template has only two slots (`?principal`,
//! `?resource`), while a pre-assessment also fixes purpose, legal basis, roles and validity period,
//! which Cedar can only express in a `when` clause — and `when` clauses cannot refer to slots.
//! Generating one readable policy per agreement keeps each one a plain Cedar text that `explain`
//! can cite and `analyze` can inspect, with the same principal/resource scope a template would have.

use crate::policy::cedar_string;
use crate::source::{parse_toml, Problem, SourceFile};
use crate::vocabulary::{ProvisionKind, Vocabulary};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::Date;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreAssessment {
    pub id: String,
    pub title: String,
    pub offering: String,
    pub fields: Vec<String>,
    /// The recipient authority.
    pub recipient: String,
    /// Only these units of the recipient; empty means every unit.
    #[serde(default)]
    pub units: Vec<String>,
    /// Only officers with these roles; empty means every role.
    #[serde(default)]
    pub roles: Vec<String>,
    /// A purpose or a purpose group.
    pub purpose: String,
    /// The secrecy-breaking provision the agreement rests on.
    pub provision: String,
    #[serde(with = "crate::dates")]
    pub valid_from: Date,
    /// Last day of validity, inclusive.
    #[serde(with = "crate::dates")]
    pub valid_until: Date,
    /// Who approved it at the provider (name, function, reference).
    pub approved_by_provider: String,
    /// Who approved it at the recipient.
    pub approved_by_recipient: String,
    #[serde(with = "crate::dates")]
    pub approved_on: Date,
    /// Whether a subscription's notices may carry the values of the fields this agreement
    /// makes automatic (pattern D). Without it a notice names the fields changed and the
    /// recipient asks for the values with an ordinary request.
    #[serde(default)]
    pub notice_values: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreAssessmentFile {
    #[serde(default, rename = "pre_assessment")]
    pre_assessments: Vec<PreAssessment>,
}

/// The id of the Cedar policy a pre-assessment compiles to.
pub fn policy_id(pre_assessment: &str) -> String {
    format!("pre-assessment:{pre_assessment}")
}

impl PreAssessment {
    /// Reads a file of pre-assessments and checks each against the vocabulary.
    pub fn load_file(
        file: &SourceFile,
        vocabulary: &Vocabulary,
        problems: &mut Vec<Problem>,
    ) -> Vec<Self> {
        let parsed = match parse_toml::<PreAssessmentFile>(file) {
            Ok(parsed) => parsed.pre_assessments,
            Err(problem) => {
                problems.push(problem);
                return Vec::new();
            }
        };
        parsed
            .into_iter()
            .filter(|pa| {
                let found = pa.check(vocabulary);
                let ok = found.is_empty();
                for message in found {
                    problems.push(file.problem_near(&format!("\"{}\"", pa.id), message));
                }
                ok
            })
            .collect()
    }

    /// Everything wrong with this pre-assessment, in plain words.
    pub fn check(&self, vocabulary: &Vocabulary) -> Vec<String> {
        let mut found = Vec::new();
        let id = &self.id;
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c == '"') {
            found.push(format!(
                "pre-assessment id `{id}` must be non-empty, without spaces or quotes"
            ));
        }
        match vocabulary.offerings.get(&self.offering) {
            None => found.push(format!(
                "pre-assessment `{id}`: offering `{}` is not defined",
                self.offering
            )),
            Some(offering) => {
                for field in &self.fields {
                    if offering.category_of(field).is_none() {
                        found.push(format!(
                            "pre-assessment `{id}`: offering `{}` has no field `{field}`",
                            self.offering
                        ));
                    }
                }
                if offering.provider == self.recipient {
                    found.push(format!(
                        "pre-assessment `{id}`: the recipient is the provider itself; no disclosure is needed"
                    ));
                }
            }
        }
        if self.fields.is_empty() {
            found.push(format!("pre-assessment `{id}` covers no fields"));
        }
        let mut seen = HashSet::new();
        for field in &self.fields {
            if !seen.insert(field) {
                found.push(format!("pre-assessment `{id}` lists field `{field}` twice"));
            }
        }
        if !vocabulary.authorities.contains_key(&self.recipient) {
            found.push(format!(
                "pre-assessment `{id}`: recipient `{}` is not an authority",
                self.recipient
            ));
        }
        for unit in &self.units {
            if vocabulary.unit_authority.get(unit) != Some(&self.recipient) {
                found.push(format!(
                    "pre-assessment `{id}`: unit `{unit}` is not a unit of `{}`",
                    self.recipient
                ));
            }
        }
        for role in &self.roles {
            if role.is_empty() || role.contains('"') {
                found.push(format!(
                    "pre-assessment `{id}`: role `{role}` is not a valid role name"
                ));
            }
        }
        if !vocabulary.purposes.contains_key(&self.purpose)
            && !vocabulary.purpose_groups.contains_key(&self.purpose)
        {
            found.push(format!(
                "pre-assessment `{id}`: purpose `{}` is not defined",
                self.purpose
            ));
        }
        match vocabulary.provisions.get(&self.provision) {
            None => found.push(format!("pre-assessment `{id}`: provision `{}` is not defined", self.provision)),
            Some(p) if !matches!(p.kind, ProvisionKind::DutyOnRequest | ProvisionKind::InterestBalancing | ProvisionKind::StatutoryDuty) => {
                found.push(format!(
                    "pre-assessment `{id}`: provision `{}` does not break secrecy; a pre-assessment rests on a duty to provide, a statutory duty or an interest balancing",
                    self.provision
                ))
            }
            Some(_) => {}
        }
        if self.valid_until < self.valid_from {
            found.push(format!(
                "pre-assessment `{id}`: valid_until is before valid_from"
            ));
        }
        found
    }

    /// Whether the agreement is in force on `date`.
    pub fn in_force_on(&self, date: Date) -> bool {
        self.valid_from <= date && date <= self.valid_until
    }

    /// The Cedar policy this agreement compiles to. Call only after [`check`](Self::check) found
    /// nothing: it assumes every reference resolves.
    pub fn to_cedar(&self, vocabulary: &Vocabulary) -> String {
        let mut text = String::new();
        text.push_str(&format!("@id({})\n", cedar_string(&policy_id(&self.id))));
        text.push_str("@outcome(\"disclose\")\n");
        text.push_str(&format!("@pre_assessment({})\n", cedar_string(&self.id)));
        if let Some(p) = vocabulary.provisions.get(&self.provision) {
            text.push_str(&format!("@sfs({})\n", cedar_string(&p.sfs)));
            if !p.chapter.is_empty() {
                text.push_str(&format!("@chapter({})\n", cedar_string(&p.chapter)));
            }
            text.push_str(&format!("@section({})\n", cedar_string(&p.section)));
            text.push_str(&format!("@title({})\n", cedar_string(&p.title)));
        }
        text.push_str(&format!("@note({})\n", cedar_string(&self.title)));
        text.push_str(&format!(
            "permit (\n  principal in Authority::{},\n  action == Action::\"disclose\",\n  resource in Offering::{}\n)\nwhen {{\n",
            cedar_string(&self.recipient),
            cedar_string(&self.offering)
        ));
        // The most selective tests first and the field last: Cedar stops at the first false
        // conjunct, and everything before the field test can be decided once per request
        // (see the gates in `footprint`).
        let mut conjuncts = vec![
            format!(
                "context.legal_basis == Provision::{}",
                cedar_string(&self.provision)
            ),
            format!("context.date >= {}", crate::dates::number(self.valid_from)),
            format!("context.date <= {}", crate::dates::number(self.valid_until)),
        ];
        let purpose_type = if vocabulary.purposes.contains_key(&self.purpose) {
            "Purpose"
        } else {
            "PurposeGroup"
        };
        conjuncts.push(format!(
            "context.purpose in {purpose_type}::{}",
            cedar_string(&self.purpose)
        ));
        // Roles and units as disjunctions rather than set literals: Cedar builds (and hashes) a
        // set literal's set each time it evaluates it, and these are evaluated for every request.
        if !self.roles.is_empty() {
            let roles: Vec<String> = self
                .roles
                .iter()
                .map(|r| format!("context.role == {}", cedar_string(r)))
                .collect();
            conjuncts.push(format!("({})", roles.join(" || ")));
        }
        if !self.units.is_empty() {
            let units: Vec<String> = self
                .units
                .iter()
                .map(|u| format!("principal in Unit::{}", cedar_string(u)))
                .collect();
            conjuncts.push(format!("({})", units.join(" || ")));
        }
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|f| format!("Field::{}", cedar_string(&format!("{}/{f}", self.offering))))
            .collect();
        conjuncts.push(format!("resource in [{}]", fields.join(", ")));
        text.push_str("  ");
        text.push_str(&conjuncts.join(" &&\n  "));
        text.push_str("\n};\n");
        text
    }
}
