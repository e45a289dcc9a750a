//! Decisions: three outcomes per field, each carrying the provisions that decided it.

use crate::policy::PolicyInfo;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// What happens to one requested field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The field leaves the provider automatically.
    Disclose,
    /// A human must assess (needs assessment, interest balancing) before anything leaves.
    Review,
    /// The field does not leave: no legal basis, or a provision forbids it.
    Refuse,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Disclose => "disclose",
            Outcome::Review => "review",
            Outcome::Refuse => "refuse",
        })
    }
}

/// Why a field got its outcome. Refusals for missing or unknown things are explicit grounds, so a
/// refusal is always recorded with a reason even when no policy produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    /// An agreed pre-assessment covers the field.
    PreAssessed,
    /// A provision discloses the field without assessment.
    Provision,
    /// A provision allows disclosure after a needs assessment or an interest balancing.
    NeedsAssessment,
    /// A grant holds but an override demands a human assessment (e.g. protected identity).
    ForcedReview,
    /// A policy failed to evaluate; a human decides instead of the rule being skipped.
    EvaluationError,
    /// A provision forbids the disclosure.
    Forbidden,
    /// No provision in the rulebook permits the disclosure.
    NoLegalBasis,
    UnknownOffering,
    UnknownField,
    UnknownPurpose,
    UnknownLegalBasis,
    UnknownOperation,
    /// The claimed legal basis was not in force on the Swedish day of the request.
    NotInForce,
    /// The requesting officer's role at the unit has no competence (behörighet) to ask for
    /// the offering for the purpose.
    NoCompetence,
}

impl fmt::Display for Ground {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ground::PreAssessed => "pre-assessed",
            Ground::Provision => "provision",
            Ground::NeedsAssessment => "needs assessment",
            Ground::ForcedReview => "forced review",
            Ground::EvaluationError => "evaluation error",
            Ground::Forbidden => "forbidden",
            Ground::NoLegalBasis => "no legal basis",
            Ground::UnknownOffering => "unknown offering",
            Ground::UnknownField => "unknown field",
            Ground::UnknownPurpose => "unknown purpose",
            Ground::UnknownLegalBasis => "unknown legal basis",
            Ground::UnknownOperation => "unknown operation",
            Ground::NotInForce => "not in force",
            Ground::NoCompetence => "no competence",
        })
    }
}

/// A policy that took part in a decision, with its citation. It shares the rulebook's record of
/// the policy rather than copying it: a decision cites a handful of policies for every field.
#[derive(Debug, Clone)]
pub struct Cited(pub(crate) Arc<PolicyInfo>);

impl std::ops::Deref for Cited {
    type Target = PolicyInfo;

    fn deref(&self) -> &PolicyInfo {
        &self.0
    }
}

impl PartialEq for Cited {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Cited {}

impl Serialize for Cited {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let p = &self.0;
        let mut s = serializer.serialize_struct("Cited", 5)?;
        s.serialize_field("policy", &p.id)?;
        s.serialize_field("class", &p.class)?;
        s.serialize_field("citation", &p.citation)?;
        if let Some(pa) = &p.pre_assessment {
            s.serialize_field("pre_assessment", pa)?;
        }
        if let Some(weigh) = &p.weigh {
            s.serialize_field("weigh", weigh)?;
        }
        s.end()
    }
}

/// The decision for one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDecision {
    pub field: String,
    pub outcome: Outcome,
    pub ground: Ground,
    /// The policies that determined the outcome.
    pub determining: Vec<Cited>,
    /// For review: the grants a reviewer may disclose under, with what must be weighed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Cited>,
    /// Policies that failed to evaluate, with the error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl FieldDecision {
    pub(crate) fn bare(field: &str, outcome: Outcome, ground: Ground) -> Self {
        Self {
            field: field.to_owned(),
            outcome,
            ground,
            determining: Vec::new(),
            candidates: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Every citation this field's decision rests on: determining policies first, then candidates.
    pub fn citations(&self) -> impl Iterator<Item = &Cited> {
        self.determining.iter().chain(self.candidates.iter())
    }
}

/// The rulebook version a decision was made with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulebookVersion {
    pub name: String,
    pub version: String,
    /// SHA-256 over every file of the rulebook that takes part in decisions.
    pub hash: String,
}

/// The decision for a whole request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub rulebook: RulebookVersion,
    pub provider: Option<String>,
    pub offering: String,
    pub fields: Vec<FieldDecision>,
    /// How many policies the request was evaluated against (the index bucket), of how many.
    pub policies_evaluated: usize,
    pub policies_total: usize,
}

impl Decision {
    /// The fields with a given outcome.
    pub fn fields_with(&self, outcome: Outcome) -> impl Iterator<Item = &FieldDecision> {
        self.fields.iter().filter(move |f| f.outcome == outcome)
    }

    /// The outcome of the request as a whole: review if any field needs review, else disclose if
    /// any field is disclosed, else refuse.
    pub fn overall(&self) -> Outcome {
        if self.fields.iter().any(|f| f.outcome == Outcome::Review) {
            Outcome::Review
        } else if self.fields.iter().any(|f| f.outcome == Outcome::Disclose) {
            Outcome::Disclose
        } else {
            Outcome::Refuse
        }
    }
}
