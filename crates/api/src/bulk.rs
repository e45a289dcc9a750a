//! Bulk exchange: one request for many subjects of one offering — fields, purpose, legal basis
//! and case asked once, the subjects streamed after it, the records streamed back. Each subject
//! is decided as its own request would be; the provider decides once per kind of subject what
//! does not depend on who it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Outcome;

/// The longest bulk key: with `~` and a subject's place in the bulk, the key of a held
/// subject's own request stays within the 128 characters a request key may have.
pub const MAX_BULK_KEY: usize = 100;

/// The most subjects one bulk takes.
pub const MAX_BULK_SUBJECTS: u64 = 10_000_000;

/// What a case system asks in bulk; the subjects follow at `POST /v1/bulk/{key}/subjects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub officer: String,
    pub role: String,
    /// The officer's unit; must be a unit of this node's authority.
    pub unit: String,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    /// The provision claimed.
    pub legal_basis: String,
    /// The case reference (diarienummer).
    pub case_ref: String,
    /// The joint operation (SFS 2016:774), when the bulk is asked within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
}

/// A bulk as its node holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkView {
    /// The case system's key.
    pub key: String,
    pub provider: String,
    pub offering: String,
    pub fields: Vec<String>,
    /// Subjects taken so far: the next subject sent is subject number `subjects` (from 0), and
    /// a resumed upload says `?from=` this.
    pub subjects: u64,
    /// Of those, how many were answered and how many held for review.
    pub answered: u64,
    pub held: u64,
    /// Parts the provider answered (each a signed answer, recorded in both ledgers).
    pub parts: u64,
}

/// What one upload of subjects added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectsTaken {
    /// Where this upload started.
    pub from: u64,
    /// Subjects it added.
    pub taken: u64,
    /// The bulk as it stands now.
    pub bulk: BulkView,
}

/// How a subject of a bulk was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkStatus {
    /// Decided: `values` holds every disclosed field the register holds (possibly none).
    Answered,
    /// Nothing disclosed in bulk: the subject (protected identity, or a field for a
    /// reviewer) was asked on its own, under `request`, and is decided by a reviewer there.
    Held,
}

/// One subject's record in a bulk's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRecord {
    /// The subject's place in the bulk, from 0, in the order sent.
    pub n: u64,
    /// The subject as sent, in canonical form.
    pub subject: String,
    pub status: BulkStatus,
    /// Each asked field's outcome for this subject.
    pub outcomes: BTreeMap<String, Outcome>,
    /// The disclosed fields' values; nothing else.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// The provider's ledger entry that recorded this subject's answer.
    pub entry: u64,
    /// For a held subject: the key of its own request (`GET /v1/requests/{key}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}
