//! Creating a ledger, and opening one with crash recovery: the log is scanned, an
//! unacknowledged tail is cut, and every derived file is checked against the log.

use super::{Ledger, LedgerOptions, Recovery};
use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::error::LedgerError;
use crate::files::{ensure_file, private_file, reset_tmp};
use crate::hash::{empty_root, Hash};
use crate::keys::{self, sync_dir};
use crate::note::VerifierKey;
use crate::tiles::{bundle_path, encode_bundle, encode_tile, tile_path, TILE_WIDTH};
use crate::wal::{self, Tail};
use crate::writer::{lock, Publisher, Queue, QueueState, Shared, View, Writer};
use crate::LOG_FILE;
use std::fs::{self, OpenOptions};
use std::io::{BufReader, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, RwLock};

impl Ledger {
    /// Creates a new ledger for the log named `origin` in `dir` (which must be absent or empty)
    /// and opens it. Creation is atomic: everything is built in a staging directory next to
    /// `dir` and renamed into place, so a crash leaves either no ledger or a complete one.
    pub fn create(dir: &Path, origin: &str, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        if fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
            return Err(LedgerError::AlreadyExists(dir.to_owned()));
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let staging = parent.join(format!(".{name}.creating-{}", std::process::id()));
        crate::files::remove_dir_if_present(&staging)?;
        crate::files::create_dir_all(&staging)?;
        keys::create(&staging, origin)?;
        let log = staging.join(LOG_FILE);
        let mut file = private_file()
            .write(true)
            .create_new(true)
            .open(&log)
            .map_err(LedgerError::io("creating", &log))?;
        file.write_all(wal::MAGIC)
            .and_then(|()| file.sync_all())
            .map_err(LedgerError::io("writing", &log))?;
        sync_dir(&staging)?;
        // Replaces `dir` only if it is absent or empty; a concurrent creator loses here.
        fs::rename(&staging, dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::DirectoryNotEmpty | std::io::ErrorKind::AlreadyExists => {
                LedgerError::AlreadyExists(dir.to_owned())
            }
            _ => LedgerError::Io {
                action: "renaming into place",
                path: dir.to_owned(),
                source: e,
            },
        })?;
        sync_dir(parent)?;
        Ledger::open(dir, options)
    }

    /// Opens an existing ledger, recovering from any crash: an unacknowledged tail is cut, and
    /// tiles, bundles and the checkpoint are rebuilt from the log where missing or wrong.
    pub fn open(dir: &Path, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        let verifier = keys::load_verifier(dir)?;
        let secrets = keys::load(dir)?;
        let lock_path = dir.join("LOCK");
        let lock_file = private_file()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(LedgerError::io("opening", &lock_path))?;
        lock_file
            .try_lock()
            .map_err(|_| LedgerError::Locked(dir.to_owned()))?;
        reset_tmp(dir)?;

        let published = read_published_checkpoint(dir, &verifier)?;
        let log_path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(LedgerError::io("opening", &log_path))?;
        let len = file
            .metadata()
            .map_err(LedgerError::io("reading", &log_path))?
            .len();

        let mut rebuilt = Rebuild::default();
        // No commit frame records the empty tree: a checkpoint of it must carry the empty root.
        let mut published_root_ok = published
            .as_ref()
            .filter(|cp| cp.size == 0)
            .map(|cp| cp.root == empty_root());
        let scan = {
            let on_entry = |_: u64, entry: &[u8], leaf: &Hash| {
                rebuilt.push(dir, entry, *leaf).map_err(|e| e.to_string())
            };
            let on_commit = |size: u64, root: &Hash| {
                if let Some(cp) = &published {
                    if cp.size == size {
                        published_root_ok = Some(cp.root == *root);
                    }
                }
                Ok(())
            };
            wal::scan(
                BufReader::with_capacity(1 << 20, &mut file),
                len,
                on_entry,
                on_commit,
            )
            .map_err(LedgerError::io("reading", &log_path))?
        };
        let mut recovery = Recovery {
            entries: scan.committed_size,
            truncated_bytes: 0,
            rewritten_files: rebuilt.rewritten,
        };
        if let Tail::Corrupt { offset, detail } = scan.tail {
            return Err(LedgerError::Corrupt {
                path: log_path,
                offset,
                detail,
            });
        }
        // Checked before anything is cut: a published checkpoint beyond the committed entries
        // means acknowledged data is missing, and the file must stay as it is for investigation.
        if let Some(cp) = &published {
            if cp.size > scan.committed_size {
                return Err(LedgerError::CheckpointAhead {
                    published: cp.size,
                    committed: scan.committed_size,
                });
            }
            if published_root_ok != Some(true) {
                return Err(LedgerError::CheckpointMismatch { size: cp.size });
            }
        }
        if let Tail::Uncommitted { bytes } = scan.tail {
            file.set_len(scan.committed_len)
                .and_then(|()| file.sync_all())
                .map_err(LedgerError::io("truncating", &log_path))?;
            recovery.truncated_bytes = bytes;
        }

        let view = View {
            size: scan.committed_size,
            root: scan.range.root(),
            tiles: rebuilt.tiles.clone(),
            bundle_index: rebuilt.bundle_index,
            bundle: rebuilt.bundle.clone(),
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                state: QueueState::Open,
            }),
            wake: Condvar::new(),
            view: RwLock::new(Arc::new(view.clone())),
            publisher: Mutex::new(Publisher {
                dir: dir.to_owned(),
                signer: secrets.log,
                origin: verifier.name.clone(),
                latest: None,
            }),
        });
        lock(&shared.publisher).publish(&view)?;
        let writer = Writer {
            shared: shared.clone(),
            dir: dir.to_owned(),
            file,
            range: scan.range,
            tiles: rebuilt.tiles,
            bundle_index: rebuilt.bundle_index,
            bundle: rebuilt.bundle,
            publish_interval: options.publish_interval,
        };
        let handle = std::thread::Builder::new()
            .name("ledger-writer".to_owned())
            .spawn(move || writer.run())
            .map_err(LedgerError::io("starting writer thread for", dir))?;
        Ok(Ledger {
            dir: dir.to_owned(),
            shared,
            writer: Some(handle),
            verifier,
            commitment: secrets.commitment,
            recovery,
            _lock: lock_file,
        })
    }
}

