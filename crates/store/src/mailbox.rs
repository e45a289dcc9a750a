//! Messages between authorities, as plain data: the sender's outbox and the recipient's inbox.
//!
//! Both hold a message exactly as it travels — the envelope's text and the content sealed for
//! the recipient — so neither store holds anything readable but routing data. The outbox is
//! keyed by message id and, for the case system that sent it, by idempotency key: a retry finds
//! the message posted the first time. The inbox is keyed by sender and message id, so a message
//! delivered twice is kept once. Each change is one conditional `UPDATE` naming the state it
//! may start from, so two instances (or a retry racing a delivery round) cannot both win.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::page::{Cursor, Page};
use crate::StoreError;

/// Largest sealed content a message may have, in bytes (attachments travel apart).
pub const MAX_SEALED_BYTES: usize = 1024 * 1024;

/// Where a message in the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Held at the sender: a field of the notice awaits the sender's own reviewer.
    Held,
    /// To be delivered (`next_attempt_at` says when).
    Pending,
    /// The recipient's node holds it (its signed receipt is kept).
    Delivered,
    /// A unit of the recipient took it (its signed receipt is kept).
    Accepted,
    /// Not delivered before the sender gave up; `last_error` says why.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Accepted => "accepted",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [
            Self::Held,
            Self::Pending,
            Self::Delivered,
            Self::Accepted,
            Self::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A message to post in the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOutgoingMessage {
    pub message_id: String,
    /// The local API client that sent it, and its idempotency key.
    pub client: String,
    pub idempotency_key: String,
    /// SHA-256 (hex) of the request as the client sent it: a retry must be the same request.
    pub request_hash: String,
    pub sender_unit: String,
    /// The recipient authority.
    pub recipient: String,
    /// The notice kind, or `free_text`.
    pub kind: String,
    pub envelope: String,
    pub sealed: Vec<u8>,
    /// `Pending` or `Held`.
    pub state: OutboxState,
    /// The sender's ledger entry recording the decision to send (or hold).
    pub decision_index: u64,
    pub created_at: OffsetDateTime,
    /// After this, delivery stops and the message fails.
    pub give_up_at: OffsetDateTime,
}

/// A message in the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub message: NewOutgoingMessage,
    pub state: OutboxState,
    pub attempts: u32,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub updated_at: OffsetDateTime,
    /// The recipient's signed receipts, as JSON.
    pub delivered_receipt: Option<String>,
    pub accepted_receipt: Option<String>,
    pub(crate) row: i64,
}

/// What posting a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// The message is new in the outbox.
    New,
    /// The client posted this request under this key before: the message it became.
    Existing(Box<OutboxEntry>),
}

/// A message arriving at the recipient's node.
#[derive(Clone, PartialEq, Eq)]
pub struct NewIncomingMessage {
    /// The sending authority (the one its certificate names).
    pub sender: String,
    pub message_id: String,
    /// The unit addressed; `None`: the authority.
    pub unit: Option<String>,
    pub kind: String,
    pub envelope: String,
    pub sealed: Vec<u8>,
}

/// Where a message in the inbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxState {
    /// Taken in; its receipt is being recorded.
    Receiving,
    /// Held here; the sender has (or will get again) the delivered receipt.
    Delivered,
    /// A unit took it.
    Accepted,
}

impl InboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Delivered => "delivered",
            Self::Accepted => "accepted",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Receiving, Self::Delivered, Self::Accepted]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A message in the inbox.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub message: NewIncomingMessage,
    pub state: InboxState,
    pub received_at: OffsetDateTime,
    /// The signed receipts this node gave, as JSON.
    pub delivered_receipt: Option<String>,
    pub accepted_receipt: Option<String>,
    /// Who accepted it (a unit and the client that acted for it).
    pub accepted_by: Option<String>,
    /// When the accepted receipt is next to be returned to the sender; `None` once returned.
    pub return_at: Option<OffsetDateTime>,
    /// Attempts so far to announce the arrival to the case system's callback.
    pub announce_attempts: u32,
    pub(crate) row: i64,
}

/// What taking in a delivered message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakenIn {
    /// This call holds the message and is to record its receipt.
    Claimed,
    /// This call took over a claim by a node that stopped before keeping the receipt: that
    /// claim, or any before it since the first at `since`, may have recorded the delivery.
    TakenOver { since: OffsetDateTime },
    /// Received before: the receipt given then.
    Received(Box<InboxEntry>),
    /// Another delivery of it is being recorded right now; ask again shortly.
    Busy,
}

macro_rules! sealed_debug {
    ($ty:ty, $name:literal, $($field:ident).+, [$($shown:ident),*]) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name)
                    $(.field(stringify!($shown), &self.$shown))*
                    .field("sealed", &format_args!("<{} sealed bytes>", self.$($field).+.len()))
                    .finish_non_exhaustive()
            }
        }
    };
}

sealed_debug!(
    NewOutgoingMessage,
    "NewOutgoingMessage",
    sealed,
    [message_id, recipient, kind, state]
);
sealed_debug!(
    NewIncomingMessage,
    "NewIncomingMessage",
    sealed,
    [sender, message_id, unit, kind]
);
sealed_debug!(
    OutboxEntry,
    "OutboxEntry",
    message.sealed,
    [state, attempts, next_attempt_at]
);
sealed_debug!(
    InboxEntry,
    "InboxEntry",
    message.sealed,
    [state, received_at, return_at]
);

