//! What recovery after a crash needs from the exchange store: the consumer's requests left in
//! flight, listed and ended as `failed` with their problem; the provider's answers kept with
//! the request ids it claimed, given back for the same request and never overwritten.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_store::{
    ExchangeStore, KeptAnswer, KeptStatus, KnownRequest, OutgoingState, StoreError,
};

const PROBLEM: &str = r#"{"type":"https://utbyte.se/problems/request-failed","status":502}"#;

fn kept(hash: &str) -> KeptAnswer {
    KeptAnswer {
        request_hash: hash.to_owned(),
        status: KeptStatus::Answered,
        answer_json: r#"{"protected":"p","payload":"a","signature":"s"}"#.to_owned(),
    }
}

#[tokio::test]
async fn kept_answers_are_forgotten_with_their_ids_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.sqlite");
    let store = ExchangeStore::open(&path).await.unwrap();
    store
        .claim_request_id("fk", "old", at(0), at(-60))
        .await
        .unwrap();
    store.keep_answer("fk", "old", &kept("h0")).await.unwrap();
    store
        .claim_request_id("fk", "new", at(100), at(-60))
        .await
        .unwrap();
    let mut review = kept("h1");
    review.status = KeptStatus::Review;
    store.keep_answer("fk", "new", &review).await.unwrap();
    store.close().await;

    let store = ExchangeStore::open(&path).await.unwrap();
    assert_eq!(
        store.known_request("fk", "new").await.unwrap(),
        Some(KnownRequest::Answered(review.clone()))
    );
    // A later claim forgets what is older than its cut-off, answer and all.
    assert!(store
        .claim_request_id("fk", "other", at(200), at(50))
        .await
        .unwrap());
    assert_eq!(store.known_request("fk", "old").await.unwrap(), None);
    assert_eq!(
        store.known_request("fk", "new").await.unwrap(),
        Some(KnownRequest::Answered(review))
    );
}

#[test]
fn kept_answers_do_not_show_their_content_in_debug() {
    let shown = format!("{:?}", kept("h1"));
    assert!(!shown.contains("signature"), "{shown}");
    assert!(shown.contains("bytes of JSON"), "{shown}");
}

