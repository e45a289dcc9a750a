//! Persistence for utbyte, behind small traits, so that no SQL lives outside this crate, on one
//! of two engines: SQLite files in the node's data directory (the embedded default) or one
//! PostgreSQL database that several instances of an agency's node share.
//!
//! Three stores:
//!
//! - [`Register`] — the provider side's view of a register that backs offerings: fetch exactly
//!   the requested fields of one subject in one offering, tell whether a person has protected
//!   identity, and write batches atomically; the built-in engines keep a [`ChangeFeed`] of which
//!   values each write changed, in the write's own transaction. [`RegisterStore`] is the built-in engine on SQLite
//!   (WAL, foreign keys on, busy timeout), [`PgRegister`] the same layout on PostgreSQL; an
//!   agency's own systems sit behind the same trait elsewhere (`utbyte-adapters`).
//! - [`ExchangeStore`] — what an agency node remembers about exchanges: the requests it sent for
//!   its case systems, keyed by idempotency key, so a retry never discloses twice, and driven to
//!   an end after a crash ([`OutgoingRequests`]); the request ids peers sent it with the answer
//!   signed for each, so a replay is refused and the same request asked again is answered again
//!   ([`ReplayGuard`]); the review queue with each reviewer's decision ([`ReviewQueue`]); the
//!   schedule of the callback notices owed to case systems ([`CallbackSchedule`]); and where
//!   reconciliation with each provider stands ([`ReconciliationLog`]); and the messages it
//!   sends and receives, sealed as they travel ([`Mailbox`]: the outbox and the inbox); and the
//!   subscriptions it granted as a provider, the subjects each covers, how far each register's
//!   change feed was matched and the notices matching queued ([`Subscriptions`]); and how far
//!   each subscriber acknowledged its notices and, as a subscriber, the notices it took
//!   ([`NoticeDelivery`]); and, as a subscriber, the subscriptions it holds at providers and
//!   how far the notices taken were pushed to a case system ([`HeldSubscriptions`]); and, as a
//!   consumer, the bulk exchanges it asks of providers for its case systems, keyed by
//!   idempotency key, with each part a provider answered, kept only at the offset the bulk
//!   stands at, so a part fetched twice is kept once ([`BulkExchanges`]).
//! - [`AccountStore`] — the portal's accounts (local ones with password hashes, and those the
//!   agency's identity provider vouches for), portal roles, sign-in sessions (token hashes with
//!   their CSRF tokens, absolute and idle expiry) and sign-ins under way at the identity
//!   provider ([`Accounts`]).
//!
//! Each contract is a trait next to its types (`exchange`, `replay`, `callbacks`,
//! `reconciliation`, `mailbox`, `subscriptions`, `bulk`, `accounts`, `register`); `engine` holds
//! the handles and the traits that group them. The SQL is written once for both engines (`sql`); what differs — opening,
//! settings, schemas, the way a write is committed — is in `sqlite` and `postgres`.
//!
//! The register layout is generic (one row per offering, subject and field; one row per subject
//! with its protected-identity flag), so any offering of any rulebook can be backed without a
//! schema change.
//!
//! Subject identifiers and register values are personal data: nothing here logs them, and the
//! `Debug` output of [`Record`] and [`RegisterBatch`] shows field names and counts only, and that
//! of the exchange types shows the sizes of their JSON texts only.

mod accounts;
mod bulk;
mod callbacks;
mod engine;
mod error;
mod exchange;
mod mailbox;
mod page;
mod postgres;
mod reconciliation;
mod register;
mod replay;
mod sql;
mod sqlite;
mod subscriptions;

pub use accounts::{
    Account, AccountProfile, Accounts, Failure, Session, SignInFlow, MAX_ACCOUNT_TEXT,
};
pub use bulk::{BulkBegun, BulkExchanges, BulkPart, NewBulk, StoredBulk, MAX_PART_ANSWER_BYTES};
pub use callbacks::{
    CallbackAttempt, CallbackSchedule, CallbackState, StoredCallback, MAX_CALLBACK_ERROR_BYTES,
};
pub use engine::{AccountEngine, AccountStore, Engine, ExchangeEngine, ExchangeStore};
pub use error::StoreError;
pub use exchange::{
    BatchDecision, Begun, Deciding, NewReview, OutgoingRequest, OutgoingRequests, OutgoingState,
    OutgoingUpdate, ReviewBatch, ReviewDecided, ReviewQueue, ReviewState, StoredOutgoing,
    StoredReview, MAX_ID_BYTES, MAX_JSON_BYTES, MAX_URL_BYTES,
};
pub use mailbox::{
    InboxEntry, InboxState, Mailbox, NewIncomingMessage, NewOutgoingMessage, OutboxEntry,
    OutboxState, Posted, TakenIn, MAX_SEALED_BYTES,
};
pub use page::{Cursor, Page};
pub use postgres::{
    Heard, Notifications, PgLedgerLog, PgRegister, Postgres, Sequencer, MAX_LEDGER_ENTRY,
};
pub use reconciliation::{Finding, FindingKind, PeerReconciliation, ReconciliationLog};
pub use register::{
    Change, ChangeFeed, Record, RecordEntry, Register, RegisterBatch, StoreFuture, SubjectEntry,
    MAX_NAME_BYTES, MAX_VALUE_BYTES,
};
pub use replay::{KeptAnswer, KeptStatus, KnownRequest, ReplayGuard};
pub use sqlite::RegisterStore;
pub use subscriptions::{
    ChangeToMatch, DeliveryCursor, HeldSubscription, HeldSubscriptions, NewSubscription, Notice,
    NoticeDelivery, NoticeValues, PushState, ReceivedNotice, RecordedPart, Renewal, StoredHeld,
    StoredSubscription, SubscriptionState, Subscriptions, MAX_SUBJECTS_PER_CALL,
};
