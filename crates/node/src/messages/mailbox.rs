//! The local API's outbox and inbox: sending, listing per unit with paging, opening a received
//! message for its unit, and accepting it.

use super::receipt::ReceiptPayload;
use super::{address_view, envelope_digest, kind_view, message_ref, sent_view};
use crate::access::Who;
use crate::exchange::ExchangeError;
use crate::paging::{self, Listed};
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::messages::{
    AcceptMessage, AddressBookEntry, AddressBookUnit, MessageContent, MessageListQuery,
    MessageState, ReceivedMessage, SendMessage, SentMessage,
};
use utbyte_api::paths;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, EventKind};
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_message::Envelope;
use utbyte_store::{InboxEntry, InboxState, OutboxState, Page};

pub(super) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::MESSAGES, post(send))
        .route(paths::ADDRESSES, get(addresses))
        .route(paths::OUTBOX, get(outbox))
        .route(paths::OUTBOX_MESSAGE, get(outgoing))
        .route(paths::INBOX, get(inbox))
        .route(paths::INBOX_MESSAGE, get(incoming))
        .route(paths::INBOX_ACCEPT, post(accept))
        .route(paths::INBOX_ATTACHMENT, get(attachment))
}

/// Sends a notice or a letter to another authority.
#[utoipa::path(
    operation_id = "messages_send",
    post,
    path = paths::MESSAGES,
    tag = "messages",
    request_body = SendMessage,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 128, pattern = "^[!-~]+$", description = "Chosen by the case system; a retry with the same key and body is the same message")),
    responses(
        (status = 201, description = "Posted for delivery, or held for the sender's reviewer", body = SentMessage),
        (status = 200, description = "A notice the rulebook refused in full (recorded, sent nowhere), or a retry under the same key", body = SentMessage),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid message, subject or recipient, or the key reused for another message", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn send(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    Json(message): Json<SendMessage>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&message.officer, &message.unit, &message.role)?;
    let key = crate::consumer::idempotency_key(&headers)?;
    let (sent, posted) =
        super::send::send(&state, &acting, &key, &message, OffsetDateTime::now_utc()).await?;
    let status = if posted {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sent)).into_response())
}

