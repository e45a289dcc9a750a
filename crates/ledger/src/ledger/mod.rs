//! The [`Ledger`] handle: appending, reading and proving. Creating and recovering are in
//! [`open`].

mod open;

use crate::commitment::CommitmentKey;
use crate::error::LedgerError;
use crate::hash::{leaf_hash, Hash};
use crate::note::{Note, VerifierKey};
use crate::proof::{ConsistencyProof, InclusionProof};
use crate::tiles::{
    bundle_path, decode_bundle, decode_tile, tile_path, TileFetch, TileHashes, TILE_WIDTH,
};
use crate::tree::{self, RangeError, TreeError};
use crate::wal::{self, encode_entry, MAX_ENTRY};
use crate::writer::{lock, Pending, QueueState, Shared, Slot, View};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Tunables of an open ledger.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// How long new entries may wait before the partial tiles and the `checkpoint` file are
    /// republished. Appends are durable regardless; this only bounds how stale the published
    /// view can be while appends keep flowing.
    pub publish_interval: Duration,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            publish_interval: Duration::from_millis(500),
        }
    }
}

/// What opening the ledger had to repair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Committed entries found in the log.
    pub entries: u64,
    /// Bytes of an unacknowledged batch cut from the end of the log (crash residue).
    pub truncated_bytes: u64,
    /// Tile and bundle files that were missing or wrong and were rewritten from the log.
    pub rewritten_files: u64,
}

/// An open, writable ledger. Cheap to share between threads (`&Ledger` is `Sync`); appends from
/// many threads are group-committed.
pub struct Ledger {
    dir: PathBuf,
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
    verifier: VerifierKey,
    commitment: CommitmentKey,
    recovery: Recovery,
    _lock: File,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ledger({}, size {})", self.dir.display(), self.size())
    }
}

/// An entry queued by [`Ledger::append_async`]; resolves to its receipt once durable.
pub struct Appending(Arc<Slot>);

impl std::future::Future for Appending {
    type Output = Result<crate::Receipt, LedgerError>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        self.0.poll_filled(cx)
    }
}

impl Ledger {
    /// Appends `entry` and returns once it is durable (fsynced) and visible to readers.
    pub fn append(&self, entry: &[u8]) -> Result<crate::Receipt, LedgerError> {
        self.enqueue(entry)?.wait()
    }

    /// Queues `entry` for appending without waiting: the returned future resolves once it is
    /// durable and visible, without holding a thread meanwhile. Dropped before then, the entry
    /// is appended all the same.
    pub fn append_async(&self, entry: &[u8]) -> Result<Appending, LedgerError> {
        self.enqueue(entry).map(Appending)
    }

    fn enqueue(&self, entry: &[u8]) -> Result<Arc<Slot>, LedgerError> {
        if entry.len() > MAX_ENTRY {
            return Err(LedgerError::EntryTooLarge {
                len: entry.len(),
                max: MAX_ENTRY,
            });
        }
        let leaf = leaf_hash(entry);
        let mut frame = Vec::with_capacity(entry.len() + wal::FRAME_OVERHEAD);
        encode_entry(&mut frame, entry, &leaf);
        let slot = Arc::new(Slot::default());
        {
            let mut q = lock(&self.shared.queue);
            match &q.state {
                QueueState::Open => {}
                QueueState::Closing => return Err(LedgerError::Closed),
                QueueState::Failed(msg) => return Err(LedgerError::Failed(msg.clone())),
            }
            q.pending.push(Pending {
                frame,
                leaf,
                slot: slot.clone(),
            });
        }
        self.shared.wake.notify_one();
        Ok(slot)
    }

