//! End to end: reconciliation between two nodes' ledgers. Answers received are matched; an
//! answer the provider recorded that never reached the recipient's node (a request that came
//! with the recipient's certificate but not through its exchange, as when a connection is cut
//! after the provider recorded and the recipient gave the request up) is pending while it is
//! young, then recorded as undelivered in both ledgers — once, however often reconciliation
//! runs; a receipt that does not match the provider's record is a finding auditors see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::scrape::scrape;
use common::*;
use http::Method;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use utbyte_audit::{AuditRecord, EventKind};
use utbyte_testbed::loopback::LoopbackFederation;

const MALMO_FK: [&str; 2] = ["forsakringskassan", "malmo-stad"];
/// The grace period: an answer younger than this is not judged.
const GRACE_SECONDS: u64 = 2;

async fn quick_federation() -> (tempfile::TempDir, LoopbackFederation) {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &MALMO_FK);
    plan.limits.request_timeout = Duration::from_secs(1);
    plan.recovery.grace_seconds = GRACE_SECONDS;
    let federation = LoopbackFederation::start(plan).await.unwrap();
    (dir, federation)
}

/// Runs a round at Malmö's node and returns its view of Försäkringskassan.
async fn reconcile(malmo: SocketAddr) -> Value {
    let view = call(malmo, "POST", "/v1/audit/reconciliation", &[], None).await;
    assert_eq!(view.status, 200, "{:#}", view.body);
    let peers = view.body["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 1, "{:#}", view.body);
    assert_eq!(peers[0]["peer"], "forsakringskassan");
    peers[0].clone()
}

fn record_at(federation: &LoopbackFederation, authority: &str, index: u64) -> AuditRecord {
    let ledger = federation.node(authority).unwrap().audit().ledger();
    AuditRecord::from_leaf(&ledger.entry(index).unwrap()).unwrap()
}

fn size(federation: &LoopbackFederation, authority: &str) -> u64 {
    federation.node(authority).unwrap().audit().ledger().size()
}

/// A disclosure recorded by Försäkringskassan for Malmö that Malmö's node never received;
/// returns its index in Försäkringskassan's ledger.
async fn lost_answer(federation: &LoopbackFederation, id: &str, subject: &str) -> u64 {
    let index = size(federation, "forsakringskassan");
    let body = serde_json::to_vec(&exchange_request(id, subject)).unwrap();
    let sent = as_malmo(
        federation,
        Method::POST,
        "/federation/v1/requests",
        Some(body),
    )
    .await;
    assert_eq!(sent.status, 200);
    assert_eq!(
        record_at(federation, "forsakringskassan", index).event,
        EventKind::Disclosure
    );
    index
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_answers_match_and_a_lost_one_is_recorded_undelivered_on_both_sides_once() {
    let (_dir, federation) = quick_federation().await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    for (i, subject) in open.iter().take(3).enumerate() {
        let answer = submit(malmo, &format!("r-{i}"), &luffa_case(subject, &["forman"])).await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
    }
    let lost = lost_answer(&federation, "reconciliation-lost-0001", &open[3]).await;

    // Too young to judge: the three received are matched, the lost one is pending.
    let first = reconcile(malmo).await;
    assert_eq!(first["state"], "pending", "{first:#}");
    assert_eq!(first["matched"], 3, "{first:#}");
    assert_eq!(first["pending"], 1, "{first:#}");
    assert_eq!(first["settled_to"], lost, "{first:#}");

    tokio::time::sleep(Duration::from_secs(GRACE_SECONDS + 1)).await;
    let second = reconcile(malmo).await;
    assert_eq!(second["state"], "reconciled", "{second:#}");
    assert_eq!(second["matched"], 3, "{second:#}");
    assert_eq!(second["undelivered"], 1, "{second:#}");
    assert_eq!(second["pending"], 0, "{second:#}");
    assert_eq!(second["findings"], serde_json::json!([]));

    // Both ledgers say it never arrived, naming the provider's entry; the provider's record
    // keeps the subject's commitment, so the subject-access report shows it.
    let ours = record_at(
        &federation,
        "malmo-stad",
        size(&federation, "malmo-stad") - 1,
    );
    assert_eq!(ours.event, EventKind::Undelivered);
    assert_eq!(ours.refers_to, Some(lost));
    assert_eq!(ours.provider, "forsakringskassan");
    let given = record_at(&federation, "forsakringskassan", lost);
    assert_eq!(ours.payload_sha256, given.payload_sha256);
    let fk_size = size(&federation, "forsakringskassan");
    let theirs = record_at(&federation, "forsakringskassan", fk_size - 1);
    assert_eq!(theirs.event, EventKind::Undelivered);
    assert_eq!(theirs.refers_to, Some(lost));
    assert_eq!(theirs.subjects, given.subjects);
    assert!(!theirs.subjects.is_empty());

    // Again: nothing new on either side.
    let malmo_size = size(&federation, "malmo-stad");
    let third = reconcile(malmo).await;
    assert_eq!(third["undelivered"], 1, "{third:#}");
    assert_eq!(third["state"], "reconciled", "{third:#}");
    assert_eq!(size(&federation, "malmo-stad"), malmo_size);
    assert_eq!(size(&federation, "forsakringskassan"), fk_size);

    // Told twice, the provider names its first record.
    let again = as_malmo(
        &federation,
        Method::POST,
        "/federation/v1/reconciliation/undelivered",
        Some(format!("{{\"index\": {lost}}}").into_bytes()),
    )
    .await;
    assert_eq!(again.status, 200);
    let named: Value = serde_json::from_slice(&again.body).unwrap();
    assert_eq!(named["index"], fk_size - 1);
    assert_eq!(size(&federation, "forsakringskassan"), fk_size);

    let metrics = scrape(malmo).await;
    let peer = [("peer", "forsakringskassan")];
    assert_eq!(metrics.get("utbyte_reconciliation_undelivered", &peer), 1.0);
    assert_eq!(metrics.get("utbyte_reconciliation_findings", &peer), 0.0);
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_that_does_not_match_the_providers_record_is_a_finding() {
    let (_dir, federation) = quick_federation().await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let answer = submit(malmo, "fine", &luffa_case(&open[0], &["forman"])).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let lost = lost_answer(&federation, "reconciliation-lost-0002", &open[1]).await;
    // Malmö's ledger claims receipts: one with another digest than the provider recorded, one
    // for an entry the provider did not record for Malmö (its first, a configuration change).
    let mut forged = record_at(
        &federation,
        "malmo-stad",
        size(&federation, "malmo-stad") - 1,
    );
    assert_eq!(forged.event, EventKind::Receipt);
    forged.refers_to = Some(lost);
    forged.payload_sha256 = Some("0".repeat(64));
    let audit = federation.node("malmo-stad").unwrap().audit();
    audit.record(forged.clone(), &[]).unwrap();
    forged.refers_to = Some(0);
    audit.record(forged, &[]).unwrap();

    let view = reconcile(malmo).await;
    assert_eq!(view["state"], "unreconciled", "{view:#}");
    let findings: Vec<(u64, String)> = view["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["provider_index"].as_u64().unwrap(),
                f["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        findings.contains(&(lost, "digest_mismatch".to_owned())),
        "{view:#}"
    );
    assert!(
        findings.contains(&(0, "unknown_entry".to_owned())),
        "{view:#}"
    );
    assert_eq!(view["findings_total"], 2, "{view:#}");
    // The auditor lists them a page at a time, by entry, following the `Link` header.
    let path = "/v1/audit/reconciliation/findings?peer=forsakringskassan&limit=1";
    let first = call(malmo, "GET", path, &[], None).await;
    assert_eq!(first.status, 200, "{:#}", first.body);
    assert_eq!(first.body[0]["provider_index"], 0, "{:#}", first.body);
    let link = first.link.expect("a link to the second finding");
    let next = link.strip_prefix('<').unwrap().split_once('>').unwrap().0;
    let second = call(malmo, "GET", next, &[], None).await;
    assert_eq!(second.status, 200, "{:#}", second.body);
    assert_eq!(second.body[0]["provider_index"], lost, "{:#}", second.body);
    assert_eq!(second.body[0]["kind"], "digest_mismatch");
    assert_eq!(second.link, None, "two findings, two pages");
    let nobody = "/v1/audit/reconciliation/findings?peer=polisen";
    let none = call(malmo, "GET", nobody, &[], None).await;
    assert_eq!((none.status, none.body), (200, serde_json::json!([])));
    let blank = "/v1/audit/reconciliation/findings?peer=%20";
    assert_problem(
        &call(malmo, "GET", blank, &[], None).await,
        422,
        "invalid-request",
    );
    let metrics = scrape(malmo).await;
    let peer = [("peer", "forsakringskassan")];
    assert_eq!(metrics.get("utbyte_reconciliation_findings", &peer), 2.0);
    federation.stop().await;
}
