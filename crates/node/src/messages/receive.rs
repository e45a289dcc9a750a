//! The federation listener's side of messages: parcels delivered here, and accepted receipts
//! returned by the recipients of messages sent from here.

use super::receipt::{KeptReceipt, ReceiptPayload};
use super::{envelope_digest, message_ref};
use crate::exchange::answer::subject_identifier;
use crate::exchange::ExchangeError;
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Router};
use base64::Engine as _;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, EventKind, FieldOutcome, Outcome};
use utbyte_federation::Jws;
use utbyte_http::{Json, Path, Peer, Problem};
use utbyte_message::{Envelope, Parcel};
use utbyte_store::{NewIncomingMessage, TakenIn};

/// Where a recipient's node takes messages.
pub(crate) const MESSAGES_PATH: &str = "/federation/v1/messages";
/// Where a sender's node takes the accepted receipt of a message it sent.
pub(crate) const ACCEPTED_PATH: &str = "/federation/v1/messages/{id}/accepted";

/// How long a message being taken in may stay unreceipted before another delivery of it takes
/// over (the node that took it in stopped).
const STALE_CLAIM: time::Duration = time::Duration::seconds(30);

pub(super) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(MESSAGES_PATH, post(deliver))
        .route(ACCEPTED_PATH, post(accepted))
}

/// A message as it travels: the envelope's exact JSON text and the content sealed for this
/// authority (base64url), per docs/message-encryption.md.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Parcel)]
#[allow(dead_code)] // the document's description of `utbyte_message::Parcel`
pub(crate) struct ParcelSchema {
    /// The envelope's JSON text, exactly as sealed.
    envelope: String,
    /// The sealed content, base64url without padding.
    content: String,
}

