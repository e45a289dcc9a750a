//! The exchange store's consumer side through its public contract: idempotent outgoing
//! requests and their states, listings, input limits and `Debug` (the callback schedule is in
//! `callbacks.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use time::macros::datetime;
use utbyte_store::{
    Begun, ExchangeStore, OutgoingState, ReviewState, StoreError, StoredOutgoing, MAX_ID_BYTES,
    MAX_JSON_BYTES,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_together_and_one_failing_write_undoes_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.db");
    let store = ExchangeStore::open(&path).await.unwrap();
    store.begin_outgoing(&request("taken", 0)).await.unwrap();
    // Many writes at once land in shared batches; the conflicting ones fail alone.
    let writes: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            let mut sent = request(if i % 10 == 0 { "taken" } else { "free" }, 0);
            if i % 10 == 0 {
                sent.request_hash = format!("{:064x}", 1000 + i);
            } else {
                sent.key = format!("free-{i}");
            }
            tokio::spawn(async move { store.begin_outgoing(&sent).await })
        })
        .collect();
    let mut conflicts = 0;
    for (i, write) in writes.into_iter().enumerate() {
        match write.await.unwrap() {
            Ok(Begun::Started) => assert_ne!(i % 10, 0),
            Err(StoreError::IdempotencyConflict) => conflicts += 1,
            other => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(conflicts, 20);
    store.close().await;
    // Everything acknowledged is durable: reopened, every started key is there.
    let store = ExchangeStore::open(&path).await.unwrap();
    for i in (0..200).filter(|i| i % 10 != 0) {
        assert!(
            store
                .outgoing(&format!("free-{i}"))
                .await
                .unwrap()
                .is_some(),
            "free-{i}"
        );
    }
    store.close().await;
}

#[test]
fn debug_shows_sizes_of_json_not_its_content() {
    let mut sent = request("k1", 0);
    sent.request_json = r#"{"subject":"19121212-1212"}"#.to_owned();
    let shown = format!("{sent:?} {:?} {:?}", answered(1), new_review("t1", 0));
    assert!(!shown.contains("19121212"), "{shown}");
    assert!(!shown.contains("Tolvan"), "{shown}");
    assert!(shown.contains("27 bytes of JSON"), "{shown}");
}

#[test]
fn states_serialize_in_snake_case() {
    let states = (
        OutgoingState::InFlight,
        OutgoingState::InReview,
        ReviewState::Decided,
    );
    let json = serde_json::to_string(&states).unwrap();
    assert_eq!(json, r#"["in_flight","in_review","decided"]"#);
    let back: OutgoingState = serde_json::from_str(r#""answered""#).unwrap();
    assert_eq!(back, OutgoingState::Answered);
}

on_both_engines! {
    #[tokio::test]
    async fn a_new_key_starts_in_flight_with_everything_stored() {
        let store = store().await;
        let sent = request("k1", 0);
        assert_eq!(store.begin_outgoing(&sent).await.unwrap(), Begun::Started);
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        let expected = StoredOutgoing {
            key: sent.key,
            request_hash: sent.request_hash,
            request_id: sent.request_id,
            provider: sent.provider,
            officer: sent.officer,
            client: sent.client,
            request_json: sent.request_json,
            callback: sent.callback,
            state: OutgoingState::InFlight,
            answer_json: None,
            ticket: None,
            created_at: at(0),
            updated_at: at(0),
            callback_delivered: false,
            failure_json: None,
        };
        assert_eq!(stored, expected);
        assert_eq!(store.outgoing("k2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn times_come_back_to_the_second_in_utc() {
        let store = store().await;
        let mut sent = request("k1", 0);
        sent.created_at = datetime!(2025-03-01 12:30:45.987654321 +02:00);
        store.begin_outgoing(&sent).await.unwrap();
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.created_at, datetime!(2025-03-01 10:30:45 UTC));
        assert_eq!(stored.created_at.offset(), time::UtcOffset::UTC);
    }

    #[tokio::test]
    async fn the_same_key_and_request_gives_the_stored_one_in_any_state() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        let Begun::Existing(first) = store.begin_outgoing(&request("k1", 5)).await.unwrap() else {
            panic!("a repeated key must not start a second request");
        };
        assert_eq!(first.state, OutgoingState::InFlight);
        assert_eq!(first.created_at, at(0), "the retry must not overwrite");

        store.complete_outgoing("k1", &answered(9)).await.unwrap();
        let Begun::Existing(again) = store.begin_outgoing(&request("k1", 10)).await.unwrap() else {
            panic!("a repeated key must not start a second request");
        };
        assert_eq!(again.state, OutgoingState::Answered);
        assert_eq!(again, store.outgoing("k1").await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn the_same_key_with_another_request_is_a_conflict_that_changes_nothing() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        let before = store.outgoing("k1").await.unwrap();
        let mut other = request("k1", 3);
        other.request_hash = "f".repeat(64);
        other.request_json = r#"{"subject":"19811228-9874"}"#.to_owned();
        let error = store.begin_outgoing(&other).await.unwrap_err();
        assert!(matches!(error, StoreError::IdempotencyConflict), "{error}");
        assert!(!error.to_string().contains("k1"));
        assert_eq!(store.outgoing("k1").await.unwrap(), before);
    }

    #[tokio::test]
    async fn abandoning_deletes_only_a_request_in_flight() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        store.begin_outgoing(&request("k2", 0)).await.unwrap();
        store.begin_outgoing(&request("k3", 0)).await.unwrap();
        store.complete_outgoing("k2", &answered(1)).await.unwrap();
        store
            .complete_outgoing("k3", &in_review("t3", 1))
            .await
            .unwrap();

        assert!(store.abandon_outgoing("k1").await.unwrap());
        assert!(!store.abandon_outgoing("k1").await.unwrap());
        assert!(!store.abandon_outgoing("k2").await.unwrap());
        assert!(!store.abandon_outgoing("k3").await.unwrap());
        assert!(!store.abandon_outgoing("unknown").await.unwrap());
        assert_eq!(store.outgoing("k1").await.unwrap(), None);
        assert!(store.outgoing("k2").await.unwrap().is_some());
        assert!(store.outgoing("k3").await.unwrap().is_some());

        // A retry after abandoning starts afresh, even with a different request.
        let mut retry = request("k1", 2);
        retry.request_hash = "a".repeat(64);
        assert_eq!(store.begin_outgoing(&retry).await.unwrap(), Begun::Started);
    }

    #[tokio::test]
    async fn a_request_goes_to_review_and_is_then_answered_keeping_its_ticket() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        store
            .complete_outgoing("k1", &in_review("t1", 2))
            .await
            .unwrap();
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.state, OutgoingState::InReview);
        assert_eq!(stored.ticket.as_deref(), Some("t1"));
        assert_eq!(stored.answer_json, None);
        assert_eq!(stored.updated_at, at(2));

        store.complete_outgoing("k1", &answered(4)).await.unwrap();
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.state, OutgoingState::Answered);
        assert_eq!(stored.ticket.as_deref(), Some("t1"));
        assert_eq!(stored.answer_json, answered(4).answer_json);
        assert_eq!(stored.updated_at, at(4));
        assert_eq!(stored.created_at, at(0));
    }

    #[tokio::test]
    async fn an_answer_is_final_and_review_cannot_be_entered_twice() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        store.complete_outgoing("k1", &answered(1)).await.unwrap();
        let before = store.outgoing("k1").await.unwrap();
        let mut other = answered(2);
        other.answer_json = Some(r#"{"outcome":"refuse"}"#.to_owned());
        for update in [other, in_review("t1", 2)] {
            let error = store.complete_outgoing("k1", &update).await.unwrap_err();
            assert!(
                matches!(
                    error,
                    StoreError::InvalidTransition {
                        from: "answered",
                        ..
                    }
                ),
                "{error}"
            );
        }
        assert_eq!(store.outgoing("k1").await.unwrap(), before);

        store.begin_outgoing(&request("k2", 0)).await.unwrap();
        store
            .complete_outgoing("k2", &in_review("t2", 1))
            .await
            .unwrap();
        let error = store
            .complete_outgoing("k2", &in_review("t9", 2))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "an outgoing request that is in review cannot go to review; nothing was changed"
        );
        let stored = store.outgoing("k2").await.unwrap().unwrap();
        assert_eq!(stored.ticket.as_deref(), Some("t2"));
    }

    #[tokio::test]
    async fn an_outcome_must_be_complete_and_for_a_known_request() {
        let store = store().await;
        let error = store
            .complete_outgoing("nope", &answered(1))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");

        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        let mut no_answer = answered(1);
        no_answer.answer_json = None;
        let mut no_ticket = in_review("t1", 1);
        no_ticket.ticket = None;
        let mut back = answered(1);
        back.state = OutgoingState::InFlight;
        let mut not_json = answered(1);
        not_json.answer_json = Some("{\"namn\": Tolvan}".to_owned());
        for update in [no_answer, no_ticket, back, not_json] {
            let error = store.complete_outgoing("k1", &update).await.unwrap_err();
            assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
            assert!(!error.to_string().contains("Tolvan"), "{error}");
        }
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.state, OutgoingState::InFlight);
    }

    #[tokio::test]
    async fn requests_in_review_are_listed_oldest_first() {
        let store = store().await;
        for (key, created) in [("late", 30), ("early", 10), ("answered", 5), ("flying", 1)] {
            store.begin_outgoing(&request(key, created)).await.unwrap();
        }
        store
            .complete_outgoing("late", &in_review("t-late", 31))
            .await
            .unwrap();
        store
            .complete_outgoing("early", &in_review("t-early", 40))
            .await
            .unwrap();
        store
            .complete_outgoing("answered", &in_review("t-a", 6))
            .await
            .unwrap();
        store
            .complete_outgoing("answered", &answered(7))
            .await
            .unwrap();
        let listed = store.outgoing_in_review(10).await.unwrap();
        assert_eq!(keys(&listed), ["early", "late"]);
        assert_eq!(keys(&store.outgoing_in_review(1).await.unwrap()), ["early"]);
        assert!(store.outgoing_in_review(0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn listings_are_newest_first_paged_and_filtered_by_officer() {
        let store = store().await;
        for (index, key) in ["k0", "k1", "k2", "k3", "k4"].into_iter().enumerate() {
            let mut sent = request(key, index as i64 / 2); // ties on the second: insertion order
            sent.officer = (index % 2 == 0).then(|| "anna".to_owned());
            store.begin_outgoing(&sent).await.unwrap();
        }
        let all = store.list_outgoing(None, None, 10, None).await.unwrap();
        assert_eq!(keys(&all.items), ["k4", "k3", "k2", "k1", "k0"]);
        assert_eq!(all.next, None, "the last page says so");
        let first = store.list_outgoing(None, None, 2, None).await.unwrap();
        assert_eq!(keys(&first.items), ["k4", "k3"]);
        // A request made after a page was listed does not shift the pages after it.
        store.begin_outgoing(&request("k5", 9)).await.unwrap();
        let second = store
            .list_outgoing(None, None, 2, first.next)
            .await
            .unwrap();
        assert_eq!(keys(&second.items), ["k2", "k1"]);
        let third = store
            .list_outgoing(None, None, 2, second.next)
            .await
            .unwrap();
        assert_eq!((keys(&third.items), third.next), (vec!["k0"], None));
        let anna = store
            .list_outgoing(Some("anna"), None, 10, None)
            .await
            .unwrap();
        assert_eq!(keys(&anna.items), ["k4", "k2", "k0"]);
        let first = store.list_outgoing(Some("anna"), None, 1, None).await;
        let anna = store
            .list_outgoing(Some("anna"), None, 1, first.unwrap().next)
            .await
            .unwrap();
        assert_eq!(keys(&anna.items), ["k2"]);
        assert!(store
            .list_outgoing(Some("bertil"), None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
    }

    #[tokio::test]
    async fn a_client_lists_its_own_requests_and_those_no_client_is_recorded_for() {
        let store = store().await;
        for (index, (key, client)) in [
            ("a0", Some("arende")),
            ("p1", Some("portal")),
            ("old", None),
            ("a3", Some("arende")),
        ]
        .into_iter()
        .enumerate()
        {
            let mut sent = request(key, index as i64);
            sent.client = client.map(str::to_owned);
            sent.officer = Some("anna".to_owned());
            store.begin_outgoing(&sent).await.unwrap();
        }
        let arende = store
            .list_outgoing(None, Some("arende"), 10, None)
            .await
            .unwrap();
        assert_eq!(keys(&arende.items), ["a3", "old", "a0"]);
        let portal = store
            .list_outgoing(Some("anna"), Some("portal"), 10, None)
            .await
            .unwrap()
            .items;
        assert_eq!(keys(&portal), ["old", "p1"]);
        assert_eq!(portal[1].client.as_deref(), Some("portal"));
        let first = store
            .list_outgoing(Some("anna"), Some("arende"), 1, None)
            .await
            .unwrap();
        let page = store
            .list_outgoing(Some("anna"), Some("arende"), 1, first.next)
            .await
            .unwrap();
        assert_eq!(keys(&page.items), ["old"]);
        assert_eq!(
            keys(
                &store
                    .list_outgoing(None, None, 10, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["a3", "old", "p1", "a0"]
        );
    }

    #[tokio::test]
    async fn inputs_are_bounded_and_never_quoted() {
        let store = store().await;
        let mut longest = request(&"k".repeat(MAX_ID_BYTES), 0);
        longest.request_id = "r".repeat(MAX_ID_BYTES);
        assert_eq!(
            store.begin_outgoing(&longest).await.unwrap(),
            Begun::Started
        );

        let secret = "19121212-1212";
        let mut cases = Vec::new();
        let mut empty_key = request("", 0);
        empty_key.request_json = format!(r#"{{"s":"{secret}"}}"#);
        cases.push(empty_key);
        cases.push(request(&format!("{secret}{}", "k".repeat(MAX_ID_BYTES)), 0));
        let mut long_officer = request("k1", 0);
        long_officer.officer = Some(format!("{secret}{}", "o".repeat(MAX_ID_BYTES)));
        cases.push(long_officer);
        let mut not_json = request("k1", 0);
        not_json.request_json = format!("{{subject: {secret}}}");
        cases.push(not_json);
        let mut huge = request("k1", 0);
        huge.request_json = format!(r#"["{}"]"#, "x".repeat(MAX_JSON_BYTES));
        cases.push(huge);
        let mut empty_callback = request("k1", 0);
        empty_callback.callback = Some(String::new());
        cases.push(empty_callback);
        for case in cases {
            let error = store.begin_outgoing(&case).await.unwrap_err();
            assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
            assert!(!error.to_string().contains(secret), "{error}");
        }
        assert_eq!(store.outgoing("k1").await.unwrap(), None);

        let error = store.claim_request_id("fk", "", at(0), at(0)).await;
        assert!(matches!(error, Err(StoreError::InvalidInput { .. })));
        let mut beyond = new_review("t1", 0);
        beyond.ledger_index = u64::MAX;
        let error = store.enqueue_review(&beyond).await.unwrap_err();
        assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
        assert_eq!(store.review("t1").await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_retries_of_one_key_exactly_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        // Two instances of one node, each with its own connections.
        let stores = common::instances(&dir, 2).await;
        for round in 0..10 {
            let key = format!("k{round}");
            let retries: Vec<_> = (0..4)
                .map(|i| {
                    let (store, sent) = (stores[i % 2].clone(), request(&key, 0));
                    tokio::spawn(async move { store.begin_outgoing(&sent).await })
                })
                .collect();
            let mut started = 0;
            for retry in retries {
                match retry.await.unwrap().unwrap() {
                    Begun::Started => started += 1,
                    Begun::Existing(stored) => assert_eq!(stored.state, OutgoingState::InFlight),
                }
            }
            assert_eq!(started, 1, "round {round}");
        }
        for store in stores {
            store.close().await;
        }
    }
}
