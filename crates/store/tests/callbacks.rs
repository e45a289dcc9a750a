//! The callback schedule through the exchange store's public contract: a notice is scheduled
//! exactly when a request with a callback is answered, attempts move it through retries to
//! delivered or dead, dead letters are listed and replayed, and the migration from the first
//! schema carries waiting answers over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_store::{
    CallbackAttempt, CallbackState, ExchangeStore, StoreError, MAX_CALLBACK_ERROR_BYTES,
};

fn retry(seconds: i64) -> CallbackAttempt {
    CallbackAttempt::Retry {
        error: "it answered with status 503".to_owned(),
        next_attempt_at: at(seconds),
    }
}

fn give_up() -> CallbackAttempt {
    CallbackAttempt::GiveUp {
        error: "connection refused".to_owned(),
    }
}

/// Begins `key` and answers it at `seconds`; `with_callback` or not.
async fn answer(store: &ExchangeStore, key: &str, seconds: i64, with_callback: bool) {
    let mut sent = request(key, 0);
    if !with_callback {
        sent.callback = None;
    }
    store.begin_outgoing(&sent).await.unwrap();
    store
        .complete_outgoing(key, &answered(seconds))
        .await
        .unwrap();
}

fn ids_of(callbacks: &[utbyte_store::StoredCallback]) -> Vec<&str> {
    callbacks.iter().map(|c| c.key.as_str()).collect()
}

/// A node upgraded from the first schema: answers waiting for their callback become pending
/// notices due at once, delivered ones are kept as delivered.
#[tokio::test]
async fn the_migration_carries_waiting_answers_onto_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("exchange.sqlite");
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        // The first schema exactly as a node of that version applied it: sqlx's own migrator,
        // cut to migration 1.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/exchange");
        let mut first = sqlx::migrate::Migrator::new(dir).await.unwrap();
        first.migrations = std::borrow::Cow::Owned(first.migrations[..1].to_vec());
        first.run(&mut connection).await.unwrap();
        for (key, delivered) in [("waiting", 0), ("done", 1)] {
            sqlx::query(
                "INSERT INTO outgoing (key, request_hash, request_id, provider, request_json, \
                 callback, state, answer_json, created_at, updated_at, callback_delivered) \
                 VALUES (?1, 'h', ?1, 'p', '{}', 'https://case.example/cb', 'answered', '{}', \
                 1700000000, 1700000007, ?2)",
            )
            .bind(key)
            .bind(delivered)
            .execute(&mut connection)
            .await
            .unwrap();
        }
        connection.close().await.unwrap();
    }
    let store = ExchangeStore::open(&path).await.unwrap();
    assert!(store.schema_version().await.unwrap() >= 2);
    let waiting = store.callback_for("waiting").await.unwrap().unwrap();
    assert_eq!(waiting.state, CallbackState::Pending);
    assert_eq!(waiting.next_attempt_at, Some(at(7)));
    let done = store.callback_for("done").await.unwrap().unwrap();
    assert_eq!(done.state, CallbackState::Delivered);
    assert_eq!(
        ids_of(&store.due_callbacks(at(7), 10).await.unwrap()),
        ["waiting"]
    );
}

