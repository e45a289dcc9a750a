//! Offline verification of a ledger directory: recompute everything from the log and check
//! every published byte against it. This is what `utbyte audit verify` runs, and it never
//! repairs anything: a torn tail, a stray file or a single flipped bit is reported.

use crate::checkpoint::{open_checkpoint, verify_cosignature, Checkpoint, CheckpointError};
use crate::error::LedgerError;
use crate::hash::Hash;
use crate::keys;
use crate::note::VerifierKey;
use crate::proof::ProofError;
use crate::tiles::{
    bundle_path, encode_bundle, encode_tile, partial_dir, tile_path, DirTiles, TileBuilder,
    TileHashes, TILE_WIDTH,
};
use crate::tree::{consistency_proof, CompactRange, TreeError};
use crate::wal::{self, Tail};
use std::collections::HashSet;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// What to check beyond the directory's own consistency.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The log's key as the auditor knows it. Without it, `DIR/log.vkey` is trusted, which proves
    /// internal consistency but not *whose* log this is.
    pub log_key: Option<VerifierKey>,
    /// An earlier checkpoint (signed note text) that the current one must be consistent with.
    pub since: Option<String>,
    /// Witnesses whose cosignatures the checkpoint must carry.
    pub witnesses: Vec<VerifierKey>,
    /// Set by the caller to stop a verification no one waits for any more (its client went
    /// away): the run ends at the next entry with [`VerifyError::Cancelled`].
    pub cancelled: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// What was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub origin: String,
    /// Committed entries in the log.
    pub log_size: u64,
    /// Commit frames (group commits) in the log, each root re-checked.
    pub commits: u64,
    /// The published checkpoint's size and root.
    pub checkpoint_size: u64,
    pub root: Hash,
    /// Tile and bundle files compared byte for byte with the recomputation.
    pub files_checked: u64,
    /// Size of the earlier checkpoint proven consistent, if one was given.
    pub consistent_since: Option<u64>,
    /// Witnesses whose cosignatures verified, with their timestamps.
    pub cosigned_by: Vec<(String, u64)>,
    /// Whether the log's key came from the directory itself rather than the auditor.
    pub key_from_directory: bool,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("verification cancelled: no one waits for it any more")]
    Cancelled,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("checkpoint: {0}")]
    Checkpoint(CheckpointError),
    #[error("earlier checkpoint: {0}")]
    Since(CheckpointError),
    #[error("log is damaged at byte {offset}: {detail}")]
    Log { offset: u64, detail: String },
    #[error("log ends with {bytes} bytes of an unacknowledged batch (crash residue; opening the ledger cuts it)")]
    UncommittedTail { bytes: u64 },
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    #[error("{0}: file not produced by this log")]
    UnexpectedFile(String),
    #[error("checkpoint claims {checkpoint} entries but the log holds {log}")]
    CheckpointAhead { checkpoint: u64, log: u64 },
    #[error("checkpoint root at size {size} is not the root recomputed from the log")]
    RootMismatch { size: u64 },
    #[error("earlier checkpoint (size {old}) is larger than the current one (size {new}): the log shrank")]
    Shrunk { old: u64, new: u64 },
    #[error(
        "history rewritten: the log's root at size {size} differs from the earlier checkpoint's"
    )]
    HistoryRewritten { size: u64 },
    #[error("consistency proof from the published tiles fails: {0}")]
    Consistency(ProofError),
    #[error("cosignature of witness {name}: {source}")]
    Witness {
        name: String,
        source: CheckpointError,
    },
}

