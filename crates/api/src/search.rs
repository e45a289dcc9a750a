//! Federated search: one question — a subject, a purpose, a legal basis, a case — asked of every
//! source the rulebook says may answer this officer, in parallel, each an ordinary audited
//! request, and the answers side by side.

use crate::requests::CaseAnswer;
use serde::{Deserialize, Serialize};

/// The longest a source may be waited for, in milliseconds.
pub const MAX_DEADLINE_MS: u32 = 30_000;
/// How long a source is waited for when the question does not say.
pub const DEFAULT_DEADLINE_MS: u32 = 5_000;

/// One question to every permitted source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Personnummer, samordningsnummer or organisationsnummer.
    pub subject: String,
    pub purpose: String,
    /// The provision claimed.
    pub legal_basis: String,
    /// Further provisions the officer claims, for sources the first does not reach: each source
    /// is asked under the first of `legal_basis` and these under which it would disclose
    /// something automatically, else the first under which a reviewer there may (at most 4).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 4)]
    pub also_legal_bases: Vec<String>,
    /// The case reference (diarienummer).
    pub case_ref: String,
    /// The joint operation (SFS 2016:774), when the search is made within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub officer: String,
    pub role: String,
    /// The officer's unit; must be a unit of this node's authority.
    pub unit: String,
    /// How long each source is waited for, in milliseconds (100 to 30,000; 5,000 when absent).
    /// A source not done by then is marked `timed_out`; its request goes on and can be read
    /// later under its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 100, maximum = 30000)]
    pub deadline_ms: Option<u32>,
}

/// How a source answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    /// Decided: `answer` says per field what was disclosed (possibly nothing).
    Answered,
    /// Routed to a reviewer at the provider: `answer` holds the ticket.
    Review,
    /// The provider refused the request as a whole (`detail` says why).
    Refused,
    /// The provider could not be reached, or its answer failed verification.
    Failed,
    /// Not done within the deadline; the request goes on.
    TimedOut,
}

/// One source's part of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceOutcome {
    pub offering: String,
    pub provider: String,
    /// The provision this source was asked under.
    pub legal_basis: String,
    pub status: SourceStatus,
    /// The key of the request made to this source (`GET /v1/requests/{key}`).
    pub request: String,
    /// The answer, for `answered` and `review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<CaseAnswer>,
    /// Why, for `refused` and `failed`: the problem's type and detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the source took (up to the deadline).
    pub elapsed_ms: u64,
}

/// The answers of every source asked, in offering order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchAnswer {
    /// The search's Idempotency-Key: the same key and question again gets the same requests.
    pub search: String,
    pub subject: String,
    /// Every offering the rulebook lets this officer ask for with this legal basis and
    /// purpose, and how each answered.
    pub sources: Vec<SourceOutcome>,
}
