//! The SQLite engine, the embedded default: opening a database file (or memory) with the
//! settings every connection needs, applying the schema migrations, and the group-commit writer
//! (`batch`). The SQL of the exchange state and the accounts is shared with PostgreSQL
//! (`crate::sql`); the register's is here (`register`).
//!
//! Three databases, each in its own file with its own migrations: the register
//! ([`RegisterStore`], `migrations/sqlite/`), the exchange state (`migrations/exchange/`) and
//! the portal accounts (`migrations/accounts/`). They are separate because they have separate
//! owners and lives: a register is loaded from an agency's systems and may be replaced
//! wholesale, while the exchange state must survive every such reload.
//!
//! Every connection runs with WAL journaling (readers never block the writer), foreign keys on
//! (SQLite's default is off), a busy timeout (a writer waits for another instead of failing at
//! once), and `synchronous = FULL` (a committed batch survives power loss); a register's also
//! read the first 64 MiB of their file through a memory map. A database file
//! is created 0600 before SQLite opens it, and SQLite gives its `-wal` and `-shm` files the same
//! mode.

mod batch;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::engine::Engine;
use crate::error::{ACCOUNTS, EXCHANGE, REGISTER};
use crate::StoreError;

/// The register's schema, as numbered files in `migrations/sqlite/`, embedded at compile time.
static REGISTER_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The exchange state's schema, as numbered files in `migrations/exchange/`. A migrator of its
/// own: the databases are versioned independently.
static EXCHANGE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/exchange");

/// The portal accounts' schema, `migrations/accounts/`.
static ACCOUNTS_MIGRATOR: Migrator = sqlx::migrate!("./migrations/accounts");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections to a register file: WAL lets several readers work beside the one writer, and a
/// register is read far more than it is written.
const REGISTER_CONNECTIONS: u32 = 4;

/// Bytes of a register file its connections read through a memory map (SQLite's `mmap_size`);
/// the rest of a larger file is read as before. Pages read through the map count in the node's
/// resident size (the system may drop them again at any time), so the map is bounded.
const REGISTER_MAP: u64 = 64 << 20;

/// Connections to an exchange-state file: one for the writer task (every write goes through it,
/// see `batch`), one for reads. SQLite admits one writer at a time; more writing connections
/// would only wait for each other in SQLite's busy handler, which sleeps in millisecond steps.
const EXCHANGE_CONNECTIONS: u32 = 2;

/// Accounts are read on every page and written on sign-in; a few connections suffice.
const ACCOUNT_CONNECTIONS: u32 = 2;

/// The built-in register engine: a register in one SQLite database.
///
/// Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct RegisterStore {
    pub(crate) pool: SqlitePool,
}

impl RegisterStore {
    /// Opens the register in the database file at `path`, creating the file if it does not exist
    /// and applying any schema migration not yet applied.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let pool = open_file(
            REGISTER,
            &REGISTER_MIGRATOR,
            path.as_ref(),
            REGISTER_CONNECTIONS,
        )
        .await?;
        Ok(Self { pool })
    }

    /// Opens a register that lives in memory, for tests and throw-away demos.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let pool = open_memory(REGISTER, &REGISTER_MIGRATOR).await?;
        Ok(Self { pool })
    }

    /// The version of the newest schema migration applied (the number its file starts with).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        schema_version(&self.pool, REGISTER).await
    }

    /// Waits for running statements to finish, copies the WAL into the database file and
    /// closes every connection.
    pub async fn close(self) {
        checkpoint_and_close(&self.pool).await;
    }
}

/// The exchange state in one SQLite database: the embedded default. Every write goes through one
/// writer task that commits the writes waiting together (`batch`).
pub(crate) struct SqliteExchange {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: batch::Writer,
}

impl SqliteExchange {
    /// Opens the exchange state in the database file at `path`, creating the file if it does not
    /// exist and applying any schema migration not yet applied.
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = open_file(EXCHANGE, &EXCHANGE_MIGRATOR, path, EXCHANGE_CONNECTIONS).await?;
        let writer = batch::Writer::start(pool.clone());
        Ok(Self { pool, writer })
    }

    /// Exchange state that lives in memory, for tests and throw-away demos.
    pub(crate) async fn open_in_memory() -> Result<Self, StoreError> {
        let pool = open_memory(EXCHANGE, &EXCHANGE_MIGRATOR).await?;
        let writer = batch::Writer::start(pool.clone());
        Ok(Self { pool, writer })
    }
}

#[async_trait]
impl Engine for SqliteExchange {
    async fn schema_version(&self) -> Result<i64, StoreError> {
        schema_version(&self.pool, EXCHANGE).await
    }

    async fn close(&self) {
        checkpoint_and_close(&self.pool).await;
    }
}

/// The portal's accounts and sessions in one SQLite database.
pub(crate) struct SqliteAccounts {
    pub(crate) pool: SqlitePool,
}

