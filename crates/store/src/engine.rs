//! The store handles a node holds — [`ExchangeStore`] and [`AccountStore`] — and the engine
//! traits behind them.
//!
//! A handle is a shared trait object: the node chooses the engine at start from its
//! configuration (SQLite files in its data directory, the embedded default, or one PostgreSQL
//! database that several instances of the node share) and every caller sees the same contract.
//! The contract is split by concern, one trait each, next to its types: [`OutgoingRequests`],
//! [`ReplayGuard`], [`ReviewQueue`], [`CallbackSchedule`], [`ReconciliationLog`], [`Mailbox`],
//! [`Subscriptions`], [`NoticeDelivery`], [`HeldSubscriptions`] and [`BulkExchanges`] make up an
//! [`ExchangeEngine`]; [`Accounts`] an [`AccountEngine`]. [`Engine`] is what every engine does
//! besides its concern. The handles dereference to the engine, so a call reads
//! `store.begin_outgoing(&request)` whichever engine is behind it.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::postgres::{PgAccounts, PgExchange, Postgres};
use crate::sqlite::{SqliteAccounts, SqliteExchange};
use crate::{
    Accounts, BulkExchanges, CallbackSchedule, HeldSubscriptions, Mailbox, NoticeDelivery,
    OutgoingRequests, ReconciliationLog, ReplayGuard, ReviewQueue, StoreError, Subscriptions,
};

/// What every engine does besides its concern.
#[async_trait]
pub trait Engine: Send + Sync {
    /// The version of the newest schema migration applied (the number its file starts with).
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Waits for running statements to finish and closes every connection (on SQLite after
    /// copying the WAL into the database file, so the file alone then holds everything).
    async fn close(&self);
}

/// Everything an agency node remembers about exchanges.
pub trait ExchangeEngine:
    OutgoingRequests
    + ReplayGuard
    + ReviewQueue
    + CallbackSchedule
    + ReconciliationLog
    + Mailbox
    + Subscriptions
    + NoticeDelivery
    + HeldSubscriptions
    + BulkExchanges
    + Engine
{
}

impl<T> ExchangeEngine for T where
    T: OutgoingRequests
        + ReplayGuard
        + ReviewQueue
        + CallbackSchedule
        + ReconciliationLog
        + Mailbox
        + Subscriptions
        + NoticeDelivery
        + HeldSubscriptions
        + BulkExchanges
        + Engine
{
}

/// The portal's accounts and sessions.
pub trait AccountEngine: Accounts + Engine {}

impl<T> AccountEngine for T where T: Accounts + Engine {}

/// The exchange state of a node, on whichever engine it runs.
///
/// Cheap to clone (the clones share one engine and its connections).
#[derive(Clone)]
pub struct ExchangeStore {
    engine: Arc<dyn ExchangeEngine>,
}

impl ExchangeStore {
    /// Opens the exchange state in the SQLite database file at `path`, creating the file if it
    /// does not exist and applying any schema migration not yet applied.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self::with(SqliteExchange::open(path.as_ref()).await?))
    }

    /// Opens exchange state that lives in memory (SQLite), for tests and throw-away demos.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        Ok(Self::with(SqliteExchange::open_in_memory().await?))
    }

    /// Connects to the exchange state in a PostgreSQL database, creating its schema and
    /// applying any migration not yet applied. Every instance of a node connected to the same
    /// database and schema shares it.
    pub async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        Ok(Self::with(PgExchange::connect(postgres).await?))
    }

    fn with(engine: impl ExchangeEngine + 'static) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }

    /// Closes the engine's connections (see [`Engine::close`]).
    pub async fn close(self) {
        self.engine.close().await;
    }
}

impl Deref for ExchangeStore {
    type Target = dyn ExchangeEngine;

    fn deref(&self) -> &Self::Target {
        &*self.engine
    }
}

/// The portal's accounts and sessions, on whichever engine the node runs.
///
/// Cheap to clone (the clones share one engine and its connections).
#[derive(Clone)]
pub struct AccountStore {
    engine: Arc<dyn AccountEngine>,
}

impl AccountStore {
    /// Opens the accounts in the SQLite database file at `path`, creating it if needed.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self::with(SqliteAccounts::open(path.as_ref()).await?))
    }

    /// Accounts in memory (SQLite), for tests.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        Ok(Self::with(SqliteAccounts::open_in_memory().await?))
    }

    /// Connects to the accounts in a PostgreSQL database, creating their schema and applying
    /// any migration not yet applied; shared by every instance of the node.
    pub async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        Ok(Self::with(PgAccounts::connect(postgres).await?))
    }

    fn with(engine: impl AccountEngine + 'static) -> Self {
        Self {
            engine: Arc::new(engine),
        }
    }

    /// Closes the engine's connections (see [`Engine::close`]).
    pub async fn close(self) {
        self.engine.close().await;
    }
}

impl Deref for AccountStore {
    type Target = dyn AccountEngine;

    fn deref(&self) -> &Self::Target {
        &*self.engine
    }
}
