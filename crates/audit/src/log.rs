//! [`AuditLog`]: the node's writable audit trail. Records go onto the ledger as canonical leaves
//! with committed subjects, and into the restricted subject index.
//!
//! On one machine the ledger in the node's directory is the log itself. Several instances of a
//! node share one log kept elsewhere ([`SharedLog`], PostgreSQL): an instance appends there,
//! learns the index the log's sequencer gave the entry, and brings its own ledger directory —
//! then a replica, with the same keys on every instance — up to that index before it answers,
//! so the receipt it returns proves against its own checkpoint and tiles.

use crate::error::AuditError;
use crate::index::SubjectIndex;
use crate::record::AuditRecord;
use crate::subject::SubjectIdentifier;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use utbyte_ledger::{Ledger, LedgerOptions, Receipt};

/// A log kept outside the node's directory that several instances of the node append to; the
/// directory's ledger is then its replica.
pub trait SharedLog: Send + Sync {
    /// Makes `entry` durable in the log and returns the index the log placed it at. Blocks.
    fn append(&self, entry: &[u8]) -> Result<u64, String>;
    /// Up to `limit` entries from index `from` on, in order (fewer at the log's end). Blocks.
    fn entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, String>;
    /// Returns once every entry appended before the call, by any writer, has its place (an
    /// appender that died after appending included). Blocks.
    fn settle(&self) -> Result<(), String>;
}

/// Entries read from the shared log at a time while catching up.
const CATCH_UP_BATCH: u32 = 512;

/// A writable audit trail over one ledger.
pub struct AuditLog {
    ledger: Ledger,
    index: Mutex<SubjectIndex>,
    /// The log this ledger replicates, if it is shared; the mutex orders catching up.
    shared: Option<(Arc<dyn SharedLog>, Mutex<()>)>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("ledger", &self.ledger)
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Creates a new audit ledger for the log named `origin` in `dir`.
    pub fn create(dir: &Path, origin: &str) -> Result<Self, AuditError> {
        Self::with_ledger(Ledger::create(dir, origin, LedgerOptions::default())?)
    }