/// Verifies the ledger in `dir`. See [`VerifyOptions`].
pub fn verify_dir(dir: &Path, options: &VerifyOptions) -> Result<VerifyReport, VerifyError> {
    let key_from_directory = options.log_key.is_none();
    let key = match &options.log_key {
        Some(k) => k.clone(),
        None => keys::load_verifier(dir)?,
    };
    let cp_path = dir.join("checkpoint");
    let cp_text = fs::read_to_string(&cp_path).map_err(LedgerError::io("reading", &cp_path))?;
    let (cp, note) = open_checkpoint(&cp_text, &key).map_err(VerifyError::Checkpoint)?;
    let since = match &options.since {
        Some(text) => Some(open_checkpoint(text, &key).map_err(VerifyError::Since)?.0),
        None => None,
    };
    if let Some(old) = &since {
        if old.size > cp.size {
            return Err(VerifyError::Shrunk {
                old: old.size,
                new: cp.size,
            });
        }
    }

    let mut check = Recompute::new(dir, [Some(cp.size), since.as_ref().map(|c| c.size)]);
    let log_path = dir.join(crate::LOG_FILE);
    let file = fs::File::open(&log_path).map_err(LedgerError::io("opening", &log_path))?;
    let len = file
        .metadata()
        .map_err(LedgerError::io("reading", &log_path))?
        .len();
    let scan = wal::scan(
        BufReader::with_capacity(1 << 20, file),
        len,
        |_, entry, leaf| {
            if cancelled(options) {
                return Err("verification cancelled".to_owned());
            }
            check.push(entry, *leaf).map_err(|e| e.to_string())
        },
        |_, _| Ok(()),
    )
    .map_err(LedgerError::io("reading", &log_path))?;
    if cancelled(options) {
        return Err(VerifyError::Cancelled);
    }
    match scan.tail {
        Tail::Clean => {}
        Tail::Uncommitted { bytes } => return Err(VerifyError::UncommittedTail { bytes }),
        Tail::Corrupt { offset, detail } => return Err(VerifyError::Log { offset, detail }),
    }
    if let Some(err) = check.error.take() {
        return Err(err);
    }
    check.finish()?;

    if cp.size > scan.committed_size {
        return Err(VerifyError::CheckpointAhead {
            checkpoint: cp.size,
            log: scan.committed_size,
        });
    }
    if check.root_at(cp.size) != Some(cp.root) {
        return Err(VerifyError::RootMismatch { size: cp.size });
    }
    let consistent_since = match since {
        Some(old) => Some(check_since(dir, &check, &old, &cp)?),
        None => None,
    };
    let mut cosigned_by = Vec::new();
    for witness in &options.witnesses {
        let ts = verify_cosignature(&note, witness).map_err(|source| VerifyError::Witness {
            name: witness.name.clone(),
            source,
        })?;
        cosigned_by.push((witness.name.clone(), ts));
    }
    check.reject_strays()?;
    Ok(VerifyReport {
        origin: cp.origin,
        log_size: scan.committed_size,
        commits: scan.commits,
        checkpoint_size: cp.size,
        root: cp.root,
        files_checked: check.visited.len() as u64,
        consistent_since,
        cosigned_by,
        key_from_directory,
    })
}

/// Whether the caller has given up on this run.
pub fn cancelled(options: &VerifyOptions) -> bool {
    options
        .cancelled
        .as_ref()
        .is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed))
}

fn check_since(
    dir: &Path,
    check: &Recompute,
    old: &Checkpoint,
    cp: &Checkpoint,
) -> Result<u64, VerifyError> {
    if check.root_at(old.size) != Some(old.root) {
        return Err(VerifyError::HistoryRewritten { size: old.size });
    }
    // Prove it the way a remote auditor would: from the published tiles alone.
    let fetch = DirTiles { dir };
    let proof = consistency_proof(&TileHashes::new(&fetch, cp.size), old.size, cp.size).map_err(
        |e| match e {
            TreeError::Range(r) => VerifyError::Ledger(r.into()),
            TreeError::Source(e) => VerifyError::Ledger(e),
        },
    )?;
    proof
        .verify(&old.root, &cp.root)
        .map_err(VerifyError::Consistency)?;
    Ok(old.size)
}

/// Recomputes tiles and bundles while the log is scanned and compares them with the files.
struct Recompute<'a> {
    dir: &'a Path,
    tiles: TileBuilder,
    bundle_index: u64,
    bundle: Vec<Vec<u8>>,
    range: CompactRange,
    wanted: [Option<u64>; 2],
    roots: Vec<(u64, Hash)>,
    visited: HashSet<String>,
    error: Option<VerifyError>,
}

impl<'a> Recompute<'a> {
    fn new(dir: &'a Path, wanted: [Option<u64>; 2]) -> Self {
        let mut roots = Vec::new();
        if wanted.contains(&Some(0)) {
            roots.push((0, CompactRange::new().root()));
        }
        Recompute {
            dir,
            tiles: TileBuilder::default(),
            bundle_index: 0,
            bundle: Vec::new(),
            range: CompactRange::new(),
            wanted,
            roots,
            visited: HashSet::new(),
            error: None,
        }
    }

