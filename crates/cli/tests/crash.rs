//! The crash test: the deployment guide's federation, with its two nodes as separate `utbyte
//! node serve` processes, under load from several case-system clients while the provider, the
//! recipient, and both are killed with SIGKILL in turn and restarted after a short random pause.
//! Afterwards, with both running again:
//!
//! - every acknowledged answer (a 2xx to the POST) is answered again under its key, with the same
//!   receipts — none lost;
//! - every key sent, acknowledged or not, ends answered, in review or failed (or was never
//!   recorded, when the node went away before it stored the key or the provider could not be
//!   reached), and never stays `409 request-in-flight`: recovery drives what a crash left in
//!   flight to an end — none stuck; posting an unacknowledged key again with the same body gets
//!   an answer or a failure, not 409;
//! - reconciliation between the two ledgers closes every gap: each answer the provider
//!   recorded is received, or recorded on both sides as never delivered;
//! - both ledgers verify, and every answer's provider receipt is in the provider's ledger and
//!   its own receipt in the recipient's, for the same answer bytes; and the recipient records
//!   each answer received once, however often it was asked for again.
//!
//! Recovery is made quick by the configuration (`[recovery] grace_seconds`, the poll interval),
//! never by the test waiting for a time: every wait is bounded and polls for what it needs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_paired, stop, try_utbyte, Call, Guide, Node, Setup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use utbyte_audit::AuditDir;

/// Rounds of kills, each of the provider, then the recipient, then both.
const ROUNDS: usize = 7;
/// Case-system clients sending requests all along.
const CLIENTS: usize = 4;
/// How long the keys may take to end after the load, and again after they are posted again.
const SETTLE: Duration = Duration::from_secs(120);
/// Calls of the local API sent over one connection, after the load.
const BATCH: usize = 50;

/// Two subjects in Försäkringskassan's register.
const REGISTER: &str = concat!(
    "{\"subject\": \"19121212-1212\", \"fields\": {\"forman\": \"sjukpenning\", \"belopp\": 14250, \"diagnos\": \"F32\"}}\n",
    "{\"subject\": \"19811218-9876\", \"fields\": {\"forman\": \"aktivitetsersattning\", \"belopp\": 9800, \"diagnos\": \"G35\"}}\n",
);

/// Both nodes give up on a request in 5 s and take one in flight for 6 s as having lost its
/// sender, so recovery acts within seconds (`review_poll_seconds = 1` runs a round each
/// second).
const RECOVERY: &str = "
[limits]
request_timeout_ms = 5000
peer_timeout_ms = 3000

[recovery]
grace_seconds = 6
";

/// The problem types this test tells apart.
const IN_FLIGHT: &str = "urn:utbyte:problem:request-in-flight";
const FAILED: &str = "urn:utbyte:problem:request-failed";
const NO_SUCH_REQUEST: &str = "urn:utbyte:problem:request-not-found";

/// The recipient's reconciliation with its providers' ledgers.
const RECONCILIATION: &str = "/v1/audit/reconciliation";

/// A request as a client sent it, and what its POST got (status 0: no answer at all).
struct Sent {
    key: String,
    body: Value,
    status: u16,
    answer: Value,
}

impl Sent {
    fn acknowledged(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Request `n` of `client`: a mix the rulebook answers — payments disclosed and the diagnosis
/// refused, payments alone, the diagnosis alone (refused outright) — about two subjects.
fn case(client: usize, n: usize) -> Value {
    let (subject, fields) = match n % 4 {
        0 => ("19121212-1212", json!(["forman", "belopp", "diagnos"])),
        1 => ("19811218-9876", json!(["forman", "belopp"])),
        2 => ("19121212-1212", json!(["diagnos"])),
        _ => ("19811218-9876", json!(["belopp"])),
    };
    json!({
        "subject": subject, "offering": "fk-formaner", "fields": fields,
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": format!("ASN-2026-{client}{n:05}"), "officer": format!("malmo-h{client}"),
        "role": "handlaggare", "unit": "malmo-ekonomiskt-bistand"
    })
}

/// One client: requests with keys of its own until `stopping`, easing off after one that was
/// not answered so that a node that is down is not hammered.
fn load(recipient: &Node, root: &Path, client: usize, stopping: &AtomicBool) -> Vec<Sent> {
    let mut sent = Vec::new();
    while !stopping.load(Ordering::Relaxed) {
        let n = sent.len();
        let key = format!("crash-{client}-{n}");
        let body = case(client, n);
        let (status, answer) = recipient.request(root, &key, &body);
        let request = Sent {
            key,
            body,
            status,
            answer,
        };
        if !request.acknowledged() {
            std::thread::sleep(Duration::from_millis(500));
        }
        sent.push(request);
    }
    sent
}

/// Short pauses, random enough that the kills land at different points of the exchanges.
struct Pauses(u64);

impl Pauses {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Pauses(u64::from(nanos) | 1)
    }

    /// `from` to `to` milliseconds.
    fn between(&mut self, from: u64, to: u64) -> Duration {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(from + self.0 % (to - from))
    }
}

/// Tells the clients to stop when dropped: at the end of the kills, or when they fail, so the
/// clients never outlive them.
struct Stopping<'a>(&'a AtomicBool);