/// Reads and verifies `DIR/checkpoint`, if there is one.
fn read_published_checkpoint(
    dir: &Path,
    verifier: &VerifierKey,
) -> Result<Option<Checkpoint>, LedgerError> {
    let path = dir.join("checkpoint");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some(open_checkpoint(&text, verifier)?.0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LedgerError::Io {
            action: "reading",
            path,
            source: e,
        }),
    }
}

/// Tiles and bundles rebuilt from the log during open.
#[derive(Default)]
struct Rebuild {
    tiles: crate::tiles::TileBuilder,
    bundle_index: u64,
    bundle: Vec<Arc<[u8]>>,
    rewritten: u64,
}

impl Rebuild {
    fn push(&mut self, dir: &Path, entry: &[u8], leaf: Hash) -> Result<(), LedgerError> {
        for full in self.tiles.push(leaf) {
            let path = tile_path(full.level, full.index, TILE_WIDTH);
            self.rewritten += u64::from(ensure_file(dir, &path, &encode_tile(&full.hashes))?);
        }
        self.bundle.push(Arc::from(entry));
        if self.bundle.len() == TILE_WIDTH {
            let path = bundle_path(self.bundle_index, TILE_WIDTH);
            self.rewritten += u64::from(ensure_file(dir, &path, &encode_bundle(&self.bundle))?);
            self.bundle.clear();
            self.bundle_index += 1;
        }
        Ok(())
    }
}