    fn root_at(&self, size: u64) -> Option<Hash> {
        self.roots.iter().find(|(s, _)| *s == size).map(|(_, r)| *r)
    }

    fn push(&mut self, entry: &[u8], leaf: Hash) -> Result<(), VerifyError> {
        self.range.push(leaf);
        if self.wanted.contains(&Some(self.range.size())) {
            self.roots.push((self.range.size(), self.range.root()));
        }
        for full in self.tiles.push(leaf) {
            self.compare(
                tile_path(full.level, full.index, TILE_WIDTH),
                &full.hashes,
                true,
            )?;
        }
        self.bundle.push(entry.to_vec());
        if self.bundle.len() == TILE_WIDTH {
            let bundle = std::mem::take(&mut self.bundle);
            self.compare(bundle_path(self.bundle_index, TILE_WIDTH), &bundle, true)?;
            self.bundle_index += 1;
        }
        Ok(())
    }

    /// Compares the full file (if `full`) and every partial version of it with `items`.
    fn compare<T: Encode>(
        &mut self,
        path: String,
        items: &[T],
        full: bool,
    ) -> Result<(), VerifyError> {
        if full {
            self.expect_file(&path, &T::encode(items))?;
        }
        let pdir = self.dir.join(partial_dir(&path));
        let Ok(listing) = fs::read_dir(&pdir) else {
            return Ok(());
        };
        for item in listing {
            let item = item.map_err(LedgerError::io("listing", &pdir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let rel = format!("{}/{name}", partial_dir(&path));
            let width = name
                .parse::<usize>()
                .ok()
                .filter(|w| (1..TILE_WIDTH).contains(w) && w.to_string() == name);
            match width {
                Some(w) if w <= items.len() => self.expect_file(&rel, &T::encode(&items[..w]))?,
                _ => return Err(VerifyError::UnexpectedFile(rel)),
            }
        }
        Ok(())
    }

    fn expect_file(&mut self, rel: &str, bytes: &[u8]) -> Result<(), VerifyError> {
        let found = fs::read(self.dir.join(rel)).map_err(|e| VerifyError::File {
            path: rel.to_owned(),
            detail: e.to_string(),
        })?;
        if found != bytes {
            return Err(VerifyError::File {
                path: rel.to_owned(),
                detail: "content differs from what the log implies".to_owned(),
            });
        }
        self.visited.insert(rel.to_owned());
        Ok(())
    }

    /// Checks the partial tiles and bundle left at the end of the log.
    fn finish(&mut self) -> Result<(), VerifyError> {
        let partials: Vec<(u32, u64, Vec<Hash>)> = self
            .tiles
            .partials()
            .map(|(l, i, h)| (l, i, h.to_vec()))
            .collect();
        for (level, index, hashes) in partials {
            self.compare(tile_path(level, index, TILE_WIDTH), &hashes, false)?;
        }
        let bundle = std::mem::take(&mut self.bundle);
        self.compare(bundle_path(self.bundle_index, TILE_WIDTH), &bundle, false)
    }

    /// Fails on any file under `tile/` that the log does not account for.
    fn reject_strays(&self) -> Result<(), VerifyError> {
        let mut stack: Vec<PathBuf> = vec![self.dir.join("tile")];
        while let Some(dir) = stack.pop() {
            let Ok(listing) = fs::read_dir(&dir) else {
                continue;
            };
            for item in listing {
                let path = item.map_err(LedgerError::io("listing", &dir))?.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path
                    .strip_prefix(self.dir)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                if !self.visited.contains(&rel) {
                    return Err(VerifyError::UnexpectedFile(rel));
                }
            }
        }
        Ok(())
    }
}

/// Things that are published as files: hashes (tiles) and entries (bundles).
trait Encode: Sized {
    fn encode(items: &[Self]) -> Vec<u8>;
}

impl Encode for Hash {
    fn encode(items: &[Self]) -> Vec<u8> {
        encode_tile(items)
    }
}

impl Encode for Vec<u8> {
    fn encode(items: &[Self]) -> Vec<u8> {
        encode_bundle(items)
    }
}
