//! The SQLite register adapter through its public contract: exact field selection, unknown
//! subjects, atomic batches, protected identity, and persistence across reopening.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use utbyte_domain::SubjectId;
use utbyte_store::{Register, RegisterBatch, RegisterStore, StoreError};

const OFFERING: &str = "skv-folkbokforing";
const STORED: [&str; 6] = [
    "namn",
    "fodelsedatum",
    "barn",
    "civilstand",
    "flyttdatum",
    "adress",
];

fn subject(text: &str) -> SubjectId {
    text.parse().unwrap()
}

fn tolvan() -> SubjectId {
    subject("19121212-1212")
}

fn value_of(field: &str, subject: &SubjectId, offering: &str) -> Value {
    json!({ "field": field, "subject": subject.as_str(), "offering": offering })
}

/// Tolvan and a second person, each with every stored field in two offerings, so a leak from
/// another subject or offering would show in the values.
fn sample() -> RegisterBatch {
    let mut batch = RegisterBatch::new();
    for person in [tolvan(), subject("19811228-9874")] {
        batch.subject(person, false);
        for offering in [OFFERING, "skv-inkomst"] {
            for field in STORED {
                batch.record(offering, person, field, value_of(field, &person, offering));
            }
        }
    }
    batch
}

async fn sample_store() -> Arc<dyn Register> {
    let store = common::register().await;
    store.insert(&sample()).await.unwrap();
    store
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn fetched_keys_are_the_requested_ones_the_register_holds_on_sqlite() {
    fetched_keys_are_the_requested_ones_the_register_holds(common::Kind::Sqlite);
}

#[test]
fn fetched_keys_are_the_requested_ones_the_register_holds_on_postgres() {
    fetched_keys_are_the_requested_ones_the_register_holds(common::Kind::Postgres);
}

fn fetched_keys_are_the_requested_ones_the_register_holds(kind: common::Kind) {
    common::use_engine(kind);
    let rt = runtime();
    let store = rt.block_on(sample_store());
    let stored: BTreeSet<&str> = STORED.into_iter().collect();
    let candidates = [&STORED[..], &["okand", "lon", "x"]].concat();
    let requests = proptest::collection::vec(proptest::sample::select(candidates), 0..12);
    let mut runner = TestRunner::new(Config::with_cases(256));
    runner
        .run(&requests, |requested| {
            let record = rt
                .block_on(store.fetch(OFFERING, &tolvan(), &requested))
                .unwrap()
                .unwrap();
            let requested: BTreeSet<&str> = requested.into_iter().collect();
            let returned: BTreeSet<&str> = record.field_ids().collect();
            prop_assert!(returned.is_subset(&requested));
            let expected: BTreeSet<&str> = requested.intersection(&stored).copied().collect();
            prop_assert_eq!(&returned, &expected);
            for (field, value) in record.iter() {
                prop_assert_eq!(value, &value_of(field, &tolvan(), OFFERING));
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::test]
async fn data_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    let store = RegisterStore::open(&path).await.unwrap();
    let mut batch = sample();
    batch.subject(tolvan(), true);
    store.insert(&batch).await.unwrap();
    store.close().await;

    let store = RegisterStore::open(&path).await.unwrap();
    let record = store
        .fetch("skv-inkomst", &tolvan(), &STORED)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.len(), STORED.len());
    assert_eq!(
        record.get("adress"),
        Some(&value_of("adress", &tolvan(), "skv-inkomst"))
    );
    assert!(store.protected_identity(&tolvan()).await.unwrap());
}

on_both_engines! {
    #[tokio::test]
    async fn fetch_returns_exactly_the_requested_fields() {
        let store = sample_store().await;
        let record = store
            .fetch(OFFERING, &tolvan(), &["namn", "barn"])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.field_ids().collect::<Vec<_>>(), ["barn", "namn"]);
        assert_eq!(
            record.get("namn"),
            Some(&value_of("namn", &tolvan(), OFFERING))
        );
        assert_eq!(record.get("fodelsedatum"), None);
    }

    #[tokio::test]
    async fn an_unknown_subject_or_offering_is_none() {
        let store = sample_store().await;
        let stranger = subject("19701063-2391");
        assert!(store
            .fetch(OFFERING, &stranger, &["namn"])
            .await
            .unwrap()
            .is_none());
        assert!(store
            .fetch("fk-formaner", &tolvan(), &["namn"])
            .await
            .unwrap()
            .is_none());
        let company = subject("556016-0680");
        assert!(store
            .fetch(OFFERING, &company, &["namn"])
            .await
            .unwrap()
            .is_none());
        // Known, but none of the requested fields held: a record, empty.
        let empty = store
            .fetch(OFFERING, &tolvan(), &["lon"])
            .await
            .unwrap()
            .unwrap();
        assert!(empty.is_empty());
        let nothing_requested = store
            .fetch(OFFERING, &tolvan(), &[])
            .await
            .unwrap()
            .unwrap();
        assert!(nothing_requested.is_empty());
    }

    #[tokio::test]
    async fn any_written_form_finds_the_canonical_subject() {
        let store = sample_store().await;
        let twelve_digits = subject("191212121212");
        let record = store
            .fetch(OFFERING, &twelve_digits, &["namn"])
            .await
            .unwrap();
        assert_eq!(record.map(|r| r.len()), Some(1));
    }

    #[tokio::test]
    async fn a_failing_batch_leaves_nothing_behind() {
        let store = common::register().await;
        let mut batch = RegisterBatch::new();
        batch.subject(tolvan(), true);
        // Enough rows to span several statements before the bad one.
        for index in 0..2500 {
            batch.record(OFFERING, tolvan(), format!("falt-{index}"), json!(index));
        }
        batch.record(
            OFFERING,
            subject("19811228-9874"),
            "namn",
            json!("not in the batch"),
        );
        let error = store.insert(&batch).await.unwrap_err();
        assert!(matches!(error, StoreError::UnknownSubject), "{error}");
        assert!(store
            .fetch(OFFERING, &tolvan(), &["falt-0"])
            .await
            .unwrap()
            .is_none());
        assert!(!store.protected_identity(&tolvan()).await.unwrap());

        // A batch refused before it reaches the database leaves nothing either.
        let mut batch = sample();
        batch.subject(subject("556016-0680"), true);
        assert!(matches!(
            store.insert(&batch).await,
            Err(StoreError::ProtectedOrganisation)
        ));
        assert!(store
            .fetch(OFFERING, &tolvan(), &["namn"])
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn many_subjects_read_at_once_read_as_one_at_a_time() {
        let store = common::register().await;
        let mut batch = RegisterBatch::new();
        batch
            .subject(tolvan(), true)
            .subject(subject("19811228-9874"), false)
            .record(OFFERING, tolvan(), "namn", json!("Tolvan"))
            .record(OFFERING, tolvan(), "barn", json!(2))
            .record(OFFERING, subject("19811228-9874"), "namn", json!("Nolla"))
            .record("annat", subject("19811228-9874"), "namn", json!("annan"));
        store.insert(&batch).await.unwrap();
        // Repeats, a subject the register does not hold, and more than one read's worth.
        let mut subjects = vec![
            subject("19811228-9874"),
            tolvan(),
            subject("19701063-2391"),
            tolvan(),
        ];
        subjects.extend(std::iter::repeat_n(subject("19811228-9874"), 1500));
        let flags = store.protected_identities(&subjects).await.unwrap();
        let records = store
            .fetch_many(OFFERING, &subjects, &["namn", "okand"])
            .await
            .unwrap();
        assert_eq!(flags.len(), subjects.len());
        assert_eq!(records.len(), subjects.len());
        for ((subject, flag), record) in subjects.iter().zip(&flags).zip(&records) {
            assert_eq!(*flag, store.protected_identity(subject).await.unwrap());
            let one = store
                .fetch(OFFERING, subject, &["namn", "okand"])
                .await
                .unwrap()
                .unwrap_or_default();
            assert_eq!(record, &one);
        }
        assert!(flags[1] && !flags[0]);
        assert_eq!(records[1].field_ids().collect::<Vec<_>>(), ["namn"]);
        assert_eq!(records[0].get("namn"), Some(&json!("Nolla")));
        assert!(records[2].field_ids().next().is_none());
    }

    #[tokio::test]
    async fn protected_identity_is_per_person() {
        let store = common::register().await;
        let mut batch = RegisterBatch::new();
        batch
            .subject(tolvan(), true)
            .subject(subject("19811228-9874"), false)
            .subject(subject("556016-0680"), false);
        store.insert(&batch).await.unwrap();
        assert!(store.protected_identity(&tolvan()).await.unwrap());
        assert!(!store
            .protected_identity(&subject("19811228-9874"))
            .await
            .unwrap());
        assert!(!store
            .protected_identity(&subject("556016-0680"))
            .await
            .unwrap());
        assert!(!store
            .protected_identity(&subject("19701063-2391"))
            .await
            .unwrap());

        // A later batch updates the flag and replaces values.
        let mut batch = RegisterBatch::new();
        batch
            .subject(tolvan(), false)
            .record(OFFERING, tolvan(), "namn", json!("första"))
            .record(OFFERING, tolvan(), "namn", json!("andra"));
        store.insert(&batch).await.unwrap();
        assert!(!store.protected_identity(&tolvan()).await.unwrap());
        let record = store
            .fetch(OFFERING, &tolvan(), &["namn"])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.get("namn"), Some(&json!("andra")));
    }

    #[tokio::test]
    async fn invalid_ids_are_refused_with_the_reason() {
        let store = sample_store().await;
        let error = store.fetch("", &tolvan(), &["namn"]).await.unwrap_err();
        assert_eq!(error.to_string(), "invalid offering id: it is empty");
        let long = "f".repeat(200);
        let error = store
            .fetch(OFFERING, &tolvan(), &[&long])
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid field id: it is 200 bytes long; the limit is 128"
        );
    }

    #[tokio::test]
    async fn each_write_records_which_values_changed_in_order() {
        let store = common::register().await;
        let feed = store.change_feed().expect("the built-in register keeps a change feed");
        assert!(feed.changes_after(0, 100).await.unwrap().is_empty());

        let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
        store.insert(&sample()).await.unwrap();
        let first = feed.changes_after(0, 100).await.unwrap();
        // One change per (offering, subject), each naming every field written, sorted.
        assert_eq!(first.len(), 4, "{first:?}");
        let mut sorted = STORED.map(str::to_owned).to_vec();
        sorted.sort();
        for change in &first {
            assert_eq!(change.fields, sorted);
            assert!(change.at >= before && change.at <= time::OffsetDateTime::now_utc());
        }
        let pairs: BTreeSet<(String, String)> = first
            .iter()
            .map(|c| (c.offering.clone(), c.subject.as_str().to_owned()))
            .collect();
        assert_eq!(pairs.len(), 4);
        assert!(first.windows(2).all(|w| w[0].seq < w[1].seq));

        // The same values again change nothing; one different value is one change, of that field.
        store.insert(&sample()).await.unwrap();
        let last = first.last().unwrap().seq;
        assert!(feed.changes_after(last, 100).await.unwrap().is_empty());
        let mut batch = RegisterBatch::new();
        batch
            .record(OFFERING, tolvan(), "adress", json!("Storgatan 1"))
            .record(OFFERING, tolvan(), "namn", value_of("namn", &tolvan(), OFFERING));
        store.insert(&batch).await.unwrap();
        let second = feed.changes_after(last, 100).await.unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].offering, OFFERING);
        assert_eq!(second[0].subject, tolvan());
        assert_eq!(second[0].fields, ["adress"]);

        // A failing batch records no change.
        let mut failing = RegisterBatch::new();
        failing
            .record(OFFERING, tolvan(), "adress", json!("Lillgatan 2"))
            .record(OFFERING, common::person(99), "namn", json!("okänd"));
        assert!(store.insert(&failing).await.is_err());
        assert!(feed.changes_after(second[0].seq, 100).await.unwrap().is_empty());

        // Paging by seq, then forgetting what was handled: the rest stays, seq is never reused.
        let page = feed.changes_after(0, 2).await.unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page, first[..2]);
        assert_eq!(feed.forget_changes(page[1].seq).await.unwrap(), 2);
        let rest = feed.changes_after(0, 100).await.unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(rest[0], first[2]);
        assert_eq!(feed.forget_changes(u64::MAX).await.unwrap(), 3);
        store.insert(&batch).await.unwrap();
        assert!(feed.changes_after(0, 100).await.unwrap().is_empty(), "unchanged");
        let mut moved = RegisterBatch::new();
        moved.record(OFFERING, tolvan(), "adress", json!("Torget 3"));
        store.insert(&moved).await.unwrap();
        let after = feed.changes_after(0, 100).await.unwrap();
        assert_eq!(after.len(), 1);
        assert!(after[0].seq > second[0].seq);
        assert!(!after[0].protected_identity);

        // A change carries the subject's protected identity as the write left it.
        let mut hidden = RegisterBatch::new();
        hidden
            .subject(tolvan(), true)
            .record(OFFERING, tolvan(), "adress", json!("Okänd"));
        store.insert(&hidden).await.unwrap();
        let hidden = feed.changes_after(after[0].seq, 100).await.unwrap();
        assert_eq!(hidden.len(), 1);
        assert!(hidden[0].protected_identity);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_reader_following_seq_while_writers_commit_sees_each_change_once() {
        const ROUNDS: usize = 25;
        let store = common::register().await;
        let mut people = RegisterBatch::new();
        let persons: Vec<SubjectId> = (0..40).map(common::person).collect();
        for person in &persons {
            people.subject(*person, false);
        }
        store.insert(&people).await.unwrap();
        let writers: Vec<_> = persons
            .iter()
            .map(|person| {
                let (store, person) = (Arc::clone(&store), *person);
                tokio::spawn(async move {
                    for round in 0..ROUNDS {
                        let mut batch = RegisterBatch::new();
                        batch.record(OFFERING, person, "adress", json!(round));
                        store.insert(&batch).await.unwrap();
                    }
                })
            })
            .collect();
        let feed = store.change_feed().unwrap();
        let (mut after, mut seen) = (0, Vec::new());
        loop {
            // Whether every writer had finished before this read: then the read is the last.
            let finished = writers.iter().all(tokio::task::JoinHandle::is_finished);
            let page = feed.changes_after(after, 7).await.unwrap();
            if page.is_empty() && finished {
                break;
            }
            for change in page {
                after = change.seq;
                seen.push(change);
            }
            tokio::task::yield_now().await;
        }
        for writer in writers {
            writer.await.unwrap();
        }
        let all = feed.changes_after(0, 10_000).await.unwrap();
        assert_eq!(all.len(), persons.len() * ROUNDS);
        assert_eq!(seen, all, "the reader missed or reordered a change");
    }
}
