//! Errors of the audit layer.

use crate::index::IndexError;
use crate::record::RecordError;
use crate::subject::EmptyIdentifier;
use utbyte_ledger::{CheckpointError, LedgerError, ProofError};

/// Everything that can go wrong recording or reading audit records.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("invalid audit record: {0}")]
    Record(#[from] RecordError),
    #[error("ledger entry {index} is not a valid audit record: {source}")]
    Leaf { index: u64, source: RecordError },
    #[error("subject index: {0}")]
    Index(#[from] IndexError),
    #[error(transparent)]
    Subject(#[from] EmptyIdentifier),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the subject index points at entry {index}, which does not concern this subject")]
    IndexMismatch { index: u64 },
    #[error("entry {index} does not prove against the checkpoint: {source}")]
    Proof { index: u64, source: ProofError },
    #[error("the shared log: {0}")]
    Shared(String),
    #[error(
        "this ledger directory holds {local} entries, and the shared log does not hold the \
         same at those indices; it is not a replica of that log"
    )]
    NotAReplica { local: u64 },
}
