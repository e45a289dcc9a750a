//! The auditor's view of the node's own ledger: where it stands, a verification, the
//! subject-access report (registerutdrag) and follow-up statistics. The same documents as
//! `utbyte audit … --json`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A witness cosignature carried by the checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CosignatureView {
    /// The witness's key name.
    pub name: String,
    /// The key ID, 8 hex digits.
    pub key_id: String,
    /// The time the witness states it cosigned at (`cosignature/v1`), Unix seconds; absent for
    /// a signature of another type. The node holds no witness keys, so this is what the line
    /// claims, not verified here: `utbyte audit verify --witness KEY` verifies it.
    pub timestamp: Option<u64>,
    /// The same time in RFC 3339 UTC.
    pub time: Option<String>,
}

/// Where this node's ledger stands.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditStatus {
    /// The log's origin (first line of its checkpoints, name of its key).
    pub origin: String,
    /// Entries covered by the latest signed checkpoint.
    pub tree_size: u64,
    /// Entries durable in the log now; the checkpoint catches up within the publication
    /// interval.
    pub log_size: u64,
    /// Root hash of the tree at `tree_size`, 64 lower-case hex digits.
    pub root_hex: String,
    /// The latest signed checkpoint as published (C2SP signed note, with any cosignatures).
    pub checkpoint: String,
    /// When the node last wrote the checkpoint file (publication or added cosignatures), RFC
    /// 3339 UTC. A checkpoint carries no time of its own, so this is not signed.
    pub written_at: Option<String>,
    /// The log's public key (C2SP `vkey`), to verify checkpoints with.
    pub log_key: String,
    /// Witness cosignatures on the latest checkpoint; empty when it has none.
    pub cosignatures: Vec<CosignatureView>,
}

/// The result of verifying the ledger. A failed verification is a finding, answered with
/// `verified: false`; the counts are then absent.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyOutcome {
    pub verified: bool,
    pub origin: String,
    /// Size of the checkpoint verified.
    pub tree_size: Option<u64>,
    /// Committed entries in the log, all recomputed.
    pub log_size: Option<u64>,
    /// Root hash at `tree_size`, hex.
    pub root_hex: Option<String>,
    /// Tile and bundle files compared byte for byte with the recomputation.
    pub files_checked: Option<u64>,
    /// Leaves checked to be canonical audit records.
    pub records_checked: Option<u64>,
    /// What was checked, or why verification failed.
    pub detail: String,
    pub took_ms: u64,
    /// Verification runs (more than one when the ledger grew during a failed run).
    pub attempts: u32,
}

/// Whose subject-access report to build. The identifier travels only in this body, never in
/// a URL, and is never echoed back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectQuery {
    /// Personnummer, samordningsnummer or organisationsnummer, in any written form the
    /// exchange accepts (a 10-digit form is read against today's date).
    #[schema(value_type = String, example = "19121212-1212")]
    pub subject: serde_json::Value,
    /// The `next` of the previous page: the records after that ledger index.
    #[serde(default)]
    pub after: Option<u64>,
    /// Most records in this page, 1 to 1000 (default 100).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Who acted in a record: authority, unit and role, never a person.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportActor {
    pub authority: String,
    pub role: String,
    pub unit: String,
}

/// An inclusion proof (RFC 9162) of one entry in the tree of `tree_size` entries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportProof {
    pub index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf up, base64.
    pub hashes: Vec<String>,
}

/// One record about the subject.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportEntryView {
    /// Ledger index.
    pub index: u64,
    pub time: String,
    /// `disclosure`, `refusal`, `review_request`, `review_decision` or `receipt`.
    pub event: String,
    /// The requester (recipient of a disclosure) or the reviewer.
    pub actor: ReportActor,
    pub provider: String,
    pub offering: Option<String>,
    pub disclosed_fields: Vec<String>,
    pub withheld_fields: Vec<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub case_ref: Option<String>,
    pub operation_ref: Option<String>,
    pub citations: Vec<String>,
    /// RFC 6962 leaf hash, base64.
    pub leaf_hash: String,
    pub proof: ReportProof,
}

/// The subject-access report: every record about the subject at one checkpoint, each with its
/// inclusion proof. The same document as `utbyte audit subject --json`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubjectAccessReport {
    pub origin: String,
    pub tree_size: u64,
    /// Root hash at `tree_size`, base64 (as in the checkpoint).
    pub root: String,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
    /// The subject's keyed commitment (what the ledger holds), hex; never the identifier.
    pub subject_commitment: String,
    pub entries: Vec<ReportEntryView>,
    /// When more records follow: ask again with this as `after`. Each page is proven against
    /// the checkpoint it carries.
    pub next: Option<u64>,
}

