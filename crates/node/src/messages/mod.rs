//! Messages between authorities (pattern A): structured notices and letters, sent from a unit's
//! functional address to an authority's or unit's, stored and forwarded with nothing lost.
//!
//! - `send` — the local API's `POST /v1/messages`: checked, decided by this authority's
//!   rulebook (a notice field by field), recorded in the ledger, sealed for the recipient
//!   (`utbyte_message::seal`) and posted in the outbox, in that order.
//! - `deliver` — the rounds that empty the outbox: each due message is claimed, delivered over
//!   mutual TLS, retried with backoff while the recipient is unreachable and failed once the
//!   configured time has passed; the recipient's signed *delivered* receipt is verified and
//!   recorded in this ledger too. The same rounds return *accepted* receipts to senders.
//! - `receive` — the federation listener's side: a parcel from the member its certificate
//!   names, addressed here, of a kind this node accepts, sealed for one of its keys, opened and
//!   checked, taken into the inbox once however often it arrives, recorded and receipted.
//! - `mailbox` — the local API's outbox and inbox: listings per unit with paging, a message
//!   opened for its unit, and acceptance (recorded, receipted to the sender).
//! - `held` — notices held for this authority's own reviewer: listed with the rulebook's
//!   decision support, decided field by field with reasons, then sent or refused.
//! - `receipt` — the signed receipts and their check.
//!
//! Delivery is at least once and reception idempotent (the inbox keeps one copy per sender and
//! id), so a message is held exactly once whatever fails in between. Every event is in both
//! ledgers: the sender records sending and each receipt it gets back, the recipient each
//! receipt it gives.

pub(crate) mod attachments;
mod deliver;
pub(crate) mod held;
pub(crate) mod mailbox;
mod receipt;
pub(crate) mod receive;
mod send;

use crate::exchange::ExchangeError;
use crate::state::NodeState;
use axum::Router;
use std::sync::Arc;
use utbyte_api::messages::{MessageAddress, MessageKind, MessageState, SentMessage};
use utbyte_api::FieldVerdict;
use utbyte_audit::MessageRef;
use utbyte_message::{Envelope, Kind, MessageKey};
use utbyte_store::{OutboxEntry, OutboxState};

pub(crate) use deliver::run;
pub(crate) use receive::{ACCEPTED_PATH, MESSAGES_PATH};

/// How this node sends and takes messages.
pub(crate) struct Messages {
    /// The private message keys, newest first (the first is published for sealing).
    pub keys: Vec<MessageKey>,
    /// How long a message is retried before it fails.
    pub give_up_after: time::Duration,
    /// The first retry's delay; each further one doubles it, up to `retry_max`.
    pub retry_first: std::time::Duration,
    pub retry_max: std::time::Duration,
    /// The kinds this node takes (notice kinds, `free_text`); `None`: every kind.
    pub accepts: Option<Vec<String>>,
    /// Where arrivals are announced to the case systems, if anywhere.
    pub callback: Option<String>,
    /// Wakes the delivery rounds when a message is posted or accepted.
    pub wake: tokio::sync::Notify,
}

impl Messages {
    pub(crate) fn new(keys: Vec<MessageKey>, config: &crate::config::MessagesConfig) -> Self {
        Self {
            keys,
            give_up_after: time::Duration::hours(i64::from(config.give_up_after_hours.max(1))),
            retry_first: std::time::Duration::from_millis(config.retry_first_millis.max(1)),
            retry_max: std::time::Duration::from_secs(config.retry_max_seconds.max(1)),
            accepts: config.accept.clone(),
            callback: config.callback.clone(),
            wake: tokio::sync::Notify::new(),
        }
    }
}

pub(crate) fn local_routes() -> Router<Arc<NodeState>> {
    mailbox::routes()
        .merge(held::routes())
        .merge(attachments::upload::routes())
}

pub(crate) fn federation_routes() -> Router<Arc<NodeState>> {
    receive::routes().merge(attachments::incoming::routes())
}

/// The message as the audit record names it.
fn message_ref(envelope: &Envelope) -> MessageRef {
    MessageRef {
        from: envelope.from.authority.clone(),
        id: envelope.id.clone(),
        kind: envelope.kind.name().to_owned(),
        to: envelope.to.authority.clone(),
        to_unit: envelope.to.unit.clone(),
    }
}

fn kind_view(kind: &Kind) -> MessageKind {
    match kind {
        Kind::Notice { notice } => MessageKind::Notice {
            notice: notice.clone(),
        },
        Kind::FreeText => MessageKind::FreeText,
    }
}

fn address_view(address: &utbyte_message::Address) -> MessageAddress {
    MessageAddress {
        authority: address.authority.clone(),
        unit: address.unit.clone(),
    }
}

/// Opened content as the local API shows it (without the files' keys).
fn content_view(content: utbyte_message::Content) -> utbyte_api::messages::MessageContent {
    utbyte_api::messages::MessageContent {
        title: content.title,
        subjects: content.subjects,
        values: content.values,
        text: content.text,
        purpose: content.purpose,
        legal_basis: content.legal_basis,
        officer: content.officer,
        role: content.role,
        attachments: content
            .attachments
            .into_iter()
            .map(|a| utbyte_api::messages::AttachmentInfo {
                name: a.name,
                media_type: a.media_type,
                size: a.size,
                sha256: a.sha256,
            })
            .collect(),
    }
}

/// A message of the outbox as the local API shows it.
fn sent_view(entry: &OutboxEntry, fields: Vec<FieldVerdict>) -> Result<SentMessage, ExchangeError> {
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a stored envelope is unreadable: {e}")))?;
    let receipt = |text: &Option<String>| {
        text.as_deref()
            .map(|t| receipt::KeptReceipt::read(t).map(|k| k.view()))
            .transpose()
    };
    Ok(SentMessage {
        id: entry.message.message_id.clone(),
        state: match entry.state {
            OutboxState::Held => MessageState::Held,
            OutboxState::Pending => MessageState::Pending,
            OutboxState::Delivered => MessageState::Delivered,
            OutboxState::Accepted => MessageState::Accepted,
            OutboxState::Failed => MessageState::Failed,
        },
        from_unit: entry.message.sender_unit.clone(),
        to: address_view(&envelope.to),
        kind: kind_view(&envelope.kind),
        fields,
        decision_index: entry.message.decision_index,
        attempts: entry.attempts,
        last_error: entry.last_error.clone(),
        created_at: entry.message.created_at,
        delivered: receipt(&entry.delivered_receipt)?,
        accepted: receipt(&entry.accepted_receipt)?,
    })
}

/// SHA-256 (hex) of an envelope's exact text: what both ledgers record as the message's payload.
fn envelope_digest(envelope_json: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(envelope_json.as_bytes()))
}
