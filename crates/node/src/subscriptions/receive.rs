//! A subscriber's node taking notices: `POST /federation/v1/notices` from a provider's node.
//!
//! The batch is checked whole before anything is kept — every event a notice the calling
//! provider could have sent (its source and ids), for a subscription this node holds there —
//! and the notices not taken before are recorded, one `notice_received` entry per provider
//! entry (`refers_to` it, the same digest of the same notices), then taken into the store each
//! once by the provider's number. The answer is an acknowledgement signed with this node's
//! answer key naming the last notice and this node's entries; a batch sent again is taken
//! again as nothing new and acknowledged the same way.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utbyte_api::Receipt;
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, Basis, EventKind, FieldOutcome, NoticeBatch, Outcome};
use utbyte_federation::{Jws, Member};
use utbyte_http::{Json, Peer, Problem};
use utbyte_store::StoredHeld;

use super::notice::{part_digest, NoticeData, NoticeEvent, MAX_BATCH};
use crate::exchange::answer::subject_identifier;
use crate::exchange::ExchangeError;
use crate::state::NodeState;

/// Where a subscriber's node takes notices.
pub const NOTICES_PATH: &str = "/federation/v1/notices";

/// The JWS content type of an acknowledgement of notices.
pub const ACK_TYPE: &str = "utbyte-notices-ack+json";

/// The largest batch body taken: a full batch of notices with room to spare.
const BODY_LIMIT: usize = 2 << 20;

pub(super) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(NOTICES_PATH, post(take))
        .route_layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// What a subscriber's node signs when it took a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticesAck {
    pub provider: String,
    pub subscriber: String,
    /// The provider's number of the last notice of the batch: every notice through it is held.
    pub through: u64,
    /// The subscriber's ledger entries recording the notices it had not taken before.
    pub receipts: Vec<Receipt>,
}

impl NoticesAck {
    /// Checks an acknowledgement `subscriber` signed for the batch `provider` sent through
    /// `through`.
    pub(crate) fn verify(
        body: &[u8],
        subscriber: &Member,
        provider: &str,
        through: u64,
    ) -> Result<Self, ExchangeError> {
        let bad = |why: String| {
            ExchangeError::ProviderUnreachable(format!(
                "the acknowledgement from `{}` is not valid: {why}",
                subscriber.authority
            ))
        };
        let jws: Jws = serde_json::from_slice(body).map_err(|_| bad("not a JWS".into()))?;
        let key = subscriber
            .answer_key()
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        let payload = jws.verify(ACK_TYPE, &key).map_err(|e| bad(e.to_string()))?;
        let ack: Self = serde_json::from_slice(&payload).map_err(|e| bad(e.to_string()))?;
        if ack.provider != provider
            || ack.subscriber != subscriber.authority
            || ack.through != through
        {
            return Err(bad("it names another batch".into()));
        }
        Ok(ack)
    }
}

