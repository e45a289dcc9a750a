//! Attachments: files of any size from a case system to the recipient's case system, in
//! constant memory, sealed all the way (`utbyte_message::attachment`).
//!
//! - `upload` — the local API's tus 1.0 endpoint (`/v1/uploads`): a case system creates an
//!   upload, sends its bytes in as many requests as it likes and resumes after a cut from the
//!   offset the node reports. Each full chunk is sealed under the file's own key and written as
//!   it arrives, its plaintext hashed with a SHA-256 whose state is kept between requests; the
//!   unfinished last chunk is kept sealed for the node's own message key. Quotas per client,
//!   a size limit, expiry.
//! - `outgoing` — sending: a finished upload named in a message moves into the outbox (a rename:
//!   the sealed bytes are already what travels; named by the client's idempotency key, so a
//!   retried send finds what an interrupted one moved) and its key and digest go into the sealed
//!   content; delivery moves the chunks the recipient does not yet hold, each with its
//!   `Content-Digest`, before the message itself.
//! - `incoming` — the recipient: the message arrives first and is checked and opened (so a
//!   kind the node does not take is refused before any byte of a file moves); each chunk is
//!   checked against its digest as it arrives, then in order written at its place past the page
//!   cache (`direct`), opened with the file's key and its plaintext hashed;
//!   the message is taken in only when every file is whole and matches the SHA-256 the content
//!   declares. The case system fetches a file as a stream, opened chunk by chunk.
//!
//! Files live under `[messages] attachments_dir` (instances of one node must share it), one
//! directory per upload, per outgoing message and per incoming message, named by a digest of
//! the message's id so no sender-chosen text reaches a path.

mod direct;
pub(crate) mod incoming;
pub(crate) mod outgoing;
pub(crate) mod upload;

use crate::problems;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use utbyte_http::Problem;
use utbyte_message::attachment::{Sha256State, SEALED_CHUNK};

/// How this node keeps and moves attachments.
pub(crate) struct Attachments {
    pub dir: PathBuf,
    /// The largest file one upload may hold.
    pub max_size: u64,
    /// The most bytes one client's unsent uploads may hold together.
    pub upload_quota: u64,
    /// The most bytes of files not yet whole one sending authority may hold here.
    pub incoming_quota: u64,
    /// How long an upload not attached to a message is kept.
    pub upload_expiry: time::Duration,
    /// Chunks waiting for their turn to be appended, by file.
    turns: std::sync::Arc<incoming::Turns>,
    /// Chunk buffers for reuse.
    buffers: std::sync::Arc<Buffers>,
}

impl Attachments {
    pub(crate) fn new(data_dir: &Path, config: &crate::config::MessagesConfig) -> Self {
        const MIB: u64 = 1 << 20;
        Self {
            dir: config
                .attachments_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("attachments")),
            max_size: config.max_attachment_mib.saturating_mul(MIB),
            upload_quota: config.upload_quota_mib.saturating_mul(MIB),
            incoming_quota: config.incoming_quota_mib.saturating_mul(MIB),
            upload_expiry: time::Duration::hours(i64::from(config.upload_expiry_hours.max(1))),
            turns: std::sync::Arc::default(),
            buffers: std::sync::Arc::default(),
        }
    }

    fn uploads(&self) -> PathBuf {
        self.dir.join("uploads")
    }

    /// Where a message sent from here keeps its files (`{n}/`, one per attachment): named by
    /// the client and its idempotency key, so a send retried after the node stopped half-way
    /// finds the files the first attempt moved.
    fn outbox(&self, client: &str, idempotency_key: &str) -> PathBuf {
        self.dir
            .join("outbox")
            .join(dir_name(&format!("{client}\n{idempotency_key}")))
    }

    /// Where a message from `sender` keeps its files while they arrive and after.
    fn inbox(&self, sender: &str, message_id: &str) -> PathBuf {
        self.dir
            .join("inbox")
            .join(dir_name(sender))
            .join(dir_name(message_id))
    }

    /// Removes the files of a message from `sender` (none is fine).
    pub(crate) async fn forget_incoming(&self, sender: &str, message_id: &str) -> io::Result<()> {
        let dir = self.inbox(sender, message_id);
        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Creates the directories, readable by this node's user only.
    pub(crate) fn create_dirs(&self) -> io::Result<()> {
        for dir in [
            self.uploads(),
            self.dir.join("outbox"),
            self.dir.join("inbox"),
        ] {
            create_private_dir(&dir)?;
        }
        Ok(())
    }
}

