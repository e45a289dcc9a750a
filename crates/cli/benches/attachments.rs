//! Attachment benchmark: one large file from a case system to another authority's case system
//! through two `utbyte node serve` processes, against the same file served by nginx over TLS,
//! in one run on loopback.
//!
//! Run: `scripts/bench-attachments [--gib N]` (default 10; installs nginx if missing, then
//! `cargo bench -p utbyte --bench attachments`).
//!
//! 1. **nginx over TLS** — the floor: the file written to disk, served by nginx (TLS 1.3, the
//!    node's own certificate) and fetched by curl into a file on the same disk.
//! 2. **upload** — Malmö stad's case system sends the file to its node with tus (one `PATCH`,
//!    streamed by curl from a generator); the node seals and writes it chunk by chunk.
//! 3. **node to node** — a letter carrying the upload is sent to Försäkringskassan; timed from
//!    the `POST` to the outbox showing it delivered (the recipient holds every chunk, checked
//!    and opened, the whole file's SHA-256 matched, the message taken in, recorded in both
//!    ledgers and receipted).
//! 4. **fetch** — Försäkringskassan's case system fetches the file; its SHA-256 must be the
//!    uploaded file's.
//!
//! Peak RSS is each node process's `VmHWM` after all four. The anchors: the goal (≥ 300 MB/s,
//! ≤ 64 MiB per node), SDK's 30 MB message cap, Domibus's need of three to four times a
//! file's size in memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::load::REGISTER;
use common::{free_port, Guide, Node, Setup};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
const GOAL_MB_S: f64 = 300.0;
const GOAL_RSS_MIB: f64 = 64.0;
const SDK_CAP_MB: f64 = 30.0;
/// Domibus's memory need, as a multiple of the file's size (the lower of 3–4).
const DOMIBUS_FACTOR: f64 = 3.0;

const MESSAGES: &str = "
[messages]
retry_first_millis = 200
retry_max_seconds = 1
";