impl Drop for Stopping<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Calls the recipient's local API on [`CLIENTS`] threads, [`BATCH`] calls to a connection: for
/// each call, in order, the status and the body.
fn call_all(recipient: &Node, root: &Path, calls: &[Call]) -> Vec<(u16, Value)> {
    let share = calls.len().div_ceil(CLIENTS).max(1);
    std::thread::scope(|scope| {
        let threads: Vec<_> = calls
            .chunks(share)
            .map(|part| {
                scope.spawn(move || {
                    part.chunks(BATCH)
                        .flat_map(|batch| recipient.calls(root, batch))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    })
}

/// Whether an answer about a key says it has ended: answered, in review, failed, or (to a GET)
/// never recorded.
fn ended((status, body): &(u16, Value)) -> bool {
    match status {
        200 | 202 => true,
        404 => body["type"] == NO_SUCH_REQUEST,
        502 => body["type"] == FAILED,
        _ => false,
    }
}

/// Makes `calls` about keys, each again until its answer says the key has ended or [`SETTLE`]
/// has passed: the last answer to each.
fn until_ended(recipient: &Node, root: &Path, calls: &[Call]) -> Vec<(u16, Value)> {
    let deadline = Instant::now() + SETTLE;
    let mut answers = vec![(0, Value::Null); calls.len()];
    let mut open: Vec<usize> = (0..calls.len()).collect();
    while !open.is_empty() {
        let again: Vec<Call> = open.iter().map(|&i| calls[i].clone()).collect();
        for (&i, answer) in open.iter().zip(call_all(recipient, root, &again)) {
            answers[i] = answer;
        }
        open.retain(|&i| !ended(&answers[i]));
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    answers
}

/// Reconciliation between the two ledgers, asked of the recipient: rounds run now until no
/// answer is pending (for at most 90 s), then every provider must be `reconciled` with no
/// finding. Returns how many are not.
fn unreconciled(recipient: &Node, root: &Path) -> usize {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, view) = recipient.call(root, "POST", RECONCILIATION);
        let peers = view["peers"].as_array().cloned().unwrap_or_default();
        let settled = status == 200 && peers.iter().all(|p| p["state"] != "pending");
        if !settled && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        assert_eq!(status, 200, "POST {RECONCILIATION}: {view:#}");
        assert!(
            peers.iter().any(|p| p["peer"] == "forsakringskassan"),
            "the provider is reconciled with: {view:#}"
        );
        let open = peers
            .iter()
            .filter(|p| {
                p["state"] != "reconciled" || p["findings"].as_array().is_none_or(|f| !f.is_empty())
            })
            .count();
        if open > 0 {
            eprintln!("reconciliation: {view:#}");
        }
        return open;
    }
}

/// One ledger's entry at `index`, as its record, if the ledger has it.
fn record(ledger: &AuditDir, index: u64) -> Option<Value> {
    serde_json::from_slice(&ledger.entry(index).ok()?).ok()
}

#[test]
fn killed_nodes_lose_no_acknowledged_answer_and_leave_no_key_stuck() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Malmö stad's case system also audits, to see reconciliation.
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\", \"audit\"",
            node_extra: RECOVERY,
        },
    );
    let (directory, first) = guide.start_directory();
    assert!(first.contains("version 3"), "{first}");
    let mut nodes = [
        (&guide.fk, guide.fk.start(root)),
        (&guide.malmo, guide.malmo.start(root)),
    ];

    // Load all along, and the kills: the provider, the recipient, both; each node restarted
    // after a short random pause and ready before the next kill.
    let stopping = AtomicBool::new(false);
    let mut pauses = Pauses::new();
    let mut kills = 0;
    let sent: Vec<Sent> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (recipient, stopping) = (&guide.malmo, &stopping);
                scope.spawn(move || load(recipient, root, client, stopping))
            })
            .collect();
        let stop_clients = Stopping(&stopping);
        for _ in 0..ROUNDS {
            for victims in [&[0][..], &[1], &[0, 1]] {
                std::thread::sleep(pauses.between(500, 1500));
                for &victim in victims {
                    nodes[victim].1.kill();
                    kills += 1;
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
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    let acknowledged: Vec<&Sent> = sent.iter().filter(|s| s.acknowledged()).collect();
    let unacknowledged: Vec<&Sent> = sent.iter().filter(|s| !s.acknowledged()).collect();

    // Every key ends, within the bound, and says so to a GET.
    let recipient = &guide.malmo;
    let asked: Vec<Call> = sent
        .iter()
        .map(|s| Call::new("GET", &format!("/v1/requests/{}", s.key)))
        .collect();
    let ends = until_ended(recipient, root, &asked);
    let mut stuck: Vec<&str> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    let mut unexpected: Vec<String> = Vec::new();
    let mut failed = 0;
    for (request, (status, end)) in sent.iter().zip(&ends) {
        match (*status, end["type"].as_str()) {
            (409, Some(IN_FLIGHT)) => stuck.push(&request.key),
            (502, Some(FAILED)) => failed += 1,
            (200 | 202, _) | (404, Some(NO_SUCH_REQUEST)) => {}
            _ => unexpected.push(format!("GET {}: {status} {end}", request.key)),
        }
        if request.acknowledged() {
            let same = *status == request.status
                && end["provider_receipt"]["index"] == request.answer["provider_receipt"]["index"]
                && end["receipt"]["index"] == request.answer["receipt"]["index"];
            if !same {
                lost.push(format!(
                    "{}: acknowledged {} with provider receipt {}, now {status} {end}",
                    request.key, request.status, request.answer["provider_receipt"]["index"]
                ));
            }
        }
    }

    // Posting an unacknowledged key again, with the same body, gets an answer or a failure.
    let again: Vec<Call> = unacknowledged
        .iter()
        .map(|s| Call::request(&s.key, &s.body))
        .collect();
    let retried = until_ended(recipient, root, &again);
    for (request, (status, answer)) in unacknowledged.iter().zip(&retried) {
        match (*status, answer["type"].as_str()) {
            (200 | 202, _) | (502, Some(FAILED)) => {}
            (409, Some(IN_FLIGHT)) => stuck.push(&request.key),
            _ => unexpected.push(format!("POST {} again: {status} {answer}", request.key)),
        }
    }

    let unreconciled = unreconciled(recipient, root);
    let [(_, fk), (_, malmo)] = nodes;
    for child in [malmo, fk, directory] {
        stop(child);
    }

    // Both ledgers verify, and hold both sides of every answer.
    let mut unverified = Vec::new();
    for node in [&guide.fk, &guide.malmo] {
        let verified = try_utbyte(root, &["audit", "verify", &node.ledger()]);
        let said = String::from_utf8_lossy(&verified.stdout);
        if !(verified.status.success() && said.starts_with("OK:")) {
            let stderr = String::from_utf8_lossy(&verified.stderr);
            unverified.push(format!("{}: {said}{stderr}", node.authority));
        }
    }
    let provider = AuditDir::open(&root.join(guide.fk.ledger()), None).unwrap();
    let own = AuditDir::open(&root.join(guide.malmo.ledger()), None).unwrap();
    let answers = acknowledged.iter().map(|s| &s.answer).chain(
        retried
            .iter()
            .filter(|(s, _)| (200..300).contains(s))
            .map(|(_, a)| a),
    );
    let mut unrecorded = Vec::new();
    for answer in answers {
        let (provider_index, own_index) = (
            answer["provider_receipt"]["index"].as_u64().unwrap(),
            answer["receipt"]["index"].as_u64().unwrap(),
        );
        match (record(&provider, provider_index), record(&own, own_index)) {
            (Some(provided), Some(received))
                if ["disclosure", "refusal"].contains(&provided["event"].as_str().unwrap_or("")) =>
            {
                assert_paired(&provided, &received, provider_index);
            }
            (provided, received) => unrecorded.push(format!(
                "{}: provider's entry {provider_index} {provided:?}, own entry {own_index} {received:?}",
                answer["idempotency_key"]
            )),
        }
    }
    // Each answer is received once: no entry of the provider's has two receipts.
    let mut receipts: BTreeMap<u64, usize> = BTreeMap::new();
    for index in 0..own.size() {
        let received = record(&own, index).unwrap_or_default();
        if received["event"] == "receipt" && received["provider"] == guide.fk.authority {
            *receipts
                .entry(received["refers_to"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    let received_twice: Vec<u64> = receipts
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(index, _)| index)
        .collect();

    println!(
        "crash test: kills={kills} acknowledged={} lost={} stuck={} unacknowledged={} failed={failed} unreconciled={}",
        acknowledged.len(),
        lost.len(),
        stuck.len(),
        unacknowledged.len(),
        unreconciled,
    );
    assert!(kills >= 3 * ROUNDS, "{kills} kills");
    assert!(!acknowledged.is_empty(), "the load got answers");
    assert!(lost.is_empty(), "lost acknowledged answers: {lost:#?}");
    assert!(stuck.is_empty(), "keys stuck in flight: {stuck:?}");
    assert!(unexpected.is_empty(), "unexpected answers: {unexpected:#?}");
    assert_eq!(unreconciled, 0, "unreconciled providers");
    assert!(
        unverified.is_empty(),
        "ledgers failing verification: {unverified:#?}"
    );
    assert!(
        unrecorded.is_empty(),
        "answers not in both ledgers: {unrecorded:#?}"
    );
    assert!(
        received_twice.is_empty(),
        "provider entries with more than one receipt: {received_twice:?}"
    );
}