/// Takes in a message from another member and answers with the signed delivered receipt.
#[utoipa::path(
    operation_id = "federation_message_deliver",
    post,
    path = MESSAGES_PATH,
    tag = "federation",
    request_body = ParcelSchema,
    responses(
        (status = 200, description = "Held here: the signed delivered receipt (also for a message delivered before)", body = utbyte_federation::Jws),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another delivery of the message is being taken in, or its files have not all arrived (`attachments-incomplete`, with the chunks held per file); send them, then the message again", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The sender's files not yet whole would exceed what this node keeps for it", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: another sender than the certificate, another recipient, an unknown unit, a kind not taken, or content that does not open", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn deliver(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(parcel): Json<Parcel>,
) -> Result<Json<Jws>, Problem> {
    let ctx = state.exchange_context()?;
    if ctx
        .config
        .member_by_certificate(&peer.fingerprint.to_string())
        .is_none()
    {
        return Err(problems::NOT_A_MEMBER.with("the certificate is not a listed member's"));
    }
    let envelope = Envelope::from_json(&parcel.envelope)
        .map_err(|e| problems::MESSAGE_REFUSED.with(format!("the envelope: {e}")))?;
    let refuse = |why: String| Err(problems::MESSAGE_REFUSED.with(why));
    if envelope.from.authority != peer.authority.as_str() {
        return refuse(format!(
            "the envelope names `{}` as sender, but the certificate is `{}`'s",
            envelope.from.authority, peer.authority
        ));
    }
    if envelope.to.authority != state.authority {
        return refuse(format!("this is `{}`'s node", state.authority));
    }
    if let Some(unit) = &envelope.to.unit {
        let known = ctx
            .rulebook
            .vocabulary
            .authorities
            .get(&state.authority)
            .is_some_and(|a| a.units.iter().any(|u| &u.id == unit));
        if !known {
            return refuse(format!("`{}` has no unit `{unit}`", state.authority));
        }
    }
    let kind = envelope.kind.name().to_owned();
    if let Some(accepts) = &state.messages.accepts {
        if !accepts.contains(&kind) {
            return refuse(format!(
                "`{}` does not take messages of kind `{kind}`",
                state.authority
            ));
        }
    }
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&parcel.content)
        .map_err(|_| problems::MESSAGE_REFUSED.with("the content is not base64url"))?;
    let content = utbyte_message::seal::open(&state.messages.keys, &parcel.envelope, &sealed)
        .map_err(|e| problems::MESSAGE_REFUSED.with(e.to_string()))?;
    super::attachments::incoming::check_whole(&state, &envelope, &content, &parcel).await?;
    let now = OffsetDateTime::now_utc();
    let incoming = NewIncomingMessage {
        sender: envelope.from.authority.clone(),
        message_id: envelope.id.clone(),
        unit: envelope.to.unit.clone(),
        kind,
        envelope: parcel.envelope.clone(),
        sealed,
    };
    let taken = state
        .exchange
        .take_in(&incoming, now, now - STALE_CLAIM)
        .await
        .map_err(ExchangeError::from)?;
    match taken {
        TakenIn::Received(held) => {
            let signed = held.delivered_receipt.ok_or_else(|| {
                ExchangeError::Internal("a received message has no receipt".into())
            })?;
            Ok(Json(read_jws(&signed)?))
        }
        TakenIn::Busy => Err(problems::IN_FLIGHT
            .with("this message is being taken in by another delivery; send it again shortly")),
        TakenIn::Claimed | TakenIn::TakenOver { .. } => {
            let reference = utbyte_domain::legal_time::swedish_reference_date(now)
                .map_err(|e| ExchangeError::Internal(e.to_string()))?;
            let subjects = content
                .subjects
                .iter()
                .filter_map(|id| utbyte_domain::SubjectId::parse_at(id, reference).ok())
                .map(|s| subject_identifier(&s))
                .collect::<Result<Vec<_>, _>>()?;
            let digest = envelope_digest(&parcel.envelope);
            let record = AuditRecord {
                actor: Actor {
                    authority: envelope.from.authority.clone(),
                    client: None,
                    role: content.role.clone(),
                    unit: envelope.from.unit.clone().unwrap_or_default(),
                    vouch: None,
                },
                change: None,
                event: EventKind::MessageDelivered,
                fields: content
                    .values
                    .keys()
                    .map(|field| FieldOutcome {
                        citations: Vec::new(),
                        field: field.clone(),
                        outcome: Outcome::Disclose,
                    })
                    .collect(),
                message: Some(message_ref(&envelope)),
                bulk: None,
                notices: None,
                offering: None,
                payload_sha256: Some(digest.clone()),
                provider: state.authority.clone(),
                refers_to: None,
                rulebook_sha256: ctx.rulebook.hash().to_owned(),
                subjects: Vec::new(),
                time: utbyte_audit::record::now(),
                v: FORMAT_VERSION,
                why: None,
            };
            // Taken over from a node that stopped: it may have recorded the delivery already.
            let earlier = match taken {
                TakenIn::TakenOver { since } => {
                    let audit = Arc::clone(&state.audit);
                    let (sender, id, digest) = (
                        envelope.from.authority.clone(),
                        envelope.id.clone(),
                        digest.clone(),
                    );
                    tokio::task::spawn_blocking(move || {
                        recorded_since(&audit, &sender, &id, &digest, since)
                    })
                    .await
                    .map_err(|e| ExchangeError::Internal(e.to_string()))?
                }
                _ => None,
            };
            let recorded = match earlier {
                Some(recorded) => recorded,
                None => state.record(record, subjects).await?,
            };
            let payload = ReceiptPayload {
                event: "delivered".into(),
                message_id: envelope.id.clone(),
                sender: envelope.from.authority.clone(),
                recipient: state.authority.clone(),
                envelope_sha256: digest,
                at: now,
                receipt: state.receipt(&recorded),
            };
            let signed = payload.sign(&state)?;
            state
                .exchange
                .keep_delivered_receipt(
                    &envelope.from.authority,
                    &envelope.id,
                    &signed,
                    state.messages.callback.is_some().then_some(now),
                )
                .await
                .map_err(ExchangeError::from)?;
            Ok(Json(read_jws(&signed)?))
        }
    }
}