    /// Opens an existing audit ledger (recovering it after a crash) and brings the subject
    /// index up to date with it.
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        Self::with_ledger(Ledger::open(dir, LedgerOptions::default())?)
    }

    fn with_ledger(ledger: Ledger) -> Result<Self, AuditError> {
        let mut index = SubjectIndex::load(ledger.dir(), true)?;
        index.catch_up(ledger.size(), |i| {
            ledger.entry(i).map_err(|e| e.to_string())
        })?;
        Ok(AuditLog {
            ledger,
            index: Mutex::new(index),
            shared: None,
        })
    }

    /// Makes this ledger the replica of `shared`: from now on records are appended there, and
    /// this directory follows. It must hold no entry the shared log does not hold at the same
    /// index ([`AuditError::NotAReplica`]), and is brought up to the log's end.
    pub fn sharing(mut self, shared: Arc<dyn SharedLog>) -> Result<Self, AuditError> {
        let local = self.ledger.size();
        if local > 0 {
            let last = shared
                .entries(local - 1, 1)
                .map_err(AuditError::Shared)?
                .pop();
            if last.as_deref() != Some(self.ledger.entry(local - 1)?.as_slice()) {
                return Err(AuditError::NotAReplica { local });
            }
        }
        self.shared = Some((shared, Mutex::new(())));
        self.follow()?;
        Ok(self)
    }

    /// Brings a replica up to every record any instance made before the call, even one whose
    /// instance died before the record had its place: for a search of the ledger that must not
    /// miss a record made elsewhere. Nothing for a ledger that is not shared.
    pub fn settle(&self) -> Result<u64, AuditError> {
        if let Some((shared, _)) = &self.shared {
            shared.settle().map_err(AuditError::Shared)?;
        }
        self.follow()
    }

    /// Brings a replica up to the shared log's end (nothing for a ledger that is not shared),
    /// and returns its size.
    pub fn follow(&self) -> Result<u64, AuditError> {
        self.catch_up(u64::MAX)
    }

    /// Replicates the shared log's entries until this ledger holds more than `index`, or to the
    /// log's end if it has no more.
    fn catch_up(&self, index: u64) -> Result<u64, AuditError> {
        let Some((shared, order)) = &self.shared else {
            return Ok(self.ledger.size());
        };
        let _order = order.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let size = self.ledger.size();
            if size > index {
                return Ok(size);
            }
            let entries = shared
                .entries(size, CATCH_UP_BATCH)
                .map_err(AuditError::Shared)?;
            if entries.is_empty() {
                return Ok(size);
            }
            self.ledger.replicate(size, &entries)?;
            let mut subjects = self.index();
            for (at, entry) in (size..).zip(&entries) {
                let record = AuditRecord::from_leaf(entry)
                    .map_err(|source| AuditError::Leaf { index: at, source })?;
                subjects.add(at, &record)?;
            }
        }
    }

    /// Appends a leaf: to this ledger, or to the shared log and then here.
    fn append(&self, leaf: &[u8], record: &AuditRecord) -> Result<Receipt, AuditError> {
        let Some((shared, _)) = &self.shared else {
            let receipt = self.ledger.append(leaf)?;
            self.index().add(receipt.index, record)?;
            return Ok(receipt);
        };
        let index = shared.append(leaf).map_err(AuditError::Shared)?;
        if self.catch_up(index)? <= index {
            return Err(AuditError::Shared(format!(
                "entry {index} was placed but cannot be read back"
            )));
        }
        let (tree_size, root) = self.ledger.head();
        Ok(Receipt {
            index,
            tree_size,
            root,
        })
    }

    /// Records `record` about `subjects`: their identifiers are replaced by keyed commitments,
    /// the record is validated and appended, and the call returns once it is durable.
    pub fn record(
        &self,
        record: AuditRecord,
        subjects: &[SubjectIdentifier],
    ) -> Result<Receipt, AuditError> {
        let (leaf, record) = self.leaf(record, Some(subjects))?;
        self.append(&leaf, &record)
    }

    /// Records `record` with the commitments it already carries, which must have been made with
    /// this ledger's commitment key (they come from an earlier record of the same ledger): the
    /// record of what happened later to an exchange about the same subjects.
    pub fn record_committed(&self, record: AuditRecord) -> Result<Receipt, AuditError> {
        let (leaf, record) = self.leaf(record, None)?;
        self.append(&leaf, &record)
    }

    /// Whether this ledger replicates a log shared by several writers, whose appends block
    /// the calling thread: then only [`AuditLog::record`] and [`AuditLog::record_committed`]
    /// write it.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// [`AuditLog::record`] (with `subjects`) or [`AuditLog::record_committed`] (without) for
    /// a ledger of its own, waiting for the durable append without holding a thread: the
    /// ledger's writer thread wakes the caller. A shared ledger refuses it ([`AuditLog::is_shared`]).
    pub async fn record_async(
        &self,
        record: AuditRecord,
        subjects: Option<&[SubjectIdentifier]>,
    ) -> Result<Receipt, AuditError> {
        if self.is_shared() {
            return Err(AuditError::Shared(
                "a replica of a shared log is written through `record`".into(),
            ));
        }
        let (leaf, record) = self.leaf(record, subjects)?;
        let receipt = self.ledger.append_async(&leaf)?.await?;
        self.index().add(receipt.index, &record)?;
        Ok(receipt)
    }

    /// The leaf of `record`, its subjects' identifiers (if given) replaced by commitments, and
    /// the record as it is in the leaf.
    fn leaf(
        &self,
        mut record: AuditRecord,
        subjects: Option<&[SubjectIdentifier]>,
    ) -> Result<(Vec<u8>, AuditRecord), AuditError> {
        if let Some(subjects) = subjects {
            let key = self.ledger.commitment_key();
            record.subjects = subjects.iter().map(|s| s.commitment(key)).collect();
        }
        record.subjects.sort();
        record.subjects.dedup();
        let leaf = record.to_leaf()?;
        Ok((leaf, record))
    }

    fn index(&self) -> MutexGuard<'_, SubjectIndex> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ledger indices of the records about `subject`.
    pub fn records_about(&self, subject: &SubjectIdentifier) -> Vec<u64> {
        self.index()
            .lookup(&subject.commitment(self.ledger.commitment_key()))
    }

    /// The newest record about `subject` that `wanted` picks, with its index: read from the
    /// newest record about it back to the first timed before `since` (a record's `time`, to the
    /// second). Finds what an earlier attempt at the same work recorded before it stopped.
    pub fn newest_about(
        &self,
        subject: &SubjectIdentifier,
        since: &str,
        mut wanted: impl FnMut(&AuditRecord) -> bool,
    ) -> Result<Option<(u64, AuditRecord)>, AuditError> {
        for index in self.records_about(subject).into_iter().rev() {
            let leaf = self.ledger.entry(index)?;
            let record = AuditRecord::from_leaf(&leaf)
                .map_err(|source| AuditError::Leaf { index, source })?;
            // Times of one format compare as text.
            if record.time.as_str() < since {
                break;
            }
            if wanted(&record) {
                return Ok(Some((index, record)));
            }
        }
        Ok(None)
    }

    /// The underlying ledger (for checkpoints and proofs).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Closes the ledger, publishing its final checkpoint, and writes the index's watermark.
    /// The watermark covers only what was indexed: an entry whose indexing failed is re-read
    /// on the next open.
    pub fn close(self) -> Result<(), AuditError> {
        self.ledger.close()?;
        let mut index = self.index.into_inner().unwrap_or_else(|p| p.into_inner());
        let covered = index.covered();
        index.mark_covered(covered)?;
        Ok(())
    }
}
