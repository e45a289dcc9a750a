//! The delivery pipeline: messages due in the outbox go to their recipients, accepted receipts
//! due in the inbox go back to their senders.
//!
//! Up to `IN_FLIGHT` deliveries and returns run at once, each on its own task. Work is claimed a
//! batch at a time (so other instances of the node skip it until the claim ends) whenever a
//! batch's worth of room is free or nothing is in flight, not in rounds that wait for their
//! slowest member: a recipient that is slow or unreachable holds only its own messages' places,
//! never the others'. Each delivery is settled on its own: delivered with the recipient's
//! verified receipt recorded in this ledger, or due again after a backoff that doubles from
//! `retry_first` up to `retry_max`, or failed once the message's time is up. A recipient that
//! refuses the message outright (4xx) fails it at once with the recipient's reason: sending
//! again would not help.

use super::attachments::outgoing::TransferError;
use super::receipt::{KeptReceipt, ReceiptPayload};
use super::{envelope_digest, message_ref};
use crate::exchange::ask::call;
use crate::exchange::ExchangeError;
use crate::state::{Exchange, NodeState};
use axum::http::Method;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, EventKind};
use utbyte_ledger::Receipt as LedgerReceipt;
use utbyte_message::{Envelope, Parcel};
use utbyte_store::{InboxEntry, OutboxEntry};

/// How many messages (and how many accepted receipts) one claim takes.
const BATCH: u32 = 64;
/// The most deliveries and returns in flight at once: enough to keep both cores busy while each
/// waits on the network and on two ledgers' commits.
const IN_FLIGHT: usize = 4 * BATCH as usize;
/// How long a claim lasts: longer than one delivery can take (a delivery moving files extends
/// it as it goes).
pub(super) const CLAIM: time::Duration = time::Duration::seconds(60);
/// How often expired uploads are looked for.
const SWEEP: Duration = Duration::from_secs(60);
/// How often the outbox is looked at when nothing wakes the pipeline.
const IDLE: Duration = Duration::from_secs(1);

/// Runs the delivery pipeline until `stop`; what is in flight then is finished first.
pub(crate) async fn run(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let mut swept = std::time::Instant::now();
    let mut flying = JoinSet::new();
    loop {
        if swept.elapsed() > SWEEP {
            swept = std::time::Instant::now();
            sweep(&state).await;
        }
        while flying.try_join_next().is_some() {}
        let room = IN_FLIGHT - flying.len();
        // Claim a whole batch at a time, or whatever there is when the pipeline is empty.
        let more = if room >= BATCH as usize || flying.is_empty() {
            claim(&state, &mut flying, room).await
        } else {
            false
        };
        if more {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = state.messages.wake.notified() => {}
            Some(_) = flying.join_next(), if !flying.is_empty() => {}
            _ = tokio::time::sleep(IDLE) => {}
        }
    }
    while flying.join_next().await.is_some() {}
}

/// Removes expired uploads.
async fn sweep(state: &Arc<NodeState>) {
    let sweeper = Arc::clone(state);
    let now = OffsetDateTime::now_utc();
    let removed = tokio::task::spawn_blocking(move || {
        super::attachments::upload::sweep(&sweeper.attachments, now)
    })
    .await;
    match removed {
        Ok(Ok(0)) => {}
        Ok(Ok(removed)) => tracing::info!(removed, "expired uploads removed"),
        Ok(Err(err)) => tracing::warn!(%err, "expired uploads cannot be removed"),
        Err(err) => tracing::warn!(%err, "the upload sweep stopped"),
    }
}

