//! A bulk under SIGKILL: the deployment guide's two nodes as separate `utbyte node serve`
//! processes. Malmö stad's case system uploads a bulk of subjects to its node, which asks
//! Försäkringskassan's part by part, several parts in flight; Malmö's node is killed in the
//! middle of the upload, again and again, and after each restart the case system resumes where
//! the bulk stands. A part asked and its receipts recorded but not kept when the node died is
//! asked again, and the provider answers with the answer it kept. Afterwards:
//!
//! - every subject has its record, once, in the order sent;
//! - every entry of Försäkringskassan's ledger recording a run of the bulk has exactly one
//!   receipt in Malmö's — none missing, none recorded twice;
//! - both ledgers verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{person, receipts, record, unverified, Pauses, REGISTER};
use common::{curl, stop, Call, Guide, Node, Setup};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use utbyte_audit::AuditDir;

const SUBJECTS: u64 = 300_000;
const KILLS: usize = 6;
const KEY: &str = "bulk-kill";

/// Subject `n` of the bulk: 800 distinct subjects, over and over.
fn subject(n: u64) -> String {
    person((n % 800) as usize).to_string()
}

/// Where the bulk stands: how many subjects are taken.
fn standing(malmo: &Node, root: &Path) -> u64 {
    let (status, view) = malmo.call(root, "GET", &format!("/v1/bulk/{KEY}"));
    assert_eq!(status, 200, "{view:#}{}", malmo.log_tail(root));
    view["subjects"].as_u64().unwrap()
}

/// Uploads the subjects from `from` to the end, as NDJSON: the status (0 when the node died
/// under it) and the answer.
fn upload(malmo: &Node, root: &Path, from: u64) -> (u16, String) {
    let file = root.join(format!("subjects-{from}.ndjson"));
    let lines: String = (from..SUBJECTS)
        .map(|n| format!("{}\n", json!(subject(n))))
        .collect();
    std::fs::write(&file, lines).unwrap();
    let mut args = malmo.tls(root);
    args.extend([
        "-X".to_owned(),
        "POST".to_owned(),
        "-H".to_owned(),
        "content-type: application/x-ndjson".to_owned(),
        // Sent at once, not after waiting for a `100 Continue`.
        "-H".to_owned(),
        "expect:".to_owned(),
        "--data-binary".to_owned(),
        format!("@{}", file.display()),
        malmo.url(&format!("/v1/bulk/{KEY}/subjects?from={from}")),
    ]);
    curl(&[args]).remove(0)
}

#[test]
fn a_killed_requesting_node_resumes_a_bulk_and_records_each_receipt_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\"",
            fk_duties: common::FK_DUTIES,
            node_extra: "",
        },
    );
    let (directory, _) = guide.start_directory();
    let fk = guide.fk.start(root);
    let mut malmo = guide.malmo.start(root);
    let bulk = json!({
        "offering": "fk-formaner", "fields": ["forman", "belopp"],
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": "ASN-2026-BULK", "officer": "malmo-h4711",
        "role": "handlaggare", "unit": "malmo-ekonomiskt-bistand"
    });
    let created = guide.malmo.calls(
        root,
        &[Call {
            key: Some(KEY),
            body: Some(&bulk),
            ..Call::new("POST", "/v1/bulk")
        }],
    );
    assert_eq!(created[0].0, 201, "{:#}", created[0].1);

    // Each round: the upload resumed where the bulk stands, the node killed under it.
    let mut pauses = Pauses::new();
    let mut cut = 0usize;
    for _ in 0..KILLS {
        let from = standing(&guide.malmo, root);
        if from == SUBJECTS {
            break;
        }
        let (status, _) = std::thread::scope(|scope| {
            let uploading = scope.spawn(|| upload(&guide.malmo, root, from));
            std::thread::sleep(pauses.between(700, 2000));
            malmo.kill();
            uploading.join().unwrap()
        });
        if status != 200 {
            cut += 1;
        }
        malmo = guide.malmo.start(root);
    }
    // The rest, without kills.
    let mut from = standing(&guide.malmo, root);
    while from < SUBJECTS {
        let (status, answer) = upload(&guide.malmo, root, from);
        assert_eq!(status, 200, "{answer}{}", guide.fk.log_tail(root));
        from = standing(&guide.malmo, root);
    }

    // Every subject's record once, in the order sent.
    let mut args = guide.malmo.tls(root);
    args.push(guide.malmo.url(&format!("/v1/bulk/{KEY}/records?from=0")));
    let (status, text) = curl(&[args]).remove(0);
    assert_eq!(status, 200, "{text}");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len() as u64, SUBJECTS);
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record["n"], n as u64);
        assert_eq!(record["subject"], subject(n as u64), "subject {n}");
        assert_eq!(record["status"], "answered", "{record:#}");
    }
    for child in [malmo, fk, directory] {
        stop(child);
    }

    // Every run the provider recorded has exactly one receipt here.
    let provider = AuditDir::open(&root.join(guide.fk.ledger()), None).unwrap();
    let own = AuditDir::open(&root.join(guide.malmo.ledger()), None).unwrap();
    let runs: Vec<u64> = (0..provider.size())
        .filter(|i| record(&provider, *i).is_some_and(|r| r["bulk"].is_object()))
        .collect();
    let received = receipts(&own, guide.fk.authority);
    let counted: BTreeMap<u64, usize> = runs
        .iter()
        .map(|i| (*i, received.get(i).copied().unwrap_or(0)))
        .collect();
    let twice = counted.values().filter(|c| **c > 1).count();
    let missing = counted.values().filter(|c| **c == 0).count();
    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    println!(
        "bulk kill test: kills={KILLS} uploads_cut={cut} runs={} recorded_twice={twice} missing={missing}",
        runs.len()
    );
    assert!(cut >= KILLS / 2, "the kills landed mid-upload: {cut}");
    assert_eq!(
        received.len(),
        runs.len(),
        "receipts of entries that record no run of the bulk"
    );
    assert_eq!(
        twice, 0,
        "runs whose receipt was recorded twice: {counted:?}"
    );
    assert_eq!(missing, 0, "runs without a receipt");
    assert!(unverified.is_empty(), "{unverified:?}");
}