/// A directory name for a text chosen elsewhere: its digest, so no such text reaches a path.
fn dir_name(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// How far a file has come, kept beside it: the chunks written, the SHA-256 state of their
/// plaintext, and once whole, its digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
    chunks: u64,
    sha256: Sha256State,
    /// Plaintext bytes after the last whole chunk (an upload's unfinished chunk).
    #[serde(default)]
    tail_len: u64,
    /// That unfinished chunk, sealed for the node's own key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tail: Option<String>,
    /// The plaintext's SHA-256 (hex), once the file is whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    done: Option<String>,
}

/// Writes `value` as JSON to `path` so that a reader sees the old or the new text, never part.
fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let text = serde_json::to_vec(value).map_err(io::Error::other)?;
    let temporary = path.with_extension("tmp");
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        io::Write::write_all(&mut file, &text)?;
        file.sync_data()?;
    }
    std::fs::rename(&temporary, path)
}

/// Reads JSON written by [`write_json`]; `None` if there is no file.
fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Opens (creating) a file readable by this node's user only.
fn open_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// An exclusive hold on one file's writing, across this node's instances; released when
/// dropped (or when the process ends).
struct Hold(#[allow(dead_code)] File);

/// Takes the hold on `path`; `None` if another request has it.
fn hold(path: &Path) -> io::Result<Option<Hold>> {
    let file = open_private(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Hold(file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

/// Reads sealed chunk `index` of a file of `sealed_size` bytes into `chunk`.
fn read_chunk(file: &File, sealed_size: u64, index: u64, chunk: &mut Vec<u8>) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    let transfer = utbyte_message::Transfer { sealed_size };
    chunk.clear();
    chunk.resize(transfer.chunk_len(index), 0);
    file.read_exact_at(chunk, index * SEALED_CHUNK as u64)
}

/// Chunk buffers kept for reuse. A file moves as a stream of 1 MiB chunks; a fresh buffer for
/// each would be mapped and zeroed page by page (buffers this large are mapped, so that their
/// memory goes back to the system when freed), which costs more than hashing the chunk. A
/// few freed buffers are kept instead.
#[derive(Default)]
struct Buffers(std::sync::Mutex<Vec<Vec<u8>>>);

/// Most free chunk buffers kept: as many as one file's chunks in flight at each end.
const KEPT_BUFFERS: usize = 8;

impl Buffers {
    /// An empty buffer with room for a sealed chunk and what its direct write needs.
    fn take(&self) -> Vec<u8> {
        let kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        kept.unwrap_or_else(|| Vec::with_capacity(direct::CAPACITY))
    }

    fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() < direct::CAPACITY {
            return;
        }
        buffer.clear();
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() < KEPT_BUFFERS {
            kept.push(buffer);
        }
    }

    /// `buffer` as a body: shared without copying, back here once the last holder is done.
    fn lend(self: &std::sync::Arc<Self>, buffer: Vec<u8>) -> axum::body::Bytes {
        axum::body::Bytes::from_owner(Lent {
            buffer,
            buffers: std::sync::Arc::clone(self),
        })
    }
}

struct Lent {
    buffer: Vec<u8>,
    buffers: std::sync::Arc<Buffers>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.buffers.give(std::mem::take(&mut self.buffer));
    }
}

/// Runs file work off the async threads; a failure is the node's, answered 500 and logged.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, Problem> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => {
            tracing::error!(%err, "attachment files cannot be written or read");
            Err(problems::INTERNAL.with("the node cannot keep attachment files now"))
        }
        Err(err) => {
            tracing::error!(%err, "attachment file work stopped");
            Err(problems::INTERNAL.with("the node cannot keep attachment files now"))
        }
    }
}

/// `Content-Digest` (RFC 9530) of one chunk: `sha-256=:…:`.
/// The file beside an upload's `data` (and, once sent, the outbox file's) that holds each sealed
/// chunk's SHA-256, written as the chunk was sealed.
const DIGESTS: &str = "digests";
/// Bytes of one chunk's SHA-256 in [`DIGESTS`].
const DIGEST_LEN: u64 = 32;

/// The `Content-Digest` of sealed chunk `index`, as `digests` kept it when the chunk was sealed;
/// `None` if it holds no digest of that chunk.
fn kept_digest(digests: &File, index: u64) -> io::Result<Option<String>> {
    use std::os::unix::fs::FileExt as _;
    let mut sha256 = [0u8; DIGEST_LEN as usize];
    match digests.read_exact_at(&mut sha256, index * DIGEST_LEN) {
        Ok(()) => Ok(Some(digest_header(&sha256))),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(err) => Err(err),
    }
}

fn content_digest(bytes: &[u8]) -> String {
    digest_header(&Sha256::digest(bytes))
}

/// A SHA-256 as a `Content-Digest` value.
fn digest_header(sha256: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(sha256)
    )
}
