//! Group commit: many appenders, one writer thread, one `fdatasync` per batch.
//!
//! Appenders hash and frame their entry on their own thread, queue it, and sleep on a private
//! slot. The writer takes everything queued (up to [`MAX_BATCH_BYTES`]), writes it with a commit
//! frame in one `write`, calls `fdatasync`, and only then fills the slots. While one batch is
//! being synced, the next one accumulates, so the number of fsyncs per second is bounded by the
//! disk, not by the number of appenders.
//!
//! After a failed write or sync the writer stops and every later append fails: after an fsync
//! error the page cache can no longer be trusted to match the disk, so the only safe way on is to
//! reopen (and recover from) the file.

use crate::checkpoint::Checkpoint;
use crate::error::LedgerError;
use crate::files::{ensure_file, remove_dir_if_present, write_atomic};
use crate::hash::Hash;
use crate::note::{Note, SignerKey};
use crate::tiles::{
    bundle_path, encode_bundle, encode_tile, partial_dir, tile_path, TileBuilder, TILE_WIDTH,
};
use crate::tree::CompactRange;
use crate::wal::{encode_commit, MAX_BATCH_BYTES};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Proof that an entry is durable: where it is and the first tree that contains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's index in the log.
    pub index: u64,
    /// Size of the tree committed together with the entry's batch.
    pub tree_size: u64,
    /// Root of that tree.
    pub root: Hash,
}

/// Where an appender waits for its acknowledgement: blocking on the condition variable, or as
/// a future woken by the writer thread.
#[derive(Default)]
pub(crate) struct Slot {
    done: Mutex<Filled>,
    ready: Condvar,
}

#[derive(Default)]
struct Filled {
    result: Option<Result<Receipt, String>>,
    waker: Option<Waker>,
}

