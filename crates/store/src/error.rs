//! [`StoreError`]: everything that can go wrong in a store, worded for an operator.
//!
//! No variant carries a subject identifier or a stored value: errors end up in logs.

use std::path::PathBuf;
use std::time::Duration;

/// The register database's name in messages.
pub(crate) const REGISTER: &str = "register";

/// The exchange database's name in messages.
pub(crate) const EXCHANGE: &str = "exchange";

/// The portal accounts database's name in messages.
pub(crate) const ACCOUNTS: &str = "accounts";

/// The audit ledger's log's name in messages.
pub(crate) const LEDGER: &str = "ledger";

/// An error from a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the {database} database at {}: {source}", path.display())]
    Open {
        /// Which database: "register", "exchange" or "accounts".
        database: &'static str,
        /// The file that was to be opened.
        path: PathBuf,
        /// What the database driver reported.
        source: sqlx::Error,
    },

    /// The schema migrations could not be applied.
    #[error("cannot apply the {database} schema migrations: {source}")]
    Migrate {
        /// Which database: "register", "exchange" or "accounts".
        database: &'static str,
        /// What the migrator reported.
        source: sqlx::migrate::MigrateError,
    },

    /// Another instance of the node has taken the ledger's sequencer lease: this one must stop
    /// sequencing.
    #[error("another instance now sequences the audit ledger; this one stopped")]
    LeaseLost,

    /// A statement failed.
    #[error("{database} database error while {operation}: {source}")]
    Database {
        /// Which database: "register", "exchange" or "accounts".
        database: &'static str,
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

    /// An idempotency key, request id, ticket, callback or JSON text given to the exchange store
    /// is empty, too long or not what it must be. The message never quotes the input: some of it
    /// is personal data.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What the input is, e.g. "idempotency key" or "answer JSON".
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    /// An idempotency key was used again for a request that differs from the first one.
    #[error(
        "the idempotency key was already used for a different request; a retry must repeat the \
         request exactly, and a new request needs a new key"
    )]
    IdempotencyConflict,

    /// The thing an operation refers to is not in the store.
    #[error("no such {what}")]
    NotFound {
        /// What was looked for, e.g. "outgoing request" or "review".
        what: &'static str,
    },

    /// The thing to add is already in the store.
    #[error("there is already such a {what}; nothing was written")]
    Duplicate {
        /// What was to be added, e.g. "review ticket".
        what: &'static str,
    },

    /// A review was decided before; decisions are final.
    #[error("the review has already been decided; its decision stands and nothing was changed")]
    AlreadyDecided,

    /// An outgoing request cannot move to the requested state from the one it is in.
    #[error("an outgoing request that is {from} cannot {to}; nothing was changed")]
    InvalidTransition {
        /// Where it stands, e.g. "answered".
        from: &'static str,
        /// What was asked, e.g. "become in review".
        to: &'static str,
    },

    /// A row of a database is not one the store writes.
    #[error(
        "the database holds a {what} the store cannot read ({reason}); was the file \
         changed outside the store?"
    )]
    CorruptRow {
        /// What the row is, e.g. "outgoing request".
        what: &'static str,
        /// What is wrong with it (never a stored value).
        reason: String,
    },

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

    /// A register kept in an authority's own backend could not be reached, or answered outside
    /// the backend contract.
    #[error("the register backend failed while {operation}: {reason}")]
    Backend {
        /// What the adapter was doing, e.g. "fetching a record".
        operation: &'static str,
        /// What went wrong; never quotes a subject identifier, a value or the backend's own error
        /// text (which might).
        reason: String,
    },

    /// A register kept in an authority's own backend did not answer in time.
    #[error(
        "the register backend did not answer within {} ms while {operation}",
        timeout.as_millis()
    )]
    BackendTimeout {
        /// What the adapter was doing, e.g. "fetching a record".
        operation: &'static str,
        /// How long it waited.
        timeout: Duration,
    },

    /// A fetch asked for more distinct fields than the register answers in one request.
    #[error(
        "a fetch asked for {requested} distinct fields; this register answers at most {limit} \
         per request"
    )]
    TooManyFields {
        /// How many distinct fields were asked for.
        requested: usize,
        /// The most the register answers.
        limit: usize,
    },

    /// The register cannot be written through utbyte.
    #[error(
        "this register is read-only: its data is kept in the authority's own backend and is \
         written there, not through utbyte"
    )]
    ReadOnly,
}

impl StoreError {
    /// A [`StoreError::Database`] of the register, for `map_err`.
    pub(crate) fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database {
            database: REGISTER,
            operation,
            source,
        }
    }

    /// A [`StoreError::Database`] of the exchange database, for `map_err`.
    pub(crate) fn exchange(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database {
            database: EXCHANGE,
            operation,
            source,
        }
    }
}
