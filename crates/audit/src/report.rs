//! The subject-access report (registerutdrag): who received information about this person,
//! when, and on what basis — each entry with its inclusion proof against the signed checkpoint,
//! so the report itself can be checked by anyone holding the checkpoint.

use crate::error::AuditError;
use crate::index::SubjectIndex;
use crate::reader::AuditDir;
use crate::record::{Actor, EventKind, Outcome};
use crate::subject::SubjectIdentifier;
use serde::Serialize;
use utbyte_ledger::{keys, Hash, InclusionProof};

/// One record about the subject.
#[derive(Debug, Clone, Serialize)]
pub struct ReportEntry {
    pub index: u64,
    pub time: String,
    pub event: EventKind,
    /// The requester (recipient of a disclosure), reviewer or administrator.
    pub actor: Actor,
    pub provider: String,
    pub offering: Option<String>,
    pub disclosed_fields: Vec<String>,
    pub withheld_fields: Vec<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub case_ref: Option<String>,
    pub operation_ref: Option<String>,
    pub citations: Vec<String>,
    pub leaf_hash: Hash,
    pub proof: InclusionProof,
}

/// Every record about one subject at one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectReport {
    pub origin: String,
    pub tree_size: u64,
    pub root: Hash,
    /// The signed checkpoint the proofs are against.
    pub checkpoint: String,
    /// The subject's commitment (what the leaves contain), not the identifier.
    pub subject_commitment: String,
    pub entries: Vec<ReportEntry>,
    /// When more records follow: the index of the last one listed, to ask for the next page
    /// after.
    pub next: Option<u64>,
}

/// Which part of a report to build: the records after `after` (from the first when `None`),
/// at most `limit` of them. Only those are read and proven, so a page costs the same however
/// many records concern the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<u64>,
    pub limit: usize,
}

impl Page {
    /// Every record, in one report.
    pub const ALL: Page = Page {
        after: None,
        limit: usize::MAX,
    };
}

/// Builds the report for `subject` from a ledger directory, using the restricted index and the
/// node's commitment key (both under `DIR/private/`). Every entry is re-checked: the leaf must
/// contain the subject's commitment and must prove against the checkpoint.
pub fn subject_report(
    dir: &AuditDir,
    subject: &SubjectIdentifier,
    page: Page,
) -> Result<SubjectReport, AuditError> {
    let key = keys::load_commitment_key(dir.dir())?;
    let commitment = subject.commitment(&key);
    let mut index = SubjectIndex::load(dir.dir(), false)?;
    index.catch_up(dir.size(), |i| dir.entry(i).map_err(|e| e.to_string()))?;
    let mut entries = Vec::new();
    let mut matching = index
        .lookup(&commitment)
        .into_iter()
        .filter(|&at| at < dir.size() && page.after.is_none_or(|after| at > after))
        .peekable();
    let mut next = None;
    while let Some(at) = matching.next() {
        if entries.len() == page.limit {
            break;
        }
        let (leaf, leaf_hash, proof) = dir.proven_entry(at)?;
        let record = crate::AuditRecord::from_leaf(&leaf)
            .map_err(|source| AuditError::Leaf { index: at, source })?;
        if !record.subjects.contains(&commitment) {
            return Err(AuditError::IndexMismatch { index: at });
        }
        let (disclosed, withheld): (Vec<_>, Vec<_>) = record
            .fields
            .iter()
            .partition(|f| f.outcome == Outcome::Disclose);
        let mut citations: Vec<String> = record
            .fields
            .iter()
            .flat_map(|f| f.citations.clone())
            .collect();
        citations.sort();
        citations.dedup();
        entries.push(ReportEntry {
            index: at,
            time: record.time.clone(),
            event: record.event,
            actor: record.actor.clone(),
            provider: record.provider.clone(),
            offering: record.offering.clone(),
            disclosed_fields: disclosed.iter().map(|f| f.field.clone()).collect(),
            withheld_fields: withheld.iter().map(|f| f.field.clone()).collect(),
            purpose: record.why.as_ref().map(|w| w.purpose.clone()),
            legal_basis: record.why.as_ref().map(|w| w.legal_basis.clone()),
            case_ref: record.why.as_ref().map(|w| w.case_ref.clone()),
            operation_ref: record.why.as_ref().and_then(|w| w.operation_ref.clone()),
            citations,
            leaf_hash,
            proof,
        });
        if entries.len() == page.limit && matching.peek().is_some() {
            next = Some(at);
        }
    }
    Ok(SubjectReport {
        origin: dir.checkpoint().origin.clone(),
        tree_size: dir.size(),
        root: dir.checkpoint().root,
        checkpoint: dir.checkpoint_text().to_owned(),
        subject_commitment: commitment.to_hex(),
        entries,
        next,
    })
}

impl std::fmt::Display for SubjectReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Subject-access report for the log {} at size {}",
            self.origin, self.tree_size
        )?;
        writeln!(
            f,
            "(subject commitment {}; every entry below carries an inclusion proof in --json)",
            self.subject_commitment
        )?;
        if self.entries.is_empty() {
            return writeln!(f, "No records concern this subject.");
        }
        for e in &self.entries {
            writeln!(f)?;
            writeln!(f, "#{} {} {:?}", e.index, e.time, e.event)?;
            writeln!(
                f,
                "  to:       {} / {} / {}",
                e.actor.authority, e.actor.unit, e.actor.role
            )?;
            writeln!(
                f,
                "  from:     {}  offering {}",
                e.provider,
                e.offering.as_deref().unwrap_or("-")
            )?;
            writeln!(
                f,
                "  fields:   disclosed [{}], withheld [{}]",
                e.disclosed_fields.join(", "),
                e.withheld_fields.join(", ")
            )?;
            writeln!(
                f,
                "  basis:    {} ({})",
                e.legal_basis.as_deref().unwrap_or("-"),
                e.citations.join("; ")
            )?;
            writeln!(f, "  purpose:  {}", e.purpose.as_deref().unwrap_or("-"))?;
            write!(f, "  case:     {}", e.case_ref.as_deref().unwrap_or("-"))?;
            if let Some(op) = &e.operation_ref {
                write!(f, "  operation {op}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
