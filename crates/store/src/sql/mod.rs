//! The SQL of the exchange state and the portal accounts, written once for both engines.
//!
//! The statements are the same text on SQLite and PostgreSQL: numbered parameters (`$1`, which
//! sqlx's SQLite driver reads as the first argument, like PostgreSQL), `ON CONFLICT`,
//! `RETURNING`, row-value comparisons, `TRUE`/`FALSE`, and a `rowid` column (SQLite's own; an
//! identity column in the PostgreSQL schema) for listing order. The schemas differ only where
//! the engines do (`migrations/` and `migrations/postgres/`).
//!
//! Each module implements one contract trait for both engine types with a local
//! `macro_rules! engine`, instantiated once per engine: the bodies are type-checked against each
//! engine's own sqlx driver, so there is one text of every operation to read and to test, and no
//! run-time dispatch beyond the trait object the node holds. The engine types provide a `pool`
//! for reads and a `writer` that runs a write in one transaction and acknowledges it only once
//! committed (group commit on SQLite; a transaction per write on PostgreSQL).

pub(crate) mod accounts;
pub(crate) mod bulk;
pub(crate) mod callbacks;
pub(crate) mod exchange;
pub(crate) mod held;
pub(crate) mod mailbox;
pub(crate) mod reconciliation;
pub(crate) mod register;
pub(crate) mod replay;
pub(crate) mod review;
pub(crate) mod subscriptions;

/// Forgets what is held past its time: runs `statements` in one write, each with `$1` the unix
/// time `before` and `$2` `limit`, and gives the last one's count of rows (the earlier ones
/// clear what refers to those rows).
macro_rules! forget_before {
    ($store:expr, $what:literal, $before:expr, $limit:expr, $statements:expr) => {{
        let (before, limit) = ($before.unix_timestamp(), i64::from($limit));
        let statements: Vec<String> = $statements;
        $store
            .writer
            .write(move |connection| {
                Box::pin(async move {
                    let mut forgotten = 0;
                    for sql in &statements {
                        forgotten = sqlx::query(sql)
                            .bind(before)
                            .bind(limit)
                            .execute(&mut *connection)
                            .await
                            .map_err(crate::StoreError::exchange($what))?
                            .rows_affected();
                    }
                    Ok(forgotten)
                })
            })
            .await
    }};
}
pub(crate) use forget_before;

/// Refuses a claim that ends before it begins.
pub(crate) fn check_claim(
    now: time::OffsetDateTime,
    until: time::OffsetDateTime,
) -> Result<(), crate::StoreError> {
    if until <= now {
        return Err(crate::StoreError::InvalidInput {
            what: "claim",
            reason: "a claim must end after it begins".into(),
        });
    }
    Ok(())
}

/// A stored time: whole unix seconds, read back in UTC.
pub(crate) fn time_of(seconds: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// One write's work on a connection, inside the transaction its engine's writer runs it in.
pub(crate) type Step<'c, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, crate::StoreError>> + Send + 'c>>;
