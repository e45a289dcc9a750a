//! Notices delivered node to node under SIGKILL: the deployment guide's two nodes as separate
//! `utbyte node serve` processes. Malmö stad's case system subscribes, through its node, at
//! Försäkringskassan's to changes of half the subjects; the test writes Försäkringskassan's
//! register without pause while the case system follows Malmö's notice feed, and the provider,
//! the subscriber, and both are killed in turn and restarted, twenty kills in all. Afterwards,
//! with both caught up:
//!
//! - every acknowledged write to a covered subject is exactly one notice in Malmö's feed — none
//!   lost, none twice (a repeat delivery is recognised by the provider's notice number and
//!   taken once) — and no other subject is told;
//! - each subject's notices come in the order of its writes;
//! - every notice is recorded in both ledgers: in a `notice_sent` entry of Försäkringskassan's
//!   and a `notice_received` entry of Malmö's naming it, with the same digest;
//! - both ledgers verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{person, unverified, Pauses, REGISTER};
use common::{eventually, stop, Call, Guide, Setup};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::{AuditDir, EventKind};
use utbyte_domain::SubjectId;
use utbyte_store::{Register, RegisterBatch, RegisterStore};

/// Rounds of kills: the provider, the subscriber, both — twenty-one kills of a node in all.
const ROUNDS: usize = 7;
const SUBJECTS: usize = 200;
const OFFERING: &str = "fk-formaner";

