//! Subscriptions through the exchange store's public contract: a grant is kept once, subjects
//! are added idempotently, and matching a batch of changes queues one notice per (subscription,
//! change) the subscription covers — its subject, one of its event types, while in force — in
//! the changes' order, exactly once however often the batch is matched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_domain::SubjectId;
use utbyte_store::{
    ChangeToMatch, DeliveryCursor, ExchangeStore, HeldSubscription, NewSubscription, Notice,
    PushState, RecordedPart, StoreError, SubscriptionState, MAX_SUBJECTS_PER_CALL,
};

const OFFERING: &str = "skv-folkbokforing";
const FEED: &str = "register";

fn grant(id: &str, subscriber: &str, events: &[&str], from: i64, to: i64) -> NewSubscription {
    NewSubscription {
        id: id.to_owned(),
        subscriber: subscriber.to_owned(),
        offering: OFFERING.to_owned(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        fields: Vec::new(),
        request: format!(r#"{{"purpose":"kontroll","case":"{id}"}}"#),
        decision_index: 7,
        created_at: at(from),
        ends_at: at(to),
    }
}

fn change(seq: u64, subject: SubjectId, events: &[&str], seconds: i64) -> ChangeToMatch {
    ChangeToMatch {
        seq,
        offering: OFFERING.to_owned(),
        subject,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        fields: vec!["adress".to_owned()],
        at: at(seconds),
    }
}

on_both_engines! {
    #[tokio::test]
    async fn a_grant_is_kept_once_and_its_subjects_are_counted_once() {
        let store = store().await;
        let a = grant("sub-a", "forsakringskassan", &["adress-andrad"], 0, 1000);
        assert!(store.create_subscription(&a).await.unwrap());
        assert!(!store.create_subscription(&a).await.unwrap(), "the same grant again");
        let b = grant("sub-b", "kronofogden", &["avliden"], 0, 1000);
        store.create_subscription(&b).await.unwrap();
        let listed = store.subscriptions_granted(None, 10).await.unwrap();
        let ids: Vec<&str> = listed.iter().map(|s| s.subscription.id.as_str()).collect();
        assert_eq!(ids, ["sub-a", "sub-b"]);
        let after = store.subscriptions_granted(Some("sub-a"), 10).await.unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(after[0].subscription, b);
        // Renewed: later, with the events the rulebook grants now; not once cancelled.
        let renewal = utbyte_store::Renewal {
            id: "sub-b".into(),
            events: vec!["avliden".into()],
            fields: vec!["avregistreringsdatum".into()],
            ends_at: at(5000),
            decision_index: 9,
            request: r#"{"renewed":true}"#.into(),
        };
        assert!(store.renew_subscription(&renewal).await.unwrap());
        let renewed = store.subscription("sub-b").await.unwrap().unwrap();
        assert_eq!(renewed.subscription.ends_at, at(5000));
        assert_eq!(renewed.subscription.decision_index, 9);
        assert_eq!(renewed.subscription.request, r#"{"renewed":true}"#);
        assert_eq!(renewed.subscription.fields, ["avregistreringsdatum"]);
        assert!(store.cancel_subscription("sub-b").await.unwrap());
        assert!(!store.renew_subscription(&renewal).await.unwrap(), "cancelled");
        let mut other = a.clone();
        other.subscriber = "kronofogden".to_owned();
        let error = store.create_subscription(&other).await.unwrap_err();
        assert!(matches!(error, StoreError::Duplicate { .. }), "{error}");

        let subjects: Vec<SubjectId> = (0..1500).map(person).collect();
        assert_eq!(store.add_subjects("sub-a", &subjects).await.unwrap(), 1500);
        assert_eq!(store.add_subjects("sub-a", &subjects[1000..]).await.unwrap(), 0);
        let held = store.subscription("sub-a").await.unwrap().unwrap();
        assert_eq!(held.subscription, a);
        assert_eq!(held.state, SubscriptionState::Active);
        assert_eq!(held.subjects, 1500);

        let too_many = vec![person(1); MAX_SUBJECTS_PER_CALL + 1];
        assert!(matches!(
            store.add_subjects("sub-a", &too_many).await,
            Err(StoreError::InvalidInput { .. })
        ));
        assert!(matches!(
            store.add_subjects("nope", &subjects[..1]).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(store.cancel_subscription("sub-a").await.unwrap());
        assert!(!store.cancel_subscription("sub-a").await.unwrap());
        assert!(matches!(
            store.add_subjects("sub-a", &subjects[..1]).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(
            store.subscription("sub-a").await.unwrap().unwrap().state,
            SubscriptionState::Cancelled
        );
        assert!(store.subscription("nope").await.unwrap().is_none());

        let mut backwards = grant("sub-b", "kronofogden", &["avliden"], 10, 10);
        assert!(store.create_subscription(&backwards).await.is_err());
        backwards.events.clear();
        backwards.ends_at = at(20);
        assert!(store.create_subscription(&backwards).await.is_err());
    }

    #[tokio::test]
    async fn matching_queues_a_notice_per_covering_subscription_once_in_order() {
        let store = store().await;
        let (p1, p2, p3) = (person(1), person(2), person(3));
        store
            .create_subscription(&grant("sub-a", "forsakringskassan", &["adress-andrad"], 100, 1000))
            .await
            .unwrap();
        store.add_subjects("sub-a", &[p1, p2]).await.unwrap();
        store
            .create_subscription(&grant("sub-b", "kronofogden", &["adress-andrad", "avliden"], 100, 500))
            .await
            .unwrap();
        store.add_subjects("sub-b", &[p2]).await.unwrap();
        store
            .create_subscription(&grant("sub-c", "forsakringskassan", &["avliden"], 100, 1000))
            .await
            .unwrap();
        store.add_subjects("sub-c", &[p3]).await.unwrap();
        store.cancel_subscription("sub-c").await.unwrap();

        let batch = vec![
            change(1, p1, &["adress-andrad"], 50),          // before any grant
            change(2, p1, &["adress-andrad"], 200),         // sub-a
            change(3, p2, &["adress-andrad", "avliden"], 300), // sub-a (adress), sub-b (both)
            change(4, p3, &["avliden"], 300),               // sub-c cancelled
            change(5, p2, &["avliden"], 400),               // sub-b only
            change(6, p2, &["adress-andrad"], 600),         // sub-a; sub-b has ended
            change(7, person(4), &["adress-andrad"], 600),  // nobody's subject
        ];
        assert_eq!(store.change_cursor(FEED).await.unwrap(), 0);
        assert_eq!(store.match_changes(FEED, 7, &batch).await.unwrap(), 5);
        assert_eq!(store.change_cursor(FEED).await.unwrap(), 7);
        // Matched again (a node stopped before it learnt the batch was matched): nothing new.
        assert_eq!(store.match_changes(FEED, 7, &batch).await.unwrap(), 0);
        assert_eq!(store.match_changes(FEED, 3, &batch[..3]).await.unwrap(), 0);
        assert_eq!(store.change_cursor(FEED).await.unwrap(), 7);
        // Another feed has its own cursor.
        assert_eq!(store.change_cursor("annan").await.unwrap(), 0);

        let fk = store.notices_after("forsakringskassan", 0, 100).await.unwrap();
        let seen: Vec<(&str, u64, SubjectId, Vec<String>)> = fk
            .iter()
            .map(|n| (n.subscription.as_str(), n.change_seq, n.subject, n.events.clone()))
            .collect();
        let adress = vec!["adress-andrad".to_owned()];
        assert_eq!(
            seen,
            [
                ("sub-a", 2, p1, adress.clone()),
                ("sub-a", 3, p2, adress.clone()),
                ("sub-a", 6, p2, adress.clone()),
            ]
        );
        let kfm = store.notices_after("kronofogden", 0, 100).await.unwrap();
        let seen: Vec<(u64, Vec<String>)> =
            kfm.iter().map(|n| (n.change_seq, n.events.clone())).collect();
        assert_eq!(
            seen,
            [
                (3, vec!["adress-andrad".to_owned(), "avliden".to_owned()]),
                (5, vec!["avliden".to_owned()]),
            ]
        );
        let all: Vec<u64> = fk.iter().chain(&kfm).map(|n| n.seq).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 5, "each notice has its own seq");
        assert!(fk.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(fk[0].fields, ["adress"]);
        assert_eq!(fk[0].feed, FEED);
        assert_eq!(fk[0].changed_at, at(200));

        // Paging by seq.
        let first = store.notices_after("forsakringskassan", 0, 2).await.unwrap();
        assert_eq!(first, fk[..2]);
        let rest = store
            .notices_after("forsakringskassan", first[1].seq, 10)
            .await
            .unwrap();
        assert_eq!(rest, fk[2..]);

        // The next batch continues after the cursor; a change in it at or before is skipped.
        let next = vec![change(7, p1, &["adress-andrad"], 700), change(8, p1, &["adress-andrad"], 700)];
        assert_eq!(store.match_changes(FEED, 8, &next).await.unwrap(), 1);
        assert_eq!(store.change_cursor(FEED).await.unwrap(), 8);
        // Changes of no event type still move the cursor; a change past `through` is refused.
        assert_eq!(store.match_changes(FEED, 12, &[]).await.unwrap(), 0);
        assert_eq!(store.change_cursor(FEED).await.unwrap(), 12);
        let late = [change(14, p1, &["adress-andrad"], 700)];
        assert!(matches!(
            store.match_changes(FEED, 13, &late).await,
            Err(StoreError::InvalidInput { .. })
        ));
        assert_eq!(store.match_changes(FEED, 14, &late).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn instances_matching_one_feed_at_once_queue_each_notice_once() {
        let dir = tempfile::tempdir().unwrap();
        let stores = instances(&dir, 2).await;
        stores[0]
            .create_subscription(&grant("sub-a", "forsakringskassan", &["adress-andrad"], 0, 10_000))
            .await
            .unwrap();
        let subjects: Vec<SubjectId> = (0..50).map(person).collect();
        stores[0].add_subjects("sub-a", &subjects).await.unwrap();
        let batches: Vec<Vec<ChangeToMatch>> = (0..20u64)
            .map(|b| {
                (0..10u64)
                    .map(|i| change(b * 10 + i + 1, subjects[((b * 10 + i) % 50) as usize], &["adress-andrad"], 100))
                    .collect()
            })
            .collect();
        // Both instances match every batch, in order, at the same time.
        let runs: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, batches) = (store.clone(), batches.clone());
                tokio::spawn(async move {
                    let mut queued = 0;
                    for batch in batches {
                        let through = batch.last().unwrap().seq;
                        queued += store.match_changes(FEED, through, &batch).await.unwrap();
                    }
                    queued
                })
            })
            .collect();
        let mut queued = 0;
        for run in runs {
            queued += run.await.unwrap();
        }
        assert_eq!(queued, 200);
        let notices = stores[1].notices_after("forsakringskassan", 0, 1000).await.unwrap();
        let changes: Vec<u64> = notices.iter().map(|n| n.change_seq).collect();
        assert_eq!(changes, (1..=200).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn a_subscribers_cursor_only_moves_forward_and_says_what_is_owed() {
        let store = store().await;
        for (id, subscriber) in [("sub-a", "forsakringskassan"), ("sub-b", "kronofogden")] {
            store
                .create_subscription(&grant(id, subscriber, &["adress-andrad"], 0, 1000))
                .await
                .unwrap();
            store.add_subjects(id, &[person(1)]).await.unwrap();
        }
        assert!(store.subscribers_owed(10).await.unwrap().is_empty());
        let batch: Vec<ChangeToMatch> =
            (1..=3).map(|seq| change(seq, person(1), &["adress-andrad"], 100)).collect();
        store.match_changes(FEED, 3, &batch).await.unwrap();
        assert_eq!(
            store.subscribers_owed(10).await.unwrap(),
            ["forsakringskassan", "kronofogden"]
        );
        assert_eq!(store.subscribers_owed(1).await.unwrap(), ["forsakringskassan"]);

        let fk = store.notices_after("forsakringskassan", 0, 10).await.unwrap();
        // A part keeps what it told, values included, until the subscriber acknowledges it.
        let part = |first: u64, last| RecordedPart {
            first,
            last,
            index: 40 + first,
            told: true,
            events: vec!["adress-andrad".into()],
            values: [(first, [("kommun".to_owned(), serde_json::json!("Malmö"))].into())].into(),
        };
        let cursor = |delivered, recorded, parts: Vec<RecordedPart>| DeliveryCursor {
            delivered,
            recorded,
            parts,
        };
        assert_eq!(store.delivery_cursor("forsakringskassan").await.unwrap(), cursor(0, 0, vec![]));
        // Recorded ahead of delivery: sent again after a failure as recorded, not recorded again.
        let parts = vec![part(fk[0].seq, fk[0].seq), part(fk[1].seq, fk[1].seq)];
        store.notices_recorded("forsakringskassan", fk[1].seq, &parts).await.unwrap();
        assert_eq!(
            store.delivery_cursor("forsakringskassan").await.unwrap(),
            cursor(0, fk[1].seq, parts.clone())
        );
        store.notices_delivered("forsakringskassan", fk[0].seq).await.unwrap();
        assert_eq!(
            store.delivery_cursor("forsakringskassan").await.unwrap(),
            cursor(fk[0].seq, fk[1].seq, parts.clone())
        );
        // Acknowledged notices are forgotten; the rest, and another subscriber's, are kept.
        assert_eq!(store.notices_after("forsakringskassan", 0, 10).await.unwrap(), fk[1..]);
        assert_eq!(store.notices_after("kronofogden", 0, 10).await.unwrap().len(), 3);
        store.notices_delivered("forsakringskassan", fk[1].seq).await.unwrap();
        // An older acknowledgement or record arriving late does not move them back.
        store.notices_delivered("forsakringskassan", fk[0].seq).await.unwrap();
        store.notices_recorded("forsakringskassan", fk[0].seq, &parts[..1]).await.unwrap();
        assert_eq!(
            store.delivery_cursor("forsakringskassan").await.unwrap(),
            cursor(fk[1].seq, fk[1].seq, vec![])
        );
        // Delivered is recorded too.
        store.notices_delivered("forsakringskassan", fk[2].seq).await.unwrap();
        assert_eq!(
            store.delivery_cursor("forsakringskassan").await.unwrap(),
            cursor(fk[2].seq, fk[2].seq, vec![])
        );
        assert_eq!(store.subscribers_owed(10).await.unwrap(), ["kronofogden"]);
    }

    #[tokio::test]
    async fn a_subscriber_takes_each_notice_once_in_the_order_taken() {
        let store = store().await;
        let notice = |seq: u64, subject: u32| Notice {
            seq,
            subscription: "bidrag-1".into(),
            subscriber: "malmo-stad".into(),
            feed: "fk-formaner".into(),
            change_seq: seq * 10,
            offering: "fk-formaner".into(),
            subject: person(subject),
            events: vec!["utbetalning-andrad".into()],
            fields: vec!["belopp".into()],
            changed_at: at(seq as i64),
            values: if seq == 3 {
                [("belopp".to_owned(), serde_json::json!(4711.5))].into()
            } else {
                Default::default()
            },
        };
        assert_eq!(store.taken_through("forsakringskassan").await.unwrap(), 0);
        // A value of a field the notice does not name is refused, and nothing is taken.
        let mut stray = notice(1, 1);
        stray.values.insert("adress".into(), serde_json::json!("Storgatan 1"));
        assert!(matches!(
            store.take_notices("forsakringskassan", &[stray], at(40)).await,
            Err(StoreError::InvalidInput { .. })
        ));
        let first = [notice(1, 1), notice(2, 2)];
        assert_eq!(store.take_notices("forsakringskassan", &first, at(50)).await.unwrap(), 2);
        // Delivered again (the provider did not hear the acknowledgement), with one more.
        let again = [notice(2, 2), notice(3, 1)];
        assert_eq!(store.take_notices("forsakringskassan", &again, at(60)).await.unwrap(), 1);
        // Another provider's seq 1 is another notice.
        assert_eq!(store.take_notices("skatteverket", &[notice(1, 3)], at(70)).await.unwrap(), 1);
        assert_eq!(store.taken_through("forsakringskassan").await.unwrap(), 3);
        assert_eq!(store.taken_through("skatteverket").await.unwrap(), 1);

        let taken = store.received_after(None, 0, 10).await.unwrap();
        let seen: Vec<(&str, u64, u32)> = taken
            .iter()
            .map(|n| {
                let subject = [1, 2, 3].into_iter().find(|k| person(*k) == n.subject).unwrap();
                (n.provider.as_str(), n.provider_seq, subject)
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("forsakringskassan", 1, 1),
                ("forsakringskassan", 2, 2),
                ("forsakringskassan", 3, 1),
                ("skatteverket", 1, 3)
            ]
        );
        assert!(taken.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(taken[0].subscription, "bidrag-1");
        assert_eq!(taken[0].fields, ["belopp"]);
        assert_eq!(taken[0].changed_at, at(1));
        assert_eq!(taken[0].received_at, at(50));
        // The values a notice carried are kept with it; a thin notice has none.
        assert!(taken[0].values.is_empty());
        assert_eq!(taken[2].values["belopp"], serde_json::json!(4711.5));
        assert_eq!(store.received_after(None, taken[1].seq, 1).await.unwrap(), taken[2..3]);
    }

    #[tokio::test]
    async fn notices_taken_long_ago_are_forgotten_but_each_providers_newest_and_those_not_pushed() {
        let store = store().await;
        let notice = |seq: u64| Notice {
            seq,
            subscription: "bidrag-1".into(),
            subscriber: "malmo-stad".into(),
            feed: "fk-formaner".into(),
            change_seq: seq,
            offering: "fk-formaner".into(),
            subject: person(seq as u32),
            events: vec!["utbetalning-andrad".into()],
            fields: vec!["belopp".into()],
            changed_at: at(seq as i64),
            values: Default::default(),
        };
        // Försäkringskassan's 1–5 taken at 10, 20 … 50; Skatteverket's 1 at 15.
        for seq in 1..=5 {
            store
                .take_notices("forsakringskassan", &[notice(seq)], at(seq as i64 * 10))
                .await
                .unwrap();
            if seq == 1 {
                store.take_notices("skatteverket", &[notice(1)], at(15)).await.unwrap();
            }
        }
        let left = |store: ExchangeStore| async move {
            store
                .received_after(None, 0, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|n| (n.provider.chars().next().unwrap(), n.provider_seq))
                .collect::<Vec<_>>()
        };
        // Taken before 35, at most two at once: the oldest two.
        assert_eq!(store.forget_received_notices(at(35), u64::MAX, 2).await.unwrap(), 2);
        assert_eq!(left(store.clone()).await, [('s', 1), ('f', 3), ('f', 4), ('f', 5)]);
        // Skatteverket's only notice is its newest; one after this node's seq 4 is kept (not
        // pushed yet).
        let through = store.received_after(None, 0, 100).await.unwrap()[1].seq;
        assert_eq!(store.forget_received_notices(at(100), through, 10).await.unwrap(), 1);
        assert_eq!(left(store.clone()).await, [('s', 1), ('f', 4), ('f', 5)]);
        assert_eq!(store.forget_received_notices(at(100), u64::MAX, 10).await.unwrap(), 1);
        assert_eq!(left(store.clone()).await, [('s', 1), ('f', 5)]);
        assert_eq!(store.forget_received_notices(at(100), u64::MAX, 10).await.unwrap(), 0);
        // What was taken is still known: the same notice again is not taken twice.
        assert_eq!(store.taken_through("forsakringskassan").await.unwrap(), 5);
        assert_eq!(store.take_notices("forsakringskassan", &[notice(5)], at(60)).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_held_subscription_is_kept_once_listed_per_unit_and_ended() {
        let store = store().await;
        let held = |id: &str, unit: &str| HeldSubscription {
            id: id.to_owned(),
            provider: "skatteverket".into(),
            offering: OFFERING.into(),
            unit: unit.to_owned(),
            role: "handlaggare".into(),
            officer: Some("handlaggare-7".into()),
            purpose: "kontroll av bostadsbidrag".into(),
            legal_basis: "SFS 2001:454".into(),
            case_ref: format!("FK-{id}"),
            events: vec!["adress-andrad".into(), "avliden".into()],
            subjects: 2,
            verdict: format!(r#"{{"signed":"{id}"}}"#),
            created_at: at(100),
            ends_at: at(10_000),
        };
        let a = held("sub-a", "bostadsbidrag");
        assert!(store.hold_subscription(&a).await.unwrap());
        assert!(!store.hold_subscription(&a).await.unwrap(), "the same verdict again");
        let other = HeldSubscription {
            verdict: r#"{"signed":"another"}"#.into(),
            ..a.clone()
        };
        assert!(matches!(
            store.hold_subscription(&other).await,
            Err(StoreError::Duplicate { .. })
        ));
        store.hold_subscription(&held("sub-b", "kontroll")).await.unwrap();
        store.hold_subscription(&held("sub-c", "bostadsbidrag")).await.unwrap();

        let stored = store.held_subscription("sub-a").await.unwrap().unwrap();
        assert_eq!(stored.held, a);
        assert_eq!(stored.state, SubscriptionState::Active);
        assert!(store.held_subscription("sub-x").await.unwrap().is_none());

        let ids = |list: Vec<utbyte_store::StoredHeld>| {
            list.into_iter().map(|h| h.held.id).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(store.held_subscriptions(Some("bostadsbidrag"), None, 10).await.unwrap()),
            ["sub-a", "sub-c"]
        );
        assert_eq!(ids(store.held_subscriptions(None, None, 2).await.unwrap()), ["sub-a", "sub-b"]);
        assert_eq!(
            ids(store.held_subscriptions(None, Some("sub-b"), 10).await.unwrap()),
            ["sub-c"]
        );

        // Renewed at the provider: the events granted now, a later end, the new verdict.
        let longer = at(20_000);
        assert!(store
            .renew_held("sub-a", &["adress-andrad".to_owned()], longer, r#"{"signed":"again"}"#)
            .await
            .unwrap());
        let renewed = store.held_subscription("sub-a").await.unwrap().unwrap();
        assert_eq!(renewed.held.ends_at, longer);
        assert_eq!(renewed.held.events, ["adress-andrad"]);
        assert_eq!(renewed.held.verdict, r#"{"signed":"again"}"#);
        assert!(!store
            .renew_held("sub-x", &[], longer, "{}")
            .await
            .unwrap(), "none held with that id");

        store.held_subjects("sub-a", 50_000).await.unwrap();
        assert!(store.end_held_subscription("sub-a").await.unwrap());
        assert!(!store.end_held_subscription("sub-a").await.unwrap(), "ended before");
        let ended = store.held_subscription("sub-a").await.unwrap().unwrap();
        assert_eq!(ended.state, SubscriptionState::Cancelled);
        assert_eq!(ended.held.subjects, 50_000);
    }

    #[tokio::test]
    async fn where_pushing_stands_is_kept() {
        let store = store().await;
        assert_eq!(store.push_state("notices").await.unwrap(), PushState::default());
        let failing = PushState {
            through: 41,
            attempts: 3,
            next_attempt_at: Some(at(500)),
            error: Some("it answered with status 503".into()),
            dead: false,
        };
        store.set_push_state("notices", &failing).await.unwrap();
        assert_eq!(store.push_state("notices").await.unwrap(), failing);
        let dead = PushState {
            dead: true,
            next_attempt_at: None,
            error: Some("é".repeat(400)),
            ..failing
        };
        store.set_push_state("notices", &dead).await.unwrap();
        let kept = store.push_state("notices").await.unwrap();
        assert!(kept.dead);
        assert_eq!(kept.error.as_deref().map(str::len), Some(500), "cut on a character boundary");
        assert_eq!(store.push_state("other").await.unwrap(), PushState::default());
    }
}
