//! Audit records on the utbyte ledger.
//!
//! The ledger (`utbyte-ledger`) proves that bytes were logged and never changed; this crate says
//! what those bytes mean. It owns the canonical audit record (specified in
//! `docs/audit-record.md`), the commitments that stand for personal identifiers inside records,
//! the restricted subject index, the subject-access report and the follow-up statistics.
//!
//! Personal identifiers exist here only as [`SubjectIdentifier`], which never prints, and leave
//! this crate only as keyed commitments. Outcomes and citations are plain data: this crate does
//! not depend on the rule engine.

mod error;
pub mod index;
mod log;
mod reader;
pub mod record;
mod report;
pub mod sample;
mod stats;
mod subject;

pub use error::AuditError;
pub use log::{AuditLog, SharedLog};
pub use reader::AuditDir;
pub use record::{
    Actor, AuditRecord, Basis, BulkRef, EventKind, FieldOutcome, MessageRef, NoticeBatch, Outcome,
    RecordError,
};
pub use report::{subject_report, Page, ReportEntry, SubjectReport};
pub use stats::{Stats, Turnaround, TurnaroundBucket, TURNAROUND_BUCKETS};
pub use subject::{EmptyIdentifier, SubjectIdentifier};

/// Counts every record in a ledger directory at its checkpoint, in ledger order.
pub fn stats(dir: &AuditDir) -> Result<Stats, AuditError> {
    let mut stats = Stats::default();
    for i in 0..dir.size() {
        stats.add(i, &dir.record(i)?);
    }
    Ok(stats)
}
