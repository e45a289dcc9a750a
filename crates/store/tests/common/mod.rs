//! Fixtures shared by the store's test crates: the engine a test runs on, and requests,
//! outcomes, reviews and decisions with recognisable values, at whole seconds so that times read
//! back compare equal.
//!
//! Every contract test runs on both engines: [`on_both_engines!`] makes a `sqlite` and a
//! `postgres` copy of each test, and [`store`], [`accounts`] and [`register`] open the engine
//! the running copy is for. The PostgreSQL copies use the server at `UTBYTE_TEST_POSTGRES`
//! (default `postgres://postgres@127.0.0.1:5432/test`), each test in schemas of its own; they
//! fail, not skip, when it cannot be reached.

// Each test crate uses a part of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;
use utbyte_store::{
    AccountStore, ExchangeStore, NewReview, OutgoingRequest, OutgoingState, OutgoingUpdate,
    PgRegister, Postgres, Register, RegisterStore, ReviewDecided, StoredOutgoing,
};

/// The engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

thread_local! {
    /// Set by each copy [`on_both_engines!`] makes; tokio's test runtime runs the test on the
    /// thread that set it.
    static ENGINE: Cell<Kind> = const { Cell::new(Kind::Sqlite) };
}

pub fn use_engine(kind: Kind) {
    ENGINE.with(|engine| engine.set(kind));
}

pub fn engine() -> Kind {
    ENGINE.with(Cell::get)
}

/// Makes a `sqlite` and a `postgres` module of the tests given, each running every test on its
/// engine.
#[macro_export]
macro_rules! on_both_engines {
    ($($(#[$meta:meta])* async fn $name:ident() $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* async fn $name() {
                common::use_engine(common::Kind::Sqlite);
                $body
            })*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $($(#[$meta])* async fn $name() {
                common::use_engine(common::Kind::Postgres);
                $body
            })*
        }
    };
}

/// Schemas of the tests: `utbyte_test_<unix seconds>_<pid>_<n>`.
const SCHEMA_PREFIX: &str = "utbyte_test_";

/// Schemas older than this are left over from an earlier run; no test runs this long.
const STALE_SECONDS: u64 = 2 * 3600;

/// A fresh place in the test database for one test's stores. The first call of a process drops
/// the schemas earlier runs left behind (hours old); those of runs that may still be going are
/// left alone, so test runs can share the server.
pub async fn postgres() -> Postgres {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("UTBYTE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    if NEXT.fetch_add(1, Ordering::SeqCst) == 0 {
        sweep(&url).await;
    }
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    Postgres::new(
        url,
        format!("{SCHEMA_PREFIX}{}_{}_{n}", now(), std::process::id()),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn sweep(url: &str) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("the test PostgreSQL server (UTBYTE_TEST_POSTGRES) must be reachable");
    let schemas: Vec<(String,)> =
        sqlx::query_as("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(SCHEMA_PREFIX)
            .fetch_all(&mut connection)
            .await
            .unwrap();
    for (schema,) in schemas {
        let made: Option<u64> = schema[SCHEMA_PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|seconds| seconds.parse().ok());
        if made.is_some_and(|made| made + STALE_SECONDS < now()) {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&mut connection)
                .await
                .unwrap();
        }
    }
}

/// `count` handles on one exchange state, as `count` instances of a node hold it: on SQLite
/// separate connection pools on one file in `dir`, on PostgreSQL separate pools on one schema.
pub async fn instances(dir: &tempfile::TempDir, count: usize) -> Vec<ExchangeStore> {
    let postgres = postgres().await;
    let mut stores = Vec::new();
    for _ in 0..count {
        stores.push(match engine() {
            Kind::Sqlite => ExchangeStore::open(dir.path().join("exchange.db"))
                .await
                .unwrap(),
            Kind::Postgres => ExchangeStore::connect(&postgres).await.unwrap(),
        });
    }
    stores
}

/// Accounts on the engine of the running test.
pub async fn accounts() -> AccountStore {
    match engine() {
        Kind::Sqlite => AccountStore::open_in_memory().await.unwrap(),
        Kind::Postgres => AccountStore::connect(&postgres().await).await.unwrap(),
    }
}

/// An empty register on the engine of the running test.
pub async fn register() -> Arc<dyn Register> {
    match engine() {
        Kind::Sqlite => Arc::new(RegisterStore::open_in_memory().await.unwrap()),
        Kind::Postgres => Arc::new(PgRegister::connect(&postgres().await).await.unwrap()),
    }
}

/// A whole second, so times read back compare equal.
pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
}

pub fn request(key: &str, seconds: i64) -> OutgoingRequest {
    OutgoingRequest {
        key: key.to_owned(),
        request_hash: format!("{:064x}", key.len()),
        request_id: format!("req-{key}"),
        provider: "skatteverket".to_owned(),
        officer: Some("handlaggare-1".to_owned()),
        client: Some("arende".to_owned()),
        request_json: format!(r#"{{"subject":"19121212-1212","key":"{key}"}}"#),
        callback: Some(format!("https://case.example/callback/{key}")),
        created_at: at(seconds),
    }
}

pub fn answered(seconds: i64) -> OutgoingUpdate {
    OutgoingUpdate {
        state: OutgoingState::Answered,
        answer_json: Some(r#"{"outcome":"disclose","fields":{"namn":"Tolvan"}}"#.to_owned()),
        ticket: None,
        updated_at: at(seconds),
    }
}

pub fn in_review(ticket: &str, seconds: i64) -> OutgoingUpdate {
    OutgoingUpdate {
        state: OutgoingState::InReview,
        answer_json: None,
        ticket: Some(ticket.to_owned()),
        updated_at: at(seconds),
    }
}

pub fn new_review(ticket: &str, seconds: i64) -> NewReview {
    NewReview {
        ticket: ticket.to_owned(),
        requester: "forsakringskassan".to_owned(),
        request_id: format!("req-{ticket}"),
        request_json: r#"{"subject":"19121212-1212"}"#.to_owned(),
        decision_json: r#"{"outcome":"review"}"#.to_owned(),
        ledger_index: 7,
        created_at: at(seconds),
        batch: "b-alike".to_owned(),
    }
}

pub fn decision(reviewer: &str, seconds: i64) -> ReviewDecided {
    ReviewDecided {
        reviewer: reviewer.to_owned(),
        review_json: format!(r#"{{"by":"{reviewer}"}}"#),
        answer_json: r#"{"outcome":"refuse"}"#.to_owned(),
        ledger_index: 8,
        decided_at: at(seconds),
    }
}

pub fn keys(requests: &[StoredOutgoing]) -> Vec<&str> {
    requests.iter().map(|r| r.key.as_str()).collect()
}

/// Exchange state on the engine of the running test.
pub async fn store() -> ExchangeStore {
    match engine() {
        Kind::Sqlite => ExchangeStore::open_in_memory().await.unwrap(),
        Kind::Postgres => ExchangeStore::connect(&postgres().await).await.unwrap(),
    }
}

/// A valid personnummer per `n` (below 302 400), born in 1980.
pub fn person(n: u32) -> utbyte_domain::SubjectId {
    let (serial, day, month) = (n % 900, n / 900 % 28, n / (900 * 28));
    let born = utbyte_domain::CalendarDate::new(1980, month as u8 + 1, day as u8 + 1).unwrap();
    utbyte_domain::SubjectId::Personnummer(
        utbyte_domain::Personnummer::from_parts(born, serial as u16 + 100).unwrap(),
    )
}
