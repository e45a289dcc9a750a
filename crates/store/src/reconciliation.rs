//! Reconciliation state, as plain data: per provider, how far this node has settled the
//! provider's ledger against its own receipts, and what could not be settled.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::page::{Cursor, Page};
use crate::{OutgoingState, StoreError};

/// Where reconciliation with one provider stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReconciliation {
    /// The provider's authority id.
    pub peer: String,
    /// Every entry of the provider's ledger below this index that is addressed to this node is
    /// settled; the next round reads on from here.
    pub settled_to: u64,
    /// The provider's ledger size at the last round.
    pub provider_size: u64,
    /// Entries found with a matching receipt, in all rounds.
    pub matched: u64,
    /// Entries recorded on both sides as never delivered, in all rounds.
    pub undelivered: u64,
    /// Entries the last round left open (an exchange still in flight or in review, or too
    /// young to judge).
    pub pending: u64,
    /// When the last round ran.
    pub checked_at: OffsetDateTime,
    /// Why the last round could not finish, if it could not (the provider unreachable, say).
    pub error: Option<String>,
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    /// This node's receipt carries another digest than the provider's record.
    DigestMismatch,
    /// This node holds a receipt for an entry the provider did not record for it.
    UnknownEntry,
}

impl FindingKind {
    /// The kind's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DigestMismatch => "digest_mismatch",
            Self::UnknownEntry => "unknown_entry",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::DigestMismatch, Self::UnknownEntry]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A gap reconciliation cannot close: it stays for an auditor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub peer: String,
    /// The entry of the provider's ledger concerned.
    pub provider_index: u64,
    pub kind: FindingKind,
    pub found_at: OffsetDateTime,
}

/// Where reconciliation with each provider stands, and what it could not settle.
#[async_trait]
pub trait ReconciliationLog: Send + Sync {
    /// Saves where reconciliation with `state.peer` stands, with any new findings, in one write
    /// (a finding already kept is kept once).
    async fn save_reconciliation(
        &self,
        state: &PeerReconciliation,
        findings: &[Finding],
    ) -> Result<(), StoreError>;

    /// Where reconciliation stands with every provider it has run with, by provider.
    async fn reconciliation(&self) -> Result<Vec<PeerReconciliation>, StoreError>;

    /// A page of at most `limit` of the findings reconciliation has kept with `peer`, by entry
    /// in its ledger, starting after `after` (from the first without one).
    async fn reconciliation_findings(
        &self,
        peer: &str,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<Finding>, StoreError>;

    /// How many findings reconciliation has kept with each provider that has any.
    async fn reconciliation_finding_counts(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// Whether a request to `provider` begun at or before `begun_by` is still in `state` (in
    /// flight or in review): its answer may yet be recorded.
    async fn outgoing_open(
        &self,
        provider: &str,
        state: OutgoingState,
        begun_by: OffsetDateTime,
    ) -> Result<bool, StoreError>;
}
