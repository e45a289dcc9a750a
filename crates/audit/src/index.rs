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
//!
//! Appenders on several threads add their entries in whatever order they return from the
//! ledger, so the records after the last watermark may have gaps (entry 13 indexed, entry 12 not
//! yet, or never if the process stops). Only watermarks are trusted when loading: the writer
//! writes one when the entries indexed without a gap have grown by [`WATERMARK_EVERY`], and a
//! reader re-reads the entries after the last one. A reader of a live index therefore never
//! misses an entry, and re-reads at most a few hundred.

use crate::record::AuditRecord;
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use utbyte_ledger::Commitment;

const RECORD: usize = 40;
const WATERMARK: Commitment = Commitment([0; 32]);
/// How many gap-free entries the writer indexes between two watermarks.
pub const WATERMARK_EVERY: u64 = 256;

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
    /// Entries at or above `covered` that are indexed already (added out of order).
    ahead: BTreeSet<u64>,
    /// The last watermark in the file.
    written: u64,
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
        for chunk in bytes[..whole].chunks_exact(RECORD) {
            let mut c = [0u8; 32];
            c.copy_from_slice(&chunk[..32]);
            let mut i = [0u8; 8];
            i.copy_from_slice(&chunk[32..]);
            let (commitment, at) = (Commitment(c), u64::from_be_bytes(i));
            if commitment == WATERMARK {
                index.covered = index.covered.max(at);
            } else {
                // Beyond the last watermark, records may have gaps: they are kept, but the
                // entries they stand for are re-read by `catch_up` all the same.
                index.insert(commitment, at);
            }
        }
        index.written = index.covered;
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

    /// Records that `record` (at ledger index `at`) concerns its subjects. Entries may be added
    /// in any order; the watermark only ever covers entries all of which were added.
    pub fn add(&mut self, at: u64, record: &AuditRecord) -> Result<(), IndexError> {
        let mut out = Vec::new();
        for c in &record.subjects {
            if self.insert(*c, at) {
                out.extend_from_slice(&c.0);
                out.extend_from_slice(&at.to_be_bytes());
            }
        }
        if at == self.covered {
            self.covered += 1;
            while self.ahead.remove(&self.covered) {
                self.covered += 1;
            }
        } else if at > self.covered {
            self.ahead.insert(at);
        }
        // After the records it covers, in the same write.
        if self.covered >= self.written + WATERMARK_EVERY {
            out.extend_from_slice(&WATERMARK.0);
            out.extend_from_slice(&self.covered.to_be_bytes());
            self.written = self.covered;
        }
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
        self.ahead = self.ahead.split_off(&self.covered);
        while self.ahead.remove(&self.covered) {
            self.covered += 1;
        }
        self.written = self.covered;
        let mut out = WATERMARK.0.to_vec();
        out.extend_from_slice(&self.covered.to_be_bytes());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::sample::sample_record;
    use utbyte_ledger::CommitmentKey;

    fn about(i: u64) -> (AuditRecord, Commitment) {
        let c = CommitmentKey::from_bytes([7; 32]).commit("subject", &i.to_be_bytes());
        let (mut record, _) = sample_record(0, "Skatteverket");
        record.subjects = vec![c];
        (record, c)
    }

    fn ledger_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(utbyte_ledger::keys::private_dir(dir.path())).unwrap();
        dir
    }

    /// The leaves a ledger of `n` entries (entry `i` about subject `i`) would hold.
    fn leaf(at: u64) -> Result<Vec<u8>, String> {
        about(at).0.to_leaf().map_err(|e| e.to_string())
    }

    #[test]
    fn an_entry_indexed_out_of_order_is_never_skipped_on_load() {
        let dir = ledger_dir();
        let mut index = SubjectIndex::load(dir.path(), true).unwrap();
        // Two appenders: entry 1 is indexed first, then the process stops before entry 0 is.
        index.add(1, &about(1).0).unwrap();
        assert_eq!(index.covered(), 0);
        drop(index);

        let mut loaded = SubjectIndex::load(dir.path(), false).unwrap();
        assert_eq!(loaded.covered(), 0, "a record after a gap is no watermark");
        assert_eq!(loaded.catch_up(2, leaf).unwrap(), 2);
        assert_eq!(loaded.lookup(&about(0).1), vec![0]);
        assert_eq!(loaded.lookup(&about(1).1), vec![1]);
    }

    #[test]
    fn watermarks_cover_only_gap_free_prefixes() {
        let dir = ledger_dir();
        let mut writer = SubjectIndex::load(dir.path(), true).unwrap();
        let n = 3 * WATERMARK_EVERY;
        for at in (0..n).filter(|&at| at != 300) {
            writer.add(at, &about(at).0).unwrap();
        }
        assert_eq!(writer.covered(), 300);
        // A reader of the live file trusts the watermark before the gap only.
        let reader = SubjectIndex::load(dir.path(), false).unwrap();
        assert_eq!(reader.covered(), WATERMARK_EVERY);

        // Entry 300 arrives: everything is covered, and a reader re-reads less than a watermark
        // interval.
        writer.add(300, &about(300).0).unwrap();
        assert_eq!(writer.covered(), n);
        let mut reader = SubjectIndex::load(dir.path(), false).unwrap();
        assert!(
            reader.covered() > n - WATERMARK_EVERY,
            "{}",
            reader.covered()
        );
        reader.catch_up(n, leaf).unwrap();
        for at in [0, 299, 300, n - 1] {
            assert_eq!(reader.lookup(&about(at).1), vec![at]);
        }
    }

    #[test]
    fn closing_marks_only_what_was_indexed() {
        let dir = ledger_dir();
        let mut index = SubjectIndex::load(dir.path(), true).unwrap();
        index.add(0, &about(0).0).unwrap();
        index.add(2, &about(2).0).unwrap();
        let covered = index.covered();
        index.mark_covered(covered).unwrap();
        drop(index);
        let mut loaded = SubjectIndex::load(dir.path(), false).unwrap();
        assert_eq!(loaded.covered(), 1);
        loaded.catch_up(3, leaf).unwrap();
        assert_eq!(loaded.lookup(&about(1).1), vec![1]);
    }
}
