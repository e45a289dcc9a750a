//! The outbox and the inbox through the exchange store's public contract: posting is idempotent
//! per client and key, due messages are claimed once per claim and move through delivery and
//! acceptance exactly once, incoming messages are taken in once per sender and id (a stale claim
//! taken over), accepted receipts are returned until they reach the sender, listings page
//! newest first, and sealed content reads back byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_store::{
    ExchangeStore, InboxEntry, InboxState, NewIncomingMessage, NewOutgoingMessage, OutboxEntry,
    OutboxState, Posted, StoreError, TakenIn, MAX_SEALED_BYTES,
};

const DELIVERED_RECEIPT: &str = r#"{"receipt":"delivered","by":"forsakringskassan"}"#;
const ACCEPTED_RECEIPT: &str = r#"{"receipt":"accepted","by":"forsakringskassan/enhet-1"}"#;

/// A pending message `id` from `unit`, posted by client `arende` under `key` at `seconds`.
fn outgoing(id: &str, key: &str, unit: &str, seconds: i64) -> NewOutgoingMessage {
    NewOutgoingMessage {
        message_id: id.to_owned(),
        client: "arende".to_owned(),
        idempotency_key: key.to_owned(),
        request_hash: format!("hash-of-{key}"),
        sender_unit: unit.to_owned(),
        recipient: "forsakringskassan".to_owned(),
        kind: "free_text".to_owned(),
        envelope: format!(r#"{{"id":"{id}"}}"#),
        sealed: format!("sealed-{id}").into_bytes(),
        state: OutboxState::Pending,
        decision_index: 3,
        created_at: at(seconds),
        give_up_at: at(seconds + 86_400),
    }
}

/// A message `id` from `sender`, addressed to `unit` (`None`: the authority).
fn incoming(sender: &str, id: &str, unit: Option<&str>) -> NewIncomingMessage {
    NewIncomingMessage {
        sender: sender.to_owned(),
        message_id: id.to_owned(),
        unit: unit.map(str::to_owned),
        kind: "free_text".to_owned(),
        envelope: format!(r#"{{"id":"{id}"}}"#),
        sealed: format!("sealed-{sender}-{id}").into_bytes(),
    }
}

fn out_ids(entries: &[OutboxEntry]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e.message.message_id.as_str())
        .collect()
}

fn in_ids(entries: &[InboxEntry]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e.message.message_id.as_str())
        .collect()
}

async fn post(store: &ExchangeStore, message: &NewOutgoingMessage) {
    assert_eq!(store.post_message(message).await.unwrap(), Posted::New);
}

/// Takes `message` in at `seconds` and keeps its delivered receipt: a message in the inbox.
async fn receive(store: &ExchangeStore, message: &NewIncomingMessage, seconds: i64) {
    assert_eq!(
        store
            .take_in(message, at(seconds), at(seconds - 60))
            .await
            .unwrap(),
        TakenIn::Claimed
    );
    store
        .keep_delivered_receipt(
            &message.sender,
            &message.message_id,
            DELIVERED_RECEIPT,
            None,
        )
        .await
        .unwrap();
}

/// Every message in the outbox, paging through it `limit` at a time.
async fn whole_outbox(store: &ExchangeStore, unit: Option<&str>, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store.list_outbox(unit, None, limit, after).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        ids.extend(page.items.iter().map(|e| e.message.message_id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
    panic!("the outbox listing never ended: {ids:?}");
}

/// Every message in the inbox, paging through it `limit` at a time.
async fn whole_inbox(store: &ExchangeStore, unit: Option<&str>, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = store.list_inbox(unit, None, limit, after).await.unwrap();
        assert!(page.items.len() <= limit as usize);
        ids.extend(page.items.iter().map(|e| e.message.message_id.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
    panic!("the inbox listing never ended: {ids:?}");
}

/// Posts (one changing statement each, without a savepoint) and outgoing requests (under a
/// savepoint each) land in shared batches; the failing ones of either kind undo nothing of the
/// others, and everything acknowledged is durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_writes_with_and_without_savepoints_undo_no_other_in_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.db");
    let store = ExchangeStore::open(&path).await.unwrap();
    store
        .post_message(&outgoing("m-taken", "k-taken", "u", 0))
        .await
        .unwrap();
    store.begin_outgoing(&request("r-taken", 0)).await.unwrap();
    let writes: Vec<_> = (0..300)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                match (i % 3, i % 10 == 0) {
                    // The taken message id under another key: refused.
                    (0, true) => store
                        .post_message(&outgoing("m-taken", &format!("k-{i}"), "u", 1))
                        .await
                        .map(|_| false),
                    (0, false) => store
                        .post_message(&outgoing(&format!("m-{i}"), &format!("k-{i}"), "u", 1))
                        .await
                        .map(|posted| matches!(posted, Posted::New)),
                    // The taken key with another request: refused.
                    (_, true) => {
                        let mut sent = request("r-taken", 0);
                        sent.request_hash = format!("{:064x}", 1000 + i);
                        store.begin_outgoing(&sent).await.map(|_| false)
                    }
                    (_, false) => store
                        .begin_outgoing(&request(&format!("r-{i}"), 0))
                        .await
                        .map(|_| true),
                }
            })
        })
        .collect();
    let mut refused = 0;
    for (i, write) in writes.into_iter().enumerate() {
        match write.await.unwrap() {
            Ok(true) => assert_ne!(i % 10, 0, "write {i}"),
            Err(StoreError::Duplicate { .. } | StoreError::IdempotencyConflict) => {
                assert_eq!(i % 10, 0, "write {i}");
                refused += 1;
            }
            other => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(refused, 30);
    store.close().await;
    let store = ExchangeStore::open(&path).await.unwrap();
    for i in (0..300).filter(|i| i % 10 != 0) {
        if i % 3 == 0 {
            let posted = store.outgoing_message(&format!("m-{i}")).await.unwrap();
            assert!(posted.is_some(), "m-{i}");
        } else {
            assert!(
                store.outgoing(&format!("r-{i}")).await.unwrap().is_some(),
                "r-{i}"
            );
        }
    }
    let taken = store
        .outgoing_by_key("arende", "k-taken")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.message.message_id, "m-taken");
    store.close().await;
}