/// Review turnarounds above the previous bucket's bound, up to `le_seconds`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnaroundBucketView {
    /// Inclusive upper bound in seconds; `null` for the last, unbounded bucket.
    pub le_seconds: Option<u64>,
    pub count: u64,
}

/// Review turnaround summarised: nearest-rank percentiles and a histogram.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TurnaroundView {
    pub count: u64,
    pub median_seconds: u64,
    pub p90_seconds: u64,
    pub max_seconds: u64,
    pub buckets: Vec<TurnaroundBucketView>,
}

/// Follow-up statistics over every record at the checkpoint. The same counts as
/// `utbyte audit stats --json`, with the checkpoint they were computed at.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditStats {
    pub origin: String,
    pub tree_size: u64,
    pub entries: u64,
    /// Records by event (`disclosure`, `refusal`, `review_request`, `review_decision`,
    /// `receipt`, `configuration_change`).
    pub by_event: BTreeMap<String, u64>,
    /// Field decisions by outcome (`disclose`, `review`, `refuse`).
    pub by_field_outcome: BTreeMap<String, u64>,
    pub by_offering: BTreeMap<String, u64>,
    /// Records by each provision they cite, once per record.
    pub by_provision: BTreeMap<String, u64>,
    /// Records by Swedish day (Europe/Stockholm), `YYYY-MM-DD`.
    pub by_day: BTreeMap<String, u64>,
    /// Records by Swedish day (Europe/Stockholm), then by event.
    pub by_day_event: BTreeMap<String, BTreeMap<String, u64>>,
    /// Seconds from each review request to its decision, in the decisions' ledger order.
    pub review_turnaround_seconds: Vec<u64>,
    /// Review requests not yet decided.
    pub open_reviews: u64,
    /// `null` when no review was decided.
    pub review_turnaround: Option<TurnaroundView>,
    /// Subscription notices by offering, event type and outcome.
    #[serde(default)]
    pub notices: Vec<NoticeCount>,
}

/// How many notices of one event type of an offering went one way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeCount {
    pub offering: String,
    pub event: String,
    /// `sent` (told to a subscriber), `withheld` (held back at delivery) or `received` (taken
    /// from a provider).
    pub outcome: String,
    pub notices: u64,
}

/// How this node's receipts stand against one provider's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconciliationState {
    /// Every answer the provider recorded for this node is received or, on both sides,
    /// recorded as never delivered; no finding.
    Reconciled,
    /// Answers are still open (an exchange in flight or in review, or too recent to judge), or
    /// the last round could not reach the provider.
    Pending,
    /// A finding stands: a receipt whose digest differs from the provider's record, or one for
    /// an entry the provider did not record for this node.
    Unreconciled,
}

/// What reconciliation could not close.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciliationFinding {
    /// The entry in the provider's ledger.
    pub provider_index: u64,
    /// `digest_mismatch` or `unknown_entry`.
    pub kind: String,
    /// When it was found (RFC 3339 UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub found_at: time::OffsetDateTime,
}

/// Reconciliation with one provider.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerReconciliation {
    /// The provider's authority id.
    pub peer: String,
    pub state: ReconciliationState,
    /// Every entry of the provider's ledger below this index that concerns this node is settled.
    pub settled_to: u64,
    /// The provider's ledger size at the last round.
    pub provider_size: u64,
    /// Answers found received, with the same digest on both sides.
    pub matched: u64,
    /// Answers recorded on both sides as never delivered.
    pub undelivered: u64,
    /// Answers still open at the last round.
    pub pending: u64,
    /// When the last round ran (RFC 3339 UTC); absent before the first.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub checked_at: Option<time::OffsetDateTime>,
    /// Why the last round could not finish, if it could not.
    pub error: Option<String>,
    /// How many findings stand with this provider.
    pub findings_total: u64,
    /// The first [`FINDINGS_SHOWN`] of them, by entry; all of them, a page at a time, from
    /// `GET /v1/audit/reconciliation/findings?peer=…`.
    pub findings: Vec<ReconciliationFinding>,
}

/// How many findings per provider the reconciliation view carries.
pub const FINDINGS_SHOWN: u32 = 100;

/// Which findings to list.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindingListQuery {
    /// The provider's authority id.
    #[param(min_length = 1, max_length = 256)]
    pub peer: String,
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

/// Reconciliation of this node's receipts with every provider's ledger.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReconciliationView {
    pub peers: Vec<PeerReconciliation>,
}
