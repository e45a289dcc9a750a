//! The local API's uploads: tus 1.0 (core, `creation`, `termination`, `expiration`) at
//! `/v1/uploads`, so any tus client in any language can send a file of any size and resume it.
//!
//! An upload is a directory: `upload.json` (owner, declared length, name, media type, the file's
//! key sealed for this node's own message key, expiry), `data` (the sealed chunks written so
//! far, each exactly as it will travel), `digests` (each sealed chunk's SHA-256, 32 bytes a
//! chunk: the `Content-Digest` it travels with, computed once as it is sealed rather than at
//! every sending) and `progress.json` (how many chunks, the SHA-256 state of their plaintext,
//! and the unfinished last chunk sealed for the node's own key). A request
//! appends to what the last saved; the offset it reports is what was saved, so a client resumes
//! exactly there after a cut or a node restart. One request writes an upload at a time (a lock
//! on `upload.json`, which other instances sharing the directory respect too).

use super::{
    blocking, create_private_dir, hold, open_private, read_json, write_json, Attachments, Hold,
    Progress, DIGESTS, DIGEST_LEN,
};
use crate::access::Who;
use crate::problems;
use crate::state::NodeState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{options, patch};
use axum::Router;
use base64::Engine as _;
use http_body_util::BodyExt as _;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::paths;
use utbyte_http::{Path as UrlPath, Problem};
use utbyte_message::attachment::{self, AttachmentKey, Sha256State, CHUNK};
use utbyte_message::seal::{open_local, seal_local};
use utbyte_message::MessageKey;

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const TUS_VERSION: HeaderName = HeaderName::from_static("tus-version");
const TUS_EXTENSION: HeaderName = HeaderName::from_static("tus-extension");
const TUS_MAX_SIZE: HeaderName = HeaderName::from_static("tus-max-size");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_METADATA: HeaderName = HeaderName::from_static("upload-metadata");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
const UPLOAD_DEFER_LENGTH: HeaderName = HeaderName::from_static("upload-defer-length");
const VERSION: &str = "1.0.0";
/// Whole chunks written between two saves of the progress within one long request, so a
/// node that stops mid-request has saved most of what it took.
const SAVE_EVERY: u64 = 64;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::UPLOADS, options(capabilities).post(create))
        .route(paths::UPLOAD, patch(append).head(offset).delete(terminate))
}

/// What one upload is, as created.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Upload {
    pub id: String,
    /// The client that created it; only it may write, read or attach it.
    pub client: String,
    /// The officer a session or assertion vouched for, if any: only they may attach it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    pub length: u64,
    pub name: String,
    pub media_type: String,
    /// The file's key, sealed for this node's own message key (base64url).
    pub key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Upload {
    fn key_label(&self) -> String {
        format!("upload key {}", self.id)
    }

    fn tail_label(&self, chunks: u64) -> String {
        format!("upload tail {} {chunks}", self.id)
    }

    /// The file's key.
    pub(super) fn open_key(&self, keys: &[MessageKey]) -> io::Result<AttachmentKey> {
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.key)
            .map_err(io::Error::other)?;
        let bytes = open_local(keys, &self.key_label(), &sealed).map_err(io::Error::other)?;
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| io::Error::other("an upload's key is not 16 bytes"))?;
        Ok(AttachmentKey::from_bytes(bytes))
    }
}

/// An upload's files.
pub(super) struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub(super) fn new(attachments: &Attachments, id: &str) -> Option<Self> {
        // Ids are the node's own (hex); anything else names no upload.
        (!id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
            Self {
                dir: attachments.uploads().join(id),
            }
        })
    }
    pub(super) fn meta(&self) -> PathBuf {
        self.dir.join("upload.json")
    }
    pub(super) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub(super) fn digests(&self) -> PathBuf {
        self.dir.join(DIGESTS)
    }
    pub(super) fn progress(&self) -> PathBuf {
        self.dir.join("progress.json")
    }
    pub(super) fn read(&self) -> io::Result<Option<(Upload, Progress)>> {
        let Some(upload) = read_json::<Upload>(&self.meta())? else {
            return Ok(None);
        };
        let progress = read_json::<Progress>(&self.progress())?.unwrap_or_default();
        Ok(Some((upload, progress)))
    }
}

