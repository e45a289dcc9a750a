//! [`StoreError`]: everything that can go wrong in a store, worded for an operator.
//!
//! No variant carries a subject identifier or a stored value: errors end up in logs.

use std::path::PathBuf;

/// An error from a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the register database at {}: {source}", path.display())]
    Open {
        /// The file that was to be opened.
        path: PathBuf,
        /// What the database driver reported.
        source: sqlx::Error,
    },

    /// The schema migrations could not be applied.
    #[error("cannot apply the register schema migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A statement failed.
    #[error("register database error while {operation}: {source}")]
    Database {
        /// What the store was doing, e.g. "fetching a record".
        operation: &'static str,
        /// What the database driver reported.
        source: sqlx::Error,
    },

    /// A batch names a subject for a record that the register does not hold and that the batch
    /// does not add.
    #[error(
        "a record in the batch refers to a subject that is neither in the register nor added by \
         the batch; nothing was written"
    )]
    UnknownSubject,

    /// An offering or field id is empty or too long.
    #[error("invalid {what} id: {reason}")]
    InvalidName {
        /// "offering" or "field".
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// A value is larger than a register value may be.
    #[error(
        "the value of field `{field}` of offering `{offering}` is {bytes} bytes as JSON; \
         the limit is {limit} bytes"
    )]
    ValueTooLarge {
        /// The offering the value belongs to.
        offering: String,
        /// The field the value belongs to.
        field: String,
        /// Its size as JSON.
        bytes: usize,
        /// The largest size accepted.
        limit: usize,
    },

    /// A batch marks an organisation as having protected identity, which only a person can have.
    #[error(
        "only a person can have protected identity; the batch marks an organisationsnummer as \
         protected"
    )]
    ProtectedOrganisation,

    /// A stored value is not valid JSON (the file was changed outside the store).
    #[error(
        "the stored value of field `{field}` of offering `{offering}` is not valid JSON: {source}"
    )]
    CorruptValue {
        /// The offering the value belongs to.
        offering: String,
        /// The field the value belongs to.
        field: String,
        /// What the JSON parser reported (it never quotes the value).
        source: serde_json::Error,
    },
}

impl StoreError {
    pub(crate) fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}
