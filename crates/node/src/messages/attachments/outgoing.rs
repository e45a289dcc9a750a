//! The sender's side: finished uploads taken into a message, and their chunks moved to the
//! recipient before the message itself.

use super::upload::{Files, Upload};
use super::{
    content_digest, create_private_dir, hold, kept_digest, read_chunk, Attachments, Hold, DIGESTS,
};
use crate::access::Acting;
use crate::exchange::ask::call_with;
use crate::exchange::ExchangeError;
use crate::state::{Exchange, NodeState};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use utbyte_federation::Member;
use utbyte_message::attachment::{self, Attachment, Transfer};
use utbyte_message::Envelope;

/// Where the recipient takes chunk `i` of a message's file `n`.
pub(crate) const CHUNK_PATH: &str = "/federation/v1/messages/{id}/attachments/{n}/chunks/{i}";
const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");
/// How often a chunk the recipient refused is sent again before the attempt fails.
const RESENDS: u32 = 3;

/// Uploads taken for a message, held until they are moved into its outbox directory.
pub(crate) struct Taken {
    pub attachments: Vec<Attachment>,
    pub transfers: Vec<Transfer>,
    /// Each upload's directory, unless it is in the outbox already.
    dirs: Vec<Option<PathBuf>>,
    _holds: Vec<Hold>,
}

/// Takes `ids` — finished uploads of `acting`'s client (and officer, if one was vouched for
/// when it was created) — for the message the client sends under `idempotency_key`: their
/// descriptions for the content and the envelope. An upload an earlier, interrupted attempt
/// under the same key already moved into the outbox is found there.
pub(crate) async fn take(
    state: &NodeState,
    acting: &Acting,
    idempotency_key: &str,
    ids: &[String],
) -> Result<Taken, ExchangeError> {
    if ids.len() > attachment::MAX_ATTACHMENTS {
        return Err(ExchangeError::InvalidRequest(format!(
            "a message carries at most {} files",
            attachment::MAX_ATTACHMENTS
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = ids.iter().find(|id| !seen.insert(*id)) {
        return Err(ExchangeError::InvalidRequest(format!(
            "upload `{}` is named twice",
            twice.chars().take(64).collect::<String>()
        )));
    }
    let outbox = state.attachments.outbox(&acting.client, idempotency_key);
    let (client, officer) = (acting.client.clone(), acting.officer.clone());
    let mut taken = Taken {
        attachments: Vec::new(),
        transfers: Vec::new(),
        dirs: Vec::new(),
        _holds: Vec::new(),
    };
    for (n, id) in ids.iter().enumerate() {
        let refuse = |why: &str| ExchangeError::InvalidRequest(format!("attachment {n}: {why}"));
        let mut files =
            Files::new(&state.attachments, id).ok_or_else(|| refuse("not an upload's id"))?;
        let moved = Files {
            dir: outbox.join(n.to_string()),
        };
        let already = !files.meta().exists()
            && matches!(moved.read(), Ok(Some((upload, _))) if upload.id == *id);
        if already {
            files = moved;
        }
        let hold = hold(&files.meta())
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => refuse("no upload of this client has that id"),
                _ => ExchangeError::Internal(e.to_string()),
            })?
            .ok_or_else(|| refuse("the upload is being written"))?;
        let (upload, progress) = files
            .read()
            .map_err(|e| ExchangeError::Internal(e.to_string()))?
            .ok_or_else(|| refuse("no upload of this client has that id"))?;
        if upload.client != client {
            return Err(refuse("no upload of this client has that id"));
        }
        if upload.officer.as_ref().is_some_and(|o| *o != officer) {
            return Err(refuse("the upload is another officer's"));
        }
        let Some(sha256) = progress.done else {
            return Err(refuse("the upload is not finished"));
        };
        let key = upload
            .open_key(&state.messages.keys)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        taken.attachments.push(description(&upload, sha256, &key));
        taken.transfers.push(Transfer {
            sealed_size: attachment::sealed_size(upload.length),
        });
        // Already in place: nothing to move.
        taken.dirs.push((!already).then_some(files.dir));
        taken._holds.push(hold);
    }
    Ok(taken)
}

fn description(upload: &Upload, sha256: String, key: &attachment::AttachmentKey) -> Attachment {
    Attachment {
        name: upload.name.clone(),
        media_type: upload.media_type.clone(),
        size: upload.length,
        sha256,
        key: key.encode(),
    }
}

/// Moves taken uploads into the outbox directory of the message `client` sends under
/// `idempotency_key` (before the message is posted: a message in the outbox always finds its
/// files, and a retry after a stop in between finds them moved).
pub(crate) async fn keep(
    attachments: &Attachments,
    client: &str,
    idempotency_key: &str,
    taken: Taken,
) -> Result<(), ExchangeError> {
    if taken.dirs.iter().all(Option::is_none) {
        return Ok(());
    }
    let target = attachments.outbox(client, idempotency_key);
    tokio::task::spawn_blocking(move || {
        create_private_dir(&target)?;
        for (n, dir) in taken.dirs.iter().enumerate() {
            if let Some(dir) = dir {
                std::fs::rename(dir, target.join(n.to_string()))?;
            }
        }
        drop(taken);
        Ok::<_, io::Error>(())
    })
    .await
    .map_err(|e| ExchangeError::Internal(e.to_string()))?
    .map_err(|e| ExchangeError::Internal(format!("uploads cannot be moved to the outbox: {e}")))
}

/// Removes a delivered message's files from the outbox.
pub(crate) async fn forget(attachments: &Attachments, client: &str, idempotency_key: &str) {
    let dir = attachments.outbox(client, idempotency_key);
    let removed = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    })
    .await;
    if let Ok(Err(err)) = removed {
        tracing::warn!(%err, "a delivered message's files cannot be removed");
    }
}

