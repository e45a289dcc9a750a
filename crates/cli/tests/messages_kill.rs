//! Messages under SIGKILL: the deployment guide's two nodes as separate `utbyte node serve`
//! processes; Malmö stad's case system sends letters to Försäkringskassan without pause while
//! the recipient, the sender, and both are killed in turn and restarted. Afterwards:
//!
//! - every acknowledged message (a 2xx to its POST) reaches `delivered` in the sender's outbox,
//!   with the recipient's signed receipt — none lost; every key, acknowledged or not, posted
//!   again with the same body is the same message or a new one, never an error — none stuck;
//! - the recipient's ledger records each message's delivery once — also when the recipient was
//!   killed between recording it and keeping its receipt, and the next delivery took over — and
//!   the sender's ledger records its sending and the receipt it got back, with the same envelope
//!   digest;
//! - a fourth client sends letters with a file of several chunks each, uploaded with tus and
//!   resumed from the node's offset whenever the node died under it: every acknowledged letter's
//!   file arrives at the recipient whole, with the sender's SHA-256;
//! - both ledgers verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{call_all, unverified, Pauses, Stopping, REGISTER};
use common::{stop, Call, Guide, Node, Setup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use utbyte_audit::{AuditDir, EventKind};
use utbyte_synthetic::material::noise;

/// Rounds of kills, each of the recipient, then the sender, then both.
const ROUNDS: usize = 5;
/// Clients sending at once.
const SENDERS: usize = 3;

const MESSAGES: &str = "
[messages]
retry_first_millis = 200
retry_max_seconds = 1
";

fn letter(client: usize, n: usize) -> Value {
    json!({
        "officer": format!("malmo-h{client}"), "unit": "malmo-ekonomiskt-bistand",
        "role": "handlaggare",
        "to": {"authority": "forsakringskassan", "unit": "fk-kontroll"},
        "kind": {"type": "free_text"},
        "title": format!("Fråga {client}-{n}"),
        "subjects": ["19121212-1212"],
        "text": "Vi behöver uppgift om utbetald ersättning för perioden.",
        "case_ref": format!("ASN-2026-{client}{n:05}"),
    })
}

/// Size of each file sent while the nodes are killed: six chunks, small enough that many travel.
const FILE: usize = 5 * (1 << 20) + 4321;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads `data` with tus through curl, going on from the node's offset whenever the node
/// died under it; the upload's id, or `None` if the test stopped first.
fn upload(sender: &Node, root: &Path, data: &[u8], stopping: &AtomicBool) -> Option<String> {
    let tus = |method: &str, url: &str, extra: &[String]| {
        let mut args = sender.tls(root);
        args.extend(["--silent".into(), "-X".into(), method.into()]);
        args.extend(["-H".into(), "Tus-Resumable: 1.0.0".into()]);
        args.extend_from_slice(extra);
        args.push(url.to_owned());
        common::try_curl_headers(&args)
    };
    let found = |headers: &[(String, String)], name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let location = loop {
        if stopping.load(Ordering::Relaxed) {
            return None;
        }
        let created = tus(
            "POST",
            &sender.url("/v1/uploads"),
            &["-H".into(), format!("Upload-Length: {}", data.len())],
        );
        if let Some(location) = created.and_then(|(h, _)| found(&h, "location")) {
            break location;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let url = sender.url(&location);
    let rest = root.join(format!("rest-{}", location.rsplit('/').next()?));
    let mut offset = 0usize;
    for _ in 0..500 {
        if offset == data.len() {
            let _ = std::fs::remove_file(&rest);
            return Some(location.rsplit('/').next()?.to_owned());
        }
        std::fs::write(&rest, &data[offset..]).unwrap();
        let sent = tus(
            "PATCH",
            &url,
            &[
                "-H".into(),
                format!("Upload-Offset: {offset}"),
                "-H".into(),
                "Content-Type: application/offset+octet-stream".into(),
                "--data-binary".into(),
                format!("@{}", rest.display()),
            ],
        );
        match sent.and_then(|(h, _)| found(&h, "upload-offset")) {
            Some(saved) => offset = saved.parse().unwrap(),
            None => {
                // The node died under the request: ask where the upload stands.
                std::thread::sleep(Duration::from_millis(300));
                let asked = tus("HEAD", &url, &["--head".into()]);
                if let Some(saved) = asked.and_then(|(h, _)| found(&h, "upload-offset")) {
                    offset = saved.parse().unwrap();
                }
            }
        }
    }
    panic!("an upload did not end in 500 attempts");
}

/// Letters with a file each, until `stopping`: what was posted, and each file's SHA-256.
fn send_files(
    sender: &Node,
    root: &Path,
    stopping: &AtomicBool,
) -> (Vec<Posted>, BTreeMap<String, String>) {
    let mut posted = Vec::new();
    let mut files = BTreeMap::new();
    while !stopping.load(Ordering::Relaxed) {
        let n = posted.len();
        let data = noise(FILE + n, n as u64 + 1);
        let Some(id) = upload(sender, root, &data, stopping) else {
            break;
        };
        let key = format!("file-{n}");
        let mut body = letter(9, n);
        body["attachments"] = json!([id]);
        let call = Call {
            key: Some(&key),
            body: Some(&body),
            ..Call::new("POST", "/v1/messages")
        };
        let (status, answer) = sender.calls(root, &[call]).remove(0);
        files.insert(key.clone(), sha256_hex(&data));
        posted.push(Posted {
            key,
            body,
            status,
            answer,
        });
    }
    (posted, files)
}

struct Posted {
    key: String,
    body: Value,
    status: u16,
    answer: Value,
}

fn send_all(sender: &Node, root: &Path, client: usize, stopping: &AtomicBool) -> Vec<Posted> {
    let mut posted = Vec::new();
    while !stopping.load(Ordering::Relaxed) {
        let n = posted.len();
        let key = format!("letter-{client}-{n}");
        let body = letter(client, n);
        let call = Call {
            key: Some(&key),
            body: Some(&body),
            ..Call::new("POST", "/v1/messages")
        };
        let (status, answer) = sender.calls(root, &[call]).remove(0);
        if !(200..300).contains(&status) {
            std::thread::sleep(Duration::from_millis(300));
        }
        posted.push(Posted {
            key,
            body,
            status,
            answer,
        });
    }
    posted
}

#[test]
fn killed_nodes_lose_no_acknowledged_message_and_deliver_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
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
    let (directory, first) = guide.start_directory();
    assert!(first.contains("version 5"), "{first}");
    let mut nodes = [
        (&guide.fk, guide.fk.start(root)),
        (&guide.malmo, guide.malmo.start(root)),
    ];

    let stopping = AtomicBool::new(false);
    let mut pauses = Pauses::new();
    let mut kills = [0usize; 2];
    let mut files = BTreeMap::new();
    let posted: Vec<Posted> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..SENDERS)
            .map(|client| {
                let (sender, stopping) = (&guide.malmo, &stopping);
                scope.spawn(move || send_all(sender, root, client, stopping))
            })
            .collect();
        let filer = {
            let (sender, stopping) = (&guide.malmo, &stopping);
            scope.spawn(move || send_files(sender, root, stopping))
        };
        let stop_clients = Stopping(&stopping);
        for _ in 0..ROUNDS {
            for victims in [&[0][..], &[1], &[0, 1]] {
                std::thread::sleep(pauses.between(500, 1500));
                for &victim in victims {
                    nodes[victim].1.kill();
                    kills[victim] += 1;
                }
                for &victim in victims {
                    std::thread::sleep(pauses.between(100, 1000));
                    let (node, child) = &mut nodes[victim];
                    *child = node.start(root);
                }
            }
        }
        std::thread::sleep(pauses.between(500, 1500));
        drop(stop_clients);
        let (mut posted, sent_files) = filer.join().unwrap();
        files = sent_files;
        posted.extend(clients.into_iter().flat_map(|c| c.join().unwrap()));
        posted
    });
    let acknowledged: Vec<&Posted> = posted
        .iter()
        .filter(|p| (200..300).contains(&p.status))
        .collect();

    // Every key posted again with the same body: the message it became, or a new one.
    let again: Vec<Call> = posted
        .iter()
        .map(|p| Call {
            key: Some(&p.key),
            body: Some(&p.body),
            ..Call::new("POST", "/v1/messages")
        })
        .collect();
    let reposted = call_all(&guide.malmo, root, &again);
    let stuck: Vec<&str> = posted
        .iter()
        .zip(&reposted)
        .filter(|(_, (status, _))| !matches!(status, 200 | 201))
        .map(|(p, _)| p.key.as_str())
        .collect();
    let lost: Vec<&str> = acknowledged
        .iter()
        .filter(|p| {
            let same =
                reposted[posted.iter().position(|q| q.key == p.key).unwrap()].1["id"].clone();
            same != p.answer["id"]
        })
        .map(|p| p.key.as_str())
        .collect();
    let ids: Vec<String> = reposted
        .iter()
        .filter_map(|(_, body)| body["id"].as_str().map(str::to_owned))
        .collect();

    // Every message ends delivered, with the recipient's receipt recorded here.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut undelivered: Vec<String> = ids.clone();
    while !undelivered.is_empty() && Instant::now() < deadline {
        let calls: Vec<Call> = undelivered
            .iter()
            .map(|id| Call::new("GET", &format!("/v1/messages/outbox/{id}")))
            .collect();
        let states = call_all(&guide.malmo, root, &calls);
        undelivered = undelivered
            .into_iter()
            .zip(states)
            .filter(|(_, (_, body))| {
                !(body["state"] == "delivered" && body["delivered"]["recorded"]["index"].is_u64())
            })
            .map(|(id, _)| id)
            .collect();
        if !undelivered.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    // Every acknowledged letter's file, fetched at the recipient: whole, the sender's bytes.
    let with_files: Vec<(&Posted, &String)> = acknowledged
        .iter()
        .filter_map(|p| files.get(&p.key).map(|sha| (*p, sha)))
        .collect();
    let files_lost: Vec<&str> = with_files
        .iter()
        .filter(|(p, sha)| {
            let id = p.answer["id"].as_str().unwrap_or_default();
            let out = root.join("fetched.bin");
            let _ = std::fs::remove_file(&out);
            let mut args = guide.fk.tls(root);
            args.extend([
                "--silent".to_owned(),
                "--fail".to_owned(),
                "-o".to_owned(),
                out.display().to_string(),
                guide
                    .fk
                    .url(&format!("/v1/messages/inbox/malmo-stad/{id}/attachments/0")),
            ]);
            let fetched = std::process::Command::new("curl")
                .args(&args)
                .status()
                .unwrap();
            !fetched.success()
                || std::fs::read(&out).map(|b| sha256_hex(&b)).ok().as_ref() != Some(*sha)
        })
        .map(|(p, _)| p.key.as_str())
        .collect();
    let [(_, fk), (_, malmo)] = nodes;
    for child in [malmo, fk, directory] {
        stop(child);
    }

    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    let events = |node: &Node, event: EventKind| -> BTreeMap<String, Vec<String>> {
        let dir = AuditDir::open(&root.join(node.ledger()), None).unwrap();
        let mut of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for index in 0..dir.size() {
            let record = dir.record(index).unwrap();
            if let (true, Some(m)) = (record.event == event, &record.message) {
                of.entry(m.id.clone())
                    .or_default()
                    .push(record.payload_sha256.clone().unwrap_or_default());
            }
        }
        of
    };
    let sent = events(&guide.malmo, EventKind::MessageSent);
    let received = events(&guide.fk, EventKind::MessageDelivered);
    let receipted = events(&guide.malmo, EventKind::MessageDelivered);
    let unpaired: Vec<&String> = ids
        .iter()
        .filter(|id| {
            let digest = sent.get(*id).and_then(|d| d.first());
            digest.is_none()
                || received.get(*id).and_then(|d| d.first()) != digest
                || receipted.get(*id).and_then(|d| d.first()) != digest
        })
        .collect();
    let recorded_twice = received.values().filter(|d| d.len() > 1).count();
    println!(
        "message kill test: kills={} (recipient {}, sender {}) posted={} acknowledged={} lost={} stuck={} undelivered={} recorded_twice={recorded_twice} files_acknowledged={} files_lost={}",
        kills[0] + kills[1],
        kills[0],
        kills[1],
        posted.len(),
        acknowledged.len(),
        lost.len(),
        stuck.len(),
        undelivered.len(),
        with_files.len(),
        files_lost.len(),
    );
    assert!(acknowledged.len() > 20, "the senders got answers");
    assert!(lost.is_empty(), "acknowledged messages lost: {lost:?}");
    assert!(stuck.is_empty(), "keys that do not end: {stuck:?}");
    assert!(undelivered.is_empty(), "never delivered: {undelivered:?}");
    assert!(unpaired.is_empty(), "not in both ledgers: {unpaired:?}");
    assert_eq!(recorded_twice, 0, "messages recorded as delivered twice");
    assert!(with_files.len() >= 3, "letters with files got through");
    assert!(
        files_lost.is_empty(),
        "files not whole at the recipient: {files_lost:?}"
    );
    assert!(unverified.is_empty(), "{unverified:?}");
}
