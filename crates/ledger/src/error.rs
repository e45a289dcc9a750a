//! Errors of the ledger's storage and API.

use crate::checkpoint::CheckpointError;
use crate::note::NoteError;
use crate::tree::RangeError;
use std::path::PathBuf;

/// Everything that can go wrong opening, appending to or reading a ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt at byte {offset}: {detail}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("{0} is not a ledger directory (no log.vkey); create it first")]
    NotALedger(PathBuf),
    #[error("{0} already holds a ledger")]
    AlreadyExists(PathBuf),
    #[error("{0} is locked by another writer")]
    Locked(PathBuf),
    #[error("{path} is readable by others (mode {mode:o}); secrets must be 0600")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("entry of {len} bytes exceeds the maximum of {max} bytes")]
    EntryTooLarge { len: usize, max: usize },
    #[error("the ledger has been closed")]
    Closed,
    #[error("entries replicated from index {given} cannot follow a ledger of {expected} entries")]
    OutOfOrder { expected: u64, given: u64 },
    #[error("the ledger stopped accepting appends after a storage failure: {0}")]
    Failed(String),
    #[error(
        "published checkpoint at size {published} is ahead of the log's {committed} committed entries: \
         acknowledged entries are missing"
    )]
    CheckpointAhead { published: u64, committed: u64 },
    #[error("published checkpoint at size {size} does not match the log's root at that size")]
    CheckpointMismatch { size: u64 },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: NoteError },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error("no entropy from the operating system: {0}")]
    Random(String),
    #[error("tile {path}: {detail}")]
    Tile { path: String, detail: String },
}

impl LedgerError {
    /// An I/O error with what was being done and to which file.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LedgerError::Io {
            action,
            path,
            source,
        }
    }
}