/// Why moving a file did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransferError {
    #[error("refused by the recipient: {0}")]
    Refused(String),
    #[error("{0}")]
    Transient(String),
}

/// Chunk requests of one file in flight at once: the recipient checks and opens each as it
/// comes and appends them in order, so the line, the sender's reading and the recipient's work
/// overlap.
pub(crate) const IN_FLIGHT: u64 = 4;

/// Moves every chunk of `envelope`'s files that the recipient does not hold (`held[n]` of file
/// `n`), in order, each with its digest, [`IN_FLIGHT`] at a time; extends the message's claim
/// as it goes.
pub(crate) async fn transfer(
    state: &Arc<NodeState>,
    ctx: &Exchange,
    member: &Member,
    entry: &utbyte_store::OutboxEntry,
    envelope: &Envelope,
    held: &[u64],
) -> Result<(), TransferError> {
    let transient = |e: &dyn std::fmt::Display| TransferError::Transient(e.to_string());
    let dir = state
        .attachments
        .outbox(&entry.message.client, &entry.message.idempotency_key);
    for (n, transfer) in envelope.attachments.iter().enumerate() {
        let from = held.get(n).copied().unwrap_or(0);
        let file_dir = dir.join(n.to_string());
        let (file, digests) = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(file_dir.join("data"))?;
            // Kept as the chunks were sealed; a file without them has each hashed as it is sent.
            let digests = match std::fs::File::open(file_dir.join(DIGESTS)) {
                Ok(digests) => Some(digests),
                Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                Err(err) => return Err(err),
            };
            Ok::<_, io::Error>((Arc::new(file), digests.map(Arc::new)))
        })
        .await
        .map_err(|e| transient(&e))?
        .map_err(|e| transient(&format!("the outbox's file {n} cannot be read: {e}")))?;
        // Each lane sends every IN_FLIGHT-th chunk; the recipient takes them in order.
        let mut lanes = tokio::task::JoinSet::new();
        for lane in 0..IN_FLIGHT {
            let (state, ctx, member) = (Arc::clone(state), ctx.clone(), member.clone());
            let (file, digests, id, sealed_size) = (
                Arc::clone(&file),
                digests.clone(),
                envelope.id.clone(),
                transfer.sealed_size,
            );
            let chunks = transfer.chunks();
            lanes.spawn(async move {
                let mut i = from + lane;
                while i < chunks {
                    let (reader, digests, buffers) = (
                        Arc::clone(&file),
                        digests.clone(),
                        Arc::clone(&state.attachments.buffers),
                    );
                    let (chunk, digest) = tokio::task::spawn_blocking(move || {
                        let mut chunk = buffers.take();
                        read_chunk(&reader, sealed_size, i, &mut chunk)?;
                        let kept = match &digests {
                            Some(digests) => kept_digest(digests, i)?,
                            None => None,
                        };
                        let digest = kept.unwrap_or_else(|| content_digest(&chunk));
                        Ok::<_, io::Error>((buffers.lend(chunk), digest))
                    })
                    .await
                    .map_err(|e| TransferError::Transient(e.to_string()))?
                    .map_err(|e| {
                        TransferError::Transient(format!(
                            "the outbox's file {n} cannot be read: {e}"
                        ))
                    })?;
                    send_chunk(&state, &ctx, &member, &id, n, i, chunk, &digest).await?;
                    i += IN_FLIGHT;
                }
                Ok::<_, TransferError>(())
            });
        }
        let mut claimed_at = Instant::now();
        let mut failed = None;
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), lanes.join_next()).await;
            match next {
                Ok(None) => break,
                Ok(Some(Ok(Ok(())))) => {}
                Ok(Some(Ok(Err(err)))) => {
                    // One lane failed: the others stop too, and the next attempt resumes at
                    // the first chunk the recipient lacks.
                    failed.get_or_insert(err);
                    lanes.abort_all();
                }
                Ok(Some(Err(err))) if err.is_cancelled() => {}
                Ok(Some(Err(err))) => {
                    failed.get_or_insert(transient(&err));
                    lanes.abort_all();
                }
                Err(_) => {}
            }
            if claimed_at.elapsed() > Duration::from_secs(20) {
                let now = time::OffsetDateTime::now_utc();
                state
                    .exchange
                    .extend_message_claim(&envelope.id, now + super::super::deliver::CLAIM, now)
                    .await
                    .map_err(|e| transient(&e))?;
                claimed_at = Instant::now();
            }
        }
        if let Some(err) = failed {
            return Err(err);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn send_chunk(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    id: &str,
    n: usize,
    i: u64,
    chunk: axum::body::Bytes,
    digest: &str,
) -> Result<(), TransferError> {
    let path = utbyte_api::paths::with(CHUNK_PATH, id)
        .replace("{n}", &n.to_string())
        .replace("{i}", &i.to_string());
    let mut refused = 0;
    let mut digest = digest.to_owned();
    loop {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(
            CONTENT_DIGEST,
            HeaderValue::from_str(&digest).map_err(|e| TransferError::Transient(e.to_string()))?,
        );
        let response = call_with(
            state,
            ctx,
            member,
            Method::PUT,
            &path,
            Some(chunk.clone()),
            headers,
        )
        .await
        .map_err(|e: ExchangeError| TransferError::Transient(e.to_string()))?;
        let detail = || {
            serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v["detail"].as_str().map(str::to_owned))
                .unwrap_or_else(|| response.status.to_string())
        };
        match response.status {
            s if s.is_success() => return Ok(()),
            // Damaged on the way: the same bytes again, a few times.
            StatusCode::UNPROCESSABLE_ENTITY if refused < RESENDS => {
                refused += 1;
                // The digest kept when the chunk was sealed is checked against the chunk itself.
                digest = content_digest(&chunk);
                tracing::warn!(
                    chunk = i,
                    file = n,
                    "the recipient refused a chunk; sending it again"
                );
            }
            s if s.is_client_error() && s != StatusCode::CONFLICT && s != StatusCode::NOT_FOUND => {
                return Err(TransferError::Refused(detail()))
            }
            _ => return Err(TransferError::Transient(detail())),
        }
    }
}
