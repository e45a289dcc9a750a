//! The node-to-node protocol: what a recipient's node sends a provider's node, and the signed
//! answer that comes back.
//!
//! The recipient is never named in a request: it is the authority the mutual-TLS certificate
//! names, so no node can ask in another's name. The answer is a JWS whose payload is
//! `{"answer": ..., "receipt": ...}`: the answer as the provider serialised it, and the receipt
//! naming the ledger entry that records it. The provider records SHA-256 of the answer's exact
//! bytes; the recipient reads those bytes back unchanged (`RawValue`) and records the same
//! digest, so an auditor can pair the two ledgers' entries.

use crate::exchange::ExchangeError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
pub use utbyte_api::{FieldVerdict, Receipt};
use utbyte_federation::Jws;

/// Where a provider's node takes requests for disclosure.
pub const REQUESTS_PATH: &str = "/federation/v1/requests";
/// Where a provider's node tells a requester how its review stands.
pub const REVIEW_PATH: &str = "/federation/v1/reviews/{ticket}";

/// The JWS content type of a signed answer.
pub const ANSWER_TYPE: &str = "utbyte-answer+json";

/// A request for disclosure as it travels between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// Chosen by the recipient's node, unique per request; a provider refuses one it has seen.
    pub request_id: String,
    /// When the recipient's node sent it (RFC 3339); a provider refuses one outside its window.
    pub sent_at: String,
    pub unit: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// Which of the recipient's systems vouched for the officer, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouched_by: Option<utbyte_api::access::VouchedBy>,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Personnummer, samordningsnummer or organisationsnummer.
    pub subject: String,
}

/// Whether the answer is final or waits for a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// Decided: `values` holds every disclosed field (possibly none).
    Answered,
    /// Routed to human review: nothing is disclosed yet; `ticket` names the review.
    Review,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub request_id: String,
    pub provider: String,
    pub recipient: String,
    pub offering: String,
    pub subject: String,
    pub status: AnswerStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The disclosed fields and nothing else.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    pub fields: Vec<FieldVerdict>,
    pub rulebook_sha256: String,
    /// UTC, RFC 3339.
    pub decided_at: String,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    answer: &'a RawValue,
    receipt: &'a Receipt,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn {
    answer: Box<RawValue>,
    receipt: Receipt,
}

/// An answer serialised once, so that the bytes recorded, signed and sent are the same.
#[derive(Debug)]
pub struct SealedAnswer {
    bytes: Box<RawValue>,
    /// SHA-256 (hex) of the answer's bytes.
    pub sha256: String,
}

impl SealedAnswer {
    pub fn new(answer: &Answer) -> Result<Self, ExchangeError> {
        let text = serde_json::to_string(answer)
            .map_err(|e| ExchangeError::Internal(format!("cannot serialise the answer: {e}")))?;
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let bytes = RawValue::from_string(text)
            .map_err(|e| ExchangeError::Internal(format!("cannot serialise the answer: {e}")))?;
        Ok(Self { bytes, sha256 })
    }

    /// Signs the answer with its receipt.
    pub fn sign(
        &self,
        receipt: &Receipt,
        key: &ed25519_dalek::SigningKey,
    ) -> Result<Jws, ExchangeError> {
        let payload = serde_json::to_vec(&PayloadOut {
            answer: &self.bytes,
            receipt,
        })
        .map_err(|e| ExchangeError::Internal(format!("cannot serialise the answer: {e}")))?;
        Ok(Jws::sign(&payload, ANSWER_TYPE, key))
    }
}

/// A signed answer, verified.
#[derive(Debug, Clone)]
pub struct OpenedAnswer {
    pub answer: Answer,
    pub receipt: Receipt,
    /// SHA-256 (hex) of the answer's bytes as the provider signed them.
    pub sha256: String,
}

/// Verifies a signed answer with the provider's answer key.
pub fn open_answer(
    signed: &Jws,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<OpenedAnswer, String> {
    let payload = signed
        .verify(ANSWER_TYPE, key)
        .map_err(|e| format!("the answer's signature is not valid: {e}"))?;
    let payload: PayloadIn = serde_json::from_slice(&payload)
        .map_err(|e| format!("the signed answer is malformed: {e}"))?;
    let answer: Answer = serde_json::from_str(payload.answer.get())
        .map_err(|e| format!("the signed answer is malformed: {e}"))?;
    Ok(OpenedAnswer {
        answer,
        receipt: payload.receipt,
        sha256: hex::encode(Sha256::digest(payload.answer.get().as_bytes())),
    })
}

/// What a provider answers when asked about a review ticket.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewState {
    /// `pending` or `decided`.
    pub state: String,
    /// The signed answer, once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Jws>,
}

/// Where a provider's node lists the entries of its ledger that concern the calling node.
pub const RECONCILIATION_PATH: &str = "/federation/v1/reconciliation";
/// Where a recipient's node tells a provider that an answer it recorded never arrived.
pub const UNDELIVERED_PATH: &str = "/federation/v1/reconciliation/undelivered";

/// Which part of its ledger a recipient asks a provider about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListingQuery {
    /// The first index to read (default 0).
    #[serde(default)]
    pub after: u64,
    /// Most entries to list, 1 to 1000 (default 500).
    #[serde(default = "default_listing_limit")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: u32,
}

fn default_listing_limit() -> u32 {
    500
}

/// The entries of a provider's ledger, from `after` up to `next`, that concern the caller: the
/// answers it recorded for it (disclosures, refusals, tickets for review, review decisions)
/// and its records of answers that never arrived.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerListing {
    /// The provider's ledger size (its published checkpoint) when it was read.
    pub size: u64,
    /// Every entry below this index was read; the next page starts here.
    pub next: u64,
    pub entries: Vec<ListedEntry>,
}

/// One entry of a listing: its index and the audit record (docs/audit-record.md) without its
/// subject commitments, which are the provider's own and mean nothing to the caller.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListedEntry {
    pub index: u64,
    #[schema(value_type = Object)]
    pub record: utbyte_audit::AuditRecord,
}

/// That the answer recorded at `index` in the provider's ledger never reached the recipient.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndeliveredNotice {
    pub index: u64,
}

/// Where the provider recorded that it was never delivered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndeliveredRecorded {
    /// The index of the provider's `undelivered` record.
    pub index: u64,
}
