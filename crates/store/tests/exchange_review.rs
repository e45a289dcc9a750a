//! The exchange store's provider side through its public contract: the replay guard, the
//! review queue (including two reviewers deciding at once), and persistence across reopening.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_store::{
    BatchDecision, Begun, Deciding, ExchangeStore, Page, ReviewState, StoreError, StoredReview,
};

#[tokio::test]
async fn a_file_backed_store_keeps_everything_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.db");
    let store = ExchangeStore::open(&path).await.unwrap();
    store.begin_outgoing(&request("k1", 0)).await.unwrap();
    store.begin_outgoing(&request("k2", 1)).await.unwrap();
    store
        .complete_outgoing("k2", &in_review("t2", 2))
        .await
        .unwrap();
    store
        .claim_request_id("fk", "r1", at(0), at(-10))
        .await
        .unwrap();
    store.enqueue_review(&new_review("t1", 0)).await.unwrap();
    store.enqueue_review(&new_review("t2", 0)).await.unwrap();
    store
        .decide_review("t2", &decision("anna", 3))
        .await
        .unwrap();
    let outgoing = store.list_outgoing(None, None, 10, None).await.unwrap();
    let reviews = store.reviews(ReviewState::Pending, 10, None).await.unwrap();
    let decided = store.reviews(ReviewState::Decided, 10, None).await.unwrap();
    store.close().await;

    let store = ExchangeStore::open(&path).await.unwrap();
    assert_eq!(
        store.list_outgoing(None, None, 10, None).await.unwrap(),
        outgoing
    );
    let reopened = store.reviews(ReviewState::Pending, 10, None).await.unwrap();
    assert_eq!(reopened, reviews);
    let reopened = store.reviews(ReviewState::Decided, 10, None).await.unwrap();
    assert_eq!(reopened, decided);
    assert_eq!(outgoing.items.len(), 2);
    assert_eq!((reviews.items.len(), decided.items.len()), (1, 1));
    assert!(!store
        .claim_request_id("fk", "r1", at(5), at(-10))
        .await
        .unwrap());
    assert!(matches!(
        store.begin_outgoing(&request("k1", 9)).await.unwrap(),
        Begun::Existing(_)
    ));
    store.close().await;
}