on_both_engines! {
    #[tokio::test]
    async fn answering_a_request_with_a_callback_schedules_one_notice_due_at_once() {
        let store = store().await;
        answer(&store, "b", 5, true).await;
        answer(&store, "a", 8, true).await;
        answer(&store, "none", 1, false).await;
        store.begin_outgoing(&request("flying", 0)).await.unwrap();
        store.begin_outgoing(&request("reviewed", 0)).await.unwrap();
        store
            .complete_outgoing("reviewed", &in_review("t-1", 2))
            .await
            .unwrap();

        assert!(store.due_callbacks(at(4), 10).await.unwrap().is_empty());
        let due = store.due_callbacks(at(100), 10).await.unwrap();
        assert_eq!(ids_of(&due), ["b", "a"], "earliest due first");
        let first = &due[0];
        assert_eq!(first.state, CallbackState::Pending);
        assert_eq!(first.attempts, 0);
        assert_eq!(first.next_attempt_at, Some(at(5)));
        assert_eq!(first.url, "https://case.example/callback/b");
        assert_eq!(first.id.len(), 32, "128 random bits in hex");
        assert_ne!(due[0].id, due[1].id);
        assert_eq!(
            store.callback(&first.id).await.unwrap().as_ref(),
            Some(first)
        );
        assert_eq!(store.callback_for("b").await.unwrap().as_ref(), Some(first));
        assert_eq!(store.callback_for("none").await.unwrap(), None);
        assert_eq!(store.callback_for("reviewed").await.unwrap(), None);

        // A request in review gets its notice when the reviewer's answer arrives.
        store
            .complete_outgoing("reviewed", &answered(9))
            .await
            .unwrap();
        assert_eq!(
            ids_of(&store.due_callbacks(at(100), 10).await.unwrap()),
            ["b", "a", "reviewed"]
        );
        assert_eq!(
            ids_of(&store.due_callbacks(at(100), 1).await.unwrap()),
            ["b"]
        );
    }

    #[tokio::test]
    async fn a_retry_reschedules_and_a_delivery_is_final_and_marks_the_answer() {
        let store = store().await;
        answer(&store, "k", 0, true).await;
        let id = store.callback_for("k").await.unwrap().unwrap().id;

        let after = store
            .record_callback_attempt(&id, &retry(60), at(1))
            .await
            .unwrap();
        assert_eq!(after.attempts, 1);
        assert_eq!(after.next_attempt_at, Some(at(60)));
        assert_eq!(
            after.last_error.as_deref(),
            Some("it answered with status 503")
        );
        assert_eq!(after.updated_at, at(1));
        assert!(
            store.due_callbacks(at(59), 10).await.unwrap().is_empty(),
            "not due before its next attempt"
        );
        assert_eq!(store.due_callbacks(at(60), 10).await.unwrap().len(), 1);

        let delivered = store
            .record_callback_attempt(&id, &CallbackAttempt::Delivered, at(60))
            .await
            .unwrap();
        assert_eq!(delivered.state, CallbackState::Delivered);
        assert_eq!((delivered.attempts, delivered.next_attempt_at), (2, None));
        assert!(
            store
                .outgoing("k")
                .await
                .unwrap()
                .unwrap()
                .callback_delivered
        );
        assert!(store.due_callbacks(at(1000), 10).await.unwrap().is_empty());

        for attempt in [CallbackAttempt::Delivered, retry(70), give_up()] {
            let error = store
                .record_callback_attempt(&id, &attempt, at(61))
                .await
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    StoreError::InvalidTransition {
                        from: "delivered",
                        ..
                    }
                ),
                "{error}"
            );
        }
        let error = store
            .record_callback_attempt("nope", &CallbackAttempt::Delivered, at(1))
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
        let error = store.replay_callback(&id, at(62)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidTransition { .. }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn giving_up_makes_a_dead_letter_that_a_replay_puts_back_with_a_fresh_schedule() {
        let store = store().await;
        answer(&store, "dead", 0, true).await;
        answer(&store, "alive", 1, true).await;
        let id = store.callback_for("dead").await.unwrap().unwrap().id;
        store
            .record_callback_attempt(&id, &retry(10), at(2))
            .await
            .unwrap();
        let dead = store
            .record_callback_attempt(&id, &give_up(), at(10))
            .await
            .unwrap();
        assert_eq!(dead.state, CallbackState::Dead);
        assert_eq!((dead.attempts, dead.next_attempt_at), (2, None));
        assert_eq!(dead.last_error.as_deref(), Some("connection refused"));
        assert_eq!(
            ids_of(&store.due_callbacks(at(1000), 10).await.unwrap()),
            ["alive"],
            "a dead letter is never due"
        );
        assert_eq!(
            ids_of(
                &store
                    .list_callbacks(Some(CallbackState::Dead), 10, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["dead"]
        );
        assert_eq!(
            ids_of(
                &store
                    .list_callbacks(Some(CallbackState::Pending), 10, None)
                    .await
                    .unwrap()
                    .items
            ),
            ["alive"]
        );
        assert_eq!(
            ids_of(&store.list_callbacks(None, 10, None).await.unwrap().items),
            ["alive", "dead"],
            "newest first"
        );
        let first = store.list_callbacks(None, 1, None).await.unwrap();
        assert_eq!(ids_of(&first.items), ["alive"]);
        let last = store.list_callbacks(None, 1, first.next).await.unwrap();
        assert_eq!((ids_of(&last.items), last.next), (vec!["dead"], None));

        let replayed = store.replay_callback(&id, at(500)).await.unwrap();
        assert_eq!(replayed.state, CallbackState::Pending);
        assert_eq!(replayed.attempts, 0, "a whole new run of attempts");
        assert_eq!(replayed.next_attempt_at, Some(at(500)));
        assert_eq!(
            replayed.id, id,
            "the same notice, so the case system can tell a repeat"
        );
        assert_eq!(
            ids_of(&store.due_callbacks(at(500), 10).await.unwrap()),
            ["alive", "dead"]
        );
        let error = store.replay_callback(&id, at(501)).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::InvalidTransition {
                    from: "pending",
                    ..
                }
            ),
            "{error}"
        );
        let error = store.replay_callback("nope", at(501)).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
    }

    #[tokio::test]
    async fn an_error_text_is_bounded_and_never_empty() {
        let store = store().await;
        answer(&store, "k", 0, true).await;
        let id = store.callback_for("k").await.unwrap().unwrap().id;
        for error in [String::new(), "x".repeat(MAX_CALLBACK_ERROR_BYTES + 1)] {
            let attempt = CallbackAttempt::GiveUp { error };
            let refused = store
                .record_callback_attempt(&id, &attempt, at(1))
                .await
                .unwrap_err();
            assert!(
                matches!(refused, StoreError::InvalidInput { .. }),
                "{refused}"
            );
        }
        let still = store.callback(&id).await.unwrap().unwrap();
        assert_eq!((still.state, still.attempts), (CallbackState::Pending, 0));
    }

    #[tokio::test]
    async fn a_claimed_notice_is_not_due_again_until_its_claim_ends() {
        let store = store().await;
        answer(&store, "a", 5, true).await;
        answer(&store, "b", 6, true).await;
        let claimed = store.claim_due_callbacks(at(10), at(70), 10).await.unwrap();
        assert_eq!(ids_of(&claimed), ["a", "b"]);
        assert!(store
            .claim_due_callbacks(at(11), at(71), 10)
            .await
            .unwrap()
            .is_empty());
        assert!(store.due_callbacks(at(69), 10).await.unwrap().is_empty());
        // The deliverer records its attempt within the claim: delivered stays delivered.
        store
            .record_callback_attempt(&claimed[0].id, &CallbackAttempt::Delivered, at(12))
            .await
            .unwrap();
        // One that no attempt was recorded for (its deliverer died) is due when the claim ends.
        let again = store.claim_due_callbacks(at(70), at(130), 10).await.unwrap();
        assert_eq!(ids_of(&again), ["b"]);
        assert!(matches!(
            store.claim_due_callbacks(at(200), at(200), 10).await,
            Err(StoreError::InvalidInput { .. })
        ));
    }

    /// Instances claiming at once: every due notice goes to exactly one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_instances_claiming_at_once_each_notice_goes_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let stores = common::instances(&dir, 3).await;
        let keys: Vec<String> = (0..30).map(|n| format!("k{n}")).collect();
        for key in &keys {
            answer(&stores[0], key, 5, true).await;
        }
        // Rounds of three claims at once, until every notice is claimed: one that lost a race
        // for a notice takes fewer that round, never the same notice.
        let mut claimed = Vec::new();
        for _ in 0..30 {
            let claims: Vec<_> = stores
                .iter()
                .map(|store| {
                    let store = store.clone();
                    tokio::spawn(async move { store.claim_due_callbacks(at(10), at(600), 4).await })
                })
                .collect();
            for claim in claims {
                claimed.extend(claim.await.unwrap().unwrap().into_iter().map(|c| c.key));
            }
            if claimed.len() >= keys.len() {
                break;
            }
        }
        let mut unique = claimed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), claimed.len(), "a notice claimed twice: {claimed:?}");
        assert_eq!(unique.len(), keys.len(), "every notice claimed");
        for store in stores {
            store.close().await;
        }
    }

    #[tokio::test]
    async fn requests_ended_long_ago_are_forgotten_with_their_callbacks_but_not_one_still_owed() {
        let store = store().await;
        // Made at 0: answered at 10 with its callback delivered, answered at 20 without one,
        // answered at 30 with its callback still to deliver, failed at 40, in review, in flight.
        answer(&store, "delivered", 10, true).await;
        let id = store.callback_for("delivered").await.unwrap().unwrap().id;
        store
            .record_callback_attempt(&id, &CallbackAttempt::Delivered, at(11))
            .await
            .unwrap();
        answer(&store, "no-callback", 20, false).await;
        answer(&store, "owed", 30, true).await;
        store.begin_outgoing(&request("failed", 0)).await.unwrap();
        store
            .fail_outgoing("failed", r#"{"type":"x"}"#, at(40))
            .await
            .unwrap();
        store.begin_outgoing(&request("reviewed", 0)).await.unwrap();
        store
            .complete_outgoing("reviewed", &in_review("t1", 5))
            .await
            .unwrap();
        store.begin_outgoing(&request("flying", 0)).await.unwrap();
        let held = |store: ExchangeStore| async move {
            let mut keys = Vec::new();
            for key in ["delivered", "no-callback", "owed", "failed", "reviewed", "flying"] {
                if store.outgoing(key).await.unwrap().is_some() {
                    keys.push(key);
                }
            }
            keys
        };
        // Ended before 25, at most one at a time.
        assert_eq!(store.forget_ended_outgoing(at(25), 1).await.unwrap(), 1);
        assert_eq!(store.forget_ended_outgoing(at(25), 1).await.unwrap(), 1);
        assert_eq!(store.forget_ended_outgoing(at(25), 1).await.unwrap(), 0);
        assert_eq!(
            held(store.clone()).await,
            ["owed", "failed", "reviewed", "flying"]
        );
        assert!(store.callback_for("delivered").await.unwrap().is_none());
        // Later: the failed one goes; the one whose callback is owed stays until delivered.
        assert_eq!(store.forget_ended_outgoing(at(100), 10).await.unwrap(), 1);
        assert_eq!(held(store.clone()).await, ["owed", "reviewed", "flying"]);
        let id = store.callback_for("owed").await.unwrap().unwrap().id;
        store
            .record_callback_attempt(&id, &give_up(), at(50))
            .await
            .unwrap();
        assert_eq!(store.forget_ended_outgoing(at(100), 10).await.unwrap(), 1);
        assert_eq!(held(store.clone()).await, ["reviewed", "flying"]);
        // A retry under a forgotten key is a new request.
        assert!(matches!(
            store.begin_outgoing(&request("delivered", 200)).await.unwrap(),
            utbyte_store::Begun::Started
        ));
    }
}
