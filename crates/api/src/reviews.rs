//! The review queue at the provider (granskning): requests the rulebook routed to a human,
//! with decision support, and the reviewer's per-field decision with a written reason.

use crate::verdict::{FieldVerdict, Ground, Outcome};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest reason a reviewer may write, in bytes.
pub const MAX_REASON: usize = 4000;

/// A provision a reviewer may disclose under, and what it requires to be weighed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    pub policy: String,
    pub citation: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weigh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_assessment: Option<String>,
}

/// One requested field as the rulebook decided it, with the candidates for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewField {
    pub field: String,
    pub outcome: Outcome,
    pub ground: Ground,
    pub citations: Vec<String>,
    pub candidates: Vec<Candidate>,
}

/// An earlier exchange about the same subject, from this node's ledger.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarlierExchange {
    pub ledger_index: u64,
    pub time: String,
    pub event: String,
    pub requester: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `field: outcome` for each field.
    pub fields: Vec<String>,
}

/// Whether a review waits for a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Pending,
    Decided,
}

/// A review as a reviewer sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub ticket: String,
    pub state: ReviewState,
    pub requester: String,
    pub unit: String,
    pub role: String,
    pub offering: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub subject: String,
    pub protected_identity: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
    /// The rulebook's decision per field, with candidate provisions and what must be weighed.
    pub fields: Vec<ReviewField>,
    /// Earlier exchanges about the same subject (decision support); empty in listings.
    pub earlier: Vec<EarlierExchange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Vec<FieldVerdict>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<OffsetDateTime>,
}

/// The reviewer, as the audit trail names them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reviewer {
    /// The reviewer's user id, kept with the decision (not in the ledger).
    pub officer: String,
    pub unit: String,
    pub role: String,
}

/// The decision for one field under review.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldReview {
    pub field: String,
    /// `disclose` or `refuse`.
    pub outcome: Outcome,
    /// Why: the assessment made, in words. Mandatory.
    pub reason: String,
}

/// A reviewer's decision on a whole ticket: every field under review, exactly once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisionInput {
    pub reviewer: Reviewer,
    pub fields: Vec<FieldReview>,
}

/// Longest list of reviews a batch decision may leave for one-by-one review.
pub const MAX_EXCEPT: usize = 1000;

/// A batch of pending reviews: requests alike in everything but their subject — the same
/// requester, unit, role, officer, offering, fields, purpose, legal basis, case and operation,
/// subjects of the same kind and protection, the same fields under review. A bulk's held
/// subjects, or many requests of one case, reach the reviewer as one batch.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewBatchView {
    pub batch: String,
    /// Reviews of the batch still pending.
    pub pending: u64,
    /// When the oldest of them was received.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub oldest: OffsetDateTime,
    /// The oldest pending review, with its decision support: all but the subject is the same
    /// for every review of the batch.
    pub first: ReviewView,
}

/// A reviewer's decision on every pending review of a batch but those excepted: every field
/// under review, exactly once, as for one review.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchDecisionInput {
    pub reviewer: Reviewer,
    pub fields: Vec<FieldReview>,
    /// Tickets of the batch left for a reviewer to decide one by one (at most 1,000).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// A batch decision accepted: the reviews it decides, each recorded and delivered as if decided
/// on its own.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchDecided {
    pub batch: String,
    /// How many pending reviews the decision is being applied to.
    pub deciding: u64,
    /// How many pending reviews it leaves for one-by-one review.
    pub excepted: u64,
}

/// Which reviews to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReviewListQuery {
    /// `pending` (default, oldest first) or `decided` (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ReviewState>,
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where the page starts: the cursor in the previous page's `Link` header (`rel="next"`);
    /// the first page without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(min_length = 32, max_length = 32, pattern = r"^[0-9a-f]{32}$")]
    pub after: Option<String>,
}
