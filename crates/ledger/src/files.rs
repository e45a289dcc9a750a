//! Writing the published files (tiles, bundles, checkpoint) so that a reader never sees half a
//! file: write to `DIR/tmp/`, then rename into place. These files are derived from the log and
//! rebuilt on open, so they are not fsynced; only the log is.

use crate::error::LedgerError;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Scratch directory for files being written; emptied on every open.
pub const TMP_DIR: &str = "tmp";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomically replaces `dir/rel` with `bytes`.
pub fn write_atomic(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), LedgerError> {
    let target = dir.join(rel);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(LedgerError::io("creating", parent))?;
    }
    let tmp = dir.join(TMP_DIR).join(format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::write(&tmp, bytes).map_err(LedgerError::io("writing", &tmp))?;
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
    fs::create_dir_all(&tmp).map_err(LedgerError::io("creating", &tmp))
}
