//! The load and the checks the crash tests share: case-system clients sending requests under
//! keys of their own, the kills' random pauses, and asking about every key until it has ended.

use super::{Call, Node};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use utbyte_audit::AuditDir;

/// Case-system clients sending requests all along.
pub const CLIENTS: usize = 4;
/// How long the keys may take to end after the load, and again after they are posted again.
pub const SETTLE: Duration = Duration::from_secs(120);
/// Calls of the local API sent over one connection, after the load.
pub const BATCH: usize = 50;

/// Two subjects in Försäkringskassan's register.
pub const REGISTER: &str = concat!(
    "{\"subject\": \"19121212-1212\", \"fields\": {\"forman\": \"sjukpenning\", \"belopp\": 14250, \"diagnos\": \"F32\"}}\n",
    "{\"subject\": \"19811218-9876\", \"fields\": {\"forman\": \"aktivitetsersattning\", \"belopp\": 9800, \"diagnos\": \"G35\"}}\n",
);

/// Both nodes give up on a request in 5 s and take one in flight for 6 s as having lost its
/// sender, so recovery acts within seconds (`review_poll_seconds = 1` runs a round each
/// second).
pub const RECOVERY: &str = "
[limits]
request_timeout_ms = 5000
peer_timeout_ms = 3000

[recovery]
grace_seconds = 6
";

/// The problem types this test tells apart.
pub const IN_FLIGHT: &str = "urn:utbyte:problem:request-in-flight";
pub const FAILED: &str = "urn:utbyte:problem:request-failed";
pub const NO_SUCH_REQUEST: &str = "urn:utbyte:problem:request-not-found";

/// The recipient's reconciliation with its providers' ledgers.
pub const RECONCILIATION: &str = "/v1/audit/reconciliation";

/// A request as a client sent it, and what its POST got (status 0: no answer at all).
pub struct Sent {
    pub key: String,
    pub body: Value,
    pub status: u16,
    pub answer: Value,
    /// When the POST was sent, and when its answer (or the lack of one) came.
    pub sent_at: Instant,
    pub ended_at: Instant,
}

