//! The receipts a recipient's node signs for a message — *delivered* (its node holds it) and
//! *accepted* (a unit took it) — and their check at the sender.
//!
//! A receipt is a JWS (EdDSA, the node's answer key, content type
//! `utbyte-message-receipt+json`) over which message (id, sender, recipient, SHA-256 of its
//! envelope), which event, when, and the recipient's ledger entry recording it. The sender
//! verifies it against the key the federation configuration lists for the recipient, so its
//! ledger can name the entry in the recipient's ledger that pairs with its own.

use crate::exchange::ExchangeError;
use crate::state::NodeState;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utbyte_api::messages::MessageReceipt;
use utbyte_api::Receipt;
use utbyte_federation::{Jws, Member};

/// The JWS content type of a message receipt.
pub(crate) const RECEIPT_TYPE: &str = "utbyte-message-receipt+json";

/// What a recipient's node signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReceiptPayload {
    /// `delivered` or `accepted`.
    pub event: String,
    pub message_id: String,
    pub sender: String,
    pub recipient: String,
    /// SHA-256 (hex) of the envelope's exact text.
    pub envelope_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The recipient's ledger entry recording the event.
    pub receipt: Receipt,
}

impl ReceiptPayload {
    /// Signs the receipt with this node's answer key; the JWS as JSON text.
    pub(crate) fn sign(&self, state: &NodeState) -> Result<String, ExchangeError> {
        let payload = serde_json::to_vec(self)
            .map_err(|e| ExchangeError::Internal(format!("cannot serialise a receipt: {e}")))?;
        serde_json::to_string(&Jws::sign(&payload, RECEIPT_TYPE, &state.answer_key))
            .map_err(|e| ExchangeError::Internal(format!("cannot serialise a receipt: {e}")))
    }

    /// Reads a receipt signed by `recipient`, for the message with `message_id` and
    /// `envelope_sha256` from `sender`, for `event`.
    pub(crate) fn verify(
        signed: &str,
        recipient: &Member,
        sender: &str,
        message_id: &str,
        envelope_sha256: &str,
        event: &str,
    ) -> Result<Self, ExchangeError> {
        let bad = |why: &str| {
            ExchangeError::InvalidRequest(format!(
                "the {event} receipt from `{}` is not valid: {why}",
                recipient.authority
            ))
        };
        let jws: Jws = serde_json::from_str(signed).map_err(|_| bad("not a JWS"))?;
        let key = recipient
            .answer_key()
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        let payload = jws
            .verify(RECEIPT_TYPE, &key)
            .map_err(|e| bad(&e.to_string()))?;
        let receipt: Self =
            serde_json::from_slice(&payload).map_err(|e| bad(&format!("unreadable: {e}")))?;
        if receipt.event != event
            || receipt.message_id != message_id
            || receipt.sender != sender
            || receipt.recipient != recipient.authority
            || receipt.envelope_sha256 != envelope_sha256
        {
            return Err(bad("it names another message or event"));
        }
        Ok(receipt)
    }

    /// The receipt as the outbox shows it.
    pub(crate) fn view(&self, recorded: Option<Receipt>) -> MessageReceipt {
        MessageReceipt {
            event: self.event.clone(),
            at: self.at,
            receipt: self.receipt.clone(),
            recorded,
        }
    }
}

/// A receipt kept in a store, as the sender keeps it: the signed JWS, what it says (verified
/// when it was kept) and the sender's own ledger entry recording it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeptReceipt {
    pub signed: String,
    pub payload: ReceiptPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Receipt>,
}

impl KeptReceipt {
    pub(crate) fn to_json(&self) -> Result<String, ExchangeError> {
        serde_json::to_string(self)
            .map_err(|e| ExchangeError::Internal(format!("cannot serialise a receipt: {e}")))
    }

    pub(crate) fn read(text: &str) -> Result<Self, ExchangeError> {
        serde_json::from_str(text)
            .map_err(|e| ExchangeError::Internal(format!("a kept receipt is unreadable: {e}")))
    }

    pub(crate) fn view(&self) -> MessageReceipt {
        self.payload.view(self.recorded.clone())
    }
}
