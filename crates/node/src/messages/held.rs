//! Notices held for this authority's own reviewer (the sender's jurist): a notice with a field
//! the rulebook routes to review is recorded as routed to review and kept in the outbox sealed
//! for this node's own message key — the proposed values with the rulebook's decision support —
//! until a reviewer decides each field under review with a written reason. The decision is
//! recorded; what it lets go (with what went automatically) is then sealed for the recipient,
//! recorded as sent and delivered like any message. A notice whose every field is refused
//! never leaves.

use super::{address_view, envelope_digest, kind_view, message_ref, sent_view};
use crate::access::Who;
use crate::exchange::answer::subject_identifier;
use crate::exchange::apply::{check_texts, verdicts};
use crate::exchange::ExchangeError;
use crate::paging::{self, Listed};
use crate::problems;
use crate::records::field_outcome;
use crate::state::NodeState;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::messages::{HeldListQuery, HeldMessage, SentMessage};
use utbyte_api::paths;
use utbyte_api::reviews::{ReviewDecisionInput, ReviewField};
use utbyte_api::Outcome;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, Basis, EventKind};
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_message::{Content, Envelope, RecipientKey};
use utbyte_store::{Deciding, OutboxEntry, OutboxState};

/// What a held notice keeps for the reviewer, sealed for this node's own key.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Held {
    /// The notice as it would leave if every field under review were let go.
    content: Content,
    /// The rulebook's decision, with what a reviewer must weigh.
    fields: Vec<ReviewField>,
}

/// Seals a held notice for this node's own key, under the held envelope.
pub(super) fn seal_held(
    own: &RecipientKey,
    envelope_json: &str,
    content: Content,
    fields: Vec<ReviewField>,
) -> Result<Vec<u8>, ExchangeError> {
    let held = serde_json::to_vec(&Held { content, fields })
        .map_err(|e| ExchangeError::Internal(e.to_string()))?;
    utbyte_message::seal::seal_raw(own, envelope_json, &held)
        .map_err(|e| ExchangeError::Internal(e.to_string()))
}