    /// Appends `entries` as the entries from index `first` on and returns once they are durable,
    /// with the receipt of the last (none for no entries). For a ledger that is a replica of a
    /// log kept elsewhere, whose indices were decided there: `first` must be this ledger's size,
    /// with no append waiting, or nothing is appended ([`LedgerError::OutOfOrder`]).
    pub fn replicate(
        &self,
        first: u64,
        entries: &[Vec<u8>],
    ) -> Result<Option<crate::Receipt>, LedgerError> {
        let mut pending = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.len() > MAX_ENTRY {
                return Err(LedgerError::EntryTooLarge {
                    len: entry.len(),
                    max: MAX_ENTRY,
                });
            }
            let leaf = leaf_hash(entry);
            let mut frame = Vec::with_capacity(entry.len() + wal::FRAME_OVERHEAD);
            encode_entry(&mut frame, entry, &leaf);
            pending.push(Pending {
                frame,
                leaf,
                slot: Arc::new(Slot::default()),
            });
        }
        let Some(last) = pending.last().map(|p| Arc::clone(&p.slot)) else {
            return Ok(None);
        };
        {
            let mut q = lock(&self.shared.queue);
            match &q.state {
                QueueState::Open => {}
                QueueState::Closing => return Err(LedgerError::Closed),
                QueueState::Failed(msg) => return Err(LedgerError::Failed(msg.clone())),
            }
            let size = self.size();
            if !q.pending.is_empty() || size != first {
                return Err(LedgerError::OutOfOrder {
                    expected: size,
                    given: first,
                });
            }
            q.pending.extend(pending);
        }
        self.shared.wake.notify_one();
        // Batches commit in order: the last entry durable means every one before it is.
        last.wait().map(Some)
    }

    /// The directory the ledger lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening had to repair.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The log's public key (also in `DIR/log.vkey`).
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// The node's commitment key, for committing to personal identifiers before appending.
    pub fn commitment_key(&self) -> &CommitmentKey {
        &self.commitment
    }

    fn view(&self) -> Arc<View> {
        self.shared
            .view
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Number of durable entries.
    pub fn size(&self) -> u64 {
        self.view().size
    }

    /// The number of durable entries and the root of the tree they make, read together.
    pub fn head(&self) -> (u64, Hash) {
        let view = self.view();
        (view.size, view.root)
    }

    /// Publishes the current tree (partial tiles and `checkpoint` file) and returns its signed
    /// checkpoint.
    pub fn checkpoint(&self) -> Result<Note, LedgerError> {
        let view = self.view();
        lock(&self.shared.publisher).publish(&view)
    }

    /// Adds witness cosignatures to the published checkpoint. `cosigned` must be the latest
    /// published checkpoint (same text) carrying the extra signature lines.
    pub fn add_cosignatures(&self, cosigned: &Note) -> Result<(), LedgerError> {
        let mut publisher = lock(&self.shared.publisher);
        let Some((_, latest)) = publisher.latest.as_mut() else {
            return Err(LedgerError::Tile {
                path: "checkpoint".into(),
                detail: "nothing published yet".into(),
            });
        };
        if latest.text != cosigned.text {
            return Err(LedgerError::Tile {
                path: "checkpoint".into(),
                detail: "cosigned checkpoint is not the latest published one".into(),
            });
        }
        for sig in &cosigned.signatures {
            if !latest.signatures.contains(sig) {
                latest.signatures.push(sig.clone());
            }
        }
        let text = latest.to_string();
        crate::files::write_atomic(&publisher.dir, "checkpoint", text.as_bytes())
    }

    /// Inclusion proof of entry `index` in the tree of `tree_size` entries.
    pub fn inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, LedgerError> {
        let view = self.view();
        check_size(tree_size, view.size)?;
        let fetch = LiveTiles {
            dir: &self.dir,
            view: &view,
        };
        tree::inclusion_proof(&TileHashes::new(&fetch, tree_size), index, tree_size)
            .map_err(flatten)
    }

    /// Consistency proof from the tree of `old` entries to the tree of `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, LedgerError> {
        let view = self.view();
        check_size(new, view.size)?;
        let fetch = LiveTiles {
            dir: &self.dir,
            view: &view,
        };
        tree::consistency_proof(&TileHashes::new(&fetch, new), old, new).map_err(flatten)
    }

    /// The root hash of the tree of `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        let view = self.view();
        check_size(size, view.size)?;
        let fetch = LiveTiles {
            dir: &self.dir,
            view: &view,
        };
        tree::root(&TileHashes::new(&fetch, size), size)
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, LedgerError> {
        let view = self.view();
        if index >= view.size {
            return Err(RangeError::IndexOutOfRange {
                index,
                size: view.size,
            }
            .into());
        }
        let bundle = index / TILE_WIDTH as u64;
        let offset = (index % TILE_WIDTH as u64) as usize;
        if bundle == view.bundle_index {
            if let Some(entry) = view.bundle.get(offset) {
                return Ok(entry.to_vec());
            }
        }
        read_bundle_entry(&self.dir, bundle, TILE_WIDTH, offset)
    }

    /// Stops the writer after the queued appends and publishes the final checkpoint.
    pub fn close(mut self) -> Result<(), LedgerError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), LedgerError> {
        {
            let mut q = lock(&self.shared.queue);
            if q.state == QueueState::Open {
                q.state = QueueState::Closing;
            }
        }
        self.shared.wake.notify_all();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
        match &lock(&self.shared.queue).state {
            QueueState::Failed(msg) => Err(LedgerError::Failed(msg.clone())),
            _ => Ok(()),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn check_size(size: u64, available: u64) -> Result<(), LedgerError> {
    if size > available {
        return Err(RangeError::IndexOutOfRange {
            index: size - 1,
            size: available,
        }
        .into());
    }
    Ok(())
}

fn flatten(e: TreeError<LedgerError>) -> LedgerError {
    match e {
        TreeError::Range(r) => r.into(),
        TreeError::Source(e) => e,
    }
}

/// Reads entry `offset` of the bundle `index` of `width` entries from a ledger directory.
pub fn read_bundle_entry(
    dir: &Path,
    index: u64,
    width: usize,
    offset: usize,
) -> Result<Vec<u8>, LedgerError> {
    let path = bundle_path(index, width);
    let bytes = fs::read(dir.join(&path)).map_err(LedgerError::io("reading", dir.join(&path)))?;
    let mut entries = decode_bundle(&bytes, width).ok_or_else(|| LedgerError::Tile {
        path: path.clone(),
        detail: format!("not a bundle of {width} entries"),
    })?;
    if offset >= entries.len() {
        return Err(LedgerError::Tile {
            path,
            detail: format!("no entry {offset}"),
        });
    }
    Ok(entries.swap_remove(offset))
}

/// Tiles of a live ledger: the partial ones from memory, full ones from disk.
struct LiveTiles<'a> {
    dir: &'a Path,
    view: &'a View,
}

impl TileFetch for LiveTiles<'_> {
    fn tile(&self, level: u32, index: u64, width: usize) -> Result<Arc<Vec<Hash>>, LedgerError> {
        if let Some(hashes) = self.view.tiles.partial(level, index) {
            if hashes.len() >= width {
                return Ok(Arc::new(hashes[..width].to_vec()));
            }
        }
        let path = tile_path(level, index, TILE_WIDTH);
        let bytes = fs::read(self.dir.join(&path))
            .map_err(LedgerError::io("reading", self.dir.join(&path)))?;
        let mut hashes = decode_tile(&bytes, TILE_WIDTH).ok_or_else(|| LedgerError::Tile {
            path,
            detail: "not a full tile".into(),
        })?;
        hashes.truncate(width);
        Ok(Arc::new(hashes))
    }
}
