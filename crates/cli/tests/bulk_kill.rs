//! A bulk under SIGKILL: the deployment guide's two nodes as separate `utbyte node serve`
//! processes. Malmö stad's case system uploads a bulk of subjects to its node, which asks
//! Försäkringskassan's part by part, several parts in flight; the requesting node and the
//! provider's are killed in turn in the middle of the upload, and after each restart the case
//! system resumes where the bulk stands. A part answered, its receipts recorded, but not kept
//! when the requesting node died is asked again, and the provider answers with the answer it
//! kept; a part the provider was answering when it died is decided afresh once its claim is
//! older than `[recovery] grace_seconds`. Afterwards:
//!
//! - every subject has its record, once, in the order sent;
//! - every receipt in Malmö's ledger is of an entry of Försäkringskassan's recording a run of
//!   the bulk, and no entry has two;
//! - every part's subjects are covered by receipted entries of one answer of it — the entries of
//!   an answer the provider recorded but never sent (it died first) have none;
//! - both ledgers verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{
    bulk_records, create_bulk, person, receipts, record, unverified, upload_subjects, Pauses,
    RECOVERY, REGISTER,
};
use common::{eventually, stop, Guide, Node, Setup};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use utbyte_audit::AuditDir;

const SUBJECTS: u64 = 300_000;
/// Kills, the requesting node and the provider's in turn.
const KILLS: usize = 8;
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

/// Uploads the subjects from `from` to the end: the status (0 when the node died under it) and
/// the answer.
fn upload(malmo: &Node, root: &Path, from: u64) -> (u16, String) {
    upload_subjects(malmo, root, KEY, from, (from..SUBJECTS).map(subject))
}

#[test]
fn killed_nodes_resume_a_bulk_and_record_each_receipt_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let guide = Guide::set_up(
        root,
        &Setup {
            register: REGISTER,
            malmo_duties: "\"request\"",
            fk_duties: common::FK_DUTIES,
            node_extra: RECOVERY,
        },
    );
    let (directory, _) = guide.start_directory();
    let mut nodes = [
        (&guide.malmo, guide.malmo.start(root)),
        (&guide.fk, guide.fk.start(root)),
    ];
    create_bulk(
        &guide.malmo,
        root,
        KEY,
        &["forman", "belopp"],
        "ASN-2026-BULK",
    );

    // Each round: the upload resumed where the bulk stands, a node killed under it.
    let mut pauses = Pauses::new();
    let mut cut = 0usize;
    for round in 0..KILLS {
        let from = standing(&guide.malmo, root);
        if from == SUBJECTS {
            break;
        }
        let (node, child) = &mut nodes[round % 2];
        let (status, _) = std::thread::scope(|scope| {
            let uploading = scope.spawn(|| upload(&guide.malmo, root, from));
            std::thread::sleep(pauses.between(700, 2000));
            child.kill();
            uploading.join().unwrap()
        });
        if status != 200 {
            cut += 1;
        }
        *child = node.start(root);
    }
    // The rest, without kills: a part the provider died answering is refused as a replay
    // until its claim is older than the grace period, then decided afresh.
    let mut from = standing(&guide.malmo, root);
    eventually(Duration::from_secs(90), "the whole bulk taken", || {
        if from < SUBJECTS {
            let (status, answer) = upload(&guide.malmo, root, from);
            if status != 200 {
                eprintln!("upload from {from}: {status} {answer}");
                std::thread::sleep(Duration::from_secs(1));
            }
            from = standing(&guide.malmo, root);
        }
        from == SUBJECTS
    });

    // Every subject's record once, in the order sent.
    let records = bulk_records(&guide.malmo, root, KEY);
    assert_eq!(records.len() as u64, SUBJECTS);
    for (n, record) in records.iter().enumerate() {
        assert_eq!(record["n"], n as u64);
        assert_eq!(record["subject"], subject(n as u64), "subject {n}");
        assert_eq!(record["status"], "answered", "{record:#}");
    }
    let [(_, malmo), (_, fk)] = nodes;
    for child in [malmo, fk, directory] {
        stop(child);
    }

    // Every receipt is of a run the provider recorded, none twice, and every part is covered
    // by the receipted runs of one answer.
    let provider = AuditDir::open(&root.join(guide.fk.ledger()), None).unwrap();
    let own = AuditDir::open(&root.join(guide.malmo.ledger()), None).unwrap();
    let runs: BTreeMap<u64, Value> = (0..provider.size())
        .filter_map(|i| record(&provider, i).map(|r| (i, r)))
        .filter(|(_, r)| r["bulk"].is_object())
        .collect();
    let received = receipts(&own, guide.fk.authority);
    let twice = received.values().filter(|c| **c > 1).count();
    let strays: Vec<&u64> = received.keys().filter(|i| !runs.contains_key(i)).collect();
    let mut covered: BTreeMap<u64, u64> = BTreeMap::new();
    for (index, run) in &runs {
        if received.contains_key(index) {
            *covered
                .entry(run["bulk"]["first"].as_u64().unwrap())
                .or_default() += run["bulk"]["count"].as_u64().unwrap();
        }
    }
    let part = |first: u64| (SUBJECTS - first).min(1024);
    let uncovered: Vec<(u64, u64)> = (0..SUBJECTS)
        .step_by(1024)
        .map(|first| (first, covered.get(&first).copied().unwrap_or(0)))
        .filter(|(first, count)| *count != part(*first))
        .collect();
    let unsent = runs.len() - received.len();
    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    println!(
        "bulk kill test: kills={KILLS} uploads_cut={cut} runs={} receipts={} recorded_twice={twice} runs_never_sent={unsent}",
        runs.len(),
        received.len()
    );
    assert!(cut >= KILLS / 2, "the kills landed mid-upload: {cut}");
    assert!(
        strays.is_empty(),
        "receipts of no run of the bulk: {strays:?}"
    );
    assert_eq!(
        twice, 0,
        "runs whose receipt was recorded twice: {received:?}"
    );
    assert!(
        uncovered.is_empty(),
        "parts not covered by one answer's runs: {uncovered:?}"
    );
    assert!(unverified.is_empty(), "{unverified:?}");
}
