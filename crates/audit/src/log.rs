//! [`AuditLog`]: the node's writable audit trail. Records go onto the ledger as canonical leaves
//! with committed subjects, and into the restricted subject index.

use crate::error::AuditError;
use crate::index::SubjectIndex;
use crate::record::AuditRecord;
use crate::subject::SubjectIdentifier;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use utbyte_ledger::{Ledger, LedgerOptions, Receipt};

/// A writable audit trail over one ledger.
#[derive(Debug)]
pub struct AuditLog {
    ledger: Ledger,
    index: Mutex<SubjectIndex>,
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
        })
    }

    /// Records `record` about `subjects`: their identifiers are replaced by keyed commitments,
    /// the record is validated and appended, and the call returns once it is durable.
    pub fn record(
        &self,
        mut record: AuditRecord,
        subjects: &[SubjectIdentifier],
    ) -> Result<Receipt, AuditError> {
        let key = self.ledger.commitment_key();
        record.subjects = subjects.iter().map(|s| s.commitment(key)).collect();
        record.subjects.sort();
        record.subjects.dedup();
        let leaf = record.to_leaf()?;
        let receipt = self.ledger.append(&leaf)?;
        self.index().add(receipt.index, &record)?;
        Ok(receipt)
    }

    /// Records `record` with the commitments it already carries, which must have been made with
    /// this ledger's commitment key (they come from an earlier record of the same ledger): the
    /// record of what happened later to an exchange about the same subjects.
    pub fn record_committed(&self, mut record: AuditRecord) -> Result<Receipt, AuditError> {
        record.subjects.sort();
        record.subjects.dedup();
        let leaf = record.to_leaf()?;
        let receipt = self.ledger.append(&leaf)?;
        self.index().add(receipt.index, &record)?;
        Ok(receipt)
    }

    fn index(&self) -> MutexGuard<'_, SubjectIndex> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ledger indices of the records about `subject`.
    pub fn records_about(&self, subject: &SubjectIdentifier) -> Vec<u64> {
        self.index()
            .lookup(&subject.commitment(self.ledger.commitment_key()))
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