/// A writer that hashes what passes through it.
struct Hashing<W> {
    out: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(bytes)?;
        self.hash.update(&bytes[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes `size` bytes of noise to `out`; their SHA-256.
fn noise(size: u64, out: impl Write) -> [u8; 32] {
    let mut hashing = Hashing {
        out,
        hash: Sha256::new(),
    };
    utbyte_synthetic::material::write_noise(&mut hashing, size, 7).unwrap();
    hashing.hash.finalize().into()
}

/// curl's TLS arguments, without the progress meter.
fn quiet(mut tls: Vec<String>) -> Vec<String> {
    tls.extend(["--silent".into(), "--show-error".into()]);
    tls
}

/// Megabytes (10^6 bytes) per second.
fn rate(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// CPU time a process has used, user and system, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // Linux reports in USER_HZ, 100 per second on every architecture it runs on.
    ticks / 100.0
}

/// Peak resident memory of a process, in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    memory_mib(pid, "VmHWM:")
}

/// One of a process's memory figures (`VmHWM:`, `VmRSS:`), in MiB.
fn memory_mib(pid: u32, figure: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(figure))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

fn nginx_binary() -> PathBuf {
    [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .expect("nginx is not installed: run scripts/bench-attachments, which installs it")
}

/// Serves `www` over TLS 1.3 with `node`'s local certificate; stopped when dropped.
struct Nginx {
    child: std::process::Child,
    port: u16,
}

impl Nginx {
    fn start(root: &Path, node: &Node, www: &Path) -> Self {
        let dir = root.join("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let cert = root.join(node.dir).join("local.crt");
        let key = root.join(node.dir).join("local.key");
        let user = if running_as_root() {
            "user root;\n"
        } else {
            ""
        };
        let conf = format!(
            "{user}worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
             server {{\n  listen 127.0.0.1:{port} ssl;\n  ssl_protocols TLSv1.3;\n\
             ssl_certificate {cert};\n  ssl_certificate_key {key};\n  root {www};\n }}\n}}\n",
            d = dir.display(),
            cert = cert.display(),
            key = key.display(),
            www = www.display(),
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx_binary())
            .args(["-p", &format!("{}/", dir.display()), "-c"])
            .arg(dir.join("nginx.conf"))
            .args(["-e"])
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process runs as root (nginx then needs `user root` to read the test's files).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .is_some_and(|uids| uids.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gib: u64 = args
        .iter()
        .position(|a| a == "--gib")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("--gib takes a whole number"))
        .unwrap_or(10);
    let size = gib << 30;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    eprintln!(
        "== setting up a directory and two nodes in {}",
        root.display()
    );
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\"",
            fk_duties: common::FK_RECEIVES,
            node_extra: MESSAGES,
        },
    );
    guide.publish_message_keys();
    let (_directory, _) = guide.start_directory();
    let fk = guide.fk.start(root);
    let malmo = guide.malmo.start(root);
    let (sender, recipient) = (&guide.malmo, &guide.fk);
    let idle_rss = memory_mib(malmo.pid(), "VmRSS:").max(memory_mib(fk.pid(), "VmRSS:"));

    // 1. nginx over TLS, the same size of file.
    eprintln!("== nginx over TLS: {gib} GiB");
    let www = root.join("www");
    std::fs::create_dir_all(&www).unwrap();
    noise(
        size,
        &mut std::io::BufWriter::new(std::fs::File::create(www.join("blob")).unwrap()),
    );
    let nginx = Nginx::start(root, recipient, &www);
    let fetched = root.join("nginx-fetched");
    let started = Instant::now();
    let status = Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--cacert"])
        .arg(root.join(recipient.dir).join("agency-ca.pem"))
        .arg(format!("https://127.0.0.1:{}/blob", nginx.port))
        .arg("-o")
        .arg(&fetched)
        .status()
        .unwrap();
    let nginx_took = started.elapsed();
    assert!(status.success());
    assert_eq!(std::fs::metadata(&fetched).unwrap().len(), size);
    drop(nginx);
    std::fs::remove_file(&fetched).unwrap();
    std::fs::remove_dir_all(&www).unwrap();

    // 2. The upload, tus, one PATCH streamed from the generator.
    eprintln!("== upload to Malmö stad's node");
    let mut create = quiet(sender.tls(root));
    create.extend([
        "-X".into(),
        "POST".into(),
        "-H".into(),
        "Tus-Resumable: 1.0.0".into(),
        "-H".into(),
        format!("Upload-Length: {size}"),
        "-H".into(),
        "Upload-Metadata: filename YmlsYWdhLmJpbg==".into(),
        sender.url("/v1/uploads"),
    ]);
    let (headers, _) = common::curl_headers(&create);
    let location = common::header(&headers, "location").to_owned();
    let upload = location.rsplit('/').next().unwrap().to_owned();
    let mut patch = quiet(sender.tls(root));
    patch.extend([
        "--fail".into(),
        "-X".into(),
        "PATCH".into(),
        "-H".into(),
        "Tus-Resumable: 1.0.0".into(),
        "-H".into(),
        "Upload-Offset: 0".into(),
        "-H".into(),
        "Content-Type: application/offset+octet-stream".into(),
        "-H".into(),
        format!("Content-Length: {size}"),
        "-T".into(),
        "-".into(),
        sender.url(&location),
    ]);
    let started = Instant::now();
    let mut child = Command::new("curl")
        .args(&patch)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let sha256 = noise(size, child.stdin.take().unwrap());
    assert!(child.wait().unwrap().success(), "the upload failed");
    let upload_took = started.elapsed();

    // 3. Node to node.
    eprintln!("== node to node");
    let letter = serde_json::json!({
        "officer": "malmo-h1", "unit": "malmo-ekonomiskt-bistand", "role": "handlaggare",
        "to": {"authority": "forsakringskassan", "unit": "fk-kontroll"},
        "kind": {"type": "free_text"},
        "title": "Underlag", "text": "Underlaget bifogas.",
        "case_ref": "ASN-2026-00001",
        "attachments": [upload],
    });
    let cpu_before = (cpu_seconds(malmo.pid()), cpu_seconds(fk.pid()));
    let started = Instant::now();
    let (status, sent) = sender
        .calls(
            root,
            &[common::Call {
                key: Some("bench-1"),
                body: Some(&letter),
                ..common::Call::new("POST", "/v1/messages")
            }],
        )
        .remove(0);
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120 + size / (20 * MIB));
    loop {
        let (_, out) = sender.call(root, "GET", &format!("/v1/messages/outbox/{id}"));
        if out["state"] == "delivered" {
            break;
        }
        assert!(
            out["state"] == "pending" && Instant::now() < deadline,
            "not delivered: {out}{}",
            sender.log_tail(root)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let transfer_took = started.elapsed();
    let cpu = (
        cpu_seconds(malmo.pid()) - cpu_before.0,
        cpu_seconds(fk.pid()) - cpu_before.1,
    );

    // 4. The recipient's case system fetches it.
    eprintln!("== fetch from Försäkringskassan's node");
    let mut fetch = quiet(recipient.tls(root));
    fetch.extend([
        "--fail".into(),
        recipient.url(&format!(
            "/v1/messages/inbox/{}/{id}/attachments/0",
            sender.authority
        )),
    ]);
    let started = Instant::now();
    let mut child = Command::new("curl")
        .args(&fetch)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 4 * MIB as usize];
    let mut fetched = 0u64;
    loop {
        let n = out.read(&mut buffer).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        fetched += n as u64;
    }
    assert!(child.wait().unwrap().success(), "the fetch failed");
    let fetch_took = started.elapsed();
    assert_eq!(fetched, size);
    assert_eq!(
        <[u8; 32]>::from(hash.finalize()),
        sha256,
        "the file arrived altered"
    );

    let sender_rss = peak_rss_mib(malmo.pid());
    let recipient_rss = peak_rss_mib(fk.pid());
    let transfer = rate(size, transfer_took);
    let nginx_rate = rate(size, nginx_took);
    let size_mb = size as f64 / 1e6;
    let worst_rss = sender_rss.max(recipient_rss);

    println!();
    println!("attachments: one {gib} GiB file, loopback, 2 node processes");
    println!(
        "{:<44} {:>12} {:>14} {:>8}",
        "figure", "value", "anchor", "ratio"
    );
    let row = |figure: &str, value: String, anchor: String, ratio: f64| {
        println!("{figure:<44} {value:>12} {anchor:>14} {ratio:>8.2}");
    };
    row(
        "node to node, MB/s (goal)",
        format!("{transfer:.0}"),
        format!("{GOAL_MB_S:.0}"),
        transfer / GOAL_MB_S,
    );
    row(
        "node to node / nginx TLS, MB/s",
        format!("{transfer:.0}"),
        format!("{nginx_rate:.0}"),
        transfer / nginx_rate,
    );
    row(
        "sender node peak RSS, MiB (goal)",
        format!("{sender_rss:.1}"),
        format!("{GOAL_RSS_MIB:.0}"),
        GOAL_RSS_MIB / sender_rss,
    );
    row(
        "recipient node peak RSS, MiB (goal)",
        format!("{recipient_rss:.1}"),
        format!("{GOAL_RSS_MIB:.0}"),
        GOAL_RSS_MIB / recipient_rss,
    );
    row(
        "node at rest (larger of the two), RSS MiB",
        format!("{idle_rss:.1}"),
        format!("{GOAL_RSS_MIB:.0}"),
        GOAL_RSS_MIB / idle_rss,
    );
    row(
        "file size, MB (SDK message cap)",
        format!("{size_mb:.0}"),
        format!("{SDK_CAP_MB:.0}"),
        size_mb / SDK_CAP_MB,
    );
    row(
        "memory for the file, MiB (Domibus 3x size)",
        format!("{worst_rss:.1}"),
        format!("{:.0}", DOMIBUS_FACTOR * size as f64 / MIB as f64),
        DOMIBUS_FACTOR * size as f64 / MIB as f64 / worst_rss,
    );
    row(
        "upload (tus) to the sender node, MB/s",
        format!("{:.0}", rate(size, upload_took)),
        format!("{nginx_rate:.0}"),
        rate(size, upload_took) / nginx_rate,
    );
    row(
        "fetch from the recipient node, MB/s",
        format!("{:.0}", rate(size, fetch_took)),
        format!("{nginx_rate:.0}"),
        rate(size, fetch_took) / nginx_rate,
    );
    println!(
        "(node to node: {:.1} s from POST to delivered, CPU {:.1} s sender + {:.1} s recipient \
         = {:.2} ms a MiB; nginx {:.1} s)",
        transfer_took.as_secs_f64(),
        cpu.0,
        cpu.1,
        (cpu.0 + cpu.1) * 1000.0 / (size / MIB) as f64,
        nginx_took.as_secs_f64()
    );
}
