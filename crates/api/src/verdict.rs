//! How a provider decided: per field the outcome, its ground and the provisions cited, and
//! where the decision was recorded. The same shapes travel in the signed node-to-node answer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What happens to one requested field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The field leaves the provider automatically.
    Disclose,
    /// A human at the provider assesses it before anything leaves.
    Review,
    /// The field does not leave.
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

/// Why a field got its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    /// An agreed pre-assessment (förhandsbedömning) covers the field.
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
    /// No provision permits the disclosure.
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

/// The decision for one field, as the recipient is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldVerdict {
    pub field: String,
    pub outcome: Outcome,
    pub ground: Ground,
    /// The provisions the outcome rests on, as a lawyer writes them (`SFS 2024:307 3 §`).
    pub citations: Vec<String>,
    /// A reviewer's written reason, for fields decided in review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where the provider recorded its decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The provider's ledger (its checkpoint origin).
    pub ledger: String,
    /// The entry's index.
    pub index: u64,
    /// The tree size and root committed with the entry.
    pub tree_size: u64,
    pub root: String,
}

/// The provider's signed answer, kept as proof: a JWS in the flattened JSON serialization
/// (EdDSA), whose payload is `{"answer": …, "receipt": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedAnswer {
    pub protected: String,
    pub payload: String,
    pub signature: String,
}