/// Bytes a progress stands for.
fn offset_of(upload: &Upload, progress: &Progress) -> u64 {
    if progress.done.is_some() {
        upload.length
    } else {
        progress.chunks * CHUNK as u64 + progress.tail_len
    }
}

/// An upload open for appending, held for this request.
struct Writer {
    upload: Upload,
    files: Files,
    key: AttachmentKey,
    own: utbyte_message::RecipientKey,
    data: File,
    digests: File,
    chunks: u64,
    sha256: Sha256State,
    /// Plaintext after the last whole chunk.
    buffer: Vec<u8>,
    /// Where each whole chunk is sealed.
    sealing: Vec<u8>,
    done: Option<String>,
    _hold: Hold,
}

#[derive(Debug, thiserror::Error)]
enum WriteError {
    #[error("no such upload")]
    Gone,
    #[error("another request is writing this upload; ask its offset and resume")]
    Busy,
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Writer {
    /// Opens `files` for appending: takes the hold, reads what was saved and cuts off anything
    /// written after the last save (it was never acknowledged).
    fn open(files: Files, keys: &[MessageKey]) -> Result<Self, WriteError> {
        let hold = hold(&files.meta())
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => WriteError::Gone,
                _ => WriteError::Io(e),
            })?
            .ok_or(WriteError::Busy)?;
        let (upload, progress) = files.read()?.ok_or(WriteError::Gone)?;
        let key = upload.open_key(keys)?;
        let own = keys
            .first()
            .ok_or_else(|| io::Error::other("this node holds no message key"))?
            .public()
            .clone();
        let data = open_private(&files.data())?;
        let digests = open_private(&files.digests())?;
        let buffer = match &progress.tail {
            Some(sealed) if progress.done.is_none() => {
                let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(sealed)
                    .map_err(io::Error::other)?;
                open_local(keys, &upload.tail_label(progress.chunks), &sealed)
                    .map_err(io::Error::other)?
            }
            _ => Vec::new(),
        };
        if progress.done.is_none() {
            data.set_len(progress.chunks * attachment::SEALED_CHUNK as u64)?;
            digests.set_len(progress.chunks * DIGEST_LEN)?;
        }
        Ok(Self {
            upload,
            files,
            key,
            own,
            data,
            digests,
            chunks: progress.chunks,
            sha256: progress.sha256,
            buffer,
            sealing: Vec::with_capacity(attachment::SEALED_CHUNK),
            done: progress.done,
            _hold: hold,
        })
    }

    fn offset(&self) -> u64 {
        if self.done.is_some() {
            self.upload.length
        } else {
            self.chunks * CHUNK as u64 + self.buffer.len() as u64
        }
    }

    fn is_last(&self, index: u64) -> bool {
        index + 1 == attachment::chunks(self.upload.length)
    }

    /// Seals and writes every whole chunk in the buffer but the file's last.
    fn write_whole_chunks(&mut self) -> io::Result<()> {
        while self.buffer.len() >= CHUNK && !self.is_last(self.chunks) {
            // Copied out to be sealed in a buffer kept for the next chunk: splitting the chunk
            // off the buffer would leave the rest to grow again to a chunk, fresh page by page.
            let mut chunk = std::mem::take(&mut self.sealing);
            chunk.clear();
            chunk.extend_from_slice(&self.buffer[..CHUNK]);
            // The plaintext is hashed for the whole file on a thread of its own while its copy
            // is sealed, hashed and written: the two hashes are most of an upload's work.
            let (plain, mut sha256, sealed) = (&self.buffer[..CHUNK], self.sha256, self.sealed());
            let written = std::thread::scope(|scope| {
                let hashing = scope.spawn(|| sha256.update_blocks(plain));
                let written = sealed.write(self.chunks, false, &mut chunk);
                if let Err(panicked) = hashing.join() {
                    std::panic::resume_unwind(panicked);
                }
                written
            });
            self.sealing = chunk;
            written?;
            self.sha256 = sha256;
            self.chunks += 1;
            self.buffer.drain(..CHUNK);
            if self.chunks.is_multiple_of(SAVE_EVERY) {
                self.save_progress(Vec::new())?;
            }
        }
        Ok(())
    }

    /// Saves what was written, finishing the file if it is whole.
    fn save(mut self) -> io::Result<u64> {
        self.write_whole_chunks()?;
        if self.done.is_none() && self.offset() == self.upload.length {
            let mut last = std::mem::take(&mut self.buffer);
            let digest = self.sha256.finish(&last);
            self.sealed().write(self.chunks, true, &mut last)?;
            self.chunks += 1;
            self.done = Some(hex::encode(digest));
        }
        let tail = std::mem::take(&mut self.buffer);
        self.save_progress(tail)?;
        Ok(self.offset())
    }

    fn sealed(&self) -> Sealed<'_> {
        Sealed {
            key: &self.key,
            data: &self.data,
            digests: &self.digests,
        }
    }

    /// Makes the chunks and their digests durable, then records them (and `tail`, sealed) as
    /// saved.
    fn save_progress(&mut self, tail: Vec<u8>) -> io::Result<()> {
        self.data.sync_data()?;
        self.digests.sync_data()?;
        let sealed_tail = if tail.is_empty() {
            None
        } else {
            let sealed = seal_local(&self.own, &self.upload.tail_label(self.chunks), &tail)
                .map_err(io::Error::other)?;
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
        };
        let progress = Progress {
            chunks: self.chunks,
            sha256: self.sha256,
            tail_len: tail.len() as u64,
            tail: sealed_tail,
            done: self.done.clone(),
        };
        // Saving a tail mid-request must not lose it from the buffer.
        if !tail.is_empty() && self.done.is_none() {
            self.buffer = tail;
        }
        write_json(&self.files.progress(), &progress)
    }
}