/// The entry recording the delivery of message `id` from `sender` (its envelope's digest), if
/// this ledger holds one appended since `since`: read from the end back to then. The receipt
/// names the smallest tree holding it.
fn recorded_since(
    audit: &utbyte_audit::AuditLog,
    sender: &str,
    id: &str,
    digest: &str,
    since: OffsetDateTime,
) -> Option<utbyte_ledger::Receipt> {
    let ledger = audit.ledger();
    // A record's time is taken when it is made, in whole seconds, and it may wait behind others
    // for the group commit: entries appended after the one sought can carry earlier times. Read
    // on past `since` by a claim's lifetime, which no append outlasts.
    let from = since - STALE_CLAIM;
    for index in (0..ledger.size()).rev() {
        let Some(record) = ledger
            .entry(index)
            .ok()
            .and_then(|leaf| AuditRecord::from_leaf(&leaf).ok())
        else {
            continue;
        };
        let at =
            OffsetDateTime::parse(&record.time, &time::format_description::well_known::Rfc3339)
                .ok();
        if at.is_some_and(|at| at < from) {
            return None;
        }
        let same = record.event == EventKind::MessageDelivered
            && record.payload_sha256.as_deref() == Some(digest)
            && record
                .message
                .as_ref()
                .is_some_and(|m| m.id == id && m.from == sender);
        if same {
            return Some(utbyte_ledger::Receipt {
                index,
                tree_size: index + 1,
                root: ledger.root_at(index + 1).ok()?,
            });
        }
    }
    None
}

fn read_jws(text: &str) -> Result<Jws, ExchangeError> {
    serde_json::from_str(text)
        .map_err(|e| ExchangeError::Internal(format!("a kept receipt is unreadable: {e}")))
}

/// Takes the accepted receipt of a message this node sent.
#[utoipa::path(
    operation_id = "federation_message_accepted",
    post,
    path = ACCEPTED_PATH,
    tag = "federation",
    request_body = utbyte_federation::Jws,
    params(("id" = String, Path, description = "The message id")),
    responses(
        (status = 200, description = "Recorded (or recorded before)", body = Object),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No message with this id was sent to the peer", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The receipt does not verify or names another message", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn accepted(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    Json(signed): Json<Jws>,
) -> Result<Json<serde_json::Value>, Problem> {
    let ctx = state.exchange_context()?;
    let Some(member) = ctx
        .config
        .member_by_certificate(&peer.fingerprint.to_string())
    else {
        return Err(problems::NOT_A_MEMBER.with("the certificate is not a listed member's"));
    };
    let no_such =
        || problems::NO_SUCH_MESSAGE.with(format!("no message `{id}` to `{}`", peer.authority));
    let entry = state
        .exchange
        .outgoing_message(&id)
        .await
        .map_err(|_| no_such())?
        .filter(|e| e.message.recipient == member.authority)
        .ok_or_else(no_such)?;
    if entry.accepted_receipt.is_some() {
        return Ok(Json(serde_json::json!({"recorded": true})));
    }
    let signed =
        serde_json::to_string(&signed).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let digest = envelope_digest(&entry.message.envelope);
    let payload =
        ReceiptPayload::verify(&signed, member, &state.authority, &id, &digest, "accepted")?;
    let recorded = super::deliver::record_receipt(&state, &entry, &payload, &ctx).await?;
    let kept = KeptReceipt {
        signed,
        payload,
        recorded: Some(state.receipt(&recorded)),
    };
    state
        .exchange
        .message_accepted(&id, &kept.to_json()?, OffsetDateTime::now_utc())
        .await
        .map_err(ExchangeError::from)?;
    Ok(Json(serde_json::json!({"recorded": true})))
}
