//! The restricted subject index: commitment → ledger indices of the records about that subject.
//!
//! Stored in `DIR/private/subject-index` (0600), next to the commitment key, because together
//! they answer "which records concern this person". It holds commitments, never identifiers.
//! The file is a cache: every record carries its subjects' commitments, so the index can always
//! be rebuilt from the ledger, and it is brought up to date on every open. That is what makes it
//! crash-safe without an fsync of its own.
//!
//! Format: fixed 40-byte records `commitment[32] || ledger index u64be`. A record with the
//! all-zero commitment is a watermark: every ledger entry below its index has been indexed.

use crate::record::AuditRecord;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use utbyte_ledger::Commitment;

const RECORD: usize = 40;
const WATERMARK: Commitment = Commitment([0; 32]);

/// Errors reading or writing the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading ledger entry {index} to index it: {detail}")]
    Entry { index: u64, detail: String },
}

/// The index in memory, optionally backed by its file.
#[derive(Debug, Default)]
pub struct SubjectIndex {
    map: HashMap<Commitment, Vec<u64>>,
    /// Entries below this are indexed.
    covered: u64,
    file: Option<(PathBuf, File)>,
}

impl SubjectIndex {
    /// Path of the index inside a ledger directory.
    pub fn path(dir: &Path) -> PathBuf {
        utbyte_ledger::keys::private_dir(dir).join("subject-index")
    }

    /// Loads the index file (if any). With `writable`, later additions are appended to it.
    pub fn load(dir: &Path, writable: bool) -> Result<Self, IndexError> {
        let path = Self::path(dir);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(IndexError::Io {
                    action: "reading",
                    path,
                    source,
                })
            }
        };
        let whole = bytes.len() - bytes.len() % RECORD;
        let mut index = SubjectIndex::default();
        let mut last_real = None;
        for chunk in bytes[..whole].chunks_exact(RECORD) {
            let mut c = [0u8; 32];
            c.copy_from_slice(&chunk[..32]);
            let mut i = [0u8; 8];
            i.copy_from_slice(&chunk[32..]);
            let (commitment, at) = (Commitment(c), u64::from_be_bytes(i));
            if commitment == WATERMARK {
                index.covered = index.covered.max(at);
            } else {
                index.insert(commitment, at);
                last_real = Some(last_real.map_or(at, |l: u64| l.max(at)));
            }
        }
        // A record for entry i may be one of several for that entry: re-index from i.
        if let Some(last) = last_real {
            index.covered = index.covered.max(last);
        }
        if writable {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)
                .map_err(|source| IndexError::Io {
                    action: "opening",
                    path: path.clone(),
                    source,
                })?;
            // Drop a torn last record so appends stay aligned.
            file.set_len(whole as u64)
                .map_err(|source| IndexError::Io {
                    action: "truncating",
                    path: path.clone(),
                    source,
                })?;
            index.file = Some((path, file));
        }
        Ok(index)
    }

    fn insert(&mut self, commitment: Commitment, at: u64) -> bool {
        let list = self.map.entry(commitment).or_default();
        if list.contains(&at) {
            return false;
        }
        list.push(at);
        true
    }

    /// Entries below this index are covered.
    pub fn covered(&self) -> u64 {
        self.covered
    }

    /// Records that `record` (at ledger index `at`) concerns its subjects.
    pub fn add(&mut self, at: u64, record: &AuditRecord) -> Result<(), IndexError> {
        let mut out = Vec::new();
        for c in &record.subjects {
            if self.insert(*c, at) {
                out.extend_from_slice(&c.0);
                out.extend_from_slice(&at.to_be_bytes());
            }
        }
        self.covered = self.covered.max(at + 1);
        self.append(&out)
    }

    /// Brings the index up to `size` entries, reading entries with `entry`.
    pub fn catch_up(
        &mut self,
        size: u64,
        mut entry: impl FnMut(u64) -> Result<Vec<u8>, String>,
    ) -> Result<u64, IndexError> {
        let from = self.covered;
        for at in from..size {
            let leaf = entry(at).map_err(|detail| IndexError::Entry { index: at, detail })?;
            let record = AuditRecord::from_leaf(&leaf).map_err(|e| IndexError::Entry {
                index: at,
                detail: e.to_string(),
            })?;
            self.add(at, &record)?;
        }
        self.mark_covered(size)?;
        Ok(size.saturating_sub(from))
    }

    /// Writes a watermark: every entry below `size` is indexed.
    pub fn mark_covered(&mut self, size: u64) -> Result<(), IndexError> {
        self.covered = self.covered.max(size);
        let mut out = WATERMARK.0.to_vec();
        out.extend_from_slice(&size.to_be_bytes());
        self.append(&out)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some((path, file)) = &mut self.file {
            file.write_all(bytes).map_err(|source| IndexError::Io {
                action: "appending to",
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Ledger indices of the records about the subject with this commitment, ascending.
    pub fn lookup(&self, commitment: &Commitment) -> Vec<u64> {
        let mut found = self.map.get(commitment).cloned().unwrap_or_default();
        found.sort_unstable();
        found
    }
}