/// The address book: every other member of the federation that takes messages (it publishes a
/// message key), by name, with the units the shared rulebook names for it.
#[utoipa::path(
    operation_id = "messages_addresses",
    get,
    path = paths::ADDRESSES,
    tag = "messages",
    responses(
        (status = 200, description = "The authorities messages may be sent to", body = [AddressBookEntry]),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn addresses(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<Vec<AddressBookEntry>>, Problem> {
    who.require(Duty::Request)?;
    let exchange = state.exchange_context()?;
    let authorities = &exchange.rulebook.vocabulary.authorities;
    let mut book: Vec<AddressBookEntry> = exchange
        .config
        .members
        .iter()
        .filter(|m| m.authority != state.authority && !m.message_keys.is_empty())
        .map(|m| AddressBookEntry {
            authority: m.authority.clone(),
            name: m.name.clone(),
            units: authorities
                .get(&m.authority)
                .map(|a| {
                    a.units
                        .iter()
                        .map(|u| AddressBookUnit {
                            id: u.id.clone(),
                            name: u.name.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    book.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(book))
}

/// The unit a listing asks for: a unit id (printable, at most 256 bytes), or a mistake to point
/// out rather than a filter that matches nothing.
fn unit_filter(query: &MessageListQuery) -> Result<Option<&str>, Problem> {
    match query.unit.as_deref() {
        Some(unit) if unit.is_empty() || unit.len() > 256 || unit.chars().any(char::is_control) => {
            Err(utbyte_http::INVALID_QUERY
                .with("`unit` must be a unit id: 1 to 256 bytes of printable text")
                .with_extension("field", "unit"))
        }
        unit => Ok(unit),
    }
}

/// The `state` a listing asks for, in the store's terms: `Ok(None)` for none asked,
/// `Err(())` for a state the list never holds (the listing is then empty).
fn state_filter<T>(
    query: &MessageListQuery,
    of: impl Fn(MessageState) -> Option<T>,
) -> Result<Option<T>, ()> {
    match query.state {
        None => Ok(None),
        Some(wanted) => of(wanted).map(Some).ok_or(()),
    }
}

fn outbox_state(state: MessageState) -> Option<OutboxState> {
    match state {
        MessageState::Held => Some(OutboxState::Held),
        MessageState::Pending => Some(OutboxState::Pending),
        MessageState::Delivered => Some(OutboxState::Delivered),
        MessageState::Accepted => Some(OutboxState::Accepted),
        MessageState::Failed => Some(OutboxState::Failed),
        MessageState::Refused => None,
    }
}

fn inbox_state(state: MessageState) -> Option<InboxState> {
    match state {
        MessageState::Delivered => Some(InboxState::Delivered),
        MessageState::Accepted => Some(InboxState::Accepted),
        _ => None,
    }
}

/// Refuses a caller that may not act for `unit`.
fn may_see(who: &Who, unit: Option<&str>) -> Result<(), Problem> {
    let units = &who.caller.units;
    match unit {
        _ if units.is_empty() => Ok(()),
        Some(unit) if units.iter().any(|u| u == unit) => Ok(()),
        Some(unit) => Err(who.forbid(
            "unit-not-allowed",
            &format!(
                "client `{}` may not act for unit `{unit}`",
                who.caller.client
            ),
        )),
        None => Err(who.forbid(
            "unit-not-allowed",
            &format!(
                "client `{}` acts for some units only: name one with `unit`",
                who.caller.client
            ),
        )),
    }
}

/// The messages this node sent, newest first.
#[utoipa::path(
    operation_id = "messages_outbox",
    get,
    path = paths::OUTBOX,
    tag = "messages",
    params(MessageListQuery),
    responses(
        (status = 200, description = "Sent messages, newest first", body = Vec<SentMessage>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn outbox(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<MessageListQuery>,
) -> Result<Listed<SentMessage>, Problem> {
    who.require(Duty::Request)?;
    let unit = unit_filter(&query)?;
    may_see(&who, unit)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let Ok(wanted) = state_filter(&query, outbox_state) else {
        return Ok(Listed::new(&uri, Page::empty()));
    };
    let page = state
        .exchange
        .list_outbox(unit, wanted, limit, after)
        .await
        .map_err(ExchangeError::from)?;
    let page = page.try_map(|entry| sent_view(&entry, Vec::new()))?;
    Ok(Listed::new(&uri, page))
}

/// One message this node sent, with its receipts.
#[utoipa::path(
    operation_id = "messages_outgoing",
    get,
    path = paths::OUTBOX_MESSAGE,
    tag = "messages",
    params(("id" = String, Path, min_length = 1, max_length = 256, description = "The message id")),
    responses(
        (status = 200, description = "The message", body = SentMessage),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message (or one of a unit the client may not act for)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn outgoing(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<SentMessage>, Problem> {
    who.require(Duty::Request)?;
    let no_such = || problems::NO_SUCH_MESSAGE.with(format!("no message `{id}` in the outbox"));
    let entry = state
        .exchange
        .outgoing_message(&id)
        .await
        .map_err(|_| no_such())?
        .ok_or_else(no_such)?;
    may_see(&who, Some(&entry.message.sender_unit)).map_err(|_| no_such())?;
    Ok(Json(sent_view(&entry, Vec::new())?))
}

/// The messages this node received, newest first, without their content.
#[utoipa::path(
    operation_id = "messages_inbox",
    get,
    path = paths::INBOX,
    tag = "messages",
    params(MessageListQuery),
    responses(
        (status = 200, description = "Received messages, newest first", body = Vec<ReceivedMessage>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn inbox(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<MessageListQuery>,
) -> Result<Listed<ReceivedMessage>, Problem> {
    who.require(Duty::Request)?;
    let unit = unit_filter(&query)?;
    may_see(&who, unit)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let Ok(wanted) = state_filter(&query, inbox_state) else {
        return Ok(Listed::new(&uri, Page::empty()));
    };
    let page = state
        .exchange
        .list_inbox(unit, wanted, limit, after)
        .await
        .map_err(ExchangeError::from)?;
    let page = page.try_map(|entry| received_view(&entry, None))?;
    Ok(Listed::new(&uri, page))
}

/// A received message of a unit the caller may act for (or addressed to the authority).
async fn held(state: &NodeState, who: &Who, sender: &str, id: &str) -> Result<InboxEntry, Problem> {
    let no_such = || {
        problems::NO_SUCH_MESSAGE.with(format!("no message `{id}` from `{sender}` in the inbox"))
    };
    let entry = state
        .exchange
        .incoming_message(sender, id)
        .await
        .map_err(|_| no_such())?
        .filter(|e| e.state != InboxState::Receiving)
        .ok_or_else(no_such)?;
    if let Some(unit) = &entry.message.unit {
        may_see(who, Some(unit)).map_err(|_| no_such())?;
    }
    Ok(entry)
}

/// The content of a message this node received.
fn opened(state: &NodeState, entry: &InboxEntry) -> Result<utbyte_message::Content, ExchangeError> {
    utbyte_message::seal::open(
        &state.messages.keys,
        &entry.message.envelope,
        &entry.message.sealed,
    )
    .map_err(|e| ExchangeError::Internal(format!("a held message does not open: {e}")))
}

/// One received message, opened.
#[utoipa::path(
    operation_id = "messages_incoming",
    get,
    path = paths::INBOX_MESSAGE,
    tag = "messages",
    params(
        ("sender" = String, Path, min_length = 1, max_length = 256, description = "The sending authority"),
        ("id" = String, Path, min_length = 1, max_length = 256, description = "The message id"),
    ),
    responses(
        (status = 200, description = "The message with its content", body = ReceivedMessage),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message (or one of a unit the client may not act for)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn incoming(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path((sender, id)): Path<(String, String)>,
) -> Result<Json<ReceivedMessage>, Problem> {
    who.require(Duty::Request)?;
    let entry = held(&state, &who, &sender, &id).await?;
    let content = opened(&state, &entry)?;
    let content = super::content_view(content);
    Ok(Json(received_view(&entry, Some(content))?))
}

/// One file of a received message, streamed as it was sent (`Repr-Digest` holds its SHA-256).
#[utoipa::path(
    operation_id = "messages_attachment",
    get,
    path = paths::INBOX_ATTACHMENT,
    tag = "messages",
    params(
        ("sender" = String, Path, min_length = 1, max_length = 256, description = "The sending authority"),
        ("id" = String, Path, min_length = 1, max_length = 256, description = "The message id"),
        ("n" = usize, Path, minimum = 0, maximum = 19, description = "The file, from 0, in the order the message lists them"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", headers(
            ("Repr-Digest" = String, description = "`sha-256=:…:` of the file (RFC 9530)"),
            ("Content-Disposition" = String, description = "The file's name")
        )),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message or file (or one of a unit the client may not act for)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn attachment(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path((sender, id, n)): Path<(String, String, usize)>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let entry = held(&state, &who, &sender, &id).await?;
    let content = opened(&state, &entry)?;
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a stored envelope is unreadable: {e}")))?;
    super::attachments::incoming::fetch(&state.attachments, &sender, &envelope, &content, n).await
}

/// A unit takes a received message; the signed receipt goes back to the sender.
#[utoipa::path(
    operation_id = "messages_accept",
    post,
    path = paths::INBOX_ACCEPT,
    tag = "messages",
    request_body = AcceptMessage,
    params(
        ("sender" = String, Path, min_length = 1, max_length = 256, description = "The sending authority"),
        ("id" = String, Path, min_length = 1, max_length = 256, description = "The message id"),
    ),
    responses(
        (status = 200, description = "Accepted (or accepted before)", body = ReceivedMessage),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The message is addressed to another unit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn accept(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path((sender, id)): Path<(String, String)>,
    Json(by): Json<AcceptMessage>,
) -> Result<Json<ReceivedMessage>, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&by.officer, &by.unit, &by.role)?;
    let entry = held(&state, &who, &sender, &id).await?;
    if entry
        .message
        .unit
        .as_ref()
        .is_some_and(|u| u != &acting.unit)
    {
        return Err(problems::INVALID_REQUEST
            .with("the message is addressed to another unit")
            .with_extension("field", "unit"));
    }
    if entry.state == InboxState::Accepted {
        return Ok(Json(received_view(&entry, None)?));
    }
    let ctx = state.exchange_context()?;
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a held envelope is unreadable: {e}")))?;
    let digest = envelope_digest(&entry.message.envelope);
    let record = AuditRecord {
        actor: Actor {
            authority: state.authority.clone(),
            client: Some(acting.client.clone()),
            role: acting.role.clone(),
            unit: acting.unit.clone(),
            vouch: Some(acting.vouch.as_str().to_owned()),
        },
        change: None,
        event: EventKind::MessageAccepted,
        fields: Vec::new(),
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
    let recorded = state.record_committed(record).await?;
    let now = OffsetDateTime::now_utc();
    let signed = ReceiptPayload {
        event: "accepted".into(),
        message_id: id.clone(),
        sender: sender.clone(),
        recipient: state.authority.clone(),
        envelope_sha256: digest,
        at: now,
        receipt: state.receipt(&recorded),
    }
    .sign(&state)?;
    let by = format!("{}/{}", acting.unit, acting.client);
    let accepted_now = state
        .exchange
        .accept_incoming(&sender, &id, &by, &signed, now)
        .await
        .map_err(ExchangeError::from)?;
    state.messages.wake.notify_one();
    let entry = if accepted_now {
        let mut entry = entry;
        entry.state = InboxState::Accepted;
        entry.accepted_by = Some(by);
        entry
    } else {
        // Another call accepted it meanwhile: show its acceptance.
        held(&state, &who, &sender, &id).await?
    };
    Ok(Json(received_view(&entry, None)?))
}

fn received_view(
    entry: &InboxEntry,
    content: Option<MessageContent>,
) -> Result<ReceivedMessage, ExchangeError> {
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a held envelope is unreadable: {e}")))?;
    Ok(ReceivedMessage {
        id: envelope.id.clone(),
        from: address_view(&envelope.from),
        to: address_view(&envelope.to),
        kind: kind_view(&envelope.kind),
        sender_case_ref: envelope.sender_case_ref,
        recipient_case_ref: envelope.recipient_case_ref,
        in_reply_to: envelope.in_reply_to,
        received_at: entry.received_at,
        state: match entry.state {
            InboxState::Accepted => MessageState::Accepted,
            _ => MessageState::Delivered,
        },
        accepted_by: entry.accepted_by.clone(),
        content,
    })
}
