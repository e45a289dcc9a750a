//! Messages between authorities: what a case system sends (`SendMessage`), what its outbox
//! and inbox show (`SentMessage`, `ReceivedMessage`), and the signed receipts.

use crate::verdict::{FieldVerdict, Receipt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A functional address: an authority, or one of its units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageAddress {
    pub authority: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// One authority of the address book: the federation's members that take messages, with the
/// units the shared rulebook names for each (a message may go to the authority or one unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBookEntry {
    pub authority: String,
    pub name: String,
    #[serde(default)]
    pub units: Vec<AddressBookUnit>,
}

/// A unit's functional address in the address book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBookUnit {
    pub id: String,
    pub name: String,
}

/// A structured notice of a kind the rulebook defines, or a letter in free text.
// Other members of the object are ignored rather than refused: the OpenAPI document cannot say
// `additionalProperties: false` for the variants of an internally tagged enum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageKind {
    /// `notice` names a notice kind (an offering of the sender marked `notice`).
    Notice {
        notice: String,
    },
    FreeText,
}

/// A message a case system asks its node to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The sending officer, unit and role, as for a request.
    pub officer: String,
    pub unit: String,
    pub role: String,
    pub to: MessageAddress,
    pub kind: MessageKind,
    /// What the message is about, in one line.
    pub title: String,
    /// Personnummer, samordningsnummer or organisationsnummer of the persons concerned.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// A notice's fields with their values; the sender's rulebook decides which may go.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    /// The letter, or a notice's covering note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Required for a notice: the purpose and the provision that obliges or permits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// The sender's case reference (diarienummer).
    pub case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_case_ref: Option<String>,
    /// The id of the message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Files to attach: the ids of this client's finished uploads (`/v1/uploads`), in order.
    /// Each moves into the message and is no longer an upload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// What a message says of one attached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInfo {
    pub name: String,
    pub media_type: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Where a sent message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// The sender's rulebook refused every field of the notice: nothing left.
    Refused,
    /// A field awaits the sender's own reviewer; nothing has left yet.
    Held,
    /// Being delivered (retried with backoff while the recipient is unreachable).
    Pending,
    /// The recipient's node holds it.
    Delivered,
    /// A unit of the recipient took it.
    Accepted,
    /// Not delivered before the sender gave up.
    Failed,
}

/// A receipt the recipient's node signed: which of its ledger entries records the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageReceipt {
    /// `delivered` or `accepted`.
    pub event: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The recipient's ledger entry.
    pub receipt: Receipt,
    /// The sender's own ledger entry recording the receipt, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Receipt>,
}

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SentMessage {
    pub id: String,
    pub state: MessageState,
    pub from_unit: String,
    pub to: MessageAddress,
    pub kind: MessageKind,
    /// For a notice, in the answer to sending it: each field's outcome and the provisions
    /// that decided it (the ledger entry at `decision_index` keeps them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldVerdict>,
    /// The index of the sender's ledger entry recording the decision to send, hold or refuse.
    pub decision_index: u64,
    pub attempts: u32,
    /// Why the last delivery attempt failed (no personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<MessageReceipt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<MessageReceipt>,
}

/// The readable part of a received message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageContent {
    pub title: String,
    #[serde(default)]
    pub subjects: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    pub role: String,
    /// The attached files; each is fetched from the message's `attachments/{n}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentInfo>,
}

/// A message in the inbox: the envelope, and when fetched one by one, the content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedMessage {
    pub id: String,
    pub from: MessageAddress,
    pub to: MessageAddress,
    pub kind: MessageKind,
    pub sender_case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_case_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// `delivered`, or `accepted` once a unit took it.
    pub state: MessageState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
}

/// A notice held for this authority's own reviewer: each field with the rulebook's outcome
/// and, for those under review, the provisions a reviewer may let it go under and what must be
/// weighed; and the notice as it would leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldMessage {
    pub id: String,
    pub from_unit: String,
    pub to: MessageAddress,
    pub kind: MessageKind,
    pub case_ref: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub fields: Vec<crate::reviews::ReviewField>,
    pub content: MessageContent,
}

/// Who takes a received message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptMessage {
    pub officer: String,
    pub unit: String,
    pub role: String,
}

/// Which held notices to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HeldListQuery {
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where the page starts: the cursor in the previous page's `Link` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(min_length = 32, max_length = 32, pattern = r"^[0-9a-f]{32}$")]
    pub after: Option<String>,
}

/// Which messages to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessageListQuery {
    /// Only this unit's messages (for the inbox: those addressed to it or to the authority): a
    /// unit id, printable text of at most 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    pub unit: Option<String>,
    /// Only messages in this state: for the inbox `delivered` (not taken yet) or `accepted`;
    /// for the outbox any state but `refused` (a notice refused in full is not kept). A state
    /// the list never holds matches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MessageState>,
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Where the page starts: the cursor in the previous page's `Link` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(min_length = 32, max_length = 32, pattern = r"^[0-9a-f]{32}$")]
    pub after: Option<String>,
}