impl SqliteAccounts {
    /// Opens the accounts database at `path`, creating it if needed.
    pub(crate) async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = open_file(ACCOUNTS, &ACCOUNTS_MIGRATOR, path, ACCOUNT_CONNECTIONS).await?;
        Ok(Self { pool })
    }

    /// Accounts in memory, for tests.
    pub(crate) async fn open_in_memory() -> Result<Self, StoreError> {
        let pool = open_memory(ACCOUNTS, &ACCOUNTS_MIGRATOR).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Engine for SqliteAccounts {
    async fn schema_version(&self) -> Result<i64, StoreError> {
        schema_version(&self.pool, ACCOUNTS).await
    }

    async fn close(&self) {
        checkpoint_and_close(&self.pool).await;
    }
}

/// SQLite checkpoints the WAL when its last connection closes, but the pool's connections close
/// on their own threads, after `close` returns; an explicit checkpoint first means the database
/// file alone holds everything once `close` returns (so it can be copied or renamed).
async fn checkpoint_and_close(pool: &SqlitePool) {
    // A failed checkpoint loses nothing: the WAL is then copied in when the file is next opened.
    let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await;
    pool.close().await;
}

async fn open_file(
    database: &'static str,
    migrator: &Migrator,
    path: &Path,
    connections: u32,
) -> Result<SqlitePool, StoreError> {
    create_private(path).map_err(|source| StoreError::Open {
        database,
        path: path.to_owned(),
        source: sqlx::Error::Io(source),
    })?;
    let options = connect_options()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    // A register is read far more than written, a bulk's subjects from all over it: its
    // connections read pages where the system keeps them instead of each copying them in.
    let options = if database == REGISTER {
        options.pragma("mmap_size", REGISTER_MAP.to_string())
    } else {
        options
    };
    // A connection is a handle in this process, not a link that can drop: sqlx's check before
    // each use would cost one more hand-off to the connection's thread per query.
    let pool = SqlitePoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open {
            database,
            path: path.to_owned(),
            source,
        })?;
    migrated(database, migrator, pool).await
}

/// Creates the database file, empty and 0600, if it does not exist, so that it is its owner's
/// alone from the start: SQLite would create it with the process umask (commonly leaving it
/// world-readable), and it gives the `-wal` and `-shm` files it creates later the mode of the
/// database file — so those are 0600 too. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// An in-memory database belongs to its connection, so the pool holds exactly one connection
/// and never closes it.
async fn open_memory(
    database: &'static str,
    migrator: &Migrator,
) -> Result<SqlitePool, StoreError> {
    let options = connect_options().in_memory(true);
    let pool = SqlitePoolOptions::new()
        .min_connections(1)
        .max_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Open {
            database,
            path: ":memory:".into(),
            source,
        })?;
    migrated(database, migrator, pool).await
}

async fn migrated(
    database: &'static str,
    migrator: &Migrator,
    pool: SqlitePool,
) -> Result<SqlitePool, StoreError> {
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { database, source })?;
    Ok(pool)
}

const SCHEMA_VERSION: &str =
    "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success = 1";

async fn schema_version(pool: &SqlitePool, database: &'static str) -> Result<i64, StoreError> {
    let (version,): (i64,) = sqlx::query_as(SCHEMA_VERSION)
        .fetch_one(pool)
        .await
        .map_err(|source| StoreError::Database {
            database,
            operation: "reading the schema version",
            source,
        })?;
    Ok(version)
}

