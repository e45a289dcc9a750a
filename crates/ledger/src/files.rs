//! Writing the published files (tiles, bundles, checkpoint) so that a reader never sees half a
//! file: write to `DIR/tmp/`, then rename into place. These files are derived from the log and
//! rebuilt on open, so they are not fsynced; only the log is.
//!
//! Every file of a ledger is its owner's alone (0600) and every directory 0700, set when each
//! is created rather than left to the process umask: entry bundles hold whole audit records.
//! Auditors read a ledger through its node, or from a copy handed to them.

use crate::error::LedgerError;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of every file a ledger creates.
pub const FILE_MODE: u32 = 0o600;

/// Mode of every directory a ledger creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and any missing parents, each 0700.
pub fn create_dir_all(path: &Path) -> Result<(), LedgerError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(LedgerError::io("creating", path))
}

/// Options that create a file 0600 (when it is created at all).
pub fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Scratch directory for files being written; emptied on every open.
pub const TMP_DIR: &str = "tmp";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomically replaces `dir/rel` with `bytes`.
pub fn write_atomic(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), LedgerError> {
    let target = dir.join(rel);
    // A ledger whose directory was removed (a node's data deleted while its last writes were
    // still being published) writes nothing rather than make the directory anew.
    if !dir.is_dir() {
        return Err(LedgerError::Io {
            action: "writing into",
            path: dir.to_owned(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    }
    if let Some(parent) = target.parent() {
        create_dir_all(parent)?;
    }
    let tmp = dir.join(TMP_DIR).join(format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(LedgerError::io("writing", &tmp))?;
    fs::rename(&tmp, &target).map_err(LedgerError::io("renaming into", &target))
}

/// Makes sure `dir/rel` holds exactly `bytes`; returns whether it had to be (re)written.
pub fn ensure_file(dir: &Path, rel: &str, bytes: &[u8]) -> Result<bool, LedgerError> {
    match fs::read(dir.join(rel)) {
        Ok(existing) if existing == bytes => Ok(false),
        Ok(_) => write_atomic(dir, rel, bytes).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_atomic(dir, rel, bytes).map(|()| true)
        }
        Err(e) => Err(LedgerError::Io {
            action: "reading",
            path: dir.join(rel),
            source: e,
        }),
    }
}

/// Removes a directory tree if present.
pub fn remove_dir_if_present(path: &Path) -> Result<(), LedgerError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LedgerError::Io {
            action: "removing",
            path: PathBuf::from(path),
            source: e,
        }),
    }
}

/// Empties (or creates) the scratch directory.
pub fn reset_tmp(dir: &Path) -> Result<(), LedgerError> {
    let tmp = dir.join(TMP_DIR);
    remove_dir_if_present(&tmp)?;
    create_dir_all(&tmp)
}
