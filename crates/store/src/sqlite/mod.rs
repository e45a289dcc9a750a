//! The SQLite engine: opening a database file (or memory) with the settings every connection
//! needs, and applying the schema migrations. The SQL of each concern is in its own module
//! (`register`), so a PostgreSQL engine can implement the same traits beside this one.
//!
//! Every connection runs with WAL journaling (readers never block the writer), foreign keys on
//! (SQLite's default is off), a busy timeout (a writer waits for another instead of failing at
//! once), and `synchronous = FULL` (a committed batch survives power loss).

mod register;

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::StoreError;

/// The schema, as numbered files in `migrations/sqlite/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections to a database file: WAL lets several readers work beside the one writer.
const FILE_CONNECTIONS: u32 = 4;

/// The built-in register engine: a register in one SQLite database.
///
/// Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct RegisterStore {
    pool: SqlitePool,
}

impl RegisterStore {
    /// Opens the register in the database file at `path`, creating the file if it does not exist
    /// and applying any schema migration not yet applied.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let options = connect_options()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(FILE_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        Self::migrated(pool).await
    }

    /// Opens a register that lives in memory, for tests and throw-away demos.
    ///
    /// An in-memory database belongs to its connection, so the pool holds exactly one
    /// connection and never closes it.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let options = connect_options().in_memory(true);
        let pool = SqlitePoolOptions::new()
            .min_connections(1)
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: ":memory:".into(),
                source,
            })?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The version of the newest schema migration applied (the number its file starts with).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        register::schema_version(&self.pool).await
    }

    /// Waits for running statements to finish and closes every connection (checkpointing the
    /// WAL into the database file).
    pub async fn close(self) {
        self.pool.close().await;
    }
}

fn connect_options() -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Full)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    async fn pragma(store: &RegisterStore, name: &str) -> String {
        use sqlx::Row;
        let row = sqlx::query(&format!("PRAGMA {name}"))
            .fetch_one(&store.pool)
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
        assert_eq!(store.schema_version().await.unwrap(), 1);
        assert_eq!(pragma(&store, "journal_mode").await, "wal");
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
        assert_eq!(pragma(&store, "busy_timeout").await, "5000");
        assert_eq!(pragma(&store, "synchronous").await, "2");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let tables: Vec<_> = tables.into_iter().map(|t| t.0).collect();
        assert_eq!(tables, ["records", "subjects"]);
    }

    #[tokio::test]
    async fn reopening_applies_nothing_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.db");
        RegisterStore::open(&path).await.unwrap().close().await;
        let store = RegisterStore::open(&path).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 1);
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
        assert_eq!(store.schema_version().await.unwrap(), 1);
        assert_eq!(pragma(&store, "foreign_keys").await, "1");
    }
}
