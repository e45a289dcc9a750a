//! The recipient's side: a message's files arriving chunk by chunk, checked as they come, and
//! streamed to the case system that fetches them.
//!
//! A message with files arrives first on its own (`receive`): it is checked and opened as any
//! message is, kept as `parcel.json` in its inbox directory, and answered
//! `attachments-incomplete` with how many chunks of each file are held. Its chunks then arrive
//! at [`CHUNK_PATH`](super::outgoing::CHUNK_PATH), a few at once; each must match its
//! `Content-Digest` (hashed as it arrives) and, at its turn, open with its file's key at its
//! place once written there, or it is refused and sent again.
//! When the last chunk of a file has come, the SHA-256 of the whole plaintext must be the one
//! the content declares. The message is taken in only when every file is whole.

use super::direct::Arriving;
use super::outgoing::CHUNK_PATH;
use super::{
    blocking, create_private_dir, digest_header, hold, open_private, read_chunk, read_json,
    write_json, Attachments, Buffers, Progress,
};
use crate::problems;
use crate::state::NodeState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use axum::{Extension, Router};
use base64::Engine as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use utbyte_http::{Path as UrlPath, Peer, Problem};
use utbyte_message::attachment::{AttachmentKey, SEALED_CHUNK};
use utbyte_message::{Content, Envelope, Parcel, Transfer};

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new().route(CHUNK_PATH, put(chunk))
}

fn parcel_path(dir: &Path) -> PathBuf {
    dir.join("parcel.json")
}

fn data_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("{n}.data"))
}

fn progress_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("{n}.progress.json"))
}

/// How many chunks of each file of the message in `dir` are held (as appended here, or as last
/// saved), and whether all are whole.
fn held(turns: &Turns, dir: &Path, files: usize) -> io::Result<(Vec<u64>, bool)> {
    let mut held = Vec::with_capacity(files);
    let mut whole = true;
    for n in 0..files {
        let file = progress_path(dir, n);
        let progress = match turns.peek(&file) {
            Some(progress) => progress,
            None => read_json::<Progress>(&file)?.unwrap_or_default(),
        };
        whole &= progress.done.is_some();
        held.push(progress.chunks);
    }
    Ok((held, whole))
}

/// Whether a message that arrived with `content` may be taken in: it has no files, or every
/// file is whole. Otherwise the message is kept to receive its files and the answer says which
/// chunks are held.
pub(crate) async fn check_whole(
    state: &Arc<NodeState>,
    envelope: &Envelope,
    content: &Content,
    parcel: &Parcel,
) -> Result<(), Problem> {
    if envelope.attachments.is_empty() && content.attachments.is_empty() {
        return Ok(());
    }
    let matches = envelope.attachments.len() == content.attachments.len()
        && envelope
            .attachments
            .iter()
            .zip(&content.attachments)
            .all(|(t, a)| {
                t.sealed_size == utbyte_message::attachment::sealed_size(a.size)
                    && AttachmentKey::decode(&a.key).is_ok()
            });
    if !matches {
        return Err(problems::MESSAGE_REFUSED
            .with("the envelope's files are not the ones the content describes"));
    }
    let dir = state
        .attachments
        .inbox(&envelope.from.authority, &envelope.id);
    let sender_dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    let files = envelope.attachments.len();
    let incoming: u64 = envelope.attachments.iter().map(|t| t.sealed_size).sum();
    let quota = state.attachments.incoming_quota;
    let parcel = parcel.clone();
    let turns = Arc::clone(&state.attachments.turns);
    enum Found {
        Whole,
        Held(Vec<u64>),
        Other,
        Quota,
    }
    let found = blocking(move || {
        let (held_now, whole) = held(&turns, &dir, files)?;
        if whole {
            return Ok(Found::Whole);
        }
        match read_json::<Parcel>(&parcel_path(&dir))? {
            Some(kept) if kept != parcel => return Ok(Found::Other),
            Some(_) => {}
            None => {
                if pending_bytes(&turns, &sender_dir)?.saturating_add(incoming) > quota {
                    return Ok(Found::Quota);
                }
                create_private_dir(&dir)?;
                write_json(&parcel_path(&dir), &parcel)?;
            }
        }
        Ok(Found::Held(held_now))
    })
    .await?;
    match found {
        Found::Whole => Ok(()),
        Found::Held(held) => Err(problems::ATTACHMENTS_INCOMPLETE
            .with("send the chunks not yet held, then the message again")
            .with_extension("held", held)),
        Found::Other => Err(problems::MESSAGE_REFUSED
            .with("another message with this id is arriving from this sender")),
        Found::Quota => Err(problems::ATTACHMENT_QUOTA.with(format!(
            "files from this sender not yet whole would hold more than {quota} bytes"
        ))),
    }
}