on_both_engines! {
    #[tokio::test]
    async fn a_replayed_request_id_is_refused_until_forgotten() {
        let store = store().await;
        let long_ago = at(-3600);
        assert!(store
            .claim_request_id("fk", "r1", at(0), long_ago)
            .await
            .unwrap());
        assert!(!store
            .claim_request_id("fk", "r1", at(10), long_ago)
            .await
            .unwrap());
        // The pair is what counts: another peer's id, and another id, are fresh.
        assert!(store
            .claim_request_id("kfm", "r1", at(10), long_ago)
            .await
            .unwrap());
        assert!(store
            .claim_request_id("fk", "r2", at(10), long_ago)
            .await
            .unwrap());
        // Seen exactly at the cut-off is not older than it: still remembered.
        assert!(!store
            .claim_request_id("fk", "r1", at(20), at(0))
            .await
            .unwrap());
        // Once the cut-off passes the time it was seen, it is forgotten.
        assert!(store
            .claim_request_id("fk", "r1", at(30), at(1))
            .await
            .unwrap());
        assert!(!store
            .claim_request_id("fk", "r1", at(31), at(1))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn forgetting_removes_every_old_id_not_only_the_claimed_one() {
        let store = store().await;
        for id in ["r1", "r2", "r3"] {
            store
                .claim_request_id("fk", id, at(0), at(-10))
                .await
                .unwrap();
        }
        store
            .claim_request_id("fk", "other", at(100), at(50))
            .await
            .unwrap();
        for id in ["r1", "r2", "r3"] {
            // Would be refused had the earlier claim not forgotten it.
            assert!(store
                .claim_request_id("fk", id, at(101), at(50))
                .await
                .unwrap());
        }
    }

    #[tokio::test]
    async fn a_queued_review_is_pending_and_its_ticket_unique() {
        let store = store().await;
        store.enqueue_review(&new_review("t1", 0)).await.unwrap();
        let stored = store.review("t1").await.unwrap().unwrap();
        let queued = new_review("t1", 0);
        assert_eq!(stored.ticket, queued.ticket);
        assert_eq!(stored.requester, queued.requester);
        assert_eq!(stored.request_id, queued.request_id);
        assert_eq!(stored.request_json, queued.request_json);
        assert_eq!(stored.decision_json, queued.decision_json);
        assert_eq!(stored.ledger_index, 7);
        assert_eq!(stored.created_at, at(0));
        assert_eq!(stored.state, ReviewState::Pending);
        assert_eq!(
            (stored.reviewer.as_ref(), stored.review_json.as_ref()),
            (None, None)
        );
        assert_eq!(
            (stored.answer_json.as_ref(), stored.decided_at),
            (None, None)
        );
        assert_eq!(stored.decided_ledger_index, None);
        assert_eq!(stored.batch.as_deref(), Some("b-alike"));

        let mut again = new_review("t1", 5);
        again.requester = "kronofogden".to_owned();
        let error = store.enqueue_review(&again).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
        assert_eq!(store.review("t1").await.unwrap().unwrap(), stored);
        assert_eq!(store.review("t2").await.unwrap(), None);
    }

    #[tokio::test]
    async fn reviews_are_listed_by_state_in_queue_and_decision_order() {
        let store = store().await;
        for (ticket, created) in [("t3", 3), ("t1", 1), ("t4", 4), ("t2", 2), ("t5", 5)] {
            store
                .enqueue_review(&new_review(ticket, created))
                .await
                .unwrap();
        }
        store
            .decide_review("t4", &decision("rev", 10))
            .await
            .unwrap();
        store
            .decide_review("t2", &decision("rev", 20))
            .await
            .unwrap();
        let tickets = |page: Page<StoredReview>| {
            let tickets = page.items.into_iter().map(|r| r.ticket).collect::<Vec<_>>();
            (tickets, page.next)
        };
        let pending = store.reviews(ReviewState::Pending, 10, None).await.unwrap();
        assert_eq!(
            tickets(pending),
            (vec!["t1".into(), "t3".into(), "t5".into()], None)
        );
        let first = store.reviews(ReviewState::Pending, 1, None).await.unwrap();
        let (first, after) = tickets(first);
        assert_eq!(first, ["t1"]);
        // Deciding a review the queue has passed does not shift the next page.
        store
            .decide_review("t1", &decision("rev", 30))
            .await
            .unwrap();
        let page = store.reviews(ReviewState::Pending, 1, after).await.unwrap();
        assert_eq!(tickets(page).0, ["t3"]);
        let decided = store.reviews(ReviewState::Decided, 10, None).await.unwrap();
        assert_eq!(tickets(decided).0, ["t1", "t2", "t4"]);
        let first = store.reviews(ReviewState::Decided, 2, None).await.unwrap();
        let (first, after) = tickets(first);
        assert_eq!(first, ["t1", "t2"]);
        let last = store.reviews(ReviewState::Decided, 2, after).await.unwrap();
        assert_eq!(tickets(last), (vec!["t4".into()], None));
    }

    #[tokio::test]
    async fn a_batch_decision_covers_the_reviews_pending_when_taken_until_it_ends() {
        let store = store().await;
        let queue = |ticket: &'static str, batch: &'static str, created: i64| {
            let mut review = new_review(ticket, created);
            review.batch = batch.to_owned();
            review
        };
        for (ticket, batch, created) in [("a1", "alike", 1), ("a2", "alike", 2), ("o1", "other", 2), ("a3", "alike", 2)] {
            store.enqueue_review(&queue(ticket, batch, created)).await.unwrap();
        }
        let taken = BatchDecision {
            id: "d1".into(),
            batch: "alike".into(),
            decision_json: r#"{"reviewer":"rev"}"#.into(),
            created_at: at(3),
        };
        assert!(store.begin_batch_decision(&taken).await.unwrap());
        // Queued after it, in the same second: not covered.
        store.enqueue_review(&queue("a4", "alike", 2)).await.unwrap();
        let tickets = |page: &Page<StoredReview>| -> Vec<String> {
            page.items.iter().map(|r| r.ticket.clone()).collect()
        };
        let covered = store.batch_decision_reviews("d1", 10, None).await.unwrap();
        assert_eq!((tickets(&covered), covered.next), (vec!["a1".into(), "a2".into(), "a3".into()], None));
        // One decided on its own meanwhile is no longer there; page by page, nothing skipped.
        store.decide_review("a2", &decision("rev", 4)).await.unwrap();
        let first = store.batch_decision_reviews("d1", 1, None).await.unwrap();
        assert_eq!(tickets(&first), ["a1"]);
        let rest = store.batch_decision_reviews("d1", 1, first.next).await.unwrap();
        assert_eq!((tickets(&rest), rest.next), (vec!["a3".into()], None));
        // Kept until ended.
        assert_eq!(store.batch_decisions().await.unwrap(), std::slice::from_ref(&taken));
        store.end_batch_decision("d1").await.unwrap();
        assert_eq!(store.batch_decisions().await.unwrap(), []);
        assert!(store.batch_decision_reviews("d1", 10, None).await.unwrap().items.is_empty());
        // A batch with nothing pending takes no decision.
        let none = BatchDecision { id: "d2".into(), batch: "nothing".into(), ..taken };
        assert!(!store.begin_batch_decision(&none).await.unwrap());
        assert_eq!(store.batch_decisions().await.unwrap(), []);
    }

    #[tokio::test]
    async fn pending_reviews_are_grouped_by_batch_and_listed_batch_by_batch() {
        let store = store().await;
        let queued = [
            ("a2", "alike", 2),
            ("s1", "single", 1),
            ("a1", "alike", 3),
            ("o1", "other", 0),
            ("a3", "alike", 5),
            ("o2", "other", 4),
        ];
        for (ticket, batch, created) in queued {
            let mut review = new_review(ticket, created);
            review.batch = batch.to_owned();
            store.enqueue_review(&review).await.unwrap();
        }
        store
            .decide_review("o2", &decision("rev", 10))
            .await
            .unwrap();
        // Batches by their oldest pending review; a decided review no longer counts.
        let batches = store.review_batches(1, 10).await.unwrap();
        let listed: Vec<(&str, u64, time::OffsetDateTime)> = batches
            .iter()
            .map(|b| (b.batch.as_str(), b.pending, b.first.created_at))
            .collect();
        assert_eq!(
            listed,
            [
                ("other", 1, at(0)),
                ("single", 1, at(1)),
                ("alike", 3, at(2))
            ]
        );
        // Each with its oldest pending review, whole.
        let firsts: Vec<&str> = batches.iter().map(|b| b.first.ticket.as_str()).collect();
        assert_eq!(firsts, ["o1", "s1", "a2"]);
        assert_eq!(batches[2].first, store.review("a2").await.unwrap().unwrap());
        let large = store.review_batches(2, 10).await.unwrap();
        assert_eq!(large.len(), 1);
        assert_eq!(large[0].batch, "alike");
        assert_eq!(store.review_batches(1, 2).await.unwrap().len(), 2);
        let alike = store.review_batch("alike").await.unwrap().unwrap();
        assert_eq!((alike.pending, alike.first.ticket.as_str()), (3, "a2"));
        assert_eq!(store.review_batch("nothing").await.unwrap(), None);

        // A batch's pending reviews in queue order, page by page; deciding one already passed
        // does not shift the next page.
        let first = store.batch_reviews("alike", 2, None).await.unwrap();
        let tickets: Vec<&str> = first.items.iter().map(|r| r.ticket.as_str()).collect();
        assert_eq!(tickets, ["a2", "a1"]);
        store
            .decide_review("a2", &decision("rev", 11))
            .await
            .unwrap();
        let rest = store.batch_reviews("alike", 2, first.next).await.unwrap();
        let tickets: Vec<&str> = rest.items.iter().map(|r| r.ticket.as_str()).collect();
        assert_eq!((tickets, rest.next), (vec!["a3"], None));
        assert!(store
            .batch_reviews("nothing", 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
    }

    #[tokio::test]
    async fn a_review_is_decided_once_and_the_first_decision_stands() {
        let store = store().await;
        store.enqueue_review(&new_review("t1", 0)).await.unwrap();
        store
            .decide_review("t1", &decision("anna", 10))
            .await
            .unwrap();
        let decided = store.review("t1").await.unwrap().unwrap();
        assert_eq!(decided.state, ReviewState::Decided);
        assert_eq!(decided.reviewer.as_deref(), Some("anna"));
        assert_eq!(decided.review_json.as_deref(), Some(r#"{"by":"anna"}"#));
        assert_eq!(
            decided.answer_json.as_deref(),
            Some(r#"{"outcome":"refuse"}"#)
        );
        assert_eq!(decided.decided_ledger_index, Some(8));
        assert_eq!(decided.decided_at, Some(at(10)));
        assert_eq!(decided.ledger_index, 7);

        let mut second = decision("bertil", 20);
        second.answer_json = r#"{"outcome":"disclose"}"#.to_owned();
        let error = store.decide_review("t1", &second).await.unwrap_err();
        assert!(matches!(error, StoreError::AlreadyDecided), "{error}");
        assert_eq!(store.review("t1").await.unwrap().unwrap(), decided);

        let error = store.decide_review("t9", &second).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_two_concurrent_deciders_exactly_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        // Two instances of one node, each with its own connections.
        let stores = common::instances(&dir, 2).await;
        let store = &stores[0];
        for round in 0..25 {
            let ticket = format!("t{round}");
            store.enqueue_review(&new_review(&ticket, 0)).await.unwrap();
            let deciders: Vec<_> = ["anna", "bertil"]
                .into_iter()
                .enumerate()
                .map(|(i, reviewer)| {
                    let (store, ticket) = (stores[i].clone(), ticket.clone());
                    tokio::spawn(async move {
                        let outcome = store.decide_review(&ticket, &decision(reviewer, 1)).await;
                        (reviewer, outcome)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for decider in deciders {
                match decider.await.unwrap() {
                    (reviewer, Ok(())) => winners.push(reviewer),
                    (_, Err(StoreError::AlreadyDecided)) => {}
                    (_, Err(error)) => panic!("unexpected error: {error}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let stored = store.review(&ticket).await.unwrap().unwrap();
            assert_eq!(stored.reviewer.as_deref(), Some(winners[0]));
            assert_eq!(
                stored.review_json,
                Some(decision(winners[0], 1).review_json)
            );
        }
        for store in stores {
            store.close().await;
        }
    }

    #[tokio::test]
    async fn reviews_decided_long_ago_are_forgotten_and_pending_ones_never() {
        let store = store().await;
        for ticket in ["t1", "t2", "t3", "t4"] {
            store.enqueue_review(&new_review(ticket, 0)).await.unwrap();
        }
        store.decide_review("t1", &decision("anna", 10)).await.unwrap();
        store.decide_review("t2", &decision("anna", 20)).await.unwrap();
        store.decide_review("t3", &decision("anna", 100)).await.unwrap();
        assert_eq!(store.forget_decided_reviews(at(50), 1).await.unwrap(), 1);
        assert_eq!(store.review("t1").await.unwrap(), None);
        assert_eq!(store.forget_decided_reviews(at(50), 10).await.unwrap(), 1);
        assert_eq!(store.forget_decided_reviews(at(1000), 10).await.unwrap(), 1);
        assert_eq!(store.review("t3").await.unwrap(), None);
        let pending = store.review("t4").await.unwrap().unwrap();
        assert_eq!(pending.state, ReviewState::Pending);
        assert_eq!(store.pending_review_count().await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_instances_claiming_one_decision_at_once_one_holds_it_until_it_ends_or_lapses() {
        let dir = tempfile::tempdir().unwrap();
        let stores = common::instances(&dir, 2).await;
        for round in 0..25 {
            let ticket = format!("t{round}");
            let claims: Vec<_> = ["a", "b"]
                .into_iter()
                .enumerate()
                .map(|(i, holder)| {
                    let (store, ticket) = (stores[i].clone(), ticket.clone());
                    tokio::spawn(async move {
                        let taken = store
                            .claim_deciding(Deciding::Review(&ticket), holder, at(0), at(120))
                            .await
                            .unwrap();
                        (holder, taken)
                    })
                })
                .collect();
            let mut holders = Vec::new();
            for claim in claims {
                if let (holder, true) = claim.await.unwrap() {
                    holders.push(holder);
                }
            }
            assert_eq!(holders.len(), 1, "round {round}: {holders:?}");
        }
        let (store, review) = (&stores[0], Deciding::Review("t0"));
        let holder = if store.claim_deciding(review, "a", at(1), at(121)).await.unwrap() {
            "a"
        } else {
            "b"
        };
        let other = if holder == "a" { "b" } else { "a" };
        // The same key for another kind of decision is another claim.
        assert!(store
            .claim_deciding(Deciding::HeldNotice("t0"), other, at(1), at(121))
            .await
            .unwrap());
        // Giving up a claim one does not hold changes nothing.
        store.release_deciding(review, other).await.unwrap();
        assert!(!store.claim_deciding(review, other, at(60), at(180)).await.unwrap());
        // Given up, it is free; not given up, it lapses when it ends.
        store.release_deciding(review, holder).await.unwrap();
        assert!(store.claim_deciding(review, other, at(60), at(180)).await.unwrap());
        assert!(!store.claim_deciding(review, holder, at(179), at(300)).await.unwrap());
        assert!(store.claim_deciding(review, holder, at(180), at(300)).await.unwrap());
        let error = store
            .claim_deciding(review, holder, at(300), at(300))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
        for store in stores {
            store.close().await;
        }
    }
}