/// Takes a batch of notices from a provider and answers with the signed acknowledgement.
#[utoipa::path(
    operation_id = "federation_notices_take",
    post,
    path = NOTICES_PATH,
    tag = "federation",
    request_body(content = Vec<NoticeEvent>, description = "1 to 1,000 notices as CloudEvents, in the provider's order", content_type = "application/json"),
    responses(
        (status = 200, description = "Held here (also a batch taken before): the signed acknowledgement", body = utbyte_federation::Jws),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a batch the provider could send: empty or too long, out of order, an event not its, or a subscription this node does not hold there", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn take(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(events): Json<Vec<NoticeEvent>>,
) -> Result<Json<Jws>, Problem> {
    let ctx = state.exchange_context()?;
    let provider = ctx.listed_member(&peer)?.authority.clone();
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(invalid(format!("a batch holds 1 to {MAX_BATCH} notices")).into());
    }
    if events.windows(2).any(|w| w[0].data.seq >= w[1].data.seq) {
        return Err(invalid("the notices are not in the provider's order").into());
    }
    let mut notices = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let notice = event
            .is_from(&provider)
            .then(|| event.data.to_notice(&provider))
            .flatten()
            .ok_or_else(|| {
                invalid(format!(
                    "notice {} of the batch is not one `{provider}` sends",
                    i + 1
                ))
            })?;
        notices.push(notice);
    }
    let mut held: Vec<StoredHeld> = Vec::new();
    let named: BTreeSet<&str> = events
        .iter()
        .map(|e| e.data.subscription.as_str())
        .collect();
    for id in named {
        match state
            .exchange
            .held_subscription(id)
            .await
            .map_err(ExchangeError::from)?
        {
            Some(h) if h.held.provider == provider => held.push(h),
            _ => {
                return Err(invalid(format!(
                    "this node holds no subscription `{id}` at `{provider}`"
                ))
                .into())
            }
        }
    }

    let taken = state
        .exchange
        .taken_through(&provider)
        .await
        .map_err(ExchangeError::from)?;
    let mut receipts = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let ledger = events[start].utbyteledger;
        let end = events[start..]
            .iter()
            .position(|e| e.utbyteledger != ledger)
            .map_or(events.len(), |n| start + n);
        let part = &events[start..end];
        if part.iter().any(|e| e.data.seq > taken) {
            let subscription = held
                .iter()
                .find(|h| h.held.id == part[0].data.subscription)
                .ok_or_else(|| invalid("a part of the batch mixes subscriptions"))?;
            let recorded = record(&state, &ctx, &provider, subscription, part).await?;
            receipts.push(state.receipt(&recorded));
        }
        start = end;
    }
    let now = OffsetDateTime::now_utc();
    let new = state
        .exchange
        .take_notices(&provider, &notices, now)
        .await
        .map_err(ExchangeError::from)?;
    if new > 0 {
        state.notices.taken.notify_waiters();
    }
    state.metrics.notices("received", new);
    let ack = NoticesAck {
        provider,
        subscriber: state.authority.clone(),
        through: events[events.len() - 1].data.seq,
        receipts,
    };
    let payload = serde_json::to_vec(&ack).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    Ok(Json(Jws::sign(&payload, ACK_TYPE, &state.answer_key)))
}

/// Records one part of a batch (the notices one provider entry recorded).
async fn record(
    state: &NodeState,
    ctx: &crate::state::Exchange,
    provider: &str,
    subscription: &StoredHeld,
    part: &[NoticeEvent],
) -> Result<utbyte_ledger::Receipt, ExchangeError> {
    let data: Vec<&NoticeData> = part.iter().map(|e| &e.data).collect();
    if data
        .iter()
        .any(|d| d.subscription != subscription.held.id || d.events != data[0].events)
    {
        return Err(invalid(
            "a part of the batch mixes subscriptions or event types",
        ));
    }
    let fields: BTreeSet<&str> = data
        .iter()
        .flat_map(|d| d.fields.iter().map(String::as_str))
        .collect();
    let held = &subscription.held;
    let record = AuditRecord {
        actor: Actor {
            authority: state.authority.clone(),
            client: None,
            role: held.role.clone(),
            unit: held.unit.clone(),
            vouch: None,
        },
        change: None,
        event: EventKind::NoticeReceived,
        fields: fields
            .into_iter()
            .map(|field| FieldOutcome {
                citations: Vec::new(),
                field: field.to_owned(),
                outcome: Outcome::Disclose,
            })
            .collect(),
        message: None,
        bulk: None,
        notices: Some(NoticeBatch {
            count: data.len() as u32,
            events: data[0].events.clone(),
            first: data[0].seq,
            from: provider.to_owned(),
            last: data[data.len() - 1].seq,
            subscription: held.id.clone(),
            to: state.authority.clone(),
        }),
        offering: Some(held.offering.clone()),
        payload_sha256: Some(part_digest(data.iter().copied())),
        provider: provider.to_owned(),
        refers_to: Some(part[0].utbyteledger),
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        subjects: Vec::new(),
        time: utbyte_audit::record::now(),
        v: FORMAT_VERSION,
        why: Some(Basis {
            case_ref: held.case_ref.clone(),
            legal_basis: held.legal_basis.clone(),
            operation_ref: None,
            purpose: held.purpose.clone(),
        }),
    };
    let subjects = data
        .iter()
        .map(|d| {
            d.subject
                .parse()
                .map_err(|_| invalid("a notice names an invalid subject"))
                .and_then(|s| subject_identifier(&s))
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.record(record, subjects).await
}

fn invalid(detail: impl Into<String>) -> ExchangeError {
    ExchangeError::InvalidRequest(detail.into())
}
