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

use common::load::{
    load, record, unreconciled, until_ended, Pauses, Sent, Stopping, CLIENTS, FAILED, IN_FLIGHT,
    NO_SUCH_REQUEST, RECOVERY, REGISTER,
};
use common::{assert_paired, stop, try_utbyte, Call, Guide, Setup};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use utbyte_audit::AuditDir;

/// Rounds of kills, each of the provider, then the recipient, then both.
const ROUNDS: usize = 7;

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