/// Where an upload's chunks are sealed and written.
struct Sealed<'a> {
    key: &'a AttachmentKey,
    data: &'a File,
    digests: &'a File,
}

impl Sealed<'_> {
    /// Seals `chunk` as chunk `index` (the file's last if `last`) and writes it and its digest.
    fn write(&self, index: u64, last: bool, chunk: &mut Vec<u8>) -> io::Result<()> {
        use sha2::Digest as _;
        use std::os::unix::fs::FileExt as _;
        self.key.seal_chunk(index, last, chunk);
        self.data
            .write_all_at(chunk, index * attachment::SEALED_CHUNK as u64)?;
        self.digests
            .write_all_at(&sha2::Sha256::digest(&chunk), index * DIGEST_LEN)
    }
}

/// The headers every tus answer carries.
fn tus_headers(headers: &mut HeaderMap) {
    headers.insert(TUS_RESUMABLE, HeaderValue::from_static(VERSION));
}

fn expires(at: OffsetDateTime) -> HeaderValue {
    let text = at
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default()
        .replace("+0000", "GMT");
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
}

/// A tus request names the protocol version it speaks; this node speaks 1.0.0 only. A value
/// that is not a version at all is a malformed header.
fn check_version(headers: &HeaderMap) -> Result<(), Problem> {
    let malformed = || {
        problems::INVALID_HEADER
            .with("a tus request carries `Tus-Resumable: 1.0.0`")
            .with_extension("header", "Tus-Resumable")
    };
    let value = headers
        .get(&TUS_RESUMABLE)
        .ok_or_else(malformed)?
        .to_str()
        .map_err(|_| malformed())?;
    if value == VERSION {
        return Ok(());
    }
    let is_version = value.split('.').count() == 3
        && value
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if is_version {
        Err(problems::TUS_VERSION.with("this node speaks tus 1.0.0 only"))
    } else {
        Err(malformed())
    }
}