impl Sent {
    pub fn acknowledged(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Request `n` of `client`: a mix the rulebook answers — payments disclosed and the diagnosis
/// refused, payments alone, the diagnosis alone (refused outright) — about two subjects.
pub fn case(client: usize, n: usize) -> Value {
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
pub fn load(recipient: &Node, root: &Path, client: usize, stopping: &AtomicBool) -> Vec<Sent> {
    let mut sent = Vec::new();
    while !stopping.load(Ordering::Relaxed) {
        let n = sent.len();
        let key = format!("crash-{client}-{n}");
        let body = case(client, n);
        let sent_at = Instant::now();
        let (status, answer) = recipient.request(root, &key, &body);
        let request = Sent {
            key,
            body,
            status,
            answer,
            sent_at,
            ended_at: Instant::now(),
        };
        if !request.acknowledged() {
            std::thread::sleep(Duration::from_millis(500));
        }
        sent.push(request);
    }
    sent
}

/// Short pauses, random enough that the kills land at different points of the exchanges.
pub struct Pauses(u64);

impl Pauses {
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Pauses(u64::from(nanos) | 1)
    }

    /// `from` to `to` milliseconds.
    pub fn between(&mut self, from: u64, to: u64) -> Duration {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(from + self.0 % (to - from))
    }
}

/// Tells the clients to stop when dropped: at the end of the kills, or when they fail, so the
/// clients never outlive them.
pub struct Stopping<'a>(pub &'a AtomicBool);

impl Drop for Stopping<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Calls the recipient's local API on [`CLIENTS`] threads, [`BATCH`] calls to a connection: for
/// each call, in order, the status and the body.
pub fn call_all(recipient: &Node, root: &Path, calls: &[Call]) -> Vec<(u16, Value)> {
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
pub fn ended((status, body): &(u16, Value)) -> bool {
    match status {
        200 | 202 => true,
        404 => body["type"] == NO_SUCH_REQUEST,
        502 => body["type"] == FAILED,
        _ => false,
    }
}

/// Makes `calls` about keys, each again until its answer says the key has ended or [`SETTLE`]
/// has passed: the last answer to each.
pub fn until_ended(recipient: &Node, root: &Path, calls: &[Call]) -> Vec<(u16, Value)> {
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
pub fn unreconciled(recipient: &Node, root: &Path) -> usize {
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
pub fn record(ledger: &AuditDir, index: u64) -> Option<Value> {
    serde_json::from_slice(&ledger.entry(index).ok()?).ok()
}

/// What asking about every key sent found, and posting each unacknowledged one again.
pub struct Ends<'a> {
    /// Acknowledged answers not answered again under their key with the same receipts.
    pub lost: Vec<String>,
    /// Keys still in flight at the end.
    pub stuck: Vec<&'a str>,
    /// Answers that are none of the expected ones.
    pub unexpected: Vec<String>,
    /// Keys that ended failed.
    pub failed: usize,
    /// What posting each unacknowledged key again, with the same body, got, in order.
    pub retried: Vec<(u16, Value)>,
}

/// Asks `recipient` about every key in `sent` until each has ended, then posts each
/// unacknowledged key again with the same body until that has ended too: every key ends, within
/// the bound, and says so to a GET; an acknowledged answer is answered again with the same
/// receipts; an unacknowledged key gets an answer or a failure.
pub fn ends<'a>(recipient: &Node, root: &Path, sent: &'a [Sent]) -> Ends<'a> {
    let asked: Vec<Call> = sent
        .iter()
        .map(|s| Call::new("GET", &format!("/v1/requests/{}", s.key)))
        .collect();
    let mut ends = Ends {
        lost: Vec::new(),
        stuck: Vec::new(),
        unexpected: Vec::new(),
        failed: 0,
        retried: Vec::new(),
    };
    for (request, (status, end)) in sent.iter().zip(until_ended(recipient, root, &asked)) {
        match (status, end["type"].as_str()) {
            (409, Some(IN_FLIGHT)) => ends.stuck.push(&request.key),
            (502, Some(FAILED)) => ends.failed += 1,
            (200 | 202, _) | (404, Some(NO_SUCH_REQUEST)) => {}
            _ => ends
                .unexpected
                .push(format!("GET {}: {status} {end}", request.key)),
        }
        if request.acknowledged() {
            let same = status == request.status
                && end["provider_receipt"]["index"] == request.answer["provider_receipt"]["index"]
                && end["receipt"]["index"] == request.answer["receipt"]["index"];
            if !same {
                ends.lost.push(format!(
                    "{}: acknowledged {} with provider receipt {}, now {status} {end}",
                    request.key, request.status, request.answer["provider_receipt"]["index"]
                ));
            }
        }
    }
    let unacknowledged: Vec<&Sent> = sent.iter().filter(|s| !s.acknowledged()).collect();
    let again: Vec<Call> = unacknowledged
        .iter()
        .map(|s| Call::request(&s.key, &s.body))
        .collect();
    ends.retried = until_ended(recipient, root, &again);
    for (request, (status, answer)) in unacknowledged.iter().zip(&ends.retried) {
        match (*status, answer["type"].as_str()) {
            (200 | 202, _) | (502, Some(FAILED)) => {}
            (409, Some(IN_FLIGHT)) => ends.stuck.push(&request.key),
            _ => ends
                .unexpected
                .push(format!("POST {} again: {status} {answer}", request.key)),
        }
    }
    ends
}

/// `utbyte audit verify` on each `(name, ledger directory)`: the ones that fail, with what it
/// said.
pub fn unverified(root: &Path, ledgers: &[(String, String)]) -> Vec<String> {
    let mut unverified = Vec::new();
    for (name, ledger) in ledgers {
        let verified = super::try_utbyte(root, &["audit", "verify", ledger]);
        let said = String::from_utf8_lossy(&verified.stdout);
        if !(verified.status.success() && said.starts_with("OK:")) {
            let stderr = String::from_utf8_lossy(&verified.stderr);
            unverified.push(format!("{name}: {said}{stderr}"));
        }
    }
    unverified
}

/// Every answer — acknowledged, or got on posting again — whose provider receipt is not an
/// answer in the provider's ledger paired with its own receipt in the recipient's.
pub fn unrecorded(
    provider: &AuditDir,
    own: &AuditDir,
    sent: &[Sent],
    retried: &[(u16, Value)],
) -> Vec<String> {
    let answers = sent
        .iter()
        .filter(|s| s.acknowledged())
        .map(|s| &s.answer)
        .chain(
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
        match (record(provider, provider_index), record(own, own_index)) {
            (Some(provided), Some(received))
                if ["disclosure", "refusal"].contains(&provided["event"].as_str().unwrap_or("")) =>
            {
                super::assert_paired(&provided, &received, provider_index);
            }
            (provided, received) => unrecorded.push(format!(
                "{}: provider's entry {provider_index} {provided:?}, own entry {own_index} {received:?}",
                answer["idempotency_key"]
            )),
        }
    }
    unrecorded
}

/// Per entry of `provider`'s ledger, how many receipts of it the recipient's ledger `own` holds.
pub fn receipts(own: &AuditDir, provider: &str) -> BTreeMap<u64, usize> {
    let mut receipts: BTreeMap<u64, usize> = BTreeMap::new();
    for index in 0..own.size() {
        let received = record(own, index).unwrap_or_default();
        if received["event"] == "receipt" && received["provider"] == provider {
            *receipts
                .entry(received["refers_to"].as_u64().unwrap())
                .or_default() += 1;
        }
    }
    receipts
}

/// A distinct valid personnummer per `n` (below 900), born on 2 March 1975.
pub fn person(n: usize) -> utbyte_domain::SubjectId {
    let born = utbyte_domain::CalendarDate::new(1975, 3, 2).unwrap();
    utbyte_domain::SubjectId::Personnummer(
        utbyte_domain::Personnummer::from_parts(born, 100 + n as u16).unwrap(),
    )
}

/// Malmö stad's case system keeps a bulk under `key` (`201`): `fields` of `fk-formaner`, under
/// LUFFA, for case `case_ref`.
pub fn create_bulk(malmo: &Node, root: &Path, key: &str, fields: &[&str], case_ref: &str) {
    let bulk = json!({
        "offering": "fk-formaner", "fields": fields,
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": case_ref, "officer": "malmo-h4711",
        "role": "handlaggare", "unit": "malmo-ekonomiskt-bistand"
    });
    let (status, created) = malmo
        .calls(
            root,
            &[Call {
                key: Some(key),
                body: Some(&bulk),
                ..Call::new("POST", "/v1/bulk")
            }],
        )
        .remove(0);
    assert_eq!(status, 201, "{created:#}");
}

/// Uploads `subjects` to bulk `key` from place `from`, as NDJSON sent at once (not after waiting
/// for a `100 Continue`): the status (0 when the node died under it) and the answer.
pub fn upload_subjects(
    malmo: &Node,
    root: &Path,
    key: &str,
    from: u64,
    subjects: impl Iterator<Item = String>,
) -> (u16, String) {
    let file = root.join(format!("{key}-{from}.ndjson"));
    let lines: String = subjects.map(|s| format!("{}\n", json!(s))).collect();
    std::fs::write(&file, lines).unwrap();
    let mut args = malmo.tls(root);
    args.extend([
        "-X".to_owned(),
        "POST".to_owned(),
        "-H".to_owned(),
        "content-type: application/x-ndjson".to_owned(),
        "-H".to_owned(),
        "expect:".to_owned(),
        "--data-binary".to_owned(),
        format!("@{}", file.display()),
        malmo.url(&format!("/v1/bulk/{key}/subjects?from={from}")),
    ]);
    super::curl(&[args]).remove(0)
}

/// Every record of bulk `key`, read back as NDJSON.
pub fn bulk_records(malmo: &Node, root: &Path, key: &str) -> Vec<Value> {
    let mut args = malmo.tls(root);
    args.push(malmo.url(&format!("/v1/bulk/{key}/records?from=0")));
    let (status, text) = super::curl(&[args]).remove(0);
    assert_eq!(status, 200, "{text}");
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}
