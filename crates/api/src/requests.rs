//! The consumer side: a case system asks another authority through its node, and reads the
//! answer back by the `Idempotency-Key` it chose.

use crate::verdict::{FieldVerdict, Receipt, SignedAnswer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// A request from a case system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Personnummer, samordningsnummer or organisationsnummer (10 or 12 digits, with or without separator).
    pub subject: String,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    /// The provision claimed.
    pub legal_basis: String,
    /// The case reference (diarienummer).
    pub case_ref: String,
    /// The joint operation (SFS 2016:774), when the request is made within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The officer's user id (kept locally, never sent in the ledger).
    pub officer: String,
    pub role: String,
    /// The officer's unit; must be a unit of this node's authority.
    pub unit: String,
    /// Where to POST a signed notice (a CloudEvent, never the answer) when the request is
    /// decided; must be under a URL prefix the node's `[callbacks] allow` list names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    /// Set by the node, never by the caller (a request that sets it is refused): which system
    /// vouched for the officer, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(read_only)]
    pub vouched_by: Option<crate::access::VouchedBy>,
}

/// Where an answered request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Decided: `values` holds what was disclosed (possibly nothing).
    Answered,
    /// Waiting for a reviewer at the provider; poll, or wait for the callback.
    Review,
}

/// What the case system gets back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseAnswer {
    pub idempotency_key: String,
    pub status: CaseStatus,
    pub provider: String,
    pub offering: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The disclosed fields, and only those.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    /// Per requested field: the outcome, its ground and the provisions cited.
    pub fields: Vec<FieldVerdict>,
    /// Where the provider recorded its decision.
    pub provider_receipt: Receipt,
    /// Where this node recorded the answer it received.
    pub receipt: OwnReceipt,
    /// The provider's signed answer, to keep as proof.
    pub signed_answer: SignedAnswer,
}

/// This node's ledger entry for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnReceipt {
    pub ledger: String,
    pub index: u64,
}

/// Where a request stands in the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Sent; the answer has not been recorded yet.
    InFlight,
    Answered,
    Review,
    /// Ended without an answer: the provider refused the request, or could not be reached for
    /// too long. `failure` says why; asking again needs a new Idempotency-Key.
    Failed,
}

/// A request as listed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub idempotency_key: String,
    pub state: CaseState,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// The request as the case system sent it.
    pub request: CaseRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<CaseAnswer>,
    /// For a failed request: the problem (RFC 9457, type `request-failed`) it ended with, the
    /// same `GET /v1/requests/{key}` answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub failure: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// Which requests to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    /// Only this officer's requests: an officer id, printable text (no control character, not
    /// only spaces) of at most 256 bytes in UTF-8 (422 beyond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub officer: Option<String>,
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