/// Sealed bytes of the files not yet whole of the messages in one sender's directory.
fn pending_bytes(turns: &Turns, sender_dir: &Path) -> io::Result<u64> {
    let entries = match std::fs::read_dir(sender_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut pending = 0u64;
    for entry in entries {
        let dir = entry?.path();
        let Some(parcel) = read_json::<Parcel>(&parcel_path(&dir))? else {
            continue;
        };
        let Ok(envelope) = Envelope::from_json(&parcel.envelope) else {
            continue;
        };
        let (_, whole) = held(turns, &dir, envelope.attachments.len())?;
        if !whole {
            pending =
                pending.saturating_add(envelope.attachments.iter().map(|t| t.sealed_size).sum());
        }
    }
    Ok(pending)
}

/// What a chunk's request was answered.
enum Taken {
    Kept,
    Ahead(Vec<u64>),
    Refused(String),
    Busy,
}

/// How long a chunk waits for those before it to be appended.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Chunks that arrived before their predecessors were appended wait here for their turn: the
/// sender keeps a few chunks of a file in flight, each is checked against its digest as it
/// comes, and they are written, opened and hashed in order. The progress of a file being
/// appended is kept here too, and saved beside the file (after the chunks are made durable)
/// every [`SAVE_EVERY`] chunks and at the end; a node that stops in between resumes from the
/// last save, and the sender sends the chunks after it again.
#[derive(Default)]
pub(super) struct Turns(std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<Turn>>>);

#[derive(Default)]
struct Turn {
    moved: tokio::sync::Notify,
    /// What the message says of the file, opened once.
    opened: std::sync::OnceLock<Opened>,
    /// The file's progress, ahead of the saved one.
    progress: std::sync::Mutex<Option<Progress>>,
}

/// What the recipient needs of one arriving file, from its message.
#[derive(Clone)]
struct Opened {
    transfer: Transfer,
    key: AttachmentKey,
    /// The plaintext's SHA-256, hex.
    sha256: String,
    /// How many files the message has.
    files: usize,
}

/// File `n` of the message arriving in `dir`, as its kept parcel describes it; `None` if no
/// such message or file is arriving.
async fn open_file(state: &NodeState, dir: &Path, n: usize) -> Result<Option<Opened>, Problem> {
    let parcel = {
        let dir = dir.to_path_buf();
        blocking(move || read_json::<Parcel>(&parcel_path(&dir))).await?
    };
    let Some(parcel) = parcel else {
        return Ok(None);
    };
    let opened = (|| {
        let envelope = Envelope::from_json(&parcel.envelope).ok()?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parcel.content)
            .ok()?;
        let content =
            utbyte_message::seal::open(&state.messages.keys, &parcel.envelope, &sealed).ok()?;
        let (transfer, attachment) = (envelope.attachments.get(n)?, content.attachments.get(n)?);
        Some(Opened {
            transfer: transfer.clone(),
            key: AttachmentKey::decode(&attachment.key).ok()?,
            sha256: attachment.sha256.clone(),
            files: envelope.attachments.len(),
        })
    })();
    Ok(opened)
}