impl Slot {
    fn fill(&self, result: Result<Receipt, String>) {
        let waker = {
            let mut done = lock(&self.done);
            done.result = Some(result);
            done.waker.take()
        };
        self.ready.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn wait(&self) -> Result<Receipt, LedgerError> {
        let mut done = lock(&self.done);
        loop {
            if let Some(result) = done.result.take() {
                return result.map_err(LedgerError::Failed);
            }
            done = self.ready.wait(done).unwrap_or_else(|p| p.into_inner());
        }
    }

    pub(crate) fn poll_filled(&self, cx: &mut Context<'_>) -> Poll<Result<Receipt, LedgerError>> {
        let mut done = lock(&self.done);
        match done.result.take() {
            Some(result) => Poll::Ready(result.map_err(LedgerError::Failed)),
            None => {
                done.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// One queued entry: its encoded frame, leaf hash, payload range within the frame, and slot.
pub(crate) struct Pending {
    pub frame: Vec<u8>,
    pub leaf: Hash,
    pub slot: Arc<Slot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QueueState {
    Open,
    Closing,
    Failed(String),
}

pub(crate) struct Queue {
    pub pending: Vec<Pending>,
    pub state: QueueState,
}

/// An immutable picture of the tree at one committed size, shared with readers.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub size: u64,
    pub root: Hash,
    pub tiles: TileBuilder,
    pub bundle_index: u64,
    pub bundle: Vec<Arc<[u8]>>,
}

/// Signs and writes the mutable published files: partial tiles, partial bundle, checkpoint.
pub(crate) struct Publisher {
    pub dir: PathBuf,
    pub signer: SignerKey,
    pub origin: String,
    /// The latest published checkpoint, with any cosignatures added to it.
    pub latest: Option<(u64, Note)>,
}

impl Publisher {
    /// Publishes `view` (if not already published) and returns its signed checkpoint.
    pub fn publish(&mut self, view: &View) -> Result<Note, LedgerError> {
        if let Some((size, note)) = &self.latest {
            if *size == view.size {
                return Ok(note.clone());
            }
        }
        for (level, index, hashes) in view.tiles.partials() {
            // Compared, not just created: after a power loss a renamed file may be empty.
            ensure_file(
                &self.dir,
                &tile_path(level, index, hashes.len()),
                &encode_tile(hashes),
            )?;
        }
        if !view.bundle.is_empty() {
            let path = bundle_path(view.bundle_index, view.bundle.len());
            ensure_file(&self.dir, &path, &encode_bundle(&view.bundle))?;
        }
        let checkpoint = Checkpoint {
            origin: self.origin.clone(),
            size: view.size,
            root: view.root,
            extensions: Vec::new(),
        };
        let note = checkpoint.sign(&self.signer)?;
        write_atomic(&self.dir, "checkpoint", note.to_string().as_bytes())?;
        self.latest = Some((view.size, note.clone()));
        Ok(note)
    }
}

/// State shared between the [`crate::Ledger`] handle and the writer thread.
pub(crate) struct Shared {
    pub queue: Mutex<Queue>,
    pub wake: Condvar,
    pub view: RwLock<Arc<View>>,
    pub publisher: Mutex<Publisher>,
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves its data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer thread's private state.
pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub dir: PathBuf,
    pub file: File,
    pub range: CompactRange,
    pub tiles: TileBuilder,
    pub bundle_index: u64,
    pub bundle: Vec<Arc<[u8]>>,
    pub publish_interval: Duration,
}

impl Writer {
    /// Runs until the ledger is closed or a write fails.
    pub fn run(mut self) {
        let mut published = true;
        let mut last_publish = Instant::now();
        loop {
            let batch = {
                let mut q = lock(&self.shared.queue);
                loop {
                    if !q.pending.is_empty() || q.state != QueueState::Open {
                        break;
                    }
                    if published {
                        q = self.shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
                    } else {
                        let wait = self.publish_interval.saturating_sub(last_publish.elapsed());
                        let (guard, timeout) = self
                            .shared
                            .wake
                            .wait_timeout(q, wait)
                            .unwrap_or_else(|p| p.into_inner());
                        q = guard;
                        if timeout.timed_out() {
                            break;
                        }
                    }
                }
                if q.pending.is_empty() && q.state != QueueState::Open {
                    break;
                }
                take_batch(&mut q.pending)
            };
            if !batch.is_empty() {
                match self.commit(&batch) {
                    Ok(()) => {}
                    Err(Failure::NotDurable(e)) => return self.fail(&batch, &e),
                    Err(Failure::AfterAck(e)) => return self.fail(&[], &e),
                }
                published = false;
            }
            if !published && last_publish.elapsed() >= self.publish_interval {
                if let Err(e) = self.publish() {
                    self.fail(&[], &e);
                    return;
                }
                published = true;
                last_publish = Instant::now();
            }
        }
        if let Err(e) = self.publish() {
            self.fail(&[], &e);
        }
    }

    fn publish(&self) -> Result<(), LedgerError> {
        let view = self
            .shared
            .view
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        lock(&self.shared.publisher).publish(&view).map(|_| ())
    }

    /// Marks the ledger failed and fails `batch` and everything still queued.
    fn fail(&self, batch: &[Pending], error: &LedgerError) {
        let message = error.to_string();
        let mut q = lock(&self.shared.queue);
        q.state = QueueState::Failed(message.clone());
        for p in batch
            .iter()
            .chain(q.pending.drain(..).collect::<Vec<_>>().iter())
        {
            p.slot.fill(Err(message.clone()));
        }
    }

    /// Makes `batch` durable, then updates tiles and the shared view, then acknowledges.
    fn commit(&mut self, batch: &[Pending]) -> Result<(), Failure> {
        let first = self.range.size();
        let bytes: usize = batch.iter().map(|p| p.frame.len()).sum();
        let mut buf = Vec::with_capacity(bytes + 64);
        for p in batch {
            buf.extend_from_slice(&p.frame);
            self.range.push(p.leaf);
        }
        let (size, root) = (self.range.size(), self.range.root());
        encode_commit(&mut buf, size, &root);
        let log = self.dir.join(crate::LOG_FILE);
        self.file
            .write_all(&buf)
            .map_err(LedgerError::io("appending to", &log))
            .and_then(|()| {
                self.file
                    .sync_data()
                    .map_err(LedgerError::io("syncing", &log))
            })
            .map_err(Failure::NotDurable)?;

        // Durable from here on: acknowledge even if deriving the tiles fails below.
        let derived = self.derive(batch, size, root);
        for (i, p) in batch.iter().enumerate() {
            p.slot.fill(Ok(Receipt {
                index: first + i as u64,
                tree_size: size,
                root,
            }));
        }
        derived.map_err(Failure::AfterAck)
    }

    /// Extends tiles and bundles with `batch`, writes completed ones, and publishes the view.
    fn derive(&mut self, batch: &[Pending], size: u64, root: Hash) -> Result<(), LedgerError> {
        for p in batch {
            for full in self.tiles.push(p.leaf) {
                let path = tile_path(full.level, full.index, TILE_WIDTH);
                write_atomic(&self.dir, &path, &encode_tile(&full.hashes))?;
                remove_dir_if_present(&self.dir.join(partial_dir(&path)))?;
            }
            self.bundle.push(Arc::from(&p.frame[5..p.frame.len() - 8]));
            if self.bundle.len() == TILE_WIDTH {
                let path = bundle_path(self.bundle_index, TILE_WIDTH);
                write_atomic(&self.dir, &path, &encode_bundle(&self.bundle))?;
                remove_dir_if_present(&self.dir.join(partial_dir(&path)))?;
                self.bundle.clear();
                self.bundle_index += 1;
            }
        }
        let view = View {
            size,
            root,
            tiles: self.tiles.clone(),
            bundle_index: self.bundle_index,
            bundle: self.bundle.clone(),
        };
        *self.shared.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
        Ok(())
    }
}

/// How a batch failed: before it was durable (its appenders get the error) or after they were
/// acknowledged (only later appends fail).
enum Failure {
    NotDurable(LedgerError),
    AfterAck(LedgerError),
}

/// Takes the longest prefix of `pending` that fits in one batch (at least one entry).
fn take_batch(pending: &mut Vec<Pending>) -> Vec<Pending> {
    let mut bytes = 0;
    let mut count = 0;
    for p in pending.iter() {
        if count > 0 && bytes + p.frame.len() > MAX_BATCH_BYTES - 64 {
            break;
        }
        bytes += p.frame.len();
        count += 1;
    }
    if count == pending.len() {
        std::mem::take(pending)
    } else {
        pending.drain(..count).collect()
    }
}
