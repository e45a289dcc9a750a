//! End to end: recovery of an exchange whose receipt was recorded but whose answer was not kept
//! — the recipient's node crashed (or the case system hung up and its handler was dropped)
//! between recording the receipt and keeping the answer under the key. Asked again, the
//! provider gives the same answer, which the recipient already holds a receipt for: it keeps
//! the answer with that receipt, and records no second one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http::Method;
use utbyte_audit::{AuditRecord, EventKind};
use utbyte_store::{ExchangeStore, OutgoingRequest};
use utbyte_testbed::loopback::LoopbackFederation;

const REQUEST_ID: &str = "recovered-after-a-crash-0001";

fn receipts_of(federation: &LoopbackFederation, provider_index: u64) -> Vec<u64> {
    let ledger = federation.node("malmo-stad").unwrap().audit().ledger();
    (0..ledger.size())
        .filter(|&i| {
            let record = AuditRecord::from_leaf(&ledger.entry(i).unwrap()).unwrap();
            record.event == EventKind::Receipt && record.refers_to == Some(provider_index)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_received_before_a_crash_is_kept_with_its_receipt_not_received_again() {
    let dir = tempfile::tempdir().unwrap();
    let plan = || plan(dir.path().join("f"), &["forsakringskassan", "malmo-stad"]);
    let federation = LoopbackFederation::start(plan()).await.unwrap();
    let begun = time::OffsetDateTime::now_utc();
    let (open, _) = fk_subjects();

    // Malmö's node asked Försäkringskassan's, which decided, recorded and answered ...
    let fk_ledger = federation
        .node("forsakringskassan")
        .unwrap()
        .audit()
        .ledger();
    let provider_index = fk_ledger.size();
    let asked = as_malmo(
        &federation,
        Method::POST,
        "/federation/v1/requests",
        Some(serde_json::to_vec(&exchange_request(REQUEST_ID, &open[0])).unwrap()),
    )
    .await;
    assert_eq!(asked.status, 200);
    let given = AuditRecord::from_leaf(&fk_ledger.entry(provider_index).unwrap()).unwrap();
    assert_eq!(given.event, EventKind::Disclosure);

    // ... and Malmö's node recorded its receipt of the answer, then went down before it kept
    // the answer: the request is still in flight in its exchange state.
    let receipt = AuditRecord {
        message: None,
        bulk: None,
        notices: None,
        event: EventKind::Receipt,
        refers_to: Some(provider_index),
        time: utbyte_audit::record::now(),
        ..given
    };
    let received = federation
        .node("malmo-stad")
        .unwrap()
        .audit()
        .record(receipt, &[])
        .unwrap()
        .index;
    federation.stop().await;
    let mut case = luffa_case(&open[0], &["forman"]);
    case["case_ref"] = "ASN-2026-1".into();
    let request_json = serde_json::to_string(&case).unwrap();
    let exchange = ExchangeStore::open(dir.path().join("f/nodes/malmo-stad/exchange.sqlite"))
        .await
        .unwrap();
    exchange
        .begin_outgoing(&OutgoingRequest {
            key: "crashed-1".into(),
            // What a retry of the key would be compared with; the test does not retry.
            request_hash: "0".repeat(64),
            request_id: REQUEST_ID.into(),
            provider: "forsakringskassan".into(),
            officer: Some("malmo-h4711".into()),
            client: None,
            request_json,
            callback: None,
            created_at: begun,
        })
        .await
        .unwrap();
    exchange.close().await;

    // Started again, the node recovers the exchange: the provider gives the same answer, which
    // is kept with the receipt already recorded.
    let federation = LoopbackFederation::start(plan()).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    wait_answered(malmo, "crashed-1").await;
    let answer = call(malmo, "GET", "/v1/requests/crashed-1", &[], None).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.body["provider_receipt"]["index"], provider_index);
    assert_eq!(
        answer.body["receipt"]["index"], received,
        "{:#}",
        answer.body
    );
    assert_eq!(receipts_of(&federation, provider_index), [received]);
    federation.stop().await;
}