/// The sender's outbox and the recipient's inbox.
#[async_trait]
pub trait Mailbox: Send + Sync {
    /// Posts a message, due at once if `Pending`. The same client and key again: the message
    /// posted then ([`Posted::Existing`]) if the request is the same,
    /// [`StoreError::IdempotencyConflict`] if not.
    async fn post_message(&self, message: &NewOutgoingMessage) -> Result<Posted, StoreError>;

    /// The message in the outbox with this id.
    async fn outgoing_message(&self, message_id: &str) -> Result<Option<OutboxEntry>, StoreError>;

    /// The message `client` posted under `idempotency_key`.
    async fn outgoing_by_key(
        &self,
        client: &str,
        idempotency_key: &str,
    ) -> Result<Option<OutboxEntry>, StoreError>;

    /// Claims up to `limit` pending messages due at `now` until `claimed_until`: another
    /// instance claiming meanwhile does not get them. Counts an attempt on each.
    async fn claim_due_messages(
        &self,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError>;

    /// Extends the claim on a pending message until `claimed_until`: a delivery that takes
    /// longer than its claim (a large attachment on its way) keeps other instances off it.
    /// `false` if the message is no longer pending.
    async fn extend_message_claim(
        &self,
        message_id: &str,
        claimed_until: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// A pending message was delivered: keeps the recipient's receipt. `false` if it was not
    /// pending (delivered meanwhile by another attempt: the first receipt stays).
    async fn message_delivered(
        &self,
        message_id: &str,
        receipt: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// A delivery attempt failed: the message is due again at `next_attempt_at`, or, with
    /// `None`, has failed for good. `error` says why, without personal data.
    async fn message_not_delivered(
        &self,
        message_id: &str,
        error: &str,
        next_attempt_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The recipient accepted a message: keeps the receipt. `false` if it was accepted before.
    async fn message_accepted(
        &self,
        message_id: &str,
        receipt: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The notices held for this authority's own reviewers, oldest first.
    async fn held_messages(
        &self,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<OutboxEntry>, StoreError>;

    /// A reviewer let a held notice go: it is to be delivered, as `envelope` and `sealed` (now
    /// sealed for the recipient), at once. `false` if it was not held (decided meanwhile).
    async fn release_held(
        &self,
        message_id: &str,
        envelope: &str,
        sealed: &[u8],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// A reviewer refused every field of a held notice: it fails with `reason` and never
    /// leaves. `false` if it was not held.
    async fn refuse_held(
        &self,
        message_id: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The outbox, newest first; of one sending unit, and in one state, if given.
    async fn list_outbox(
        &self,
        unit: Option<&str>,
        state: Option<OutboxState>,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<OutboxEntry>, StoreError>;

    /// Takes in a delivered message, once per sender and id. A claim not settled by
    /// `stale_before` (its node stopped) is taken over. A message under a known id whose
    /// envelope differs is [`StoreError::Duplicate`].
    async fn take_in(
        &self,
        message: &NewIncomingMessage,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> Result<TakenIn, StoreError>;

    /// Keeps the delivered receipt of a message taken in; with `announce_at`, its arrival is
    /// to be announced to the case systems' callback from then.
    async fn keep_delivered_receipt(
        &self,
        sender: &str,
        message_id: &str,
        receipt: &str,
        announce_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` arrivals due to be announced at `now`, until `claimed_until`.
    async fn claim_due_announcements(
        &self,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<InboxEntry>, StoreError>;

    /// How an announcement attempt went: delivered, due again, or given up (a dead letter).
    async fn announcement_attempted(
        &self,
        sender: &str,
        message_id: &str,
        attempt: &crate::CallbackAttempt,
    ) -> Result<(), StoreError>;

    /// The message in the inbox from `sender` with this id.
    async fn incoming_message(
        &self,
        sender: &str,
        message_id: &str,
    ) -> Result<Option<InboxEntry>, StoreError>;

    /// The inbox (delivered and accepted messages), newest first; of one unit if given
    /// (messages addressed to the authority as a whole are in every unit's inbox), and in one
    /// state if given (a case system asks for the `Delivered` ones it has not taken yet).
    async fn list_inbox(
        &self,
        unit: Option<&str>,
        state: Option<InboxState>,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<InboxEntry>, StoreError>;

    /// A unit took a delivered message: keeps the accepted receipt, to be returned to the
    /// sender at once. `false` if it was accepted before.
    async fn accept_incoming(
        &self,
        sender: &str,
        message_id: &str,
        accepted_by: &str,
        receipt: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` accepted receipts due to be returned at `now`, until
    /// `claimed_until`.
    async fn claim_due_returns(
        &self,
        now: OffsetDateTime,
        claimed_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<InboxEntry>, StoreError>;

    /// The accepted receipt reached the sender (`None`), or is to be tried again then.
    async fn receipt_returned(
        &self,
        sender: &str,
        message_id: &str,
        again_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` messages that arrived before `before` and are done with here, oldest
    /// first, as (sender, message id): accepted by the case system, the accepted receipt back
    /// at the sender, the arrival not still being announced.
    async fn inbox_past(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Forgets the messages named, each only if it still is as [`Self::inbox_past`] found it
    /// for `before`; returns how many were forgotten.
    async fn forget_inbox(
        &self,
        before: OffsetDateTime,
        messages: &[(String, String)],
    ) -> Result<u64, StoreError>;
}