fn open_held(state: &NodeState, entry: &OutboxEntry) -> Result<Held, ExchangeError> {
    let bytes = utbyte_message::seal::open_raw(
        &state.messages.keys,
        &entry.message.envelope,
        &entry.message.sealed,
    )
    .map_err(|e| ExchangeError::Internal(format!("a held notice does not open: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ExchangeError::Internal(format!("a held notice is unreadable: {e}")))
}

pub(super) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::HELD, get(list))
        .route(paths::HELD_DECISION, post(decide))
}

fn view(state: &NodeState, entry: &OutboxEntry) -> Result<HeldMessage, ExchangeError> {
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a stored envelope is unreadable: {e}")))?;
    let held = open_held(state, entry)?;
    Ok(HeldMessage {
        id: envelope.id,
        from_unit: entry.message.sender_unit.clone(),
        to: address_view(&envelope.to),
        kind: kind_view(&envelope.kind),
        case_ref: envelope.sender_case_ref,
        created_at: entry.message.created_at,
        fields: held.fields,
        content: super::content_view(held.content),
    })
}

/// The notices held for this authority's reviewers, oldest first, opened.
#[utoipa::path(
    operation_id = "messages_held",
    get,
    path = paths::HELD,
    tag = "messages",
    params(HeldListQuery),
    responses(
        (status = 200, description = "Held notices, oldest first, each with the rulebook's decision support", body = Vec<HeldMessage>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `review` duty", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<HeldListQuery>,
) -> Result<Listed<HeldMessage>, Problem> {
    who.require(Duty::Review)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let page = state
        .exchange
        .held_messages(limit, after)
        .await
        .map_err(ExchangeError::from)?;
    let page = page.try_map(|entry| view(&state, &entry))?;
    Ok(Listed::new(&uri, page))
}

/// A reviewer decides a held notice: each field under review disclosed or refused, with a
/// reason. What may go is sealed for the recipient and sent.
#[utoipa::path(
    operation_id = "messages_held_decide",
    post,
    path = paths::HELD_DECISION,
    tag = "messages",
    request_body = ReviewDecisionInput,
    params(("id" = String, Path, min_length = 1, max_length = 256, description = "The held notice's id")),
    responses(
        (status = 200, description = "Decided: the notice as it now stands in the outbox (`pending`, or `failed` when every field was refused)", body = SentMessage),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `review` duty, or the reviewer may not decide this kind", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No notice held under this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Decided already (`review-already-decided`), or another decision on it is being recorded at another instance of this node (`review-being-decided`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field under review left undecided, one not under review decided, or a missing reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn decide(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
    Json(input): Json<ReviewDecisionInput>,
) -> Result<Json<SentMessage>, Problem> {
    who.require(Duty::Review)?;
    let _one_at_a_time = state.review_lock.lock().await;
    // Read before the claim, so that an id no notice has is answered as not found.
    held_entry(&state, &id).await?;
    crate::review::one_decider(
        &state,
        Deciding::HeldNotice(&id),
        record_decision(&state, &who, &id, input),
    )
    .await
}

/// The notice held under `id`, still held.
async fn held_entry(state: &NodeState, id: &str) -> Result<OutboxEntry, Problem> {
    let no_such = || problems::NO_SUCH_MESSAGE.with(format!("no notice `{id}` held for review"));
    let entry = state
        .exchange
        .outgoing_message(id)
        .await
        .map_err(|_| no_such())?
        .ok_or_else(no_such)?;
    if entry.state != OutboxState::Held {
        return Err(ExchangeError::AlreadyDecided {
            ticket: id.to_owned(),
        }
        .into());
    }
    Ok(entry)
}

/// Decides the held notice, read once the claim on deciding it is held, unless it is decided.
async fn record_decision(
    state: &NodeState,
    who: &Who,
    id: &str,
    input: ReviewDecisionInput,
) -> Result<Json<SentMessage>, Problem> {
    let entry = held_entry(state, id).await?;
    let acting = crate::review::check_reviewer(state, who, &input.reviewer, &entry.message.kind)?;
    check_texts(&input)?;
    let held = open_held(state, &entry)?;
    let decided = verdicts(&held.fields, &input)?;
    let ctx = state.exchange_context()?;
    let envelope = Envelope::from_json(&entry.message.envelope)
        .map_err(|e| ExchangeError::Internal(format!("a stored envelope is unreadable: {e}")))?;
    let now = OffsetDateTime::now_utc();
    let reference = utbyte_domain::legal_time::swedish_reference_date(now)
        .map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let subjects = held
        .content
        .subjects
        .iter()
        .filter_map(|s| utbyte_domain::SubjectId::parse_at(s, reference).ok())
        .map(|s| subject_identifier(&s))
        .collect::<Result<Vec<_>, _>>()?;
    let why = match (&held.content.purpose, &held.content.legal_basis) {
        (Some(purpose), Some(legal_basis)) => Some(Basis {
            case_ref: envelope.sender_case_ref.clone(),
            legal_basis: legal_basis.clone(),
            operation_ref: None,
            purpose: purpose.clone(),
        }),
        _ => None,
    };
    let record = |event, fields: &[utbyte_api::FieldVerdict], digest, refers_to, env: &Envelope| {
        AuditRecord {
            actor: Actor {
                authority: state.authority.clone(),
                client: Some(acting.client.clone()),
                role: input.reviewer.role.clone(),
                unit: input.reviewer.unit.clone(),
                vouch: Some(acting.vouch.as_str().to_owned()),
            },
            change: None,
            event,
            fields: fields.iter().map(field_outcome).collect(),
            message: Some(message_ref(env)),
            bulk: None,
            notices: None,
            offering: Some(entry.message.kind.clone()),
            payload_sha256: Some(digest),
            provider: state.authority.clone(),
            refers_to: Some(refers_to),
            rulebook_sha256: ctx.rulebook.hash().to_owned(),
            subjects: Vec::new(),
            time: utbyte_audit::record::now(),
            v: FORMAT_VERSION,
            why: why.clone(),
        }
    };
    let decision = state
        .record(
            record(
                EventKind::ReviewDecision,
                &decided,
                envelope_digest(&entry.message.envelope),
                entry.message.decision_index,
                &envelope,
            ),
            subjects.clone(),
        )
        .await?;
    let disclosed: Vec<&str> = decided
        .iter()
        .filter(|v| v.outcome == Outcome::Disclose)
        .map(|v| v.field.as_str())
        .collect();
    if disclosed.is_empty() {
        state
            .exchange
            .refuse_held(id, "every field was refused at review", now)
            .await
            .map_err(ExchangeError::from)?;
    } else {
        let recipient_key = ctx
            .config
            .member(&envelope.to.authority)
            .and_then(|m| m.message_key().ok().flatten())
            .ok_or_else(|| {
                ExchangeError::InvalidRequest(format!(
                    "`{}` no longer publishes a message key",
                    envelope.to.authority
                ))
            })?;
        let mut content = held.content;
        content
            .values
            .retain(|field, _| disclosed.contains(&field.as_str()));
        let outgoing = Envelope {
            sent_at: utbyte_audit::record::now(),
            key: recipient_key.id(),
            ..envelope
        };
        let outgoing_json = outgoing.to_json();
        let sealed = utbyte_message::seal::seal(&recipient_key, &outgoing_json, &content)
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        let sent_fields: Vec<_> = decided
            .iter()
            .filter(|v| v.outcome == Outcome::Disclose)
            .cloned()
            .collect();
        state
            .record(
                record(
                    EventKind::MessageSent,
                    &sent_fields,
                    envelope_digest(&outgoing_json),
                    decision.index,
                    &outgoing,
                ),
                subjects,
            )
            .await?;
        state
            .exchange
            .release_held(id, &outgoing_json, &sealed, now)
            .await
            .map_err(ExchangeError::from)?;
        state.messages.wake.notify_one();
    }
    let entry = state
        .exchange
        .outgoing_message(id)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(|| {
            problems::NO_SUCH_MESSAGE.with(format!("no notice `{id}` held for review"))
        })?;
    Ok(Json(sent_view(&entry, decided)?))
}
