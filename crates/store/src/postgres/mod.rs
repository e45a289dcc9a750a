//! The PostgreSQL engine: one database that every instance of an agency's node shares, so any
//! instance answers any request and a crashed one loses nothing another cannot finish.
//!
//! Each store lives in a schema of its own, `<prefix>_exchange`, `<prefix>_accounts` and
//! `<prefix>_register` (the prefix is the node's, so several nodes can share a database), with
//! its own migrations (`migrations/postgres/`) and its own `_sqlx_migrations` table; a
//! connection finds its tables through `search_path`. sqlx's migrator holds a PostgreSQL
//! advisory lock while it migrates, so instances starting together apply each migration once.
//!
//! The SQL of the exchange state and the accounts is shared with SQLite (`crate::sql`). A write
//! runs in a transaction of its own on a pooled connection (`Writer`) and is acknowledged only
//! once PostgreSQL has committed it; concurrent commits share WAL flushes in PostgreSQL itself,
//! so no group commit is needed here. Statements run under READ COMMITTED: every state change is
//! a conditional `UPDATE` or an `INSERT … ON CONFLICT`, which PostgreSQL re-checks on the row it
//! locks, so two instances racing on one key or ticket cannot both win.

mod ledger;
mod register;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

pub use ledger::{Heard, Notifications, PgLedgerLog, Sequencer, MAX_LEDGER_ENTRY};
pub use register::PgRegister;

use crate::engine::Engine;
use crate::error::{ACCOUNTS, EXCHANGE, REGISTER};
use crate::sql::Step;
use crate::StoreError;

static EXCHANGE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres/exchange");
static ACCOUNTS_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres/accounts");
static REGISTER_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres/register");

/// The longest schema prefix accepted: with `_exchange` after it, within the 63 bytes of a
/// PostgreSQL name.
const MAX_PREFIX: usize = 50;

/// Where a node keeps its state in PostgreSQL.
#[derive(Clone, PartialEq, Eq)]
pub struct Postgres {
    /// A connection URL, `postgres://user@host:port/database` (a password, if any, belongs in
    /// the environment or a `.pgpass` file, not in the URL).
    pub url: String,
    /// The prefix of the node's schemas: lowercase ASCII letters, digits and `_`, starting with
    /// a letter.
    pub schema: String,
    /// Connections per store and instance.
    pub connections: u32,
}

impl Postgres {
    /// The node's state at `url`, in schemas prefixed `schema`, with the default pool size.
    pub fn new(url: impl Into<String>, schema: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: schema.into(),
            connections: 8,
        }
    }

    /// Whether the prefix is one the engine accepts, and why not.
    pub fn check(&self) -> Result<(), StoreError> {
        let prefix = &self.schema;
        let well_formed = prefix.len() <= MAX_PREFIX
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            return Err(StoreError::InvalidInput {
                what: "PostgreSQL schema prefix",
                reason: format!(
                    "it must be 1 to {MAX_PREFIX} lowercase ASCII letters, digits or `_`, \
                     starting with a letter"
                ),
            });
        }
        if self.connections == 0 {
            return Err(StoreError::InvalidInput {
                what: "PostgreSQL connections",
                reason: "at least one is needed".into(),
            });
        }
        Ok(())
    }

    /// The URL without any password, for messages.
    pub fn location(&self) -> String {
        match self.url.parse::<PgConnectOptions>() {
            Ok(options) => format!(
                "postgres://{}:{}/{}",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            ),
            Err(_) => "an unreadable PostgreSQL URL".to_owned(),
        }
    }
}

impl fmt::Debug for Postgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Postgres")
            .field("location", &self.location())
            .field("schema", &self.schema)
            .field("connections", &self.connections)
            .finish()
    }
}

/// The exchange state in PostgreSQL.
pub(crate) struct PgExchange {
    pub(crate) pool: PgPool,
    pub(crate) writer: Writer,
}