/// Claims what is due, up to `room` (a batch of each kind at most), and starts each on
/// `flying`; whether a full batch was claimed (more may be due).
async fn claim(state: &Arc<NodeState>, flying: &mut JoinSet<()>, room: usize) -> bool {
    let now = OffsetDateTime::now_utc();
    let Ok(ctx) = state.exchange_context() else {
        return false;
    };
    let limit = BATCH.min(u32::try_from(room).unwrap_or(BATCH));
    let due = match state
        .exchange
        .claim_due_messages(now, now + CLAIM, limit)
        .await
    {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(%err, "cannot claim messages due for delivery");
            return false;
        }
    };
    let limit = limit.min(u32::try_from(room - due.len()).unwrap_or(0));
    let returns = if limit == 0 {
        Vec::new()
    } else {
        state
            .exchange
            .claim_due_returns(now, now + CLAIM, limit)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(%err, "cannot claim accepted receipts to return");
                Vec::new()
            })
    };
    let full = due.len() as u32 == BATCH || returns.len() as u32 == BATCH;
    for entry in due {
        let (state, ctx) = (Arc::clone(state), ctx.clone());
        flying.spawn(async move { deliver_one(&state, &ctx, entry).await });
    }
    for entry in returns {
        let (state, ctx) = (Arc::clone(state), ctx.clone());
        flying.spawn(async move { return_one(&state, &ctx, entry).await });
    }
    full
}

/// The delay before attempt `attempts + 1`.
fn backoff(state: &NodeState, attempts: u32) -> Duration {
    let doubled = state
        .messages
        .retry_first
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    doubled.min(state.messages.retry_max)
}

async fn deliver_one(state: &Arc<NodeState>, ctx: &Exchange, entry: OutboxEntry) {
    let id = entry.message.message_id.clone();
    let outcome = try_deliver(state, ctx, &entry).await;
    let now = OffsetDateTime::now_utc();
    let settled = match outcome {
        Ok(kept) => match kept.to_json() {
            Ok(json) => {
                let settled = state.exchange.message_delivered(&id, &json, now).await;
                let with_files = Envelope::from_json(&entry.message.envelope)
                    .map_or(true, |envelope| !envelope.attachments.is_empty());
                if settled.is_ok() && with_files {
                    // The recipient holds the files now.
                    super::attachments::outgoing::forget(
                        &state.attachments,
                        &entry.message.client,
                        &entry.message.idempotency_key,
                    )
                    .await;
                }
                settled.map(|_| ())
            }
            Err(err) => {
                tracing::error!(%err, "a delivered receipt cannot be kept");
                return;
            }
        },
        Err(failure) => {
            let permanent = matches!(failure, Failure::Refused(_));
            let give_up = permanent || now >= entry.message.give_up_at;
            let next = (!give_up).then(|| {
                now + time::Duration::try_from(backoff(state, entry.attempts))
                    .unwrap_or(time::Duration::HOUR)
            });
            let error = failure.to_string();
            tracing::info!(recipient = %entry.message.recipient, error = %error, gave_up = give_up, "message not delivered");
            let error: String = error.chars().take(500).collect();
            state
                .exchange
                .message_not_delivered(&id, &error, next, now)
                .await
        }
    };
    if let Err(err) = settled {
        tracing::warn!(%err, "a delivery attempt could not be settled; it is retried when its claim ends");
    }
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The recipient answered that it does not take the message.
    #[error("refused by the recipient: {0}")]
    Refused(String),
    #[error("{0}")]
    Transient(String),
}

impl From<ExchangeError> for Failure {
    fn from(err: ExchangeError) -> Self {
        Failure::Transient(err.to_string())
    }
}

async fn try_deliver(
    state: &Arc<NodeState>,
    ctx: &Exchange,
    entry: &OutboxEntry,
) -> Result<KeptReceipt, Failure> {
    let member = ctx
        .config
        .member(&entry.message.recipient)
        .ok_or_else(|| Failure::Refused("no longer a member of the federation".into()))?;
    let parcel = Parcel {
        envelope: entry.message.envelope.clone(),
        content: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&entry.message.sealed),
    };
    let body = serde_json::to_vec(&parcel).map_err(|e| Failure::Transient(e.to_string()))?;
    let post = || {
        call(
            state,
            ctx,
            member,
            Method::POST,
            super::MESSAGES_PATH,
            Some(body.clone()),
        )
    };
    let mut response = post().await?;
    if let Some(held) = incomplete(&response) {
        // The recipient has the message and waits for its files: send what it lacks, then
        // the message again.
        let envelope = Envelope::from_json(&entry.message.envelope)
            .map_err(|e| Failure::Transient(format!("a stored envelope is unreadable: {e}")))?;
        super::attachments::outgoing::transfer(state, ctx, member, entry, &envelope, &held)
            .await
            .map_err(|e| match e {
                TransferError::Refused(why) => Failure::Refused(why),
                TransferError::Transient(why) => Failure::Transient(why),
            })?;
        response = post().await?;
    }
    if response.status.is_client_error() && response.status.as_u16() != 409 {
        let detail = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| response.status.to_string());
        return Err(Failure::Refused(detail));
    }
    if !response.status.is_success() {
        return Err(Failure::Transient(format!(
            "the recipient answered {}",
            response.status
        )));
    }
    let signed = String::from_utf8(response.body.to_vec())
        .map_err(|_| Failure::Transient("the receipt is not UTF-8".into()))?;
    let digest = envelope_digest(&entry.message.envelope);
    let payload = ReceiptPayload::verify(
        &signed,
        member,
        &state.authority,
        &entry.message.message_id,
        &digest,
        "delivered",
    )?;
    let recorded = record_receipt(state, entry, &payload, ctx).await?;
    Ok(KeptReceipt {
        signed,
        payload,
        recorded: Some(state.receipt(&recorded)),
    })
}