on_both_engines! {
    #[tokio::test]
    async fn a_claim_never_answered_is_released_and_an_answered_one_is_not() {
        let store = store().await;
        for id in ["undecided", "answered"] {
            assert!(store
                .claim_request_id("fk", id, at(0), at(-60))
                .await
                .unwrap());
        }
        store.keep_answer("fk", "answered", &kept("h1")).await.unwrap();
        assert!(store.release_request_id("fk", "undecided").await.unwrap());
        assert!(!store.release_request_id("fk", "answered").await.unwrap());
        assert!(!store.release_request_id("fk", "never-claimed").await.unwrap());
        // Released: the same id is claimed afresh. Answered: still a replay, its answer kept.
        assert_eq!(store.known_request("fk", "undecided").await.unwrap(), None);
        assert!(store
            .claim_request_id("fk", "undecided", at(1), at(-60))
            .await
            .unwrap());
        assert!(!store
            .claim_request_id("fk", "answered", at(1), at(-60))
            .await
            .unwrap());
        assert_eq!(
            store.known_request("fk", "answered").await.unwrap(),
            Some(KnownRequest::Answered(kept("h1")))
        );
    }

    #[tokio::test]
    async fn a_claim_left_unanswered_is_taken_over_once_it_is_old_enough() {
        let store = store().await;
        store
            .claim_request_id("fk", "left", at(0), at(-60))
            .await
            .unwrap();
        // Recent: its claimant may still be answering.
        assert!(!store.reclaim_request_id("fk", "left", at(0), at(5)).await.unwrap());
        // Old enough: taken over, and renewed, so a second taker-over finds it recent.
        assert!(store.reclaim_request_id("fk", "left", at(1), at(10)).await.unwrap());
        assert!(!store.reclaim_request_id("fk", "left", at(1), at(10)).await.unwrap());
        assert!(store.reclaim_request_id("fk", "left", at(11), at(20)).await.unwrap());
        // Answered, or never claimed: nothing to take over.
        store.keep_answer("fk", "left", &kept("h1")).await.unwrap();
        assert!(!store.reclaim_request_id("fk", "left", at(100), at(100)).await.unwrap());
        assert!(!store.reclaim_request_id("fk", "none", at(100), at(100)).await.unwrap());
        assert_eq!(
            store.known_request("fk", "left").await.unwrap(),
            Some(KnownRequest::Answered(kept("h1")))
        );
    }

    #[tokio::test]
    async fn requests_in_flight_are_listed_oldest_first_and_only_those_begun_before() {
        let store = store().await;
        for (key, second) in [("k3", 30), ("k1", 10), ("k2", 20), ("k4", 40)] {
            store.begin_outgoing(&request(key, second)).await.unwrap();
        }
        store.complete_outgoing("k2", &answered(25)).await.unwrap();
        store
            .complete_outgoing("k4", &in_review("t4", 45))
            .await
            .unwrap();
        let found = store.outgoing_in_flight(at(31), 10).await.unwrap();
        assert_eq!(keys(&found), ["k1", "k3"]);
        // Begun exactly at the cut-off is not before it: a request that young may still be sent.
        let found = store.outgoing_in_flight(at(30), 10).await.unwrap();
        assert_eq!(keys(&found), ["k1"]);
        assert_eq!(
            keys(&store.outgoing_in_flight(at(99), 1).await.unwrap()),
            ["k1"]
        );
    }

    #[tokio::test]
    async fn a_failed_request_keeps_its_problem_and_is_final() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        store.fail_outgoing("k1", PROBLEM, at(60)).await.unwrap();
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.state, OutgoingState::Failed);
        assert_eq!(stored.failure_json.as_deref(), Some(PROBLEM));
        assert_eq!(stored.updated_at, at(60));
        assert_eq!(stored.answer_json, None);
        assert!(store
            .outgoing_in_flight(at(99), 10)
            .await
            .unwrap()
            .is_empty());
        // Neither a late answer nor a second failure changes it, and it is not abandoned.
        let late = store.complete_outgoing("k1", &answered(70)).await;
        assert!(matches!(
            late,
            Err(StoreError::InvalidTransition { from: "failed", .. })
        ));
        let again = store.fail_outgoing("k1", "{}", at(80)).await;
        assert!(matches!(again, Err(StoreError::InvalidTransition { .. })));
        assert!(!store.abandon_outgoing("k1").await.unwrap());
        let stored = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(stored.failure_json.as_deref(), Some(PROBLEM));
        // A failure lists like any other state.
        let listed = store.list_outgoing(None, None, 10, None).await.unwrap();
        assert_eq!(listed.items[0].state, OutgoingState::Failed);
    }

    #[tokio::test]
    async fn an_answered_request_cannot_fail_and_failing_needs_json_and_a_request() {
        let store = store().await;
        store.begin_outgoing(&request("k1", 0)).await.unwrap();
        store.complete_outgoing("k1", &answered(5)).await.unwrap();
        let error = store.fail_outgoing("k1", PROBLEM, at(9)).await;
        assert!(matches!(
            error,
            Err(StoreError::InvalidTransition {
                from: "answered",
                ..
            })
        ));
        assert_eq!(
            store.outgoing("k1").await.unwrap().unwrap().state,
            OutgoingState::Answered
        );
        assert!(matches!(
            store.fail_outgoing("nope", PROBLEM, at(9)).await,
            Err(StoreError::NotFound { .. })
        ));
        store.begin_outgoing(&request("k2", 0)).await.unwrap();
        assert!(matches!(
            store.fail_outgoing("k2", "not json", at(9)).await,
            Err(StoreError::InvalidInput { .. })
        ));
        let mut update = answered(9);
        update.state = OutgoingState::Failed;
        assert!(matches!(
            store.complete_outgoing("k2", &update).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }

    #[tokio::test]
    async fn a_kept_answer_is_given_back_for_its_peer_and_id_only() {
        let store = store().await;
        assert_eq!(store.known_request("fk", "r1").await.unwrap(), None);
        assert!(store
            .claim_request_id("fk", "r1", at(0), at(-60))
            .await
            .unwrap());
        assert_eq!(
            store.known_request("fk", "r1").await.unwrap(),
            Some(KnownRequest::Claimed)
        );
        store.keep_answer("fk", "r1", &kept("h1")).await.unwrap();
        assert_eq!(
            store.known_request("fk", "r1").await.unwrap(),
            Some(KnownRequest::Answered(kept("h1")))
        );
        // Another peer with the same id knows nothing of it.
        assert_eq!(store.known_request("kfm", "r1").await.unwrap(), None);
        // The kept answer never changes.
        let mut other = kept("h2");
        other.status = KeptStatus::Review;
        assert!(matches!(
            store.keep_answer("fk", "r1", &other).await,
            Err(StoreError::Duplicate { .. })
        ));
        assert_eq!(
            store.known_request("fk", "r1").await.unwrap(),
            Some(KnownRequest::Answered(kept("h1")))
        );
        // Only a claimed id can keep an answer.
        assert!(matches!(
            store.keep_answer("fk", "r9", &kept("h1")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store
                .keep_answer(
                    "fk",
                    "r1",
                    &KeptAnswer {
                        answer_json: "x".into(),
                        ..kept("h")
                    }
                )
                .await,
            Err(StoreError::InvalidInput { .. })
        ));
    }
}