fn number_header(headers: &HeaderMap, name: &HeaderName, shown: &str) -> Result<u64, Problem> {
    let invalid = || {
        problems::INVALID_HEADER
            .with(format!("`{shown}` is a non-negative whole number of bytes"))
            .with_extension("header", shown)
    };
    let text = headers
        .get(name)
        .ok_or_else(invalid)?
        .to_str()
        .map_err(|_| invalid())?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    // Beyond what a signed 64-bit integer (JSON's and OpenAPI's int64) holds, no size is meant.
    text.parse::<i64>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(invalid)
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs; `filename` (or `name`) and
/// `filetype` (or `type`) are read, the rest ignored. A header not in that form is malformed
/// (400); one in that form whose values are not UTF-8 text, a file name or a media type is
/// refused as what it says (422), as the OpenAPI document's pattern can say the form only.
fn metadata(headers: &HeaderMap) -> Result<(String, String), Problem> {
    let malformed = |why: &str| {
        problems::INVALID_HEADER
            .with(format!("`Upload-Metadata` {why}"))
            .with_extension("header", "Upload-Metadata")
    };
    let invalid = |why: &str| {
        problems::INVALID_REQUEST
            .with(format!("`Upload-Metadata` {why}"))
            .with_extension("header", "Upload-Metadata")
    };
    let mut name = None;
    let mut media_type = None;
    if let Some(value) = headers.get(&UPLOAD_METADATA) {
        let text = value.to_str().map_err(|_| malformed("is not ASCII"))?;
        if text.contains('\t') {
            return Err(malformed(
                "holds a tab; pairs are separated by spaces and commas",
            ));
        }
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| malformed(&format!("holds a value of `{key}` that is not base64")))?;
            let value = String::from_utf8(bytes).map_err(|_| {
                invalid(&format!("holds a value of `{key}` that is not UTF-8 text"))
            })?;
            match key {
                "filename" | "name" => name = Some(value),
                "filetype" | "type" => media_type = Some(value),
                _ => {}
            }
        }
    }
    let name = name.unwrap_or_else(|| "bilaga".to_owned());
    utbyte_message::file_name(&name).map_err(|e| invalid(&e.to_string()))?;
    let media_type = media_type.unwrap_or_else(|| "application/octet-stream".to_owned());
    let plausible = media_type.len() <= 100
        && media_type.split_once('/').is_some_and(|(t, s)| {
            !t.is_empty()
                && !s.is_empty()
                && media_type
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/+-.=; ".contains(&b))
        });
    if !plausible {
        return Err(invalid("holds a `filetype` that is not a media type"));
    }
    Ok((name, media_type))
}

