//! Bulk exchanges through the exchange store's public contract: a bulk is kept once under its
//! idempotency key, a part is taken only at the offset the bulk stands at — once, however often
//! or by however many instances it is offered, and never past a gap — the counters add up to
//! the parts taken, and the parts read back from any offset are the ones that hold it and after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use utbyte_store::{
    BulkBegun, BulkPart, NewBulk, StoreError, StoredBulk, MAX_JSON_BYTES, MAX_PART_ANSWER_BYTES,
};

fn bulk(key: &str) -> NewBulk {
    NewBulk {
        key: key.to_owned(),
        bulk_id: format!("bulk-{key}"),
        client: Some("arende".to_owned()),
        provider: "skatteverket".to_owned(),
        offering: "skv-folkbokforing".to_owned(),
        unit: "bostadsbidrag".to_owned(),
        request: format!(r#"{{"subjects":["19121212-1212","19800101-0100"],"case":"{key}"}}"#),
        created_at: at(0),
    }
}

/// Subjects `first .. first + answered + held`, with an answer that tells the part apart.
fn part(first: u64, answered: u32, held: u32) -> BulkPart {
    BulkPart {
        first,
        count: answered + held,
        answered,
        held,
        answer: format!(r#"{{"first":{first},"subject":"19121212-1212"}}"#),
    }
}

fn firsts(parts: &[BulkPart]) -> Vec<u64> {
    parts.iter().map(|p| p.first).collect()
}

async fn kept(store: &utbyte_store::ExchangeStore, key: &str) -> StoredBulk {
    store.bulk(key).await.unwrap().expect("the bulk is kept")
}

on_both_engines! {
    #[tokio::test]
    async fn a_bulk_is_kept_once_under_its_key() {
        let store = store().await;
        let a = bulk("key-a");
        assert_eq!(store.begin_bulk(&a).await.unwrap(), BulkBegun::New);
        let stored = kept(&store, "key-a").await;
        assert_eq!(
            stored,
            StoredBulk { bulk: a.clone(), subjects: 0, parts: 0, answered: 0, held: 0 }
        );

        // A retry comes later and may have drawn another bulk id: it goes on under the first,
        // as far as the first has come.
        assert!(store.add_bulk_part("key-a", &part(0, 2, 1)).await.unwrap());
        let mut retry = a.clone();
        retry.bulk_id = "bulk-drawn-again".to_owned();
        retry.created_at = at(60);
        let BulkBegun::Existing(existing) = store.begin_bulk(&retry).await.unwrap() else {
            panic!("the same bulk again is not new");
        };
        assert_eq!(existing.bulk, a);
        assert_eq!((existing.subjects, existing.parts), (3, 1));
        assert_eq!((existing.answered, existing.held), (2, 1));

        // The same key for another bulk is refused, whatever differs.
        let others: [fn(&mut NewBulk); 5] = [
            |b| b.request = r#"{"subjects":["19121212-1212"]}"#.to_owned(),
            |b| b.provider = "forsakringskassan".to_owned(),
            |b| b.offering = "skv-beskattning".to_owned(),
            |b| b.unit = "kontroll".to_owned(),
            |b| b.client = None,
        ];
        for change in others {
            let mut other = a.clone();
            change(&mut other);
            let error = store.begin_bulk(&other).await.unwrap_err();
            assert!(
                matches!(error, StoreError::Duplicate { what: "idempotency key" }),
                "{other:?}: {error}"
            );
        }
        assert_eq!(kept(&store, "key-a").await, existing, "a refused bulk changes nothing");

        // Another key is another bulk, even for the same request.
        let mut b = a.clone();
        b.key = "key-b".to_owned();
        assert_eq!(store.begin_bulk(&b).await.unwrap(), BulkBegun::New);
        assert_eq!(kept(&store, "key-b").await.subjects, 0);
        assert_eq!(kept(&store, "key-a").await.subjects, 3);
    }

    #[tokio::test]
    async fn a_part_is_taken_only_where_the_bulk_stands() {
        let store = store().await;
        store.begin_bulk(&bulk("key-a")).await.unwrap();

        assert!(
            !store.add_bulk_part("key-a", &part(1, 1, 0)).await.unwrap(),
            "the first part starts at 0"
        );
        assert!(store.add_bulk_part("key-a", &part(0, 3, 0)).await.unwrap());
        let after_first = kept(&store, "key-a").await;
        assert_eq!((after_first.subjects, after_first.parts), (3, 1));

        // The same part again, even answered otherwise, is not taken twice.
        let mut again = part(0, 1, 2);
        again.answer = r#"{"again":true}"#.to_owned();
        assert!(!store.add_bulk_part("key-a", &again).await.unwrap());
        // Nor one that starts within what was taken, nor one past it: that would leave a gap.
        assert!(!store.add_bulk_part("key-a", &part(2, 1, 0)).await.unwrap());
        assert!(!store.add_bulk_part("key-a", &part(4, 1, 0)).await.unwrap());
        assert_eq!(kept(&store, "key-a").await, after_first, "refused parts change nothing");
        assert_eq!(store.bulk_parts("key-a", 0, 10).await.unwrap(), [part(0, 3, 0)]);

        // Where the bulk stands, the next part is taken.
        assert!(store.add_bulk_part("key-a", &part(3, 1, 0)).await.unwrap());
        assert_eq!(kept(&store, "key-a").await.subjects, 4);
        assert_eq!(
            store.bulk_parts("key-a", 0, 10).await.unwrap(),
            [part(0, 3, 0), part(3, 1, 0)]
        );
    }

    #[tokio::test]
    async fn the_counters_add_up_to_the_parts_taken() {
        let store = store().await;
        store.begin_bulk(&bulk("key-a")).await.unwrap();
        store.begin_bulk(&bulk("key-b")).await.unwrap();
        let shapes = [(5, 0), (0, 2), (3, 4), (1, 1), (7, 0)];
        let mut first = 0;
        for (answered, held) in shapes {
            assert!(store.add_bulk_part("key-a", &part(first, answered, held)).await.unwrap());
            first += u64::from(answered + held);
        }
        // Another bulk's parts count for it alone.
        assert!(store.add_bulk_part("key-b", &part(0, 4, 4)).await.unwrap());

        let a = kept(&store, "key-a").await;
        assert_eq!(a.subjects, 23);
        assert_eq!(a.parts, 5);
        assert_eq!(a.answered, 16);
        assert_eq!(a.held, 7);
        let b = kept(&store, "key-b").await;
        assert_eq!((b.subjects, b.parts, b.answered, b.held), (8, 1, 4, 4));
        let counted: u64 = store
            .bulk_parts("key-a", 0, 100)
            .await
            .unwrap()
            .iter()
            .map(|p| u64::from(p.count))
            .sum();
        assert_eq!(counted, a.subjects);
    }

    #[tokio::test]
    async fn parts_are_read_from_the_one_holding_an_offset() {
        let store = store().await;
        store.begin_bulk(&bulk("key-a")).await.unwrap();
        store.begin_bulk(&bulk("key-b")).await.unwrap();
        // Parts [0, 3), [3, 4), [4, 10), [10, 12), taken in turn with another bulk's.
        for (first, count) in [(0, 3), (3, 1), (4, 6), (10, 2)] {
            store.add_bulk_part("key-a", &part(first, count, 0)).await.unwrap();
            let other = kept(&store, "key-b").await.subjects;
            store.add_bulk_part("key-b", &part(other, 0, 5)).await.unwrap();
        }

        let read = |from, limit| {
            let store = store.clone();
            async move { firsts(&store.bulk_parts("key-a", from, limit).await.unwrap()) }
        };
        assert_eq!(read(0, 10).await, [0, 3, 4, 10]);
        assert_eq!(read(2, 10).await, [0, 3, 4, 10], "the part holding 2 starts at 0");
        assert_eq!(read(3, 10).await, [3, 4, 10]);
        assert_eq!(read(5, 10).await, [4, 10]);
        assert_eq!(read(9, 10).await, [4, 10]);
        assert_eq!(read(10, 10).await, [10]);
        assert_eq!(read(11, 10).await, [10]);
        assert_eq!(read(12, 10).await, Vec::<u64>::new(), "past the last subject taken");
        assert_eq!(read(u64::MAX, 10).await, Vec::<u64>::new());
        assert_eq!(read(0, 2).await, [0, 3]);
        assert_eq!(read(5, 1).await, [4]);
        assert_eq!(read(0, 0).await, Vec::<u64>::new());

        // A part reads back as taken, answer and all.
        assert_eq!(store.bulk_parts("key-a", 4, 1).await.unwrap(), [part(4, 6, 0)]);
        assert_eq!(
            firsts(&store.bulk_parts("key-b", 0, 10).await.unwrap()),
            [0, 5, 10, 15]
        );
    }

    #[tokio::test]
    async fn a_part_that_is_not_one_is_refused_and_changes_nothing() {
        let store = store().await;
        store.begin_bulk(&bulk("key-a")).await.unwrap();
        store.add_bulk_part("key-a", &part(0, 2, 0)).await.unwrap();
        let before = kept(&store, "key-a").await;

        let not_adding_up = BulkPart { count: 3, ..part(2, 1, 1) };
        let empty = part(2, 0, 0);
        let not_json = BulkPart { answer: r#"{"first":2"#.to_owned(), ..part(2, 1, 0) };
        let too_large = BulkPart {
            answer: format!(r#""{}""#, "x".repeat(MAX_PART_ANSWER_BYTES)),
            ..part(2, 1, 0)
        };
        let beyond = part(i64::MAX as u64, 1, 0);
        for wrong in [not_adding_up, empty, not_json, too_large, beyond] {
            let error = store.add_bulk_part("key-a", &wrong).await.unwrap_err();
            assert!(
                matches!(error, StoreError::InvalidInput { .. }),
                "{wrong:?}: {error}"
            );
        }
        assert_eq!(kept(&store, "key-a").await, before);
        assert_eq!(store.bulk_parts("key-a", 0, 10).await.unwrap(), [part(0, 2, 0)]);

        // The limit is a part's own, well above that of one exchange's answer.
        let large = BulkPart {
            answer: format!(r#""{}""#, "x".repeat(MAX_JSON_BYTES + 1)),
            ..part(2, 1, 0)
        };
        assert!(store.add_bulk_part("key-a", &large).await.unwrap());
        assert_eq!(store.bulk_parts("key-a", 2, 1).await.unwrap(), [large]);
    }

    #[tokio::test]
    async fn an_unknown_key_has_no_bulk_and_takes_no_part() {
        let store = store().await;
        store.begin_bulk(&bulk("key-a")).await.unwrap();
        assert_eq!(store.bulk("key-x").await.unwrap(), None);
        let error = store.add_bulk_part("key-x", &part(0, 1, 0)).await.unwrap_err();
        assert!(matches!(error, StoreError::NotFound { what: "bulk" }), "{error}");
        assert!(store.bulk_parts("key-x", 0, 10).await.unwrap().is_empty());
        assert_eq!(kept(&store, "key-a").await.subjects, 0, "no other bulk took it");

        // A bulk that is not one is not kept.
        let mut not_json = bulk("key-y");
        not_json.request = "not json".to_owned();
        let mut no_key = bulk("key-y");
        no_key.key = String::new();
        for wrong in [not_json, no_key] {
            let error = store.begin_bulk(&wrong).await.unwrap_err();
            assert!(matches!(error, StoreError::InvalidInput { .. }), "{error}");
        }
        assert_eq!(store.bulk("key-y").await.unwrap(), None);
    }

    #[tokio::test]
    async fn bulks_made_long_ago_are_forgotten_with_their_parts_oldest_first() {
        let store = store().await;
        for (key, seconds) in [("old-1", 0), ("old-2", 10), ("new", 100)] {
            let mut made = bulk(key);
            made.created_at = at(seconds);
            store.begin_bulk(&made).await.unwrap();
            assert!(store.add_bulk_part(key, &part(0, 2, 0)).await.unwrap());
        }
        assert_eq!(store.forget_bulks(at(50), 1).await.unwrap(), 1);
        assert_eq!(store.bulk("old-1").await.unwrap(), None);
        assert!(store.bulk_parts("old-1", 0, 10).await.unwrap().is_empty());
        assert_eq!(store.forget_bulks(at(50), 10).await.unwrap(), 1);
        assert_eq!(store.bulk("old-2").await.unwrap(), None);
        assert_eq!(store.forget_bulks(at(50), 10).await.unwrap(), 0);
        assert_eq!(kept(&store, "new").await.subjects, 2);
        assert_eq!(firsts(&store.bulk_parts("new", 0, 10).await.unwrap()), [0]);
        // Asked again under a forgotten key, it is a new bulk.
        assert!(matches!(store.begin_bulk(&bulk("old-1")).await.unwrap(), BulkBegun::New));
    }

    #[tokio::test]
    async fn of_two_instances_offering_one_part_one_takes_it() {
        let dir = tempfile::tempdir().unwrap();
        let stores = instances(&dir, 2).await;
        let (one, two) = (&stores[0], &stores[1]);
        let a = bulk("key-a");
        let begun = tokio::join!(one.begin_bulk(&a), two.begin_bulk(&a));
        let mut begun = [begun.0.unwrap(), begun.1.unwrap()];
        begun.sort_by_key(|b| matches!(b, BulkBegun::Existing(_)));
        assert_eq!(begun[0], BulkBegun::New);
        assert!(matches!(begun[1], BulkBegun::Existing(_)));

        let mut first = 0;
        for round in 0..20u32 {
            let offered = part(first, 1 + round % 3, round % 2);
            let (a, b) = tokio::join!(
                one.add_bulk_part("key-a", &offered),
                two.add_bulk_part("key-a", &offered)
            );
            assert!(a.unwrap() ^ b.unwrap(), "round {round}: exactly one takes it");
            first += u64::from(offered.count);
        }
        let stored = kept(one, "key-a").await;
        assert_eq!((stored.subjects, stored.parts), (first, 20));
        assert_eq!(stored.answered + stored.held, first);
        assert_eq!(one.bulk_parts("key-a", 0, 100).await.unwrap().len(), 20);
    }
}

#[test]
fn debug_shows_the_sizes_of_requests_and_answers_only() {
    let stored = StoredBulk {
        bulk: bulk("key-a"),
        subjects: 3,
        parts: 1,
        answered: 3,
        held: 0,
    };
    let part = part(0, 3, 0);
    for shown in [
        format!("{stored:?}"),
        format!("{part:?}"),
        format!("{:?}", stored.bulk),
    ] {
        assert!(!shown.contains("19121212-1212"), "{shown}");
        assert!(shown.contains("bytes of JSON"), "{shown}");
    }
    assert!(format!("{stored:?}").contains("skv-folkbokforing"));
}
