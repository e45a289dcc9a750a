//! A part of a bulk as it travels between nodes: the subjects the requesting node sends, and
//! the provider's signed answer with a ledger entry per run of subjects.
//!
//! The answer is a JWS (content type `utbyte-bulk+json`) over the answer's JSON. A *run* is up
//! to 256 subjects of the part decided alike (named by their places in the part, in order);
//! the provider records each run as one ledger entry — an ordinary `disclosure`, `refusal` or `review_request` with a commitment per
//! subject and `bulk` naming the part — whose `payload_sha256` is the digest of the run as
//! sent ([`run_digest`]). The requesting node recomputes it from the records it received and
//! records its `receipt` with the same digest, so the two ledgers pair entry by entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utbyte_api::access::VouchedBy;

use crate::exchange::ExchangeError;
use crate::protocol::{AnswerStatus, FieldVerdict, Receipt};

/// Where a provider's node takes parts of bulk exchanges.
pub const BULK_PATH: &str = "/federation/v1/bulk";

/// The JWS content type of a signed part.
pub const BULK_ANSWER_TYPE: &str = "utbyte-bulk+json";

/// The most subjects one part carries.
pub const MAX_PART: usize = 4096;

/// One part of a bulk: the request, said again with every part so each is decided alone, and
/// its subjects `first ..`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkPartRequest {
    /// Chosen by the requesting node for the bulk: 16 to 40 ASCII letters, digits or dashes.
    pub bulk_id: String,
    /// The first subject's place in the bulk.
    pub first: u64,
    /// When the requesting node sent it (RFC 3339).
    pub sent_at: String,
    pub unit: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouched_by: Option<VouchedBy>,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// 1 to 4,096 personnummer, samordningsnummer or organisationsnummer.
    pub subjects: Vec<String>,
}

/// How one kind of subject was decided: the status and each field's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartDecision {
    pub status: AnswerStatus,
    pub fields: Vec<FieldVerdict>,
}

/// Subjects of a part decided alike, recorded as one ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartRun {
    /// The run's subjects: their places in the part (from 0), ascending; 1 to 256.
    pub members: Vec<u32>,
    /// Which of the part's decisions it was.
    pub decision: u32,
    /// SHA-256 (hex) of the run as sent ([`run_digest`]).
    pub sha256: String,
    /// The provider's ledger entry recording it.
    pub receipt: Receipt,
}

/// One subject's answer: the subject in canonical form and its disclosed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartRecord {
    pub subject: String,
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
}

/// The provider's answer to one part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartAnswer {
    pub bulk_id: String,
    pub first: u64,
    pub provider: String,
    pub recipient: String,
    pub offering: String,
    pub rulebook_sha256: String,
    /// UTC, RFC 3339.
    pub decided_at: String,
    pub decisions: Vec<PartDecision>,
    pub runs: Vec<PartRun>,
    /// One per subject sent, in order.
    pub records: Vec<PartRecord>,
}

/// What a run's digest is taken over.
#[derive(Serialize)]
struct RunSent<'a> {
    bulk_id: &'a str,
    first: u64,
    members: &'a [u32],
    decision: &'a PartDecision,
    records: Vec<&'a PartRecord>,
}

/// SHA-256 (hex) of a run as sent: the bulk, the part's first subject, the run's members, how
/// they were decided and their records, as compact JSON.
pub fn run_digest(
    bulk_id: &str,
    first: u64,
    members: &[u32],
    decision: &PartDecision,
    records: &[PartRecord],
) -> Result<String, ExchangeError> {
    let records = members
        .iter()
        .map(|m| records.get(*m as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ExchangeError::Internal("a run names a subject the part lacks".into()))?;
    let bytes = serde_json::to_vec(&RunSent {
        bulk_id,
        first,
        members,
        decision,
        records,
    })
    .map_err(|e| ExchangeError::Internal(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// The id a part is claimed and kept under at the provider, like a request's.
pub fn part_request_id(bulk_id: &str, first: u64) -> String {
    format!("{bulk_id}-{first}")
}