/// Chunks appended between two saves of a file's progress.
const SAVE_EVERY: u64 = 16;

impl Turns {
    fn of(&self, file: &Path) -> Arc<Turn> {
        let mut turns = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(turns.entry(file.to_path_buf()).or_default())
    }

    /// The progress of `file` as appended here, if it is being appended.
    fn peek(&self, file: &Path) -> Option<Progress> {
        let turns = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        turns.get(file)?.kept()
    }

    /// A chunk of `file` was appended (or the file is whole): whoever waits looks again.
    fn moved(&self, file: &Path, whole: bool) {
        let mut turns = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let turn = if whole {
            turns.remove(file)
        } else {
            turns.get(file).cloned()
        };
        if let Some(turn) = turn {
            turn.moved.notify_waiters();
        }
    }
}

impl Turn {
    /// The file's progress as appended here, if it is.
    fn kept(&self) -> Option<Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The file's progress: as appended here, or as last saved.
    fn progress(&self, file: &Path) -> io::Result<Progress> {
        match self.kept() {
            Some(progress) => Ok(progress),
            None => Ok(read_json::<Progress>(file)?.unwrap_or_default()),
        }
    }

    /// [`progress`](Self::progress), read off the async threads only when it is not here.
    async fn progress_now(self: &Arc<Self>, file: &Path) -> Result<Progress, Problem> {
        match self.kept() {
            Some(progress) => Ok(progress),
            None => {
                let (turn, file) = (Arc::clone(self), file.to_path_buf());
                blocking(move || turn.progress(&file)).await
            }
        }
    }

    fn keep(&self, progress: Progress) {
        *self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(progress);
    }
}

