//! Files attached to messages, end to end between two real nodes: uploaded with a tus client
//! written elsewhere (tuspy) over a line that breaks once, sealed in chunks, moved chunk by
//! chunk over mutual TLS, fetched whole by the recipient's case system.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_problem, call, case_system_token, federation_on, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use utbyte_synthetic::material::noise;

const UBM: &str = "utbetalningsmyndigheten";
const FK: &str = "forsakringskassan";

/// Uploads `file` with `scripts/tus-upload` (tuspy), which cuts its line once mid-request and
/// resumes; the script's report.
fn tus_upload(local: SocketAddr, file: &Path, name: &str, media_type: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tus-upload");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(format!("http://{local}"))
        .arg(case_system_token())
        .arg(file)
        .args(["--name", name, "--type", media_type])
        .output()
        .expect("python3 runs (pip install -r requirements.txt)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "tuspy is missing (pip install -r requirements.txt): {stderr}"
    );
    assert!(output.status.success(), "tus-upload failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Writes `file` under `dir` as `name` and uploads it to `local` with [`tus_upload`]: the
/// upload's id.
fn upload(local: SocketAddr, dir: &Path, name: &str, file: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    let report = tus_upload(local, &path, name, "application/octet-stream");
    report["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// A GET whose answer is kept as bytes, with its headers.
async fn fetch(addr: SocketAddr, path: &str) -> (u16, http::HeaderMap, Vec<u8>) {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::client::legacy::Client;
    let client: Client<_, Empty<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let request = http::Request::get(format!("http://{addr}{path}"))
        .header("authorization", format!("Bearer {}", case_system_token()))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

fn letter(attachments: &[&str]) -> Value {
    json!({
        "officer": "kontrollant-3",
        "unit": "ubm-kontroll",
        "role": "kontrollant",
        "to": {"authority": FK, "unit": "fk-kontroll"},
        "kind": {"type": "free_text"},
        "title": "Underlag till utredning",
        "text": "Hej,\n\nunderlaget bifogas.\n",
        "case_ref": "UBM 2026/01300",
        "attachments": attachments,
    })
}

/// Sends a letter carrying `upload` from `sender`'s case system; its id once it is delivered.
async fn send_until_delivered(sender: SocketAddr, upload: &str) -> String {
    let sent = call(
        sender,
        "POST",
        "/v1/messages",
        &[("idempotency-key", "l-1")],
        Some(serde_json::to_vec(&letter(&[upload])).unwrap()),
    )
    .await;
    assert_eq!(sent.status, 201, "{:#}", sent.body);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    until("delivered", async || {
        let out = call(
            sender,
            "GET",
            &format!("/v1/messages/outbox/{id}"),
            &[],
            None,
        )
        .await;
        out.body["state"] == "delivered"
    })
    .await;
    id
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not reached within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_over_a_broken_line_travels_sealed_and_arrives_whole() {
    let (dir, federation) = federation_on(Engine::Sqlite, &[UBM, FK]).await;
    let ubm = federation.node(UBM).unwrap().local_addr;
    let fk = federation.node(FK).unwrap().local_addr;
    let nodes = dir.path().join("f").join("nodes");
    let file = noise(5 * (1 << 20) + 12_345, 7);
    let path = dir.path().join("förhör.bin");
    std::fs::write(&path, &file).unwrap();

    let report = tus_upload(ubm, &path, "Förhör 2026-03-02.pdf", "application/pdf");
    let resumed_from = report["resumed_from"].as_u64().unwrap();
    assert!(
        resumed_from > 1 << 20 && resumed_from < file.len() as u64,
        "the node kept what came before the cut and the client resumed there, not from 0: {report}"
    );
    let upload = report["url"].as_str().unwrap().rsplit('/').next().unwrap();

    // What the sender keeps of the upload is sealed: no stretch of the file is in it.
    let staged = files_under(&nodes.join(UBM).join("attachments"));
    assert!(!staged.is_empty());
    assert_holds_no_plaintext(&staged, &file);

    // Someone else's upload, or an unfinished one, cannot be attached.
    let sent = call(
        ubm,
        "POST",
        "/v1/messages",
        &[("idempotency-key", "l-0")],
        Some(serde_json::to_vec(&letter(&["00112233445566778899aabbccddeeff"])).unwrap()),
    )
    .await;
    assert_problem(&sent, 422, "invalid-request");

    let id = send_until_delivered(ubm, upload).await;

    // Delivered: the sender no longer keeps the file, the recipient keeps it sealed.
    until("the sender's copy removed", async || {
        files_under(&nodes.join(UBM).join("attachments")).is_empty()
    })
    .await;
    assert_holds_no_plaintext(&files_under(&nodes.join(FK).join("attachments")), &file);

    let message = call(
        fk,
        "GET",
        &format!("/v1/messages/inbox/{UBM}/{id}"),
        &[],
        None,
    )
    .await;
    assert_eq!(message.status, 200, "{:#}", message.body);
    let sha256 = hex::encode(Sha256::digest(&file));
    assert_eq!(
        message.body["content"]["attachments"],
        json!([{
            "name": "Förhör 2026-03-02.pdf",
            "media_type": "application/pdf",
            "size": file.len(),
            "sha256": sha256,
        }])
    );
    let (status, headers, fetched) =
        fetch(fk, &format!("/v1/messages/inbox/{UBM}/{id}/attachments/0")).await;
    assert_eq!(status, 200);
    assert!(fetched == file, "the file arrives whole and unaltered");
    assert_eq!(headers["content-type"], "application/pdf");
    use base64::Engine as _;
    assert_eq!(
        headers["repr-digest"],
        format!(
            "sha-256=:{}:",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&file))
        )
        .as_str()
    );
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename*=UTF-8''F%C3%B6rh%C3%B6r%202026-03-02.pdf"));
    let (status, _, _) = fetch(fk, &format!("/v1/messages/inbox/{UBM}/{id}/attachments/1")).await;
    assert_eq!(status, 404, "there is one file");

    // Taken by the case system and receipted back: past its retention, the file goes too.
    let taker = json!({"officer": "handlaggare-9", "unit": "fk-kontroll", "role": "handlaggare"});
    let accept = call(
        fk,
        "POST",
        &format!("/v1/messages/inbox/{UBM}/{id}/accept"),
        &[],
        Some(serde_json::to_vec(&taker).unwrap()),
    )
    .await;
    assert_eq!(accept.status, 200, "{:#}", accept.body);
    until("the accepted receipt back at the sender", async || {
        let out = call(ubm, "GET", &format!("/v1/messages/outbox/{id}"), &[], None).await;
        out.body["state"] == "accepted"
    })
    .await;
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(31);
    let forgotten = federation
        .node(FK)
        .unwrap()
        .forget_past_retention(later)
        .await;
    assert_eq!(
        forgotten.unwrap(),
        utbyte_node::retention::Forgotten {
            messages: 1,
            ..Default::default()
        }
    );
    assert_eq!(
        files_under(&nodes.join(FK).join("attachments")),
        Vec::<PathBuf>::new()
    );
    let (status, _, _) = fetch(fk, &format!("/v1/messages/inbox/{UBM}/{id}/attachments/0")).await;
    assert_eq!(status, 404);
}

/// No 64-byte stretch of `plain`, taken at several places, is in any of `files`.
fn assert_holds_no_plaintext(files: &[PathBuf], plain: &[u8]) {
    let probes: Vec<&[u8]> = [0, 1 << 20, plain.len() / 2, plain.len() - 64]
        .iter()
        .map(|&at| &plain[at..at + 64])
        .collect();
    for file in files {
        let stored = std::fs::read(file).unwrap();
        for probe in &probes {
            assert!(
                !stored.windows(64).any(|w| w == *probe),
                "{} holds plaintext",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_requests_that_break_the_protocol_get_problems() {
    let (_dir, federation) = federation_on(Engine::Sqlite, &[UBM]).await;
    let ubm = federation.node(UBM).unwrap().local_addr;
    let tus = [("tus-resumable", "1.0.0")];
    let created = call(
        ubm,
        "POST",
        "/v1/uploads",
        &[tus[0], ("upload-length", "10")],
        None,
    )
    .await;
    assert_eq!(created.status, 201);
    let old = call(
        ubm,
        "POST",
        "/v1/uploads",
        &[("tus-resumable", "0.2.2"), ("upload-length", "10")],
        None,
    )
    .await;
    assert_problem(&old, 412, "tus-version-unsupported");
    let no_length = call(ubm, "POST", "/v1/uploads", &tus, None).await;
    assert_problem(&no_length, 400, "invalid-header");
    let huge = call(
        ubm,
        "POST",
        "/v1/uploads",
        &[tus[0], ("upload-length", "99999999999999999")],
        None,
    )
    .await;
    assert_problem(&huge, 413, "upload-too-large");
    let path_name = call(
        ubm,
        "POST",
        "/v1/uploads",
        &[
            tus[0],
            ("upload-length", "1"),
            ("upload-metadata", "filename Li4vZXRjL3Bhc3N3ZA=="),
        ],
        None,
    )
    .await;
    // In tus form, but not a file name: refused as what it says (422), not as malformed.
    assert_problem(&path_name, 422, "invalid-request");
    assert_eq!(path_name.body["header"], "Upload-Metadata");
    let nobody = call(
        ubm,
        "HEAD",
        "/v1/uploads/00112233445566778899aabbccddeeff",
        &tus,
        None,
    )
    .await;
    assert_eq!(nobody.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_chunk_is_sent_again_and_a_cut_line_resumes_where_it_broke() {
    let dir = tempfile::tempdir().unwrap();
    let on_the_line = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut plan = common::plan(dir.path().join("f"), &[UBM, FK]);
    plan.endpoints.insert(
        FK.to_owned(),
        format!("https://{}", on_the_line.local_addr().unwrap()),
    );
    let federation = utbyte_testbed::loopback::LoopbackFederation::start(plan)
        .await
        .unwrap();
    let line = common::line::Line::start(
        on_the_line,
        &dir.path().join("f").join("pki"),
        FK,
        UBM,
        federation.node(FK).unwrap().federation_addr,
    );
    // Chunk 2 arrives with one byte flipped; the connection breaks as chunk 9 passes.
    line.damage.store(2, std::sync::atomic::Ordering::SeqCst);
    line.cut.store(9, std::sync::atomic::Ordering::SeqCst);

    let ubm = federation.node(UBM).unwrap().local_addr;
    let fk = federation.node(FK).unwrap().local_addr;
    let file = noise(16 * (1 << 20) + 5, 11);
    let upload = upload(ubm, dir.path(), "register.bin", &file);
    let id = send_until_delivered(ubm, &upload).await;

    assert_eq!(
        line.passed(2),
        [422, 204],
        "the damaged chunk is refused, then sent again and taken"
    );
    let cut = line.passed(9);
    assert_eq!(cut.first(), Some(&0), "{cut:?}");
    assert_eq!(cut.last(), Some(&204), "sent again after the cut: {cut:?}");
    for i in [0, 1, 3, 4, 5] {
        assert_eq!(
            line.passed(i),
            [204],
            "chunk {i}, held before the cut, is not sent again: resumed, not restarted"
        );
    }
    let (status, _, fetched) =
        fetch(fk, &format!("/v1/messages/inbox/{UBM}/{id}/attachments/0")).await;
    assert_eq!(status, 200);
    assert!(fetched == file, "the file arrives whole and unaltered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_chunk_travels_with_the_digest_kept_as_it_was_sealed_and_a_wrong_one_is_mended() {
    /// A sealed chunk: 1 MiB of the file and its 16-byte tag.
    const SEALED: usize = (1 << 20) + 16;
    let (dir, federation) = federation_on(Engine::Sqlite, &[UBM, FK]).await;
    let ubm = federation.node(UBM).unwrap().local_addr;
    let fk = federation.node(FK).unwrap().local_addr;
    let file = noise(3 * (1 << 20) + 777, 5);
    // Cut once and resumed: what was written after the last save is cut off the digests too.
    let upload = upload(ubm, dir.path(), "kontoutdrag.bin", &file);

    let kept = dir
        .path()
        .join("f/nodes")
        .join(UBM)
        .join("attachments/uploads")
        .join(&upload);
    let sealed = std::fs::read(kept.join("data")).unwrap();
    let digests = std::fs::read(kept.join("digests")).unwrap();
    let chunks: Vec<&[u8]> = sealed.chunks(SEALED).collect();
    assert_eq!(chunks.len(), 4);
    assert_eq!(
        digests.len(),
        32 * chunks.len(),
        "one SHA-256 per sealed chunk"
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(
            &digests[32 * i..32 * (i + 1)],
            Sha256::digest(chunk).as_slice(),
            "the digest kept of chunk {i} is its sealed bytes' SHA-256"
        );
    }

    // A digest spoilt on disk: the recipient refuses the chunk, and the sender sends it again
    // with the digest of the chunk itself.
    let mut spoilt = digests.clone();
    spoilt[32..64].fill(0);
    std::fs::write(kept.join("digests"), &spoilt).unwrap();
    let id = send_until_delivered(ubm, &upload).await;
    let (status, _, fetched) =
        fetch(fk, &format!("/v1/messages/inbox/{UBM}/{id}/attachments/0")).await;
    assert_eq!(status, 200);
    assert!(fetched == file, "the file arrives whole and unaltered");
}