/// The chunks held per file, if the recipient answered that a message's files are incomplete.
fn incomplete(response: &utbyte_http::FederationResponse) -> Option<Vec<u64>> {
    if response.status.as_u16() != 409 {
        return None;
    }
    let problem: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    let kind = problem["type"].as_str()?;
    if !kind.ends_with(crate::problems::ATTACHMENTS_INCOMPLETE.slug) {
        return None;
    }
    serde_json::from_value(problem["held"].clone()).ok()
}

/// Records a recipient's receipt for a message sent from here in this node's ledger, naming
/// the entry that recorded the sending.
pub(super) async fn record_receipt(
    state: &NodeState,
    entry: &OutboxEntry,
    payload: &ReceiptPayload,
    ctx: &Exchange,
) -> Result<LedgerReceipt, ExchangeError> {
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a stored envelope is unreadable: {e}")))?;
    let event = if payload.event == "accepted" {
        EventKind::MessageAccepted
    } else {
        EventKind::MessageDelivered
    };
    let record = AuditRecord {
        actor: Actor {
            authority: payload.recipient.clone(),
            client: None,
            role: "node".into(),
            unit: envelope.to.unit.clone().unwrap_or_else(|| "node".into()),
            vouch: None,
        },
        change: None,
        event,
        fields: Vec::new(),
        message: Some(message_ref(&envelope)),
        bulk: None,
        notices: None,
        offering: None,
        payload_sha256: Some(payload.envelope_sha256.clone()),
        provider: state.authority.clone(),
        refers_to: Some(entry.message.decision_index),
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        subjects: Vec::new(),
        time: utbyte_audit::record::now(),
        v: FORMAT_VERSION,
        why: None,
    };
    state.record_committed(record).await
}

/// Returns one accepted receipt to the message's sender.
async fn return_one(state: &NodeState, ctx: &Exchange, entry: InboxEntry) {
    let sender = entry.message.sender.clone();
    let id = entry.message.message_id.clone();
    let sent = async {
        let member = ctx
            .config
            .member(&sender)
            .ok_or_else(|| ExchangeError::NotAMember(format!("`{sender}` is not a member")))?;
        let body = entry
            .accepted_receipt
            .clone()
            .ok_or_else(|| ExchangeError::Internal("an accepted message has no receipt".into()))?;
        let path = super::ACCEPTED_PATH.replace("{id}", &id);
        let response = call(
            state,
            ctx,
            member,
            Method::POST,
            &path,
            Some(body.into_bytes()),
        )
        .await?;
        if response.status.is_success() {
            Ok(())
        } else {
            Err(ExchangeError::ProviderUnreachable(format!(
                "`{sender}` answered {} to an accepted receipt",
                response.status
            )))
        }
    }
    .await;
    let again = match &sent {
        Ok(()) => None,
        Err(err) => {
            tracing::info!(%sender, %err, "accepted receipt not returned yet");
            Some(OffsetDateTime::now_utc() + time::Duration::seconds(30))
        }
    };
    if let Err(err) = state.exchange.receipt_returned(&sender, &id, again).await {
        tracing::warn!(%err, "an accepted receipt's return could not be settled");
    }
}
