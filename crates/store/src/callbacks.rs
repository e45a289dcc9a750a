//! The callback schedule contract: the notices a node owes its case systems, as plain data.
//! The SQL is in `sqlite::callbacks`.
//!
//! A notice is scheduled in the same write that answers a request with a callback URL, so no
//! answer can be left without one. The store keeps the schedule; when to try again and when to
//! give up is the node's policy, handed in with each attempt ([`CallbackAttempt`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use async_trait::async_trait;

use crate::page::{Cursor, Page};
use crate::StoreError;

/// The longest last-error text kept, in bytes; the node shortens longer ones.
pub const MAX_CALLBACK_ERROR_BYTES: usize = 512;

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Still to be delivered, at `next_attempt_at`.
    Pending,
    /// The case system accepted it. Final.
    Delivered,
    /// The node gave up on it (too many attempts, or too old): a dead letter, until an
    /// administrator replays it.
    Dead,
}

impl CallbackState {
    /// The state's name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// The state named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// A notice as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCallback {
    /// The notice's id (`webhook-id`, CloudEvent `id`): the same on every attempt.
    pub id: String,
    /// The idempotency key of the answered request.
    pub key: String,
    /// Where the notice goes.
    pub url: String,
    /// Where it stands.
    pub state: CallbackState,
    /// Attempts made since it was scheduled or last replayed.
    pub attempts: u32,
    /// When it is due; `Some` exactly when pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What went wrong on the last failed attempt (no personal data).
    pub last_error: Option<String>,
    /// When it was scheduled (to the second).
    pub created_at: OffsetDateTime,
    /// When its state or schedule last changed (to the second).
    pub updated_at: OffsetDateTime,
}

/// The outcome of one delivery attempt, with the node's decision on what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackAttempt {
    /// The case system accepted the notice.
    Delivered,
    /// It failed; try again at `next_attempt_at`.
    Retry {
        /// Why it failed (no personal data).
        error: String,
        /// When to try again.
        next_attempt_at: OffsetDateTime,
    },
    /// It failed and the node gives up: the notice becomes a dead letter.
    GiveUp {
        /// Why it failed (no personal data).
        error: String,
    },
}

impl CallbackAttempt {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match self {
            Self::Delivered => Ok(()),
            Self::Retry { error, .. } | Self::GiveUp { error } => {
                if error.is_empty() || error.len() > MAX_CALLBACK_ERROR_BYTES {
                    return Err(StoreError::InvalidInput {
                        what: "callback error",
                        reason: format!(
                            "it must be 1 to {MAX_CALLBACK_ERROR_BYTES} bytes long, not {}",
                            error.len()
                        ),
                    });
                }
                Ok(())
            }
        }
    }
}

/// The schedule of the callback notices a node owes its case systems.
#[async_trait]
pub trait CallbackSchedule: Send + Sync {
    /// Up to `limit` pending notices due at `now`, the earliest due first.
    async fn due_callbacks(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCallback>, StoreError>;

    /// Claims up to `limit` pending notices due at `now`, the earliest due first, for one
    /// deliverer: each is made due again only at `claimed_until`, so no other instance of the
    /// node takes it meanwhile, and the deliverer records its attempt before then (if it dies
    /// first, the notice is due again then). Of instances claiming at once, each notice goes to
    /// one.
    async fn claim_due_callbacks(
        &self,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredCallback>, StoreError>;

    /// A page of at most `limit` notices, newest first, starting after `after` (from the start
    /// without one): all, or those in `state`.
    async fn list_callbacks(
        &self,
        state: Option<CallbackState>,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<StoredCallback>, StoreError>;

    /// The notice with this id, if there is one.
    async fn callback(&self, id: &str) -> Result<Option<StoredCallback>, StoreError>;

    /// The notice for the request with this idempotency key, if one was scheduled.
    async fn callback_for(&self, key: &str) -> Result<Option<StoredCallback>, StoreError>;

    /// Records an attempt on a pending notice, made at `at`, and what comes next. A delivered
    /// notice also marks its request's answer delivered. [`StoreError::NotFound`] if no notice
    /// has the id; [`StoreError::InvalidTransition`] if it is not pending (then nothing changes).
    async fn record_callback_attempt(
        &self,
        id: &str,
        attempt: &CallbackAttempt,
        at: OffsetDateTime,
    ) -> Result<StoredCallback, StoreError>;

    /// Puts a dead notice back on the schedule, due at `now`, with a whole new run of attempts.
    /// [`StoreError::NotFound`] if no notice has the id; [`StoreError::InvalidTransition`] if it
    /// is not dead.
    async fn replay_callback(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<StoredCallback, StoreError>;

    /// Answered requests with a callback whose answer has not been delivered yet (what
    /// [`ExchangeStore::undelivered_callbacks`] lists).
    async fn undelivered_callback_count(&self) -> Result<i64, StoreError>;
}