/// Takes chunk `i` of file `n` of message `id` from the member the certificate names.
#[utoipa::path(
    operation_id = "federation_message_chunk",
    put,
    path = CHUNK_PATH,
    tag = "federation",
    params(
        ("id" = String, Path, description = "The message's id"),
        ("n" = usize, Path, minimum = 0, maximum = 19, description = "The file, from 0"),
        ("i" = u64, Path, minimum = 0, maximum = 1_048_576, description = "The chunk, from 0"),
        ("Content-Digest" = String, Header, description = "`sha-256=:…:` of the sealed chunk (RFC 9530)"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 204, description = "Held (also a chunk held before)"),
        (status = 400, description = "No `Content-Digest`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message is arriving from this sender, or no such file", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too far ahead of the chunks held (`held` says how many are), or another delivery is writing the file", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The chunk does not match its digest or does not open; send it again", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn chunk(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    UrlPath((id, n, i)): UrlPath<(String, usize, u64)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, Problem> {
    let ctx = state.exchange_context()?;
    if ctx
        .config
        .member_by_certificate(&peer.fingerprint.to_string())
        .is_none()
    {
        return Err(problems::NOT_A_MEMBER.with("the certificate is not a listed member's"));
    }
    let digest = headers
        .get("content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            problems::INVALID_HEADER
                .with("a chunk carries its `Content-Digest` (sha-256)")
                .with_extension("header", "Content-Digest")
        })?;
    let dir = state.attachments.inbox(peer.authority.as_str(), &id);
    let none = || {
        problems::NO_SUCH_MESSAGE
            .with("no such message or file is arriving from this sender; send the message first")
    };
    let answer = |taken: Taken| match taken {
        Taken::Kept => Ok(StatusCode::NO_CONTENT),
        Taken::Ahead(held) => Err(problems::ATTACHMENTS_INCOMPLETE
            .with("too far ahead: send from the chunk after those held")
            .with_extension("held", held)),
        Taken::Refused(why) => Err(problems::CHUNK_REFUSED.with(why)),
        Taken::Busy => Err(problems::ATTACHMENTS_INCOMPLETE
            .with("another delivery is writing this file; send again shortly")),
    };
    let progress_file = progress_path(&dir, n);
    let turn = state.attachments.turns.of(&progress_file);
    let turns = &state.attachments.turns;
    let opened = match turn.opened.get() {
        Some(opened) => opened.clone(),
        None => {
            let opened = open_file(&state, &dir, n).await?.ok_or_else(none)?;
            turn.opened.get_or_init(|| opened).clone()
        }
    };
    let Opened {
        transfer,
        key,
        sha256: expected_sha,
        files,
    } = opened;

    let buffers = Arc::clone(&state.attachments.buffers);
    let (arriving, arrived_digest) = collect(&buffers, body, i).await?;

    // First what needs no order: the chunk's place, size and digest (taken as it arrived).
    // Its writing, opening and the hashing of its plaintext wait for the chunks before it.
    let progress = turn.progress_now(&progress_file).await?;
    let (held_now, whole) = (progress.chunks, progress.done.is_some());
    if whole || i < held_now {
        return answer(Taken::Kept);
    }
    if i >= transfer.chunks() {
        return answer(Taken::Refused(format!(
            "file {n} has {} chunks",
            transfer.chunks()
        )));
    }
    if i >= held_now + 2 * super::outgoing::IN_FLIGHT {
        let (dir, state_turns) = (dir.clone(), Arc::clone(turns));
        let held = blocking(move || held(&state_turns, &dir, files)).await?.0;
        return answer(Taken::Ahead(held));
    }
    let len = arriving.chunk().len();
    if len != transfer.chunk_len(i) {
        return answer(Taken::Refused(format!(
            "chunk {i} holds {len} bytes where {} were expected",
            transfer.chunk_len(i)
        )));
    }
    if arrived_digest != digest {
        return answer(Taken::Refused(format!(
            "chunk {i} does not match its Content-Digest"
        )));
    }
    let mut arriving = arriving;
    let last = i + 1 == transfer.chunks();

    // Then its turn: the chunks before it appended.
    let deadline = tokio::time::Instant::now() + TURN_WAIT;
    loop {
        let moved = turn.moved.notified();
        tokio::pin!(moved);
        moved.as_mut().enable();
        let (held_now, whole) = {
            let progress = turn.progress_now(&progress_file).await?;
            (progress.chunks, progress.done.is_some())
        };
        if whole || i < held_now {
            return answer(Taken::Kept);
        }
        if i == held_now {
            break;
        }
        if tokio::time::timeout_at(deadline, moved).await.is_err() {
            let (dir, state_turns) = (dir.clone(), Arc::clone(turns));
            let held = blocking(move || held(&state_turns, &dir, files)).await?.0;
            return answer(Taken::Ahead(held));
        }
    }

    // Appended in order, under the file's lock (which other instances respect too).
    let appended = {
        let (dir, turn, progress_file, state_turns) = (
            dir.clone(),
            Arc::clone(&turn),
            progress_file.clone(),
            Arc::clone(turns),
        );
        blocking(move || {
            let Some(_hold) = hold(&dir.join(format!("{n}.lock")))? else {
                return Ok((Taken::Busy, false));
            };
            let mut progress = turn.progress(&progress_file)?;
            if progress.done.is_some() || i < progress.chunks {
                return Ok((Taken::Kept, progress.done.is_some()));
            }
            if i > progress.chunks {
                return Ok((Taken::Ahead(held(&state_turns, &dir, files)?.0), false));
            }
            // Written at its place, then opened there: one that does not open is written
            // over when it is sent again.
            let path = data_path(&dir, n);
            arriving.write(&path)?;
            let data = open_private(&path)?;
            if last {
                data.set_len(transfer.sealed_size)?;
            }
            let Ok(opened) = key.open_in_place(i, last, arriving.chunk_mut()) else {
                buffers.give(arriving.into_buffer());
                return Ok((
                    Taken::Refused(format!("chunk {i} does not open with its file's key")),
                    false,
                ));
            };
            let plain = &arriving.chunk()[..opened];
            if last {
                let whole = hex::encode(progress.sha256.finish(plain));
                if whole != expected_sha {
                    data.set_len(0)?;
                    turn.keep(Progress::default());
                    write_json(&progress_file, &Progress::default())?;
                    return Ok((
                        Taken::Refused(format!(
                            "file {n} is whole but not the file its SHA-256 names; send it again from the start"
                        )),
                        false,
                    ));
                }
                progress.done = Some(whole);
            } else {
                progress.sha256.update_blocks(plain);
            }
            progress.chunks = i + 1;
            if last || progress.chunks.is_multiple_of(SAVE_EVERY) {
                data.sync_data()?;
                write_json(&progress_file, &progress)?;
            }
            let whole = progress.done.is_some();
            turn.keep(progress);
            buffers.give(arriving.into_buffer());
            Ok((Taken::Kept, whole))
        })
        .await?
    };
    state.attachments.turns.moved(&progress_file, appended.1);
    answer(appended.0)
}

/// Reads chunk `index`'s body into a buffer of `buffers`, refusing one longer than a sealed
/// chunk; with its `Content-Digest`, hashed as it arrives.
async fn collect(
    buffers: &Buffers,
    mut body: Body,
    index: u64,
) -> Result<(Arriving, String), Problem> {
    use http_body_util::BodyExt as _;
    use sha2::Digest as _;
    let mut arriving = Arriving::new(buffers.take(), index);
    let mut hash = sha2::Sha256::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| problems::MALFORMED_BODY.with("the chunk's body was cut short"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if !arriving.extend(&data) {
            return Err(problems::BODY_TOO_LARGE
                .with(format!("a chunk holds at most {SEALED_CHUNK} bytes")));
        }
        hash.update(&data);
    }
    Ok((arriving, digest_header(&hash.finalize())))
}

/// Streams file `n` of a received message to a case system: each chunk opened with the file's
/// key as it is read, one chunk in memory at a time.
pub(crate) async fn fetch(
    attachments: &Attachments,
    sender: &str,
    envelope: &Envelope,
    content: &Content,
    n: usize,
) -> Result<Response, Problem> {
    let none = || problems::NO_SUCH_MESSAGE.with("the message has no such file");
    let (Some(transfer), Some(attachment)) =
        (envelope.attachments.get(n), content.attachments.get(n))
    else {
        return Err(none());
    };
    let key = AttachmentKey::decode(&attachment.key).map_err(|_| none())?;
    let path = data_path(&attachments.inbox(sender, &envelope.id), n);
    let file = blocking(move || std::fs::File::open(path)).await?;
    let transfer = transfer.clone();
    let buffers = Arc::clone(&attachments.buffers);
    let (sender_tx, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        for i in 0..transfer.chunks() {
            let last = i + 1 == transfer.chunks();
            let mut chunk = buffers.take();
            let chunk = read_chunk(&file, transfer.sealed_size, i, &mut chunk)
                .and_then(|()| {
                    key.open_chunk(i, last, &mut chunk)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                })
                .map(|()| buffers.lend(chunk));
            let failed = chunk.is_err();
            if let Err(err) = &chunk {
                tracing::error!(%err, chunk = i, "a received file cannot be read; its fetch is cut short");
            }
            if sender_tx.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    let mut response = Response::new(Body::new(crate::streamed::ChannelBody(receiver)));
    let headers = response.headers_mut();
    let media_type = HeaderValue::from_str(&attachment.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, media_type);
    headers.insert(header::CONTENT_LENGTH, attachment.size.into());
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename*=UTF-8''{}",
        percent(&attachment.name)
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    if let Ok(digest) = hex::decode(&attachment.sha256) {
        if let Ok(value) = HeaderValue::from_str(&digest_header(&digest)) {
            headers.insert("repr-digest", value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response.into_response())
}

/// RFC 8187 value characters: everything but attr-chars percent-encoded.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
