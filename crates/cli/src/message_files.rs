//! Files for `utbyte message`: uploaded to the node with tus 1.0 before a letter names them,
//! resumed from the node's offset after a broken line, and fetched as a stream whose SHA-256 is
//! checked against the node's `Repr-Digest` before the file is kept. Both show a progress bar
//! on a terminal.

use anyhow::{bail, Context};
use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// Bytes sent in one `PATCH`: a broken line costs at most this much again.
const PIECE: usize = 8 << 20;
/// Attempts at one piece before the upload gives up.
const ATTEMPTS: u32 = 5;
const TUS: &str = "1.0.0";

/// The local API, as `utbyte message` calls it.
pub struct Local<'a> {
    pub client: &'a reqwest::Client,
    pub base: &'a str,
    pub token: &'a str,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A media type from the file's extension, for the recipient's case system.
fn media_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

/// Uploads `path`; the upload's id, for the letter's `attachments`.
pub async fn upload(local: &Local<'_>, path: &Path) -> anyhow::Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let length = file.metadata()?.len();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("the file's name is not UTF-8")?;
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let created = local
        .client
        .post(format!("{}/v1/uploads", local.base))
        .bearer_auth(local.token)
        .header("Tus-Resumable", TUS)
        .header("Upload-Length", length)
        .header(
            "Upload-Metadata",
            format!(
                "filename {},filetype {}",
                encode(name),
                encode(media_type(path))
            ),
        )
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .context("creating the upload")?;
    let location = match created.headers().get("location") {
        Some(location) if created.status().is_success() => location.to_str()?.to_owned(),
        _ => bail!(
            "the node did not create the upload: {}",
            problem(created).await
        ),
    };
    let id = location.rsplit('/').next().unwrap_or_default().to_owned();
    let url = format!("{}{location}", local.base);
    let progress = bar(length, name);
    let mut offset = 0u64;
    let mut failures = 0;
    let mut piece = vec![0u8; PIECE];
    while offset < length {
        let n = usize::try_from((length - offset).min(PIECE as u64))?;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut piece[..n])?;
        let sent = local
            .client
            .patch(&url)
            .bearer_auth(local.token)
            .header("Tus-Resumable", TUS)
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(piece[..n].to_vec())
            .timeout(Duration::from_secs(300))
            .send()
            .await;
        let saved = match sent {
            Ok(answer) if answer.status().is_success() => answer
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            Ok(answer) if answer.status().is_client_error() && answer.status() != 409 => {
                bail!("the node refused the upload: {}", problem(answer).await)
            }
            _ => None,
        };
        offset = match saved {
            Some(saved) => {
                failures = 0;
                saved
            }
            None => {
                // A broken line or a busy upload: ask where it stands and go on from there.
                failures += 1;
                if failures == ATTEMPTS {
                    bail!("the upload stopped at {offset} of {length} bytes; run again to resume");
                }
                tokio::time::sleep(Duration::from_secs(1 << failures)).await;
                head_offset(local, &url).await.unwrap_or(offset)
            }
        };
        progress.set_position(offset);
    }
    progress.finish();
    Ok(id)
}

async fn head_offset(local: &Local<'_>, url: &str) -> Option<u64> {
    let answer = local
        .client
        .head(url)
        .bearer_auth(local.token)
        .header("Tus-Resumable", TUS)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .ok()?;
    answer
        .headers()
        .get("upload-offset")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Fetches file `path` of the local API into `out`, kept only if its SHA-256 is the one the
/// node names.
pub async fn fetch(local: &Local<'_>, path: &str, out: &Path) -> anyhow::Result<u64> {
    let mut answer = local
        .client
        .get(format!("{}{path}", local.base))
        .bearer_auth(local.token)
        .send()
        .await
        .context("fetching the file")?;
    if !answer.status().is_success() {
        bail!("{}", problem(answer).await);
    }
    let expected = answer
        .headers()
        .get("repr-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("sha-256=:"))
        .and_then(|v| v.strip_suffix(':'))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .context("the node named no SHA-256 for the file")?;
    let progress = bar(answer.content_length().unwrap_or(0), "fetching");
    let partial = out.with_extension("part");
    let mut file = std::fs::File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut hash = Sha256::new();
    let mut written = 0u64;
    while let Some(bytes) = answer.chunk().await.context("the file's stream broke")? {
        hash.update(&bytes);
        file.write_all(&bytes)?;
        written += bytes.len() as u64;
        progress.set_position(written);
    }
    file.sync_all()?;
    progress.finish();
    if hash.finalize().as_slice() != expected.as_slice() {
        let _ = std::fs::remove_file(&partial);
        bail!("the file arrived altered: its SHA-256 is not the one the node named; nothing kept");
    }
    std::fs::rename(&partial, out)?;
    Ok(written)
}

/// A refusal's detail.
async fn problem(answer: reqwest::Response) -> String {
    let status = answer.status();
    let bytes = answer.bytes().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    format!(
        "{status}: {}",
        body["detail"]
            .as_str()
            .or(body["title"].as_str())
            .unwrap_or("no detail")
    )
}