/// What this node's tus endpoint does.
#[utoipa::path(
    operation_id = "uploads_options",
    options,
    path = paths::UPLOADS,
    tag = "messages",
    responses(
        (status = 204, description = "`Tus-Version`, `Tus-Extension` and `Tus-Max-Size`"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn capabilities(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(TUS_VERSION, HeaderValue::from_static(VERSION));
    headers.insert(
        TUS_EXTENSION,
        HeaderValue::from_static("creation,termination,expiration"),
    );
    headers.insert(TUS_MAX_SIZE, state.attachments.max_size.into());
    Ok(response)
}

/// Creates an upload (tus `creation`).
#[utoipa::path(
    operation_id = "uploads_create",
    post,
    path = paths::UPLOADS,
    tag = "messages",
    params(
        ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, pattern = r"^[ ,]*([!-+\--~]+( +([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?)? *(,[ ,]*|$))*$", description = "`filename` and `filetype`, base64 (tus: comma-separated `key value` pairs)"),
    ),
    responses(
        (status = 201, description = "Created; `Location` is where its bytes go"),
        (status = 400, description = "A tus header missing or malformed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`Upload-Metadata` in form, but a value is not UTF-8 text, a file name or a media type", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Another tus version", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than `Tus-Max-Size`, or beyond the client's quota", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    check_version(&headers)?;
    if headers.contains_key(&UPLOAD_DEFER_LENGTH) {
        return Err(problems::INVALID_HEADER
            .with("this node needs `Upload-Length` when an upload is created")
            .with_extension("header", "Upload-Defer-Length"));
    }
    let length = number_header(&headers, &UPLOAD_LENGTH, "Upload-Length")?;
    let attachments = &state.attachments;
    if length > attachments.max_size {
        return Err(problems::UPLOAD_TOO_LARGE.with(format!(
            "a file may hold at most {} bytes",
            attachments.max_size
        )));
    }
    let (name, media_type) = metadata(&headers)?;
    let key = AttachmentKey::generate().map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let own = state
        .messages
        .keys
        .first()
        .ok_or_else(|| problems::INTERNAL.with("this node holds no message key"))?
        .public()
        .clone();
    let mut raw_id = [0u8; 16];
    getrandom::fill(&mut raw_id).map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let id = hex::encode(raw_id);
    let mut upload = Upload {
        id: id.clone(),
        client: who.caller.client.clone(),
        officer: who.caller.officer.as_ref().map(|o| o.id.clone()),
        length,
        name,
        media_type,
        key: String::new(),
        expires_at: OffsetDateTime::now_utc() + attachments.upload_expiry,
    };
    let sealed = seal_local(&own, &upload.key_label(), &key.to_bytes())
        .map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    upload.key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    let expires_at = upload.expires_at;
    let state2 = Arc::clone(&state);
    blocking(move || {
        let attachments = &state2.attachments;
        let used = used_by(attachments, &upload.client)?;
        if used.saturating_add(upload.length) > attachments.upload_quota {
            return Ok(Err(problems::UPLOAD_TOO_LARGE.with(format!(
                "this client's unsent uploads would hold more than its quota of {} bytes",
                attachments.upload_quota
            ))));
        }
        let files = Files::new(attachments, &upload.id).ok_or_else(|| io::Error::other("id"))?;
        create_private_dir(&files.dir)?;
        open_private(&files.data())?;
        write_json(&files.meta(), &upload)?;
        Ok(Ok(()))
    })
    .await??;
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(UPLOAD_EXPIRES, expires(expires_at));
    if let Ok(location) = HeaderValue::from_str(&paths::UPLOAD.replace("{id}", &id)) {
        headers.insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Bytes `client`'s uploads hold (declared lengths).
fn used_by(attachments: &Attachments, client: &str) -> io::Result<u64> {
    let mut used = 0u64;
    for entry in std::fs::read_dir(attachments.uploads())? {
        let files = Files { dir: entry?.path() };
        if let Ok(Some(upload)) = read_json::<Upload>(&files.meta()) {
            if upload.client == client {
                used = used.saturating_add(upload.length);
            }
        }
    }
    Ok(used)
}

/// The upload `id` if `who` owns it.
async fn owned(state: &Arc<NodeState>, who: &Who, id: &str) -> Result<(Upload, Progress), Problem> {
    let gone = || problems::NO_SUCH_UPLOAD.with("no upload of this client has that id");
    let files = Files::new(&state.attachments, id).ok_or_else(gone)?;
    let (upload, progress) = blocking(move || files.read()).await?.ok_or_else(gone)?;
    if upload.client != who.caller.client {
        return Err(gone());
    }
    Ok((upload, progress))
}

/// How far an upload has come (tus `HEAD`).
#[utoipa::path(
    operation_id = "uploads_offset",
    head,
    path = paths::UPLOAD,
    tag = "messages",
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload's id"), ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`")),
    responses(
        (status = 200, description = "`Upload-Offset` and `Upload-Length`"),
        (status = 400, description = "A tus header missing or malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No upload of this client has that id"),
        (status = 412, description = "Another tus version"),
    )
)]
pub(crate) async fn offset(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    check_version(&headers)?;
    let (upload, progress) = owned(&state, &who, &id).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(UPLOAD_OFFSET, offset_of(&upload, &progress).into());
    headers.insert(UPLOAD_LENGTH, upload.length.into());
    headers.insert(UPLOAD_EXPIRES, expires(upload.expires_at));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Appends bytes at the offset the client names (tus `PATCH`).
#[utoipa::path(
    operation_id = "uploads_append",
    patch,
    path = paths::UPLOAD,
    tag = "messages",
    params(
        ("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload's id"),
        ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes go: the offset the node reported"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Saved; `Upload-Offset` is the new offset"),
        (status = 400, description = "A tus header missing or malformed, or more bytes than the upload's length", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No upload of this client has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`Upload-Offset` is not the upload's offset, or another request is writing it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Another tus version", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `application/offset+octet-stream`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn append(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    check_version(&headers)?;
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/offset+octet-stream")
    {
        return Err(problems::UNSUPPORTED_MEDIA_TYPE
            .with("tus bytes are sent as `application/offset+octet-stream`"));
    }
    let claimed = number_header(&headers, &UPLOAD_OFFSET, "Upload-Offset")?;
    let (upload, _) = owned(&state, &who, &id).await?;
    let files = Files::new(&state.attachments, &id)
        .ok_or_else(|| problems::NO_SUCH_UPLOAD.with("no upload of this client has that id"))?;
    let state2 = Arc::clone(&state);
    let opened = tokio::task::spawn_blocking(move || Writer::open(files, &state2.messages.keys))
        .await
        .map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let mut writer = match opened {
        Ok(writer) => writer,
        Err(WriteError::Gone) => {
            return Err(problems::NO_SUCH_UPLOAD.with("no upload of this client has that id"))
        }
        Err(WriteError::Busy) => {
            return Err(problems::UPLOAD_CONFLICT.with(WriteError::Busy.to_string()))
        }
        Err(WriteError::Io(err)) => {
            tracing::error!(%err, "an upload cannot be opened");
            return Err(problems::INTERNAL.with("the node cannot keep attachment files now"));
        }
    };
    if claimed != writer.offset() {
        return Err(problems::UPLOAD_CONFLICT
            .with(format!(
                "`Upload-Offset` is {claimed} but the upload holds {} bytes; resume from there",
                writer.offset()
            ))
            .with_extension("offset", writer.offset()));
    }
    let mut body = body;
    let mut overflow = false;
    loop {
        let frame = match body.frame().await {
            None => break,
            // The client went away or the connection broke: keep what came.
            Some(Err(_)) => break,
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if writer.offset() + data.len() as u64 > upload.length {
            overflow = true;
            break;
        }
        writer.buffer.extend_from_slice(&data);
        if writer.buffer.len() >= CHUNK && !writer.is_last(writer.chunks) {
            writer =
                tokio::task::spawn_blocking(move || writer.write_whole_chunks().map(|()| writer))
                    .await
                    .map_err(|e| problems::INTERNAL.with(e.to_string()))?
                    .map_err(|err| {
                        tracing::error!(%err, "an upload's chunk cannot be written");
                        problems::INTERNAL.with("the node cannot keep attachment files now")
                    })?;
        }
    }
    let saved = blocking(move || writer.save()).await?;
    if overflow {
        return Err(problems::INVALID_HEADER
            .with(format!(
                "the body runs past the upload's length of {} bytes; {saved} are saved",
                upload.length
            ))
            .with_extension("header", "Upload-Length"));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert(UPLOAD_OFFSET, saved.into());
    headers.insert(UPLOAD_EXPIRES, expires(upload.expires_at));
    Ok(response)
}

/// Removes an upload (tus `termination`).
#[utoipa::path(
    operation_id = "uploads_terminate",
    delete,
    path = paths::UPLOAD,
    tag = "messages",
    params(("id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The upload's id"), ("Tus-Resumable" = String, Header, pattern = "^1\\.0\\.0$", description = "`1.0.0`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "A tus header missing or malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No upload of this client has that id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request is writing it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Another tus version", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn terminate(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    check_version(&headers)?;
    owned(&state, &who, &id).await?;
    let files = Files::new(&state.attachments, &id)
        .ok_or_else(|| problems::NO_SUCH_UPLOAD.with("no upload of this client has that id"))?;
    let removed = blocking(move || remove_unheld(&files.dir, &files.meta())).await?;
    if !removed {
        return Err(problems::UPLOAD_CONFLICT.with(WriteError::Busy.to_string()));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_headers(response.headers_mut());
    Ok(response)
}

/// Removes `dir` unless a request holds `lock`; whether it did.
fn remove_unheld(dir: &Path, lock: &Path) -> io::Result<bool> {
    let Some(_hold) = hold(lock)? else {
        return Ok(false);
    };
    std::fs::remove_dir_all(dir)?;
    Ok(true)
}

/// Removes uploads past their expiry (not attached to any message in time).
pub(crate) fn sweep(attachments: &Attachments, now: OffsetDateTime) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(attachments.uploads())? {
        let files = Files { dir: entry?.path() };
        let expired = match read_json::<Upload>(&files.meta()) {
            Ok(Some(upload)) => upload.expires_at <= now,
            // Created but never described (the node stopped in between), or unreadable.
            Ok(None) | Err(_) => std::fs::metadata(&files.dir)
                .and_then(|m| m.modified())
                .is_ok_and(|t| {
                    t.elapsed()
                        .is_ok_and(|e| e > std::time::Duration::from_secs(3600))
                }),
        };
        if expired && remove_unheld(&files.dir, &files.meta())? {
            removed += 1;
        }
    }
    Ok(removed)
}
