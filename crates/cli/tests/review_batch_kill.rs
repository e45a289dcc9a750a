//! A batch decision under SIGKILL: the deployment guide's two nodes as separate `utbyte node
//! serve` processes. Malmö stad asks Försäkringskassan in one bulk about 300 subjects with
//! protected identity; each is held for a reviewer there, all in one batch. The reviewer
//! decides the batch once (`202`), and Försäkringskassan's node is killed while it applies the
//! decision review by review. Afterwards:
//!
//! - when the node was killed, some of the batch's reviews were decided and some were not;
//! - restarted, the node applies the rest on its own: every review of the batch is decided,
//!   each by exactly one `review_decision` entry in its ledger — a review the kill caught
//!   between recording its decision and keeping it is signed with the entry recorded — and the
//!   kept decision is forgotten;
//! - the ledger verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{
    bulk_records, create_bulk, person, record, unverified, upload_subjects, REGISTER,
};
use common::{assert_paired, eventually, stop, Call, Guide, Node, Setup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use utbyte_audit::AuditDir;
use utbyte_store::ExchangeStore;

const HELD: usize = 300;
const KEY: &str = "held-kill";

/// The batch at Försäkringskassan with every held subject pending, once all are queued.
fn full_batch(fk: &Node, root: &Path) -> Value {
    let mut found = Value::Null;
    eventually(Duration::from_secs(60), "the held subjects' batch", || {
        let (status, batches) = fk.call(root, "GET", "/v1/review-batches");
        assert_eq!(status, 200, "{batches:#}");
        found = batches
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["pending"] == HELD as u64)
            .cloned()
            .unwrap_or(Value::Null);
        !found.is_null()
    });
    found
}

/// How many reviews are pending in Försäkringskassan's store, read while its node is down.
fn pending(root: &Path, guide: &Guide) -> i64 {
    let path = root.join(guide.fk.dir).join("data").join("exchange.sqlite");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = ExchangeStore::open(&path).await.unwrap();
        let pending = store.pending_review_count().await.unwrap();
        store.close().await;
        pending
    })
}

#[test]
fn a_batch_decision_cut_off_by_a_kill_is_applied_whole_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut register = REGISTER.to_owned();
    for n in 0..HELD {
        register.push_str(&format!(
            "{}\n",
            json!({"subject": person(n).to_string(), "protected_identity": true,
                   "fields": {"forman": "bostadsbidrag", "belopp": 1000 + n}})
        ));
    }
    let guide = Guide::set_up(
        root,
        &Setup {
            register: &register,
            malmo_duties: "\"request\"",
            fk_duties: common::FK_DUTIES,
            node_extra: "",
        },
    );
    let (directory, _) = guide.start_directory();
    let mut fk = guide.fk.start(root);
    let malmo = guide.malmo.start(root);

    // One bulk of the protected subjects: every one held, asked on its own, in one batch.
    create_bulk(
        &guide.malmo,
        root,
        KEY,
        &["forman", "belopp"],
        "ASN-2026-HELD",
    );
    let (status, taken) = upload_subjects(
        &guide.malmo,
        root,
        KEY,
        0,
        (0..HELD).map(|n| person(n).to_string()),
    );
    assert_eq!(status, 200, "{taken}");

    // The reviewer decides the batch once; the node is killed while it applies the decision.
    let batch = full_batch(&guide.fk, root);
    let name = batch["batch"].as_str().unwrap().to_owned();
    let reason = "Behovet av uppgiften väger tyngre än skyddsintresset för dessa personer.";
    let fields: Vec<Value> = batch["first"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "review")
        .map(|f| json!({"field": f["field"], "outcome": "disclose", "reason": reason}))
        .collect();
    assert!(!fields.is_empty(), "{batch:#}");
    let decision = json!({
        "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
        "fields": fields,
        "except": [],
    });
    let accepted = guide.fk.calls(
        root,
        &[Call {
            body: Some(&decision),
            ..Call::new("POST", &format!("/v1/review-batches/{name}/decision"))
        }],
    );
    assert_eq!(accepted[0].0, 202, "{:#}", accepted[0].1);
    assert_eq!(accepted[0].1["deciding"], HELD as u64);
    std::thread::sleep(Duration::from_millis(100));
    fk.kill();
    let left = pending(root, &guide);
    assert!(
        0 < left && left < HELD as i64,
        "the kill landed while the decision was applied: {left} of {HELD} pending"
    );

    // Restarted, the node applies the rest on its own.
    fk = guide.fk.start(root);
    eventually(Duration::from_secs(120), "every review decided", || {
        let (status, _) = guide
            .fk
            .call(root, "GET", &format!("/v1/review-batches/{name}"));
        status == 404
    });
    // Malmö fetches every decided answer of its held subjects' requests.
    let asked: Vec<Call> = bulk_records(&guide.malmo, root, KEY)
        .iter()
        .map(|record| {
            Call::new(
                "GET",
                &format!("/v1/requests/{}", record["request"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(asked.len(), HELD);
    eventually(
        Duration::from_secs(60),
        "Malmö to have every answer",
        || {
            guide
                .malmo
                .calls(root, &asked)
                .iter()
                .all(|(status, answer)| *status == 200 && answer["status"] == "answered")
        },
    );
    for child in [malmo, fk, directory] {
        stop(child);
    }
    assert_eq!(pending(root, &guide), 0);
    let path = root.join(guide.fk.dir).join("data").join("exchange.sqlite");
    let kept = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = ExchangeStore::open(&path).await.unwrap();
        let kept = store.batch_decisions().await.unwrap();
        store.close().await;
        kept
    });
    assert!(
        kept.is_empty(),
        "the applied decision is forgotten: {kept:?}"
    );

    // Each review decided by exactly one entry of the ledger.
    let ledger = AuditDir::open(&root.join(guide.fk.ledger()), None).unwrap();
    let mut decisions: BTreeMap<u64, Vec<(u64, Value)>> = BTreeMap::new();
    for index in 0..ledger.size() {
        let entry = record(&ledger, index).unwrap();
        if entry["event"] == "review_decision" {
            let review = entry["refers_to"].as_u64().unwrap();
            decisions.entry(review).or_default().push((index, entry));
        }
    }
    // And Malmö recorded the receipt of each, once, with the digest of the entry it pairs with.
    let own = AuditDir::open(&root.join(guide.malmo.ledger()), None).unwrap();
    let mut received: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for index in 0..own.size() {
        let entry = record(&own, index).unwrap();
        if entry["event"] == "receipt" && entry["provider"] == guide.fk.authority {
            let of = entry["refers_to"].as_u64().unwrap();
            received.entry(of).or_default().push(entry);
        }
    }
    let log = std::fs::read_to_string(root.join(guide.fk.dir).join("node.log")).unwrap();
    let kept_with_entry = log
        .matches("a review decision recorded before its node stopped")
        .count();
    println!(
        "batch decision kill test: reviews={HELD} pending_at_kill={left} decision_entries={} kept_with_earlier_entry={kept_with_entry}",
        decisions.values().map(Vec::len).sum::<usize>()
    );
    assert_eq!(decisions.len(), HELD, "every review decided");
    for (review, entries) in &decisions {
        assert_eq!(entries.len(), 1, "review {review} decided more than once");
        let (index, provided) = &entries[0];
        let receipts = received.get(index).map_or(&[][..], Vec::as_slice);
        assert_eq!(
            receipts.len(),
            1,
            "receipts of entry {index}: {receipts:#?}"
        );
        assert_paired(provided, &receipts[0], *index);
    }
    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    assert!(unverified.is_empty(), "{unverified:?}");
}
