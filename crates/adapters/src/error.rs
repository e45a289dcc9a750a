//! [`AdapterError`]: why an adapter or the agency client could not be set up, worded for an
//! operator.
//!
//! Errors of the calls themselves are `utbyte_store::StoreError`s, because they come out of
//! the `Register` trait.

/// An adapter could not be constructed from its configuration.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The backend's base URL cannot be used.
    #[error("the register backend URL `{url}` cannot be used: {reason}")]
    InvalidBaseUrl {
        /// The URL as configured (a base URL names a service, never a person).
        url: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The timeout is zero, which would fail every call.
    #[error("the register backend timeout must be longer than zero")]
    ZeroTimeout,

    /// The agency CA bundle cannot be used.
    #[error("the agency CA bundle cannot be used: {reason}")]
    InvalidCaBundle {
        /// Why (the file's path, never a certificate's content).
        reason: String,
    },

    /// The HTTP client cannot be set up.
    #[error("the HTTP client cannot be set up: {reason}")]
    Client {
        /// Why.
        reason: String,
    },

    /// A PostgreSQL register's mapping is invalid in itself.
    #[error("the PostgreSQL register mapping is invalid: {reason}")]
    InvalidMapping {
        /// What is wrong, naming the offering and the key (identifiers, never data).
        reason: String,
    },

    /// A PostgreSQL register's connection URL cannot be used.
    #[error("the PostgreSQL register URL cannot be used: {reason}")]
    InvalidPostgresUrl {
        /// Why. The URL is not quoted: it may hold a password.
        reason: String,
    },

    /// A PostgreSQL register's database could not be reached or its catalog not read.
    #[error("cannot set up the PostgreSQL register at {database}: {reason}")]
    Postgres {
        /// The database as `postgres://user@host:port/database`, without a password.
        database: String,
        /// What went wrong.
        reason: String,
    },

    /// A PostgreSQL register's mapping names a relation or column the database does not have,
    /// or one of the wrong kind.
    #[error("the PostgreSQL register mapping does not match the database at {database}: {reason}")]
    MappingMismatch {
        /// The database as `postgres://user@host:port/database`, without a password.
        database: String,
        /// What is missing or wrong, naming the offering, relation and column.
        reason: String,
    },
}