on_both_engines! {
    #[tokio::test]
    async fn a_posted_message_reads_back_as_posted_pending_due_at_once_or_held_never() {
        let store = store().await;
        let pending = outgoing("m-1", "k-1", "enhet-1", 5);
        post(&store, &pending).await;
        let mut held = outgoing("m-2", "k-2", "enhet-1", 6);
        held.state = OutboxState::Held;
        post(&store, &held).await;

        let entry = store.outgoing_message("m-1").await.unwrap().unwrap();
        assert_eq!(entry.message, pending);
        assert_eq!(entry.state, OutboxState::Pending);
        assert_eq!(entry.attempts, 0);
        assert_eq!(entry.next_attempt_at, Some(at(5)), "due at once");
        assert_eq!(entry.updated_at, at(5));
        assert_eq!(entry.last_error, None);
        assert_eq!(entry.delivered_receipt, None);
        assert_eq!(entry.accepted_receipt, None);

        let entry = store.outgoing_message("m-2").await.unwrap().unwrap();
        assert_eq!(entry.message, held);
        assert_eq!(
            (entry.state, entry.next_attempt_at),
            (OutboxState::Held, None)
        );
        assert_eq!(store.outgoing_message("m-3").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_retry_under_the_same_key_finds_the_first_message_and_a_changed_one_conflicts() {
        let store = store().await;
        let first = outgoing("m-1", "k-1", "enhet-1", 5);
        post(&store, &first).await;
        let posted = store.outgoing_message("m-1").await.unwrap().unwrap();

        // The client's retry: the same request under the same key, with the message id the
        // node generated afresh for it, or with the same one.
        let mut retry = first.clone();
        retry.message_id = "m-retry".to_owned();
        retry.created_at = at(9);
        for again in [&retry, &first] {
            match store.post_message(again).await.unwrap() {
                Posted::Existing(entry) => {
                    assert_eq!(entry.message.message_id, "m-1");
                    assert_eq!(*entry, posted);
                }
                Posted::New => panic!("a retry posted a second message"),
            }
        }
        assert_eq!(store.outgoing_message("m-retry").await.unwrap(), None);

        // Another request under the key.
        let mut changed = retry.clone();
        changed.request_hash = "hash-of-another-request".to_owned();
        let error = store.post_message(&changed).await.unwrap_err();
        assert!(matches!(error, StoreError::IdempotencyConflict), "{error}");
        assert_eq!(store.outgoing_message("m-retry").await.unwrap(), None);

        // A known message id under another key.
        let mut reused = outgoing("m-1", "k-2", "enhet-2", 7);
        reused.envelope = r#"{"id":"m-1","other":true}"#.to_owned();
        let error = store.post_message(&reused).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
        assert_eq!(
            store.outgoing_message("m-1").await.unwrap().unwrap(),
            posted
        );

        // A key is the client's own: another client may use the same one.
        let mut other_client = outgoing("m-3", "k-1", "enhet-1", 8);
        other_client.client = "diarium".to_owned();
        post(&store, &other_client).await;
        assert_eq!(whole_outbox(&store, None, 10).await, ["m-3", "m-1"]);
    }

    #[tokio::test]
    async fn an_extended_claim_keeps_other_deliverers_off_until_it_ends() {
        let store = store().await;
        post(&store, &outgoing("gross", "k-1", "enhet-1", 1)).await;
        assert_eq!(
            out_ids(&store.claim_due_messages(at(2), at(62), 10).await.unwrap()),
            ["gross"]
        );
        assert!(store.extend_message_claim("gross", at(200), at(50)).await.unwrap());
        assert!(
            store.claim_due_messages(at(100), at(160), 10).await.unwrap().is_empty(),
            "the first claim ended, the extension did not"
        );
        let stored = store.outgoing_message("gross").await.unwrap().unwrap();
        assert_eq!((stored.attempts, stored.last_error), (1, None));
        assert_eq!(
            out_ids(&store.claim_due_messages(at(200), at(260), 10).await.unwrap()),
            ["gross"]
        );
        store.message_delivered("gross", "{}", at(210)).await.unwrap();
        assert!(
            !store.extend_message_claim("gross", at(400), at(220)).await.unwrap(),
            "a delivered message has no claim to extend"
        );
    }

    #[tokio::test]
    async fn a_pending_message_is_claimed_once_per_claim_and_a_held_one_never() {
        let store = store().await;
        let mut held = outgoing("held", "k-0", "enhet-1", 1);
        held.state = OutboxState::Held;
        post(&store, &held).await;
        post(&store, &outgoing("b", "k-2", "enhet-1", 6)).await;
        post(&store, &outgoing("a", "k-1", "enhet-1", 5)).await;
        post(&store, &outgoing("later", "k-3", "enhet-1", 50)).await;

        assert!(store
            .claim_due_messages(at(4), at(64), 10)
            .await
            .unwrap()
            .is_empty());
        let first = store.claim_due_messages(at(10), at(70), 1).await.unwrap();
        assert_eq!(
            out_ids(&first),
            ["a"],
            "the earliest due first, up to the limit"
        );
        let claimed = store.claim_due_messages(at(10), at(70), 10).await.unwrap();
        assert_eq!(out_ids(&claimed), ["b"]);
        assert_eq!(claimed[0].attempts, 1);
        assert_eq!(claimed[0].next_attempt_at, Some(at(70)));
        assert!(
            store
                .claim_due_messages(at(10), at(70), 10)
                .await
                .unwrap()
                .is_empty(),
            "claimed already"
        );
        assert_eq!(
            out_ids(&store.claim_due_messages(at(69), at(129), 10).await.unwrap()),
            ["later"],
            "not again before the claim ends"
        );
        let stored = store.outgoing_message("a").await.unwrap().unwrap();
        assert_eq!((stored.attempts, stored.next_attempt_at), (1, Some(at(70))));

        // Nothing was recorded for either (its deliverer stopped): due again when the claim ends.
        let again = store.claim_due_messages(at(70), at(130), 10).await.unwrap();
        let mut ids = out_ids(&again);
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b"]);
        assert!(again.iter().all(|m| m.attempts == 2), "{again:?}");

        assert!(
            store
                .claim_due_messages(at(100_000), at(100_060), 10)
                .await
                .unwrap()
                .iter()
                .all(|m| m.message.message_id != "held"),
            "a held message is never due"
        );
        let held = store.outgoing_message("held").await.unwrap().unwrap();
        assert_eq!(
            (held.state, held.attempts, held.next_attempt_at),
            (OutboxState::Held, 0, None)
        );
        assert!(matches!(
            store.claim_due_messages(at(200), at(200), 10).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }

    /// Instances posting the same request at once: exactly one posts it, the others find it.
    /// Instances claiming at once: every due message goes to exactly one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_instances_posting_or_claiming_at_once_each_message_goes_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let stores = common::instances(&dir, 3).await;
        let ids: Vec<String> = (0..30).map(|n| format!("m{n}")).collect();
        for id in &ids {
            // Each instance generated its own message id for the client's request.
            let posts: Vec<_> = stores
                .iter()
                .enumerate()
                .map(|(n, store)| {
                    let store = store.clone();
                    let mut message = outgoing(id, &format!("k-{id}"), "enhet-1", 5);
                    message.message_id = format!("{id}-{n}");
                    tokio::spawn(async move { store.post_message(&message).await })
                })
                .collect();
            let mut posted = Vec::new();
            for post in posts {
                posted.push(post.await.unwrap().unwrap());
            }
            let new = posted.iter().filter(|p| **p == Posted::New).count();
            assert_eq!(new, 1, "{posted:?}");
            let first = whole_outbox(&stores[0], None, 100).await;
            let first = first
                .iter()
                .find(|m| m.starts_with(&format!("{id}-")))
                .unwrap();
            for p in &posted {
                if let Posted::Existing(entry) = p {
                    assert_eq!(&entry.message.message_id, first);
                }
            }
        }
        let mut posted = whole_outbox(&stores[0], None, 100).await;
        posted.sort();
        assert_eq!(posted.len(), ids.len(), "one message a request: {posted:?}");
        let ids = posted;
        let mut claimed = Vec::new();
        for _ in 0..30 {
            let claims: Vec<_> = stores
                .iter()
                .map(|store| {
                    let store = store.clone();
                    tokio::spawn(async move { store.claim_due_messages(at(10), at(600), 4).await })
                })
                .collect();
            for claim in claims {
                claimed.extend(
                    claim
                        .await
                        .unwrap()
                        .unwrap()
                        .into_iter()
                        .map(|m| m.message.message_id),
                );
            }
            if claimed.len() >= ids.len() {
                break;
            }
        }
        let mut unique = claimed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            claimed.len(),
            "a message claimed twice: {claimed:?}"
        );
        assert_eq!(unique.len(), ids.len(), "every message claimed");
        for store in stores {
            store.close().await;
        }
    }

    #[tokio::test]
    async fn a_delivery_is_recorded_once_and_the_first_receipt_stays() {
        let store = store().await;
        post(&store, &outgoing("m-1", "k-1", "enhet-1", 5)).await;
        store.claim_due_messages(at(10), at(70), 10).await.unwrap();

        assert!(store
            .message_delivered("m-1", DELIVERED_RECEIPT, at(12))
            .await
            .unwrap());
        let delivered = store.outgoing_message("m-1").await.unwrap().unwrap();
        assert_eq!(delivered.state, OutboxState::Delivered);
        assert_eq!(
            delivered.delivered_receipt.as_deref(),
            Some(DELIVERED_RECEIPT)
        );
        assert_eq!(
            (delivered.next_attempt_at, delivered.updated_at),
            (None, at(12))
        );
        assert_eq!(delivered.attempts, 1);

        // A second attempt that raced the first, and a late failure report, change nothing.
        assert!(!store
            .message_delivered("m-1", r#"{"receipt":"second"}"#, at(13))
            .await
            .unwrap());
        store
            .message_not_delivered("m-1", "timed out", Some(at(100)), at(14))
            .await
            .unwrap();
        store
            .message_not_delivered("m-1", "timed out", None, at(15))
            .await
            .unwrap();
        assert_eq!(
            store.outgoing_message("m-1").await.unwrap().unwrap(),
            delivered
        );
        assert!(store
            .claim_due_messages(at(1000), at(1060), 10)
            .await
            .unwrap()
            .is_empty());

        assert!(!store
            .message_delivered("nope", DELIVERED_RECEIPT, at(13))
            .await
            .unwrap());
        let error = store
            .message_delivered("m-1", "not json", at(13))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_failed_attempt_makes_the_message_due_again_and_giving_up_fails_it_for_good() {
        let store = store().await;
        post(&store, &outgoing("m-1", "k-1", "enhet-1", 5)).await;
        store.claim_due_messages(at(10), at(70), 10).await.unwrap();

        store
            .message_not_delivered("m-1", "recipient answered 503", Some(at(300)), at(11))
            .await
            .unwrap();
        let retried = store.outgoing_message("m-1").await.unwrap().unwrap();
        assert_eq!(retried.state, OutboxState::Pending);
        assert_eq!(retried.next_attempt_at, Some(at(300)));
        assert_eq!(
            retried.last_error.as_deref(),
            Some("recipient answered 503")
        );
        assert_eq!((retried.attempts, retried.updated_at), (1, at(11)));
        assert!(store
            .claim_due_messages(at(299), at(359), 10)
            .await
            .unwrap()
            .is_empty());
        let again = store
            .claim_due_messages(at(300), at(360), 10)
            .await
            .unwrap();
        assert_eq!(out_ids(&again), ["m-1"]);
        assert_eq!(again[0].attempts, 2);

        for error in [String::new(), "x".repeat(513)] {
            let refused = store
                .message_not_delivered("m-1", &error, None, at(301))
                .await
                .unwrap_err();
            assert!(
                matches!(refused, StoreError::InvalidInput { .. }),
                "{refused}"
            );
        }
        assert_eq!(
            store.outgoing_message("m-1").await.unwrap().unwrap().state,
            OutboxState::Pending
        );

        store
            .message_not_delivered("m-1", "gave up after a day", None, at(302))
            .await
            .unwrap();
        let failed = store.outgoing_message("m-1").await.unwrap().unwrap();
        assert_eq!(failed.state, OutboxState::Failed);
        assert_eq!(failed.next_attempt_at, None);
        assert_eq!(failed.last_error.as_deref(), Some("gave up after a day"));
        assert_eq!(failed.updated_at, at(302));
        assert!(store
            .claim_due_messages(at(100_000), at(100_060), 10)
            .await
            .unwrap()
            .is_empty());
        assert!(!store
            .message_delivered("m-1", DELIVERED_RECEIPT, at(303))
            .await
            .unwrap());
        store
            .message_not_delivered("m-1", "late retry", Some(at(400)), at(304))
            .await
            .unwrap();
        assert_eq!(
            store.outgoing_message("m-1").await.unwrap().unwrap(),
            failed,
            "failed is final"
        );
    }

    #[tokio::test]
    async fn acceptance_moves_a_delivered_message_to_accepted_once() {
        let store = store().await;
        post(&store, &outgoing("m-1", "k-1", "enhet-1", 5)).await;
        let mut held = outgoing("held", "k-2", "enhet-1", 6);
        held.state = OutboxState::Held;
        post(&store, &held).await;
        assert!(store
            .message_delivered("m-1", DELIVERED_RECEIPT, at(12))
            .await
            .unwrap());

        assert!(store
            .message_accepted("m-1", ACCEPTED_RECEIPT, at(20))
            .await
            .unwrap());
        let accepted = store.outgoing_message("m-1").await.unwrap().unwrap();
        assert_eq!(accepted.state, OutboxState::Accepted);
        assert_eq!(
            accepted.delivered_receipt.as_deref(),
            Some(DELIVERED_RECEIPT)
        );
        assert_eq!(accepted.accepted_receipt.as_deref(), Some(ACCEPTED_RECEIPT));
        assert_eq!(
            (accepted.next_attempt_at, accepted.updated_at),
            (None, at(20))
        );

        assert!(!store
            .message_accepted("m-1", r#"{"receipt":"again"}"#, at(21))
            .await
            .unwrap());
        assert!(!store
            .message_delivered("m-1", DELIVERED_RECEIPT, at(22))
            .await
            .unwrap());
        assert_eq!(
            store.outgoing_message("m-1").await.unwrap().unwrap(),
            accepted
        );

        assert!(
            !store
                .message_accepted("held", ACCEPTED_RECEIPT, at(23))
                .await
                .unwrap(),
            "a held message was never sent"
        );
        assert_eq!(
            store.outgoing_message("held").await.unwrap().unwrap().state,
            OutboxState::Held
        );
    }

    #[tokio::test]
    async fn the_outbox_lists_newest_first_by_unit_and_pages_without_repeats_or_gaps() {
        let store = store().await;
        for (n, unit) in [
            "enhet-1", "enhet-2", "enhet-1", "enhet-1", "enhet-2", "enhet-1",
        ]
        .into_iter()
        .enumerate()
        {
            let n = n as i64;
            post(
                &store,
                &outgoing(&format!("m-{n}"), &format!("k-{n}"), unit, 10 * n),
            )
            .await;
        }
        // Two posted in the same second: the later one is listed first.
        post(&store, &outgoing("m-6a", "k-6a", "enhet-1", 60)).await;
        post(&store, &outgoing("m-6b", "k-6b", "enhet-1", 60)).await;

        let all = store.list_outbox(None, None, 100, None).await.unwrap();
        assert_eq!(
            out_ids(&all.items),
            ["m-6b", "m-6a", "m-5", "m-4", "m-3", "m-2", "m-1", "m-0"]
        );
        assert_eq!(all.next, None);
        // Every one is pending; none has failed.
        let pending = store
            .list_outbox(None, Some(OutboxState::Pending), 100, None)
            .await
            .unwrap();
        assert_eq!(out_ids(&pending.items), out_ids(&all.items));
        let failed = store
            .list_outbox(None, Some(OutboxState::Failed), 100, None)
            .await
            .unwrap();
        assert!(failed.items.is_empty());
        let one = ["m-6b", "m-6a", "m-5", "m-3", "m-2", "m-0"];
        assert_eq!(
            out_ids(
                &store
                    .list_outbox(Some("enhet-1"), None, 100, None)
                    .await
                    .unwrap()
                    .items
            ),
            one
        );
        for limit in 1..=4 {
            assert_eq!(
                whole_outbox(&store, Some("enhet-1"), limit).await,
                one,
                "{limit} a page"
            );
            assert_eq!(
                whole_outbox(&store, None, limit).await,
                out_ids(&all.items),
                "{limit} a page"
            );
        }
        assert_eq!(
            whole_outbox(&store, Some("enhet-2"), 1).await,
            ["m-4", "m-1"]
        );
        assert!(store
            .list_outbox(Some("enhet-3"), None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());

        let first = store.list_outbox(Some("enhet-1"), None, 2, None).await.unwrap();
        assert_eq!(out_ids(&first.items), ["m-6b", "m-6a"]);
        assert!(first.next.is_some());
        // A message posted after the first page does not shift the next one.
        post(&store, &outgoing("m-7", "k-7", "enhet-1", 70)).await;
        let second = store
            .list_outbox(Some("enhet-1"), None, 2, first.next)
            .await
            .unwrap();
        assert_eq!(out_ids(&second.items), ["m-5", "m-3"]);
    }

    #[tokio::test]
    async fn taking_in_claims_a_message_once_and_a_stale_claim_is_taken_over() {
        let store = store().await;
        let message = incoming("skatteverket", "m-1", Some("enhet-1"));
        assert_eq!(
            store.take_in(&message, at(10), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        let receiving = store
            .incoming_message("skatteverket", "m-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(receiving.message, message);
        assert_eq!(receiving.state, InboxState::Receiving);
        assert_eq!(receiving.received_at, at(10));
        assert_eq!(receiving.delivered_receipt, None);

        // Another delivery while the first is recorded: fresh claims are left alone.
        assert_eq!(
            store.take_in(&message, at(11), at(5)).await.unwrap(),
            TakenIn::Busy
        );
        // The first node stopped: a claim older than the limit is taken over, once, saying
        // since when the first held it.
        assert_eq!(
            store.take_in(&message, at(100), at(11)).await.unwrap(),
            TakenIn::TakenOver { since: at(10) }
        );
        assert_eq!(
            store.take_in(&message, at(101), at(50)).await.unwrap(),
            TakenIn::Busy
        );
        // The node that took over stopped too: the next take-over still says since the first
        // claim, which may be the one that recorded the delivery.
        assert_eq!(
            store.take_in(&message, at(300), at(200)).await.unwrap(),
            TakenIn::TakenOver { since: at(10) }
        );

        store
            .keep_delivered_receipt("skatteverket", "m-1", DELIVERED_RECEIPT, None)
            .await
            .unwrap();
        let delivered = store
            .incoming_message("skatteverket", "m-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(delivered.state, InboxState::Delivered);
        assert_eq!(
            delivered.delivered_receipt.as_deref(),
            Some(DELIVERED_RECEIPT)
        );
        assert_eq!(delivered.received_at, at(10));
        match store.take_in(&message, at(200), at(190)).await.unwrap() {
            TakenIn::Received(entry) => {
                assert_eq!(entry.delivered_receipt.as_deref(), Some(DELIVERED_RECEIPT));
                assert_eq!(*entry, delivered);
            }
            other => panic!("a received message taken in again: {other:?}"),
        }

        // The receipt is kept once: the node that lost the take-over cannot overwrite it.
        let error = store
            .keep_delivered_receipt("skatteverket", "m-1", r#"{"receipt":"second"}"#, None)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
        let error = store
            .keep_delivered_receipt("skatteverket", "nope", DELIVERED_RECEIPT, None)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap(),
            delivered
        );
        assert_eq!(
            store
                .incoming_message("skatteverket", "nope")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_known_id_with_other_content_is_a_duplicate_and_another_senders_id_is_its_own() {
        let store = store().await;
        let message = incoming("skatteverket", "m-1", None);
        receive(&store, &message, 10).await;
        let kept = store
            .incoming_message("skatteverket", "m-1")
            .await
            .unwrap()
            .unwrap();

        let mut other_envelope = message.clone();
        other_envelope.envelope = r#"{"id":"m-1","kind":"other"}"#.to_owned();
        let mut other_sealed = message.clone();
        other_sealed.sealed = b"other sealed bytes".to_vec();
        for changed in [&other_envelope, &other_sealed] {
            let error = store.take_in(changed, at(20), at(15)).await.unwrap_err();
            assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
        }
        // Also while the first delivery is still being recorded.
        let fresh = incoming("skatteverket", "m-2", None);
        assert_eq!(
            store.take_in(&fresh, at(30), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        let mut fresh_changed = fresh.clone();
        fresh_changed.sealed = b"tampered".to_vec();
        let error = store
            .take_in(&fresh_changed, at(1000), at(999))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-2")
                .await
                .unwrap()
                .unwrap()
                .message,
            fresh
        );
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap(),
            kept
        );

        // The same id from another authority is another message.
        let mut from_other = message.clone();
        from_other.sender = "polisen".to_owned();
        from_other.sealed = b"polisens innehall".to_vec();
        assert_eq!(
            store.take_in(&from_other, at(40), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        let theirs = store
            .incoming_message("polisen", "m-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(theirs.message, from_other);
        assert_eq!(theirs.state, InboxState::Receiving);
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap(),
            kept
        );
    }

    /// Deliveries of one message to instances at once: exactly one takes it in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_deliveries_at_once_exactly_one_takes_the_message_in() {
        let dir = tempfile::tempdir().unwrap();
        let stores = common::instances(&dir, 3).await;
        for n in 0..10 {
            let message = incoming("skatteverket", &format!("m-{n}"), None);
            let takes: Vec<_> = stores
                .iter()
                .map(|store| {
                    let (store, message) = (store.clone(), message.clone());
                    tokio::spawn(async move { store.take_in(&message, at(10), at(0)).await })
                })
                .collect();
            let mut outcomes = Vec::new();
            for take in takes {
                outcomes.push(take.await.unwrap().unwrap());
            }
            let claimed = outcomes.iter().filter(|o| **o == TakenIn::Claimed).count();
            assert_eq!(claimed, 1, "{outcomes:?}");
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, TakenIn::Claimed | TakenIn::Busy)),
                "{outcomes:?}"
            );
        }
        for store in stores {
            store.close().await;
        }
    }

    #[tokio::test]
    async fn the_inbox_lists_received_messages_of_a_unit_and_of_the_authority_newest_first() {
        let store = store().await;
        receive(
            &store,
            &incoming("skatteverket", "to-1", Some("enhet-1")),
            10,
        )
        .await;
        receive(&store, &incoming("skatteverket", "to-all", None), 20).await;
        receive(&store, &incoming("polisen", "to-2", Some("enhet-2")), 30).await;
        receive(
            &store,
            &incoming("polisen", "to-1-later", Some("enhet-1")),
            40,
        )
        .await;
        let arriving = incoming("polisen", "arriving", Some("enhet-1"));
        assert_eq!(
            store.take_in(&arriving, at(50), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        assert!(store
            .accept_incoming(
                "skatteverket",
                "to-1",
                "enhet-1/arende",
                ACCEPTED_RECEIPT,
                at(60)
            )
            .await
            .unwrap());

        let all = store.list_inbox(None, None, 100, None).await.unwrap();
        assert_eq!(in_ids(&all.items), ["to-1-later", "to-2", "to-all", "to-1"]);
        assert_eq!(all.next, None);
        assert_eq!(
            all.items[3].state,
            InboxState::Accepted,
            "accepted ones are listed"
        );
        // What a case system has not taken yet, and what it has, each on its own.
        let waiting = store
            .list_inbox(Some("enhet-1"), Some(InboxState::Delivered), 100, None)
            .await
            .unwrap();
        assert_eq!(in_ids(&waiting.items), ["to-1-later", "to-all"]);
        let taken = store
            .list_inbox(None, Some(InboxState::Accepted), 100, None)
            .await
            .unwrap();
        assert_eq!(in_ids(&taken.items), ["to-1"]);
        let one = ["to-1-later", "to-all", "to-1"];
        assert_eq!(
            in_ids(
                &store
                    .list_inbox(Some("enhet-1"), None, 100, None)
                    .await
                    .unwrap()
                    .items
            ),
            one
        );
        assert_eq!(
            in_ids(
                &store
                    .list_inbox(Some("enhet-2"), None, 100, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["to-2", "to-all"]
        );
        assert_eq!(
            in_ids(
                &store
                    .list_inbox(Some("enhet-3"), None, 100, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["to-all"]
        );
        for limit in 1..=3 {
            assert_eq!(
                whole_inbox(&store, Some("enhet-1"), limit).await,
                one,
                "{limit} a page"
            );
            assert_eq!(
                whole_inbox(&store, None, limit).await,
                in_ids(&all.items),
                "{limit} a page"
            );
        }

        // Received once the receipt is kept.
        store
            .keep_delivered_receipt("polisen", "arriving", DELIVERED_RECEIPT, None)
            .await
            .unwrap();
        assert_eq!(
            in_ids(
                &store
                    .list_inbox(Some("enhet-1"), None, 1, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["arriving"]
        );
    }

    #[tokio::test]
    async fn an_accepted_receipt_is_due_for_return_until_it_reaches_the_sender() {
        let store = store().await;
        receive(
            &store,
            &incoming("skatteverket", "m-1", Some("enhet-1")),
            10,
        )
        .await;
        receive(&store, &incoming("skatteverket", "m-2", None), 11).await;
        let arriving = incoming("polisen", "m-3", None);
        assert_eq!(
            store.take_in(&arriving, at(12), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        assert!(
            store
                .claim_due_returns(at(1000), at(1060), 10)
                .await
                .unwrap()
                .is_empty(),
            "nothing accepted, nothing to return"
        );

        assert!(store
            .accept_incoming(
                "skatteverket",
                "m-1",
                "enhet-1/arende",
                ACCEPTED_RECEIPT,
                at(20)
            )
            .await
            .unwrap());
        let accepted = store
            .incoming_message("skatteverket", "m-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(accepted.state, InboxState::Accepted);
        assert_eq!(accepted.accepted_by.as_deref(), Some("enhet-1/arende"));
        assert_eq!(accepted.accepted_receipt.as_deref(), Some(ACCEPTED_RECEIPT));
        assert_eq!(
            accepted.delivered_receipt.as_deref(),
            Some(DELIVERED_RECEIPT)
        );
        assert_eq!(accepted.return_at, Some(at(20)));

        // Accepted once: a second unit's acceptance changes nothing.
        assert!(!store
            .accept_incoming(
                "skatteverket",
                "m-1",
                "enhet-2/diarium",
                r#"{"r":2}"#,
                at(21)
            )
            .await
            .unwrap());
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap(),
            accepted
        );
        let error = store
            .accept_incoming("polisen", "m-3", "enhet-1/arende", ACCEPTED_RECEIPT, at(22))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::NotFound { .. }),
            "still receiving: {error}"
        );
        assert_eq!(
            store
                .incoming_message("polisen", "m-3")
                .await
                .unwrap()
                .unwrap()
                .state,
            InboxState::Receiving
        );
        let error = store
            .accept_incoming(
                "polisen",
                "nope",
                "enhet-1/arende",
                ACCEPTED_RECEIPT,
                at(22),
            )
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");

        assert!(store
            .claim_due_returns(at(19), at(79), 10)
            .await
            .unwrap()
            .is_empty());
        let due = store.claim_due_returns(at(20), at(80), 10).await.unwrap();
        assert_eq!(in_ids(&due), ["m-1"]);
        assert_eq!(due[0].return_at, Some(at(80)));
        assert!(
            store
                .claim_due_returns(at(21), at(81), 10)
                .await
                .unwrap()
                .is_empty(),
            "claimed already"
        );
        // The return failed: due again when the sender is tried again.
        store
            .receipt_returned("skatteverket", "m-1", Some(at(500)))
            .await
            .unwrap();
        assert!(store
            .claim_due_returns(at(499), at(559), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            in_ids(&store.claim_due_returns(at(500), at(560), 10).await.unwrap()),
            ["m-1"]
        );
        // It reached the sender: never due again.
        store
            .receipt_returned("skatteverket", "m-1", None)
            .await
            .unwrap();
        let returned = store
            .incoming_message("skatteverket", "m-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (returned.state, returned.return_at),
            (InboxState::Accepted, None)
        );
        assert!(store
            .claim_due_returns(at(100_000), at(100_060), 10)
            .await
            .unwrap()
            .is_empty());

        // A message not accepted has no receipt to return.
        store
            .receipt_returned("skatteverket", "m-2", Some(at(30)))
            .await
            .unwrap();
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-2")
                .await
                .unwrap()
                .unwrap()
                .return_at,
            None
        );
        assert!(matches!(
            store.claim_due_returns(at(200), at(200), 10).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }

    #[tokio::test]
    async fn sealed_content_reads_back_byte_for_byte() {
        let store = store().await;
        let bytes: Vec<u8> = (0..=255u8)
            .chain([0, 0, 0xff, 0])
            .cycle()
            .take(4096)
            .collect();
        let largest = vec![0u8; MAX_SEALED_BYTES];

        let mut out = outgoing("m-1", "k-1", "enhet-1", 5);
        out.sealed = bytes.clone();
        post(&store, &out).await;
        let mut out_largest = outgoing("m-2", "k-2", "enhet-1", 6);
        out_largest.sealed = largest.clone();
        post(&store, &out_largest).await;
        assert_eq!(
            store
                .outgoing_message("m-1")
                .await
                .unwrap()
                .unwrap()
                .message
                .sealed,
            bytes
        );
        assert_eq!(
            store
                .outgoing_message("m-2")
                .await
                .unwrap()
                .unwrap()
                .message
                .sealed,
            largest
        );
        let claimed = store.claim_due_messages(at(10), at(70), 10).await.unwrap();
        assert_eq!(claimed[0].message.sealed, bytes);

        let mut message = incoming("skatteverket", "m-1", None);
        message.sealed = bytes.clone();
        receive(&store, &message, 10).await;
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap()
                .message
                .sealed,
            bytes
        );
        assert_eq!(
            store.list_inbox(None, None, 1, None).await.unwrap().items[0]
                .message
                .sealed,
            bytes
        );
        // A redelivery must match byte for byte: one byte changed is another message.
        let mut flipped = message.clone();
        flipped.sealed[4095] ^= 1;
        let error = store.take_in(&flipped, at(20), at(15)).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");
        assert!(matches!(
            store.take_in(&message, at(20), at(15)).await.unwrap(),
            TakenIn::Received(_)
        ));
    }

    #[tokio::test]
    async fn invalid_messages_are_refused_and_nothing_is_written() {
        let store = store().await;
        let good = outgoing("m-1", "k-1", "enhet-1", 5);
        let mut bad_out = Vec::new();
        let mut empty = good.clone();
        empty.sealed = Vec::new();
        bad_out.push(empty);
        let mut too_large = good.clone();
        too_large.sealed = vec![1; MAX_SEALED_BYTES + 1];
        bad_out.push(too_large);
        let mut not_json = good.clone();
        not_json.envelope = "{id: m-1".to_owned();
        bad_out.push(not_json);
        let mut no_id = good.clone();
        no_id.message_id = String::new();
        bad_out.push(no_id);
        for state in [
            OutboxState::Delivered,
            OutboxState::Accepted,
            OutboxState::Failed,
        ] {
            let mut posted_as = good.clone();
            posted_as.state = state;
            bad_out.push(posted_as);
        }
        for message in &bad_out {
            let error = store.post_message(message).await.unwrap_err();
            assert!(
                matches!(error, StoreError::InvalidInput { .. }),
                "{message:?}: {error}"
            );
        }
        assert_eq!(store.outgoing_message("m-1").await.unwrap(), None);
        assert!(store
            .list_outbox(None, None, 10, None)
            .await
            .unwrap()
            .items
            .is_empty());
        post(&store, &good).await;

        let good = incoming("skatteverket", "m-1", Some("enhet-1"));
        let mut bad_in = Vec::new();
        let mut empty = good.clone();
        empty.sealed = Vec::new();
        bad_in.push(empty);
        let mut not_json = good.clone();
        not_json.envelope = "not json".to_owned();
        bad_in.push(not_json);
        let mut no_unit = good.clone();
        no_unit.unit = Some(String::new());
        bad_in.push(no_unit);
        for message in &bad_in {
            let error = store.take_in(message, at(10), at(0)).await.unwrap_err();
            assert!(
                matches!(error, StoreError::InvalidInput { .. }),
                "{message:?}: {error}"
            );
        }
        assert_eq!(
            store.incoming_message("skatteverket", "m-1").await.unwrap(),
            None
        );
        assert_eq!(
            store.take_in(&good, at(10), at(0)).await.unwrap(),
            TakenIn::Claimed
        );
        let error = store
            .keep_delivered_receipt("skatteverket", "m-1", "not json", None)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
        assert_eq!(
            store
                .incoming_message("skatteverket", "m-1")
                .await
                .unwrap()
                .unwrap()
                .state,
            InboxState::Receiving
        );
    }

    #[tokio::test]
    async fn a_held_notice_is_released_once_with_its_new_sealing_or_refused_for_good() {
        let store = store().await;
        for (id, seconds) in [("h-2", 20), ("h-1", 10), ("h-3", 30)] {
            let mut held = outgoing(id, id, "enhet-1", seconds);
            held.state = OutboxState::Held;
            post(&store, &held).await;
        }
        post(&store, &outgoing("p-1", "p-1", "enhet-1", 5)).await;
        // Only held notices are listed, oldest first, page by page.
        let first = store.held_messages(2, None).await.unwrap();
        assert_eq!(out_ids(&first.items), ["h-1", "h-2"]);
        let rest = store.held_messages(2, first.next).await.unwrap();
        assert_eq!(out_ids(&rest.items), ["h-3"]);
        assert!(rest.next.is_none());

        // Released: pending at once, with the envelope and sealing it now leaves with.
        let sealed = vec![0u8, 1, 2, 255];
        assert!(store.release_held("h-1", r#"{"id":"h-1","key":"k"}"#, &sealed, at(40)).await.unwrap());
        let released = store.outgoing_message("h-1").await.unwrap().unwrap();
        assert_eq!(released.state, OutboxState::Pending);
        assert_eq!(released.next_attempt_at, Some(at(40)));
        assert_eq!(released.message.sealed, sealed);
        assert_eq!(released.message.envelope, r#"{"id":"h-1","key":"k"}"#);
        let claimed = store.claim_due_messages(at(40), at(100), 10).await.unwrap();
        assert!(out_ids(&claimed).contains(&"h-1"), "{:?}", out_ids(&claimed));
        // Decided once: a second release, or a refusal after it, changes nothing.
        assert!(!store.release_held("h-1", r#"{"id":"x"}"#, &[9], at(41)).await.unwrap());
        assert!(!store.refuse_held("h-1", "too late", at(41)).await.unwrap());
        assert_eq!(store.outgoing_message("h-1").await.unwrap().unwrap().message.sealed, sealed);

        // Refused: failed with the reason, never claimed, never released.
        assert!(store.refuse_held("h-2", "every field was refused at review", at(42)).await.unwrap());
        let refused = store.outgoing_message("h-2").await.unwrap().unwrap();
        assert_eq!(refused.state, OutboxState::Failed);
        assert_eq!(refused.last_error.as_deref(), Some("every field was refused at review"));
        assert!(!store.release_held("h-2", r#"{"id":"h-2"}"#, &[1], at(43)).await.unwrap());
        let due = store.claim_due_messages(at(1000), at(2000), 10).await.unwrap();
        assert!(!out_ids(&due).contains(&"h-2"));
        assert_eq!(out_ids(&store.held_messages(10, None).await.unwrap().items), ["h-3"]);
        // A pending message is not held: it cannot be released or refused.
        assert!(!store.release_held("p-1", r#"{"id":"p-1"}"#, &[1], at(44)).await.unwrap());
        assert!(matches!(
            store.release_held("h-3", "not json", &[1], at(45)).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }

    #[tokio::test]
    async fn a_message_is_forgotten_only_once_accepted_its_receipt_returned_and_announced() {
        let store = store().await;
        for (id, seconds) in [("m-1", 10), ("m-2", 11), ("m-3", 12)] {
            receive(&store, &incoming("skatteverket", id, None), seconds).await;
        }
        // m-4's arrival is still to be announced to the case system.
        let announced = incoming("skatteverket", "m-4", None);
        store.take_in(&announced, at(13), at(0)).await.unwrap();
        store
            .keep_delivered_receipt("skatteverket", "m-4", DELIVERED_RECEIPT, Some(at(500)))
            .await
            .unwrap();
        for id in ["m-1", "m-2", "m-4"] {
            assert!(store
                .accept_incoming("skatteverket", id, "enhet-1/arende", ACCEPTED_RECEIPT, at(20))
                .await
                .unwrap());
        }
        for id in ["m-1", "m-4"] {
            store.receipt_returned("skatteverket", id, None).await.unwrap();
        }
        let done = |ids: &[&str]| -> Vec<(String, String)> {
            ids.iter().map(|id| ("skatteverket".to_owned(), (*id).to_owned())).collect()
        };
        // m-2's receipt is not back at the sender, m-3 is not accepted, m-4 is being announced.
        assert_eq!(store.inbox_past(at(100), 10).await.unwrap(), done(&["m-1"]));
        assert!(store.inbox_past(at(10), 10).await.unwrap().is_empty(), "arrived later");
        assert_eq!(
            store.forget_inbox(at(100), &done(&["m-1", "m-2", "m-3", "m-4"])).await.unwrap(),
            1
        );
        assert!(store.incoming_message("skatteverket", "m-1").await.unwrap().is_none());
        for id in ["m-2", "m-3", "m-4"] {
            assert!(store.incoming_message("skatteverket", id).await.unwrap().is_some(), "{id}");
        }
        store.receipt_returned("skatteverket", "m-2", None).await.unwrap();
        assert_eq!(store.inbox_past(at(100), 10).await.unwrap(), done(&["m-2"]));
        assert_eq!(store.inbox_past(at(11), 10).await.unwrap(), done(&[]));
        // Taken in again, a forgotten message is a new arrival.
        let again = incoming("skatteverket", "m-1", None);
        assert_eq!(store.take_in(&again, at(200), at(140)).await.unwrap(), TakenIn::Claimed);
    }
}
