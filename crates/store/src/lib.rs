//! Persistence for utbyte, behind small traits, so that no SQL lives outside this crate.
//!
//! Three parts:
//!
//! - [`Register`] — the provider side's view of a register that backs offerings: fetch exactly
//!   the requested fields of one subject in one offering, tell whether a person has protected
//!   identity, and write batches atomically. [`RegisterStore`] is the built-in SQLite engine
//!   (WAL, foreign keys on, busy timeout); a PostgreSQL engine is meant to sit behind the same
//!   trait later, which is why each engine keeps its SQL in one module per concern
//!   (`sqlite::register`).
//! - [`ExchangeStore`] — what an agency node remembers about exchanges, in a SQLite database of
//!   its own: the requests it sent for its case systems, keyed by idempotency key, so a retry
//!   never discloses twice, and driven to an end after a crash (answered, or `failed` with the
//!   problem it ended with); the request ids peers sent it with the answer signed for each, so a
//!   replay is refused and the same request asked again is answered again; the review
//!   queue with each reviewer's decision; and the schedule of the callback notices owed to case
//!   systems (attempts, next attempt, last error, dead letters). The contract's types are in
//!   `exchange`, `replay` and `callbacks`; the SQL in `sqlite::exchange`, `sqlite::replay`,
//!   `sqlite::review` and `sqlite::callbacks`.
//! - [`AccountStore`] — the portal's accounts (local ones with password hashes, and those the
//!   agency's identity provider vouches for), portal roles, sign-in sessions (token hashes with
//!   their CSRF tokens, absolute and idle expiry) and sign-ins under way at the identity
//!   provider, in `portal.sqlite`.
//!   The contract's types are in `accounts`, the SQL in `sqlite::accounts`.
//!
//! The register layout is generic (one row per offering, subject and field; one row per subject
//! with its protected-identity flag), so any offering of any rulebook can be backed without a
//! schema change.
//!
//! Subject identifiers and register values are personal data: nothing here logs them, and the
//! `Debug` output of [`Record`] and [`RegisterBatch`] shows field names and counts only, and that
//! of the exchange types shows the sizes of their JSON texts only.

mod accounts;
mod callbacks;
mod error;
mod exchange;
mod page;
mod reconciliation;
mod register;
mod replay;
mod sqlite;

pub use accounts::{Account, AccountProfile, Failure, Session, SignInFlow, MAX_ACCOUNT_TEXT};
pub use callbacks::{CallbackAttempt, CallbackState, StoredCallback, MAX_CALLBACK_ERROR_BYTES};
pub use error::StoreError;
pub use exchange::{
    Begun, NewReview, OutgoingRequest, OutgoingState, OutgoingUpdate, ReviewDecided, ReviewState,
    StoredOutgoing, StoredReview, MAX_ID_BYTES, MAX_JSON_BYTES, MAX_URL_BYTES,
};
pub use page::{Cursor, Page};
pub use reconciliation::{Finding, FindingKind, PeerReconciliation};
pub use register::{
    Record, RecordEntry, Register, RegisterBatch, StoreFuture, SubjectEntry, MAX_NAME_BYTES,
    MAX_VALUE_BYTES,
};
pub use replay::{KeptAnswer, KeptStatus, KnownRequest};
pub use sqlite::{AccountStore, ExchangeStore, RegisterStore};
