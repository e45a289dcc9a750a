//! Change capture and matching under SIGKILL: Försäkringskassan's node (`utbyte node serve`)
//! follows its register's change feed while the test writes changes into the register without
//! pause, and the node is killed and restarted twenty times. Half the subjects written are
//! covered by a subscription granted beforehand. Afterwards, with the node restarted and caught
//! up:
//!
//! - every write to a covered subject — each gives it a new value, so each is a change — has
//!   exactly one notice, none lost across the kills and none queued twice;
//! - the notices are in the order of the changes, and none concerns a subject not covered;
//! - the register has forgotten every change it was told was handled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::load::{person, Pauses, REGISTER};
use common::{eventually, stop, Guide, Setup};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;
use utbyte_store::{ExchangeStore, NewSubscription, Register, RegisterBatch, RegisterStore};

const KILLS: usize = 20;
const SUBJECTS: usize = 200;
const OFFERING: &str = "fk-formaner";

#[test]
fn a_killed_provider_loses_no_change_and_queues_each_notice_once() {
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
    let data = root.join(guide.fk.dir).join("data");
    let subjects: Vec<SubjectId> = (0..SUBJECTS).map(person).collect();
    let covered: Vec<SubjectId> = subjects.iter().copied().step_by(2).collect();

    // The grant, kept in the node's exchange state before it starts.
    runtime.block_on(async {
        let exchange = ExchangeStore::open(data.join("exchange.sqlite"))
            .await
            .unwrap();
        let now = OffsetDateTime::now_utc();
        exchange
            .create_subscription(&NewSubscription {
                id: "sub-malmo".into(),
                subscriber: "malmo-stad".into(),
                offering: OFFERING.into(),
                events: vec!["utbetalning-andrad".into()],
                fields: Vec::new(),
                request: json!({"purpose": "kontroll"}).to_string(),
                decision_index: 0,
                created_at: now - time::Duration::minutes(1),
                ends_at: now + time::Duration::days(1),
            })
            .await
            .unwrap();
        exchange.add_subjects("sub-malmo", &covered).await.unwrap();
        exchange.close().await;
    });

    let (directory, _) = guide.start_directory();
    let mut node = guide.fk.start(root);
    let register = runtime
        .block_on(RegisterStore::open(data.join("register.sqlite")))
        .unwrap();
    let stopping = AtomicBool::new(false);
    let mut pauses = Pauses::new();
    // Writes per subject, each committed (acknowledged) before it is counted.
    let written: BTreeMap<SubjectId, usize> = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let mut written: BTreeMap<SubjectId, usize> = BTreeMap::new();
            let mut round = 0usize;
            while !stopping.load(Ordering::Relaxed) {
                let mut batch = RegisterBatch::new();
                for k in 0..10 {
                    let subject = subjects[(round * 7 + k * 13) % SUBJECTS];
                    batch.subject(subject, false).record(
                        OFFERING,
                        subject,
                        "belopp",
                        json!(round * 100 + k),
                    );
                }
                runtime.block_on(register.insert(&batch)).unwrap();
                for k in 0..10 {
                    *written
                        .entry(subjects[(round * 7 + k * 13) % SUBJECTS])
                        .or_default() += 1;
                }
                round += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            written
        });
        for _ in 0..KILLS {
            std::thread::sleep(pauses.between(200, 900));
            node.kill();
            std::thread::sleep(pauses.between(50, 400));
            node = guide.fk.start(root);
        }
        std::thread::sleep(pauses.between(300, 900));
        stopping.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    });

    // Caught up: the register's feed is empty once every change is matched and handed back.
    let feed = register.change_feed().unwrap();
    eventually(
        Duration::from_secs(60),
        "the node to match every change",
        || {
            runtime
                .block_on(feed.changes_after(0, 1))
                .unwrap()
                .is_empty()
        },
    );
    stop(node);
    stop(directory);

    let notices = runtime.block_on(async {
        let exchange = ExchangeStore::open(data.join("exchange.sqlite"))
            .await
            .unwrap();
        exchange
            .notices_after("malmo-stad", 0, u32::MAX)
            .await
            .unwrap()
    });
    let mut told: BTreeMap<SubjectId, usize> = BTreeMap::new();
    for notice in &notices {
        *told.entry(notice.subject).or_default() += 1;
        assert_eq!(notice.events, ["utbetalning-andrad"]);
        assert_eq!(notice.fields, ["belopp"]);
    }
    let expected: BTreeMap<SubjectId, usize> = written
        .iter()
        .filter(|(subject, _)| covered.contains(subject))
        .map(|(subject, count)| (*subject, *count))
        .collect();
    let writes: usize = written.values().sum();
    println!(
        "subscription kill test: kills={KILLS} writes={writes} covered_writes={} notices={}",
        expected.values().sum::<usize>(),
        notices.len()
    );
    assert!(writes > 500, "the writer kept writing: {writes}");
    assert_eq!(told, expected, "notices per covered subject: one per write");
    assert!(
        notices
            .windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].change_seq < w[1].change_seq),
        "notices in the order of the changes"
    );
}
