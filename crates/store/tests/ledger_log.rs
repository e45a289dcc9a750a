//! The audit ledger's log in PostgreSQL: entries queued by any instance are placed once, in
//! order, by the one instance that holds the sequencer lease; a sequencer that lost its lease
//! commits nothing; a new one takes over where the log stands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use utbyte_store::{PgLedgerLog, StoreError};

async fn log() -> PgLedgerLog {
    PgLedgerLog::connect(&common::postgres().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn queued_entries_are_placed_in_order_once_a_sequencer_runs() {
    let log = log().await;
    let ids = [
        log.enqueue(b"first", 1).await.unwrap(),
        log.enqueue(b"second", 2).await.unwrap(),
        log.enqueue(b"third", 3).await.unwrap(),
    ];
    assert_eq!(log.size().await.unwrap(), 0);
    assert_eq!(log.placed(ids[0]).await.unwrap(), None);
    let mut sequencer = log.try_lead().await.unwrap().unwrap();
    assert_eq!(sequencer.sequence(2, 10).await.unwrap(), 2);
    assert_eq!(sequencer.sequence(2, 11).await.unwrap(), 1);
    assert_eq!(sequencer.sequence(2, 12).await.unwrap(), 0);
    assert_eq!(log.size().await.unwrap(), 3);
    for (index, id) in ids.into_iter().enumerate() {
        assert_eq!(log.placed(id).await.unwrap(), Some(index as u64));
    }
    assert_eq!(
        log.entries(1, 10).await.unwrap(),
        [b"second".to_vec(), b"third".to_vec()]
    );
    assert!(log.entries(3, 10).await.unwrap().is_empty());
    assert!(matches!(
        log.enqueue(b"", 4).await,
        Err(StoreError::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn one_instance_holds_the_lease_and_the_next_takes_over_when_it_goes() {
    let postgres = common::postgres().await;
    let (one, two) = (
        PgLedgerLog::connect(&postgres).await.unwrap(),
        PgLedgerLog::connect(&postgres).await.unwrap(),
    );
    let first = one.try_lead().await.unwrap().unwrap();
    assert!(two.try_lead().await.unwrap().is_none());
    assert!(one.try_lead().await.unwrap().is_none(), "not even twice");
    one.enqueue(b"queued while the holder goes", 1)
        .await
        .unwrap();
    let epoch = first.epoch();
    first.resign().await;
    let mut second = two.try_lead().await.unwrap().unwrap();
    assert_eq!(second.epoch(), epoch + 1);
    assert_eq!(second.sequence(10, 2).await.unwrap(), 1);
    assert_eq!(two.size().await.unwrap(), 1);
}

#[tokio::test]
async fn a_sequencer_whose_epoch_has_passed_commits_nothing() {
    let postgres = common::postgres().await;
    let log = PgLedgerLog::connect(&postgres).await.unwrap();
    let mut stale = log.try_lead().await.unwrap().unwrap();
    log.enqueue(b"entry", 1).await.unwrap();
    // Another holder's taking of the lease, as the lease's table records it.
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&postgres.url)
        .await
        .unwrap();
    sqlx::query(&format!(
        "UPDATE \"{}_ledger\".state SET epoch = epoch + 1",
        postgres.schema
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    assert!(matches!(
        stale.sequence(10, 2).await,
        Err(StoreError::LeaseLost)
    ));
    assert_eq!(log.size().await.unwrap(), 0);
}

/// Three instances append at once while the lease moves between them: every entry is placed
/// exactly once and the log has no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_from_every_instance_are_placed_exactly_once_while_the_lease_moves() {
    let postgres = common::postgres().await;
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(PgLedgerLog::connect(&postgres).await.unwrap());
    }
    let appenders: Vec<_> = (0..60)
        .map(|i| {
            let log = instances[i % 3].clone();
            tokio::spawn(async move {
                let entry = format!("entry {i}").into_bytes();
                (log.enqueue(&entry, 1).await.unwrap(), entry)
            })
        })
        .collect();
    let mut placed = 0;
    for round in 0..30 {
        let mut sequencer = instances[round % 3].try_lead().await.unwrap().unwrap();
        placed += sequencer.sequence(3, 1).await.unwrap();
        sequencer.resign().await;
    }
    let mut queued = Vec::new();
    for appender in appenders {
        queued.push(appender.await.unwrap());
    }
    let mut sequencer = instances[0].try_lead().await.unwrap().unwrap();
    while sequencer.sequence(7, 1).await.unwrap() > 0 {}
    let log = &instances[1];
    assert_eq!(log.size().await.unwrap(), 60);
    assert!(placed <= 60);
    let entries = log.entries(0, 100).await.unwrap();
    for (id, entry) in queued {
        let index = log.placed(id).await.unwrap().unwrap();
        assert_eq!(entries[index as usize], entry);
    }
}