#[test]
fn killed_nodes_lose_no_notice_and_tell_each_once() {
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
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let subjects: Vec<SubjectId> = (0..SUBJECTS).map(person).collect();
    let covered: Vec<SubjectId> = subjects.iter().copied().step_by(2).collect();
    let (directory, _) = guide.start_directory();
    let mut fk = guide.fk.start(root);
    let mut malmo = guide.malmo.start(root);

    let subscription = json!({
        "subscription_id": "bidrag-kill",
        "officer": "malmo-h4711", "unit": "malmo-ekonomiskt-bistand", "role": "handlaggare",
        "offering": OFFERING, "events": ["utbetalning-andrad"],
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": "ASN-2026-007001",
        "ends": (OffsetDateTime::now_utc() + time::Duration::days(30)).format(&Rfc3339).unwrap(),
        "subjects": covered.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    });
    let made = guide.malmo.calls(
        root,
        &[Call {
            body: Some(&subscription),
            ..Call::new("POST", "/v1/subscriptions")
        }],
    );
    assert_eq!(made[0].0, 201, "{:#}", made[0].1);
    assert_eq!(made[0].1["granted"], json!(["utbetalning-andrad"]));

    let register = runtime
        .block_on(RegisterStore::open(
            root.join(guide.fk.dir).join("data").join("register.sqlite"),
        ))
        .unwrap();
    let stopping = AtomicBool::new(false);
    let followed: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    let mut pauses = Pauses::new();
    let mut kills = [0usize; 2];
    let written: BTreeMap<SubjectId, Vec<u64>> = std::thread::scope(|scope| {
        // Each write gives ten subjects new amounts; counted once committed.
        let writer = scope.spawn(|| {
            let mut written: BTreeMap<SubjectId, Vec<u64>> = BTreeMap::new();
            let mut round = 0u64;
            while !stopping.load(Ordering::Relaxed) {
                let mut batch = RegisterBatch::new();
                let chosen: Vec<SubjectId> = (0..10)
                    .map(|k| subjects[(round as usize * 7 + k * 13) % SUBJECTS])
                    .collect();
                for (k, subject) in chosen.iter().enumerate() {
                    batch.subject(*subject, false).record(
                        OFFERING,
                        *subject,
                        "belopp",
                        json!(round * 100 + k as u64),
                    );
                }
                runtime.block_on(register.insert(&batch)).unwrap();
                for subject in chosen {
                    written.entry(subject).or_default().push(round);
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            written
        });
        // The case system follows the feed, through the kills of its node.
        let reader = scope.spawn(|| {
            let mut after = 0u64;
            while !stopping.load(Ordering::Relaxed) {
                let page = guide.malmo.call(
                    root,
                    "GET",
                    &format!("/v1/notices?after={after}&limit=500&wait=1"),
                );
                if page.0 != 200 {
                    std::thread::sleep(Duration::from_millis(200));
                    continue;
                }
                after = page.1["next"].as_u64().unwrap();
                followed
                    .lock()
                    .unwrap()
                    .extend(page.1["notices"].as_array().unwrap().iter().cloned());
            }
        });
        for _ in 0..ROUNDS {
            for which in [0b01, 0b10, 0b11] {
                std::thread::sleep(pauses.between(300, 1200));
                if which & 0b01 != 0 {
                    fk.kill();
                    kills[0] += 1;
                }
                if which & 0b10 != 0 {
                    malmo.kill();
                    kills[1] += 1;
                }
                std::thread::sleep(pauses.between(50, 500));
                if which & 0b01 != 0 {
                    fk = guide.fk.start(root);
                }
                if which & 0b10 != 0 {
                    malmo = guide.malmo.start(root);
                }
            }
        }
        std::thread::sleep(pauses.between(300, 900));
        stopping.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        writer.join().unwrap()
    });

    let expected: usize = written
        .iter()
        .filter(|(subject, _)| covered.contains(subject))
        .map(|(_, rounds)| rounds.len())
        .sum();
    // Caught up: Malmö's feed holds a notice for every covered write.
    let feed = |after: u64| {
        guide
            .malmo
            .call(root, "GET", &format!("/v1/notices?after={after}&limit=500"))
    };
    let read_all = || {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, page) = feed(after);
            assert_eq!(status, 200, "{page:#}");
            let notices = page["notices"].as_array().unwrap().clone();
            if notices.is_empty() {
                return all;
            }
            after = page["next"].as_u64().unwrap();
            all.extend(notices);
        }
    };
    eventually(
        Duration::from_secs(120),
        "every covered write to reach Malmö",
        || read_all().len() >= expected,
    );
    let notices = read_all();
    for child in [malmo, fk, directory] {
        stop(child);
    }

    // Once each: by the provider's number, and per subject in the order written.
    let numbers: BTreeSet<u64> = notices
        .iter()
        .map(|n| n["provider_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.len(), notices.len(), "a notice taken twice");
    let mut told: BTreeMap<SubjectId, Vec<u64>> = BTreeMap::new();
    for notice in &notices {
        let subject: SubjectId = notice["subject"].as_str().unwrap().parse().unwrap();
        assert!(covered.contains(&subject), "a subject not covered was told");
        told.entry(subject)
            .or_default()
            .push(notice["provider_seq"].as_u64().unwrap());
    }
    for (subject, rounds) in &written {
        if covered.contains(subject) {
            let got = told.get(subject).map_or(0, Vec::len);
            assert_eq!(got, rounds.len(), "notices of a subject: one per write");
        }
    }
    assert!(told
        .values()
        .all(|seqs| seqs.windows(2).all(|w| w[0] < w[1])));
    // What the case system read while the nodes died is a prefix of the feed, in its order.
    let followed = followed.into_inner().unwrap();
    assert_eq!(
        followed.iter().map(|n| &n["seq"]).collect::<Vec<_>>(),
        notices[..followed.len()]
            .iter()
            .map(|n| &n["seq"])
            .collect::<Vec<_>>()
    );

    // Both ledgers: every notice in a provider's `notice_sent` part, and in a part of Malmö's
    // naming such an entry with the same digest.
    let parts = |ledger: String, event: EventKind| {
        let dir = AuditDir::open(&root.join(ledger), None).unwrap();
        let mut parts = BTreeMap::new();
        for index in 0..dir.size() {
            let record = dir.record(index).unwrap();
            if record.event == event {
                parts.insert(index, record);
            }
        }
        parts
    };
    let sent = parts(guide.fk.ledger(), EventKind::NoticeSent);
    let received = parts(guide.malmo.ledger(), EventKind::NoticeReceived);
    let in_parts = |parts: &mut dyn Iterator<Item = (u64, u64)>| {
        let mut covered = BTreeSet::new();
        for (first, last) in parts {
            covered.extend(numbers.range(first..=last).copied());
        }
        covered
    };
    let sent_covers = in_parts(&mut sent.values().map(|r| {
        let n = r.notices.as_ref().unwrap();
        (n.first, n.last)
    }));
    let paired = in_parts(&mut received.values().filter_map(|r| {
        let theirs = sent.get(&r.refers_to?)?;
        let n = r.notices.as_ref().unwrap();
        (theirs.payload_sha256 == r.payload_sha256).then_some((n.first, n.last))
    }));
    let recorded_twice = received.len().saturating_sub(sent.len());
    println!(
        "notice kill test: kills={} (provider {}, subscriber {}) writes={} covered_writes={expected} notices={} sent_parts={} received_parts={} recorded_twice={recorded_twice}",
        kills[0] + kills[1],
        kills[0],
        kills[1],
        written.values().map(Vec::len).sum::<usize>(),
        notices.len(),
        sent.len(),
        received.len(),
    );
    assert!(kills[0] + kills[1] >= 20);
    assert!(expected > 200, "the writer kept writing: {expected}");
    assert_eq!(notices.len(), expected, "one notice per covered write");
    assert_eq!(sent_covers, numbers, "notices not recorded as sent");
    assert_eq!(
        paired, numbers,
        "notices not recorded as received against the provider's entry"
    );
    let unverified = unverified(
        root,
        &[&guide.fk, &guide.malmo].map(|node| (node.authority.to_owned(), node.ledger())),
    );
    assert!(unverified.is_empty(), "{unverified:?}");
}