impl PgExchange {
    pub(crate) async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        let pool = open(postgres, EXCHANGE, "exchange", &EXCHANGE_MIGRATOR).await?;
        Ok(Self {
            writer: Writer {
                pool: pool.clone(),
                database: EXCHANGE,
            },
            pool,
        })
    }
}

/// The portal's accounts and sessions in PostgreSQL.
pub(crate) struct PgAccounts {
    pub(crate) pool: PgPool,
}

impl PgAccounts {
    pub(crate) async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        let pool = open(postgres, ACCOUNTS, "accounts", &ACCOUNTS_MIGRATOR).await?;
        Ok(Self { pool })
    }
}

macro_rules! engine {
    ($engine:ty, $database:expr) => {
        #[async_trait]
        impl Engine for $engine {
            async fn schema_version(&self) -> Result<i64, StoreError> {
                schema_version(&self.pool, $database).await
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

engine!(PgExchange, EXCHANGE);
engine!(PgAccounts, ACCOUNTS);

/// Runs each write in a transaction of its own and hands its result back once committed.
#[derive(Clone)]
pub(crate) struct Writer {
    pool: PgPool,
    database: &'static str,
}

impl Writer {
    /// Runs `work` in a new transaction and returns its result once the transaction has
    /// committed; on an error nothing of it stays.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> Step<'c, T> + Send + 'static,
    {
        let failed = |operation| {
            let database = self.database;
            move |source| StoreError::Database {
                database,
                operation,
                source,
            }
        };
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("starting a transaction"))?;
        // Dropping the transaction on an error rolls it back.
        let value = work(&mut transaction).await?;
        transaction
            .commit()
            .await
            .map_err(failed("committing a write"))?;
        Ok(value)
    }

    /// [`Writer::write`]: on PostgreSQL every write is a transaction of its own, which a failed
    /// statement aborts, so work of one changing statement needs nothing less.
    pub(crate) async fn write_one<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut PgConnection) -> Step<'c, T> + Send + 'static,
    {
        self.write(work).await
    }
}

/// How long a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool on the store's schema `<prefix>_<suffix>`, created and migrated if needed.
async fn open(
    postgres: &Postgres,
    database: &'static str,
    suffix: &str,
    migrator: &Migrator,
) -> Result<PgPool, StoreError> {
    postgres.check()?;
    let schema = format!("{}_{suffix}", postgres.schema);
    let failed = |source| StoreError::Open {
        database,
        path: PathBuf::from(format!("{} (schema {schema})", postgres.location())),
        source,
    };
    let options: PgConnectOptions = postgres.url.parse().map_err(failed)?;
    create_schema(&options, &schema).await.map_err(failed)?;
    let pool = PgPoolOptions::new()
        .max_connections(postgres.connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options.options([("search_path", schema.as_str())]))
        .await
        .map_err(failed)?;
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migrate { database, source })?;
    Ok(pool)
}

/// Creates the schema unless it exists. Instances starting together may race: the loser's
/// duplicate is not an error.
async fn create_schema(options: &PgConnectOptions, schema: &str) -> Result<(), sqlx::Error> {
    /// `duplicate_schema`, and the unique violation a concurrent `CREATE SCHEMA` can raise.
    const RACED: [&str; 2] = ["42P06", "23505"];
    let mut connection = PgConnection::connect_with(options).await?;
    // The name is checked (`Postgres::check`): letters, digits and `_` only.
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .execute(&mut connection)
        .await;
    let _ = connection.close().await;
    match created {
        Err(sqlx::Error::Database(error))
            if error.code().is_some_and(|code| RACED.contains(&&*code)) =>
        {
            Ok(())
        }
        other => other.map(|_| ()),
    }
}

async fn schema_version(pool: &PgPool, database: &'static str) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_err(|source| StoreError::Database {
            database,
            operation: "reading the schema version",
            source,
        })
}

/// Connects to the register in PostgreSQL (the generic layout, as on SQLite).
pub(crate) async fn open_register(postgres: &Postgres) -> Result<PgPool, StoreError> {
    open(postgres, REGISTER, "register", &REGISTER_MIGRATOR).await
}
