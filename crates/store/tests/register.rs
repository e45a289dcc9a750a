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
}