fn connect_options() -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Full)
        .pragma("temp_store", "memory")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{CallbackSchedule, OutgoingRequests, ReplayGuard};

    async fn pragma(pool: &SqlitePool, name: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(pool)
            .await
            .unwrap();
        row.try_get::<String, _>(0)
            .or_else(|_| row.try_get::<i64, _>(0).map(|value| value.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn a_fresh_file_gets_the_schema_and_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = RegisterStore::open(dir.path().join("register.db"))
            .await
            .unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 2);
        assert_eq!(pragma(&store.pool, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.pool, "foreign_keys").await, "1");
        assert_eq!(pragma(&store.pool, "busy_timeout").await, "5000");
        assert_eq!(pragma(&store.pool, "synchronous").await, "2");
        assert_eq!(pragma(&store.pool, "mmap_size").await, "67108864");
        assert_eq!(
            tables(&store.pool).await,
            ["changes", "records", "sqlite_sequence", "subjects"]
        );
    }

    async fn tables(pool: &SqlitePool) -> Vec<String> {
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        tables.into_iter().map(|t| t.0).collect()
    }

    #[tokio::test]
    async fn a_fresh_exchange_file_gets_its_own_schema_and_the_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteExchange::open(&dir.path().join("exchange.db"))
            .await
            .unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 14);
        assert_eq!(pragma(&store.pool, "journal_mode").await, "wal");
        assert_eq!(pragma(&store.pool, "foreign_keys").await, "1");
        assert_eq!(pragma(&store.pool, "busy_timeout").await, "5000");
        assert_eq!(pragma(&store.pool, "synchronous").await, "2");
        // Written often and growing with what is kept: read as SQLite reads by default.
        assert_eq!(pragma(&store.pool, "mmap_size").await, "0");
        assert_eq!(
            tables(&store.pool).await,
            [
                "batch_decisions",
                "bulk_parts",
                "bulks",
                "callbacks",
                "change_cursors",
                "decision_claims",
                "held_subscriptions",
                "inbox",
                "notice_cursors",
                "notice_push",
                "notices",
                "outbox",
                "outgoing",
                "received_notices",
                "reconciliation",
                "reconciliation_findings",
                "reviews",
                "seen_requests",
                "sqlite_sequence",
                "subscribed",
                "subscriptions"
            ]
        );
        store.close().await;
        let store = SqliteExchange::open(&dir.path().join("exchange.db"))
            .await
            .unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 14);
    }

    /// Migration 0003 rebuilds `outgoing` (and `callbacks`, which refers to it): a database
    /// written under 0002 keeps every row and every reference.
    #[tokio::test]
    async fn the_recovery_migration_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exchange.db");
        let options = connect_options().filename(&path).create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        let before = Migrator {
            migrations: std::borrow::Cow::Owned(EXCHANGE_MIGRATOR.migrations[..2].to_vec()),
            ..Migrator::DEFAULT
        };
        before.run(&pool).await.unwrap();
        for statement in [
            "INSERT INTO outgoing (key, request_hash, request_id, provider, request_json, \
             callback, state, answer_json, created_at, updated_at) \
             VALUES ('k1', 'h', 'r1', 'p', '{}', 'http://x/', 'answered', '{}', 1, 2)",
            "INSERT INTO outgoing (key, request_hash, request_id, provider, request_json, state, \
             created_at, updated_at) VALUES ('k2', 'h', 'r2', 'p', '{}', 'in_flight', 3, 3)",
            "INSERT INTO callbacks (id, key, url, state, next_attempt_at, created_at, updated_at) \
             VALUES ('c1', 'k1', 'http://x/', 'pending', 5, 2, 2)",
            "INSERT INTO seen_requests (peer, request_id, seen_at) VALUES ('p', 'r9', 4)",
        ] {
            sqlx::query(statement).execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = SqliteExchange::open(&path).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 14);
        let k1 = store.outgoing("k1").await.unwrap().unwrap();
        assert_eq!(k1.state, crate::OutgoingState::Answered);
        assert_eq!(k1.failure_json, None);
        assert_eq!(
            k1.client, None,
            "no client is recorded for an earlier request"
        );
        let k2 = store.outgoing("k2").await.unwrap().unwrap();
        assert_eq!(k2.state, crate::OutgoingState::InFlight);
        assert_eq!(store.callback("c1").await.unwrap().unwrap().key, "k1");
        assert_eq!(
            store.known_request("p", "r9").await.unwrap(),
            Some(crate::KnownRequest::Claimed)
        );
        let broken: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert!(broken.is_empty());
        // The reference still holds: a notice for a request that does not exist is refused.
        let orphan = sqlx::query(
            "INSERT INTO callbacks (id, key, url, state, next_attempt_at, created_at, \
             updated_at) VALUES ('c2', 'nope', 'http://x/', 'pending', 5, 2, 2)",
        )
        .execute(&store.pool)
        .await;
        assert!(orphan.is_err());
        store
            .fail_outgoing("k2", "{}", time::OffsetDateTime::UNIX_EPOCH)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn every_database_file_is_its_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let register = RegisterStore::open(dir.path().join("register.sqlite"))
            .await
            .unwrap();
        let exchange = SqliteExchange::open(&dir.path().join("exchange.sqlite"))
            .await
            .unwrap();
        let accounts = SqliteAccounts::open(&dir.path().join("portal.sqlite"))
            .await
            .unwrap();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let name = entry.file_name().to_string_lossy().into_owned();
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
            names.push(name);
        }
        for name in [
            "register.sqlite",
            "exchange.sqlite-wal",
            "portal.sqlite-shm",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        register.close().await;
        exchange.close().await;
        accounts.close().await;
    }

    #[tokio::test]
    async fn an_unopenable_exchange_path_says_which_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("exchange.db");
        let error = SqliteExchange::open(&path).await.err().unwrap();
        assert!(error.to_string().starts_with(&format!(
            "cannot open the exchange database at {}:",
            path.display()
        )));
    }

    #[tokio::test]
    async fn reopening_applies_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.db");
        RegisterStore::open(&path).await.unwrap().close().await;
        let store = RegisterStore::open(&path).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn an_unopenable_path_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("register.db");
        let error = RegisterStore::open(&path).await.err().unwrap();
        assert!(error.to_string().starts_with(&format!(
            "cannot open the register database at {}:",
            path.display()
        )));
    }

    #[tokio::test]
    async fn memory_gets_the_schema_and_foreign_keys() {
        let store = RegisterStore::open_in_memory().await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 2);
        assert_eq!(pragma(&store.pool, "foreign_keys").await, "1");
    }
}
