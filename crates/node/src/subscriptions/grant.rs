//! A provider's node deciding subscriptions: `POST /federation/v1/subscriptions` from a
//! subscriber's node, subjects added to a granted subscription, its renewal (decided again) and
//! its cancellation; and, for the provider's auditors, who subscribes to what.
//!
//! A subscription is a lawful, audited request: who (the subscriber's unit, role and officer, as
//! its certificate and request say), which offering and event types, why (purpose, legal basis,
//! case), until when, about whom. The provider decides it with the rulebook as a request for
//! the fields the event types are made of: an event type is granted when every one of its
//! fields would be disclosed; a field for review or refused keeps it out. The decision — grants
//! and refusals alike — is recorded in the ledger (`subscription_decision`) before the signed
//! verdict is sent. Who is covered is kept with the subscription, not in the decision record;
//! each notice will record its subject.
//!
//! The verdict is a JWS under the node's answer key (content type
//! `utbyte-subscription+json`) over `{"grant": …, "receipt": …}`, like an answer. The same
//! request sent again (a subscriber that did not get the verdict) gets the same verdict; the
//! same id with another request is refused.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{delete, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utbyte_api::{Outcome, Receipt};
use utbyte_audit::EventKind;
use utbyte_domain::SubjectId;
use utbyte_federation::Jws;
use utbyte_http::{Json, Path, Peer, Problem};
use utbyte_store::{NewSubscription, Renewal, StoreError, SubscriptionState};

use crate::exchange::answer::{verdicts, REQUEST_WINDOW};
use crate::exchange::{CheckedRequest, ExchangeError};
use crate::problems;
use crate::protocol::{ExchangeRequest, FieldVerdict};
use crate::records::{requester, ExchangeFacts};
use crate::state::{Exchange, NodeState};

/// Where a provider's node takes subscriptions.
pub const SUBSCRIPTIONS_PATH: &str = "/federation/v1/subscriptions";
/// One subscription the calling subscriber holds here.
pub const SUBSCRIPTION_PATH: &str = "/federation/v1/subscriptions/{id}";
/// Where a subscriber adds subjects to a subscription it holds here.
pub const SUBJECTS_PATH: &str = "/federation/v1/subscriptions/{id}/subjects";
/// Where a subscriber renews a subscription it holds here.
pub const RENEW_PATH: &str = "/federation/v1/subscriptions/{id}/renew";

/// The JWS content type of a signed verdict on a subscription.
pub const GRANT_TYPE: &str = "utbyte-subscription+json";

/// The most subjects one call names; more are added in further calls. Five thousand canonical
/// identifiers are about 90 KB of JSON, well within the default body limit (256 KiB).
pub const MAX_SUBJECTS_PER_CALL: usize = 5_000;

/// The longest a subscription may run from when it is decided.
pub const LONGEST: Duration = Duration::days(366);

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(SUBSCRIPTIONS_PATH, post(subscribe))
        .route(SUBSCRIPTION_PATH, delete(cancel))
        .route(SUBJECTS_PATH, post(add_subjects))
        .route(RENEW_PATH, post(renew))
}

/// A subscription as a subscriber's node asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionRequest {
    /// Chosen by the subscriber's node, unique among its subscriptions.
    pub subscription_id: String,
    /// When the subscriber's node sent it (RFC 3339); refused outside the provider's window.
    pub sent_at: String,
    pub unit: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// Which of the subscriber's systems vouched for the officer, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouched_by: Option<utbyte_api::access::VouchedBy>,
    pub offering: String,
    /// The event types asked for (the offering's `[[offering.event]]` ids).
    pub events: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When the subscription ends (RFC 3339): after now, at most 366 days ahead.
    pub ends: String,
    /// The first subjects, 1 to 5,000; more with `POST …/subjects`.
    pub subjects: Vec<String>,
}

/// One event type's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventVerdict {
    pub event: String,
    /// `disclose`: granted; `review` or `refuse`: not granted (a field of it was not
    /// disclosed automatically).
    pub outcome: Outcome,
    /// The fields the event type is made of.
    pub fields: Vec<String>,
    /// Those of its fields whose values its notices carry, where a pre-assessment lets them;
    /// empty: its notices name the fields changed, without values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// The provider's verdict on a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionGrant {
    pub subscription_id: String,
    pub provider: String,
    pub subscriber: String,
    pub offering: String,
    /// The event types granted; empty: nothing was granted and no subscription was made.
    pub granted: Vec<String>,
    pub events: Vec<EventVerdict>,
    /// Each field's outcome, with the provisions that decided it.
    pub fields: Vec<FieldVerdict>,
    /// When the subscription ends (RFC 3339).
    pub ends: String,
    /// How many subjects it covers.
    pub subjects: u64,
    pub rulebook_sha256: String,
    /// UTC, RFC 3339.
    pub decided_at: String,
}

#[derive(Serialize)]
struct PayloadOut<'a> {
    grant: &'a RawValue,
    receipt: &'a Receipt,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIn {
    grant: Box<RawValue>,
    receipt: Receipt,
}

/// A verdict as a subscriber reads it, verified.
#[derive(Debug, Clone)]
pub struct OpenedGrant {
    pub grant: SubscriptionGrant,
    pub receipt: Receipt,
    /// SHA-256 (hex) of the verdict's bytes as the provider signed them.
    pub sha256: String,
}

/// Verifies a signed verdict with the provider's answer key.
pub fn open_grant(signed: &Jws, key: &ed25519_dalek::VerifyingKey) -> Result<OpenedGrant, String> {
    let payload = signed
        .verify(GRANT_TYPE, key)
        .map_err(|e| format!("the verdict's signature is not valid: {e}"))?;
    let payload: PayloadIn = serde_json::from_slice(&payload)
        .map_err(|e| format!("the signed verdict is malformed: {e}"))?;
    let grant = serde_json::from_str(payload.grant.get())
        .map_err(|e| format!("the signed verdict is malformed: {e}"))?;
    Ok(OpenedGrant {
        grant,
        receipt: payload.receipt,
        sha256: hex::encode(Sha256::digest(payload.grant.get().as_bytes())),
    })
}

/// What the provider keeps with a granted subscription: the request's digest (to know the same
/// request sent again), the signed verdict (to send it again), and the request and rulebook
/// that decided it (to decide it again under another rulebook).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Kept {
    request_sha256: String,
    pub verdict: Jws,
    /// The request as decided, with its first subject only: decided again at delivery when
    /// the rulebook changes.
    pub request: SubscriptionRequest,
    /// The rulebook that decided it.
    pub rulebook_sha256: String,
}

/// Decides a subscription and answers with the signed verdict.
#[utoipa::path(
    operation_id = "federation_subscribe",
    post,
    path = SUBSCRIPTIONS_PATH,
    tag = "federation",
    request_body = SubscriptionRequest,
    responses(
        (status = 200, description = "Decided: the signed verdict (also for the same request sent again). Its `granted` may be empty", body = utbyte_federation::Jws),
        (status = 400, description = "`sent_at` outside the window", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node does not publish the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The subscription id was used before with another request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid subscription: an unknown event type, an end outside what is allowed, an invalid subject, too many subjects, or an offering whose register keeps no change feed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn subscribe(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(request): Json<SubscriptionRequest>,
) -> Result<Json<Jws>, Problem> {
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(&peer)?;
    let now = OffsetDateTime::now_utc();
    let sent_at = OffsetDateTime::parse(&request.sent_at, &Rfc3339).map_err(|_| {
        ExchangeError::InvalidText {
            field: "sent_at",
            detail: "`sent_at` is not an RFC 3339 date-time".into(),
        }
    })?;
    let id = store_id(&member.authority, &request.subscription_id)
        .ok_or_else(|| invalid("`subscription_id` is 1 to 128 letters, digits, `-` and `_`"))?;
    let request_sha256 = request_hash(&request)?;
    if let Some(held) = state
        .exchange
        .subscription(&id)
        .await
        .map_err(ExchangeError::from)?
    {
        let kept: Kept = serde_json::from_str(&held.subscription.request)
            .map_err(|e| ExchangeError::Internal(format!("a kept verdict is unreadable: {e}")))?;
        if kept.request_sha256 == request_sha256 {
            return Ok(Json(kept.verdict));
        }
        return Err(problems::SUBSCRIPTION_ID_USED.with(format!(
            "subscription id `{}` was used before with another request",
            request.subscription_id
        )));
    }
    if (now - sent_at).abs() > REQUEST_WINDOW {
        return Err(ExchangeError::Stale(format!(
            "sent_at {} is more than {} minutes from this node's clock",
            request.sent_at,
            REQUEST_WINDOW.whole_minutes()
        ))
        .into());
    }
    let ends = end(&request.ends, now)?;
    let subjects = subjects(&request.subjects, now)?;
    let Decided {
        checked,
        fields,
        verdicts,
        granted,
        values,
    } = decide(&state, &ctx, &member.authority, &request, now)?;
    let grant = SubscriptionGrant {
        subscription_id: request.subscription_id.clone(),
        provider: state.authority.clone(),
        subscriber: member.authority.clone(),
        offering: request.offering.clone(),
        granted: granted.clone(),
        events: verdicts,
        fields,
        ends: ends.format(&Rfc3339).unwrap_or_default(),
        subjects: if granted.is_empty() {
            0
        } else {
            subjects.len() as u64
        },
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    let (verdict, recorded) = sign(&state, &ctx, &checked, &grant).await?;
    if !granted.is_empty() {
        let kept = Kept {
            request_sha256,
            verdict: verdict.clone(),
            request: SubscriptionRequest {
                subjects: request.subjects[..1].to_vec(),
                ..request.clone()
            },
            rulebook_sha256: ctx.rulebook.hash().to_owned(),
        };
        let new = NewSubscription {
            id: id.clone(),
            subscriber: member.authority.clone(),
            offering: request.offering.clone(),
            events: granted,
            fields: values,
            request: serde_json::to_string(&kept).map_err(internal)?,
            decision_index: recorded.index,
            created_at: now,
            ends_at: ends,
        };
        state
            .exchange
            .create_subscription(&new)
            .await
            .map_err(ExchangeError::from)?;
        state
            .exchange
            .add_subjects(&id, &subjects)
            .await
            .map_err(ExchangeError::from)?;
    }
    Ok(Json(verdict))
}

/// Records a decision on a subscription (`subscription_decision`, with the digest of the
/// verdict) and signs the verdict, naming that ledger entry.
async fn sign(
    state: &NodeState,
    ctx: &Exchange,
    checked: &CheckedRequest,
    grant: &SubscriptionGrant,
) -> Result<(Jws, utbyte_ledger::Receipt), ExchangeError> {
    let text = serde_json::to_string(grant).map_err(internal)?;
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let facts = ExchangeFacts {
        actor: requester(checked.request()),
        provider: &state.authority,
        request: checked.request(),
        rulebook_sha256: ctx.rulebook.hash(),
    };
    let record = facts.record(
        EventKind::SubscriptionDecision,
        &grant.fields,
        Some(&sha256),
        None,
    );
    let recorded = state.record(record, Vec::new()).await?;
    let raw = RawValue::from_string(text).map_err(internal)?;
    let payload = serde_json::to_vec(&PayloadOut {
        grant: &raw,
        receipt: &state.receipt(&recorded),
    })
    .map_err(internal)?;
    Ok((Jws::sign(&payload, GRANT_TYPE, &state.answer_key), recorded))
}

/// A renewal as a subscriber's node asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// When the subscriber's node sent it (RFC 3339); refused outside the provider's window.
    pub sent_at: String,
    /// The new end (RFC 3339): after now, at most 366 days ahead.
    pub ends: String,
}

/// Renews a subscription of the calling subscriber: decided again with the rulebook in force,
/// recorded and signed like a new one. Only event types granted before can be granted again (a
/// renewal never widens a subscription); when none is, the subscription keeps its end.
#[utoipa::path(
    operation_id = "federation_subscription_renew",
    post,
    path = RENEW_PATH,
    tag = "federation",
    request_body = RenewRequest,
    params(("id" = String, Path, description = "The subscriber's subscription id")),
    responses(
        (status = 200, description = "Decided again: the signed verdict. Its `granted` may be empty (not renewed)", body = utbyte_federation::Jws),
        (status = 400, description = "`sent_at` outside the window", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The subscriber holds no active subscription with this id here", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An end outside what is allowed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn renew(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    Json(asked): Json<RenewRequest>,
) -> Result<Json<Jws>, Problem> {
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(&peer)?;
    let stored = held_id(&member.authority, &id)?;
    let no_such = || problems::NO_SUCH_SUBSCRIPTION.with(format!("no active subscription `{id}`"));
    let held = state
        .exchange
        .subscription(&stored)
        .await
        .map_err(ExchangeError::from)?
        .filter(|held| held.state == SubscriptionState::Active)
        .ok_or_else(no_such)?;
    let now = OffsetDateTime::now_utc();
    let sent_at = OffsetDateTime::parse(&asked.sent_at, &Rfc3339).map_err(|_| {
        ExchangeError::InvalidText {
            field: "sent_at",
            detail: "`sent_at` is not an RFC 3339 date-time".into(),
        }
    })?;
    if (now - sent_at).abs() > REQUEST_WINDOW {
        return Err(ExchangeError::Stale(format!(
            "sent_at {} is more than {} minutes from this node's clock",
            asked.sent_at,
            REQUEST_WINDOW.whole_minutes()
        ))
        .into());
    }
    let ends = end(&asked.ends, now)?;
    let kept: Kept = serde_json::from_str(&held.subscription.request)
        .map_err(|e| ExchangeError::Internal(format!("a kept verdict is unreadable: {e}")))?;
    let request = SubscriptionRequest {
        sent_at: asked.sent_at.clone(),
        ends: asked.ends.clone(),
        ..kept.request.clone()
    };
    let Decided {
        checked,
        fields,
        mut verdicts,
        granted,
        values,
    } = decide(&state, &ctx, &member.authority, &request, now)?;
    // Never wider: the event types granted before, and values only of fields carried before.
    let granted: Vec<String> = granted
        .into_iter()
        .filter(|event| held.subscription.events.contains(event))
        .collect();
    let values: Vec<String> = values
        .into_iter()
        .filter(|field| held.subscription.fields.contains(field))
        .collect();
    for verdict in &mut verdicts {
        let kept = granted.contains(&verdict.event);
        verdict
            .values
            .retain(|field| kept && values.contains(field));
    }
    let grant = SubscriptionGrant {
        subscription_id: request.subscription_id.clone(),
        provider: state.authority.clone(),
        subscriber: member.authority.clone(),
        offering: request.offering.clone(),
        granted: granted.clone(),
        events: verdicts,
        fields,
        ends: if granted.is_empty() {
            held.subscription.ends_at
        } else {
            ends
        }
        .format(&Rfc3339)
        .unwrap_or_default(),
        subjects: held.subjects,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    let (verdict, recorded) = sign(&state, &ctx, &checked, &grant).await?;
    if !granted.is_empty() {
        let kept = Kept {
            verdict: verdict.clone(),
            request,
            rulebook_sha256: ctx.rulebook.hash().to_owned(),
            ..kept
        };
        let renewal = Renewal {
            id: stored,
            events: granted,
            fields: values,
            ends_at: ends,
            decision_index: recorded.index,
            request: serde_json::to_string(&kept).map_err(internal)?,
        };
        if !state
            .exchange
            .renew_subscription(&renewal)
            .await
            .map_err(ExchangeError::from)?
        {
            return Err(no_such());
        }
    }
    Ok(Json(verdict))
}

/// An end as asked: after now, at most [`LONGEST`] ahead.
pub(crate) fn end(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ExchangeError> {
    let ends = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| invalid("`ends` is not an RFC 3339 date-time"))?;
    if ends <= now || ends > now + LONGEST {
        return Err(invalid(format!(
            "`ends` must be after now and at most {} days ahead",
            LONGEST.whole_days()
        )));
    }
    Ok(ends)
}

/// The event types `request` asks for, of `offering`; an unknown one, or none, is refused.
fn asked_events<'a>(
    offering: &'a utbyte_rules::vocabulary::Offering,
    request: &SubscriptionRequest,
) -> Result<Vec<&'a utbyte_rules::vocabulary::EventType>, ExchangeError> {
    let asked: BTreeSet<&str> = request.events.iter().map(String::as_str).collect();
    if asked.is_empty() {
        return Err(invalid("`events` names no event type"));
    }
    asked
        .into_iter()
        .map(|name| {
            offering
                .events
                .iter()
                .find(|e| e.id == name)
                .ok_or_else(|| {
                    invalid(format!(
                        "offering `{}` has no event type `{name}`",
                        offering.id
                    ))
                })
        })
        .collect()
}

/// The subscription as the request for its event types' fields the rulebook decides. The
/// decision does not depend on who is covered: it is made about the first subject, as a person
/// without protected identity; whether a subject has protected identity is read again for
/// every notice.
fn as_exchange_request(
    request: &SubscriptionRequest,
    events: &[&utbyte_rules::vocabulary::EventType],
) -> Result<ExchangeRequest, ExchangeError> {
    let fields: BTreeSet<String> = events
        .iter()
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    Ok(ExchangeRequest {
        request_id: request.subscription_id.clone(),
        sent_at: request.sent_at.clone(),
        unit: request.unit.clone(),
        role: request.role.clone(),
        officer: request.officer.clone(),
        vouched_by: request.vouched_by.clone(),
        offering: request.offering.clone(),
        fields: fields.into_iter().collect(),
        purpose: request.purpose.clone(),
        legal_basis: request.legal_basis.clone(),
        case_ref: request.case_ref.clone(),
        operation: request.operation.clone(),
        subject: request
            .subjects
            .first()
            .cloned()
            .ok_or_else(|| invalid("`subjects` names no subject"))?,
    })
}

/// What a subscriber's node checks before it asks: what any provider would refuse whoever
/// asked — the end, the subjects, event types the offering has, the texts.
pub(crate) fn check_asked(
    ctx: &Exchange,
    subscriber: &str,
    request: &SubscriptionRequest,
    now: OffsetDateTime,
) -> Result<(), ExchangeError> {
    end(&request.ends, now)?;
    subjects(&request.subjects, now)?;
    let offering = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&request.offering)
        .ok_or_else(|| {
            ExchangeError::UnknownOffering(format!("no member publishes `{}`", request.offering))
        })?;
    let events = asked_events(offering, request)?;
    CheckedRequest::from_peer(subscriber, &as_exchange_request(request, &events)?, now)
        .map_err(ExchangeError::from)?;
    Ok(())
}

/// A subscription as the rulebook decided it.
pub(crate) struct Decided {
    pub checked: CheckedRequest,
    /// Each field's outcome, with the provisions that decided it.
    pub fields: Vec<FieldVerdict>,
    pub verdicts: Vec<EventVerdict>,
    /// The event types granted.
    pub granted: Vec<String>,
    /// The fields of the event types granted whose values notices carry, sorted.
    pub values: Vec<String>,
}

/// Decides `request` from `subscriber` with the rulebook in force: an event type is granted
/// when every one of its fields is disclosed automatically.
pub(crate) fn decide(
    state: &NodeState,
    ctx: &Exchange,
    subscriber: &str,
    request: &SubscriptionRequest,
    now: OffsetDateTime,
) -> Result<Decided, ExchangeError> {
    let offering = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&request.offering)
        .filter(|o| o.provider == state.authority)
        .filter(|o| state.registers.contains_key(&o.id))
        .ok_or_else(|| {
            ExchangeError::OfferingNotHere(format!(
                "`{}` does not publish offering `{}`",
                state.authority, request.offering
            ))
        })?;
    if state
        .registers
        .get(&offering.id)
        .and_then(|r| r.change_feed())
        .is_none()
    {
        return Err(invalid(format!(
            "the register behind `{}` keeps no change feed here, so it cannot be subscribed to",
            offering.id
        )));
    }
    let events = asked_events(offering, request)?;
    let as_request = as_exchange_request(request, &events)?;
    let checked =
        CheckedRequest::from_peer(subscriber, &as_request, now).map_err(ExchangeError::from)?;
    let decision = ctx
        .rulebook
        .decide(checked.request())
        .map_err(ExchangeError::from)?;
    let fields = verdicts(&decision);
    let carried: BTreeSet<&str> = decision
        .fields
        .iter()
        .filter(|f| ctx.rulebook.notice_may_carry(f))
        .map(|f| f.field.as_str())
        .collect();
    let outcome_of = |field: &str| {
        fields
            .iter()
            .find(|v| v.field == field)
            .map_or(Outcome::Refuse, |v| v.outcome)
    };
    let verdicts: Vec<EventVerdict> = events
        .iter()
        .map(|event| {
            let outcomes: Vec<Outcome> = event.fields.iter().map(|f| outcome_of(f)).collect();
            let outcome = if outcomes.iter().all(|o| *o == Outcome::Disclose) {
                Outcome::Disclose
            } else if outcomes.contains(&Outcome::Refuse) {
                Outcome::Refuse
            } else {
                Outcome::Review
            };
            let values = if outcome == Outcome::Disclose {
                event
                    .fields
                    .iter()
                    .filter(|f| carried.contains(f.as_str()))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            EventVerdict {
                event: event.id.clone(),
                outcome,
                fields: event.fields.clone(),
                values,
            }
        })
        .collect();
    let granted: Vec<String> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Disclose)
        .map(|v| v.event.clone())
        .collect();
    let values = verdicts
        .iter()
        .flat_map(|v| v.values.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Decided {
        checked,
        fields,
        verdicts,
        granted,
        values,
    })
}

/// Subjects added to a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoreSubjects {
    /// 1 to 5,000 subjects.
    pub subjects: Vec<String>,
}

/// How many subjects a subscription covers after an addition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectsAdded {
    /// Subjects it did not cover before.
    pub added: u64,
    /// Subjects it covers now.
    pub subjects: u64,
}

/// Adds subjects to a granted, active subscription of the calling subscriber.
#[utoipa::path(
    operation_id = "federation_subscription_subjects",
    post,
    path = SUBJECTS_PATH,
    tag = "federation",
    request_body = MoreSubjects,
    params(("id" = String, Path, description = "The subscriber's subscription id")),
    responses(
        (status = 200, description = "Added (a subject covered before counts once)", body = SubjectsAdded),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The subscriber holds no active subscription with this id here", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid subject, or none, or more than 5,000", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn add_subjects(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
    Json(more): Json<MoreSubjects>,
) -> Result<Json<SubjectsAdded>, Problem> {
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(&peer)?;
    let stored = held_id(&member.authority, &id)?;
    let subjects = subjects(&more.subjects, OffsetDateTime::now_utc())?;
    let no_such = || problems::NO_SUCH_SUBSCRIPTION.with(format!("no active subscription `{id}`"));
    let added = match state.exchange.add_subjects(&stored, &subjects).await {
        Ok(added) => added,
        Err(StoreError::NotFound { .. }) => return Err(no_such()),
        Err(err) => return Err(ExchangeError::from(err).into()),
    };
    let held = state
        .exchange
        .subscription(&stored)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(no_such)?;
    Ok(Json(SubjectsAdded {
        added,
        subjects: held.subjects,
    }))
}

/// Whether a cancellation ended a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancelled {
    /// `true`; a subscription cancelled before is reported the same way.
    pub cancelled: bool,
}

/// Cancels a subscription of the calling subscriber: no notice is queued for it from now on.
#[utoipa::path(
    operation_id = "federation_subscription_cancel",
    delete,
    path = SUBSCRIPTION_PATH,
    tag = "federation",
    params(("id" = String, Path, description = "The subscriber's subscription id")),
    responses(
        (status = 200, description = "Cancelled (also when it was before)", body = Cancelled),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The subscriber holds no subscription with this id here", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn cancel(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(id): Path<String>,
) -> Result<Json<Cancelled>, Problem> {
    let ctx = state.exchange_context()?;
    let member = ctx.listed_member(&peer)?;
    let stored = held_id(&member.authority, &id)?;
    let held = state
        .exchange
        .subscription(&stored)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(|| problems::NO_SUCH_SUBSCRIPTION.with(format!("no subscription `{id}`")))?;
    if held.state == SubscriptionState::Active {
        state
            .exchange
            .cancel_subscription(&stored)
            .await
            .map_err(ExchangeError::from)?;
    }
    Ok(Json(Cancelled { cancelled: true }))
}

/// The subscriptions this node granted: who subscribes to what, and why.
#[utoipa::path(
    operation_id = "audit_subscriptions",
    get,
    path = utbyte_api::paths::AUDIT_SUBSCRIPTIONS,
    tag = "audit",
    params(utbyte_api::subscriptions::GrantedListQuery),
    responses(
        (status = 200, description = "In id order (the subscriber, `/`, its id)", body = Vec<utbyte_api::subscriptions::GrantedView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `audit` duty", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn granted(
    State(state): State<Arc<NodeState>>,
    who: crate::access::Who,
    utbyte_http::Query(query): utbyte_http::Query<utbyte_api::subscriptions::GrantedListQuery>,
) -> Result<Json<Vec<utbyte_api::subscriptions::GrantedView>>, Problem> {
    use utbyte_api::subscriptions::{GrantedView, SubscriptionStatus};
    who.require(utbyte_api::access::Duty::Audit)?;
    let limit = crate::paging::limit(query.limit)?;
    let after = match query.after.as_deref() {
        Some(after)
            if after.is_empty() || after.len() > 300 || after.chars().any(char::is_control) =>
        {
            return Err(utbyte_http::INVALID_QUERY
                .with("`after` is a subscription id")
                .with_extension("field", "after"))
        }
        after => after,
    };
    let now = OffsetDateTime::now_utc();
    let granted = state
        .exchange
        .subscriptions_granted(after, limit)
        .await
        .map_err(ExchangeError::from)?;
    let views = granted
        .into_iter()
        .filter_map(|held| {
            let s = held.subscription;
            let kept: Kept = serde_json::from_str(&s.request).ok()?;
            let status = match held.state {
                SubscriptionState::Cancelled => SubscriptionStatus::Cancelled,
                SubscriptionState::Active if now >= s.ends_at => SubscriptionStatus::Ended,
                SubscriptionState::Active => SubscriptionStatus::Active,
            };
            Some(GrantedView {
                id: s
                    .id
                    .split_once('/')
                    .map_or(s.id.as_str(), |(_, id)| id)
                    .to_owned(),
                subscriber: s.subscriber,
                unit: kept.request.unit,
                role: kept.request.role,
                offering: s.offering,
                events: s.events,
                subjects: held.subjects,
                status,
                purpose: kept.request.purpose,
                legal_basis: kept.request.legal_basis,
                case_ref: kept.request.case_ref,
                created_at: s.created_at,
                ends: s.ends_at,
                decision: s.decision_index,
            })
        })
        .collect();
    Ok(Json(views))
}

/// A subscription's id in this node's store: the subscriber's own id under its authority, so
/// two subscribers' ids never meet. `None` for an id no subscription can have.
fn store_id(subscriber: &str, id: &str) -> Option<String> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| format!("{subscriber}/{id}"))
}

/// The stored id of the subscription `id` of `subscriber` named in a path: an id no
/// subscription can have names none.
fn held_id(subscriber: &str, id: &str) -> Result<String, Problem> {
    store_id(subscriber, id)
        .ok_or_else(|| problems::NO_SUCH_SUBSCRIPTION.with("no subscription has this id"))
}

/// The subjects named, parsed: 1 to [`MAX_SUBJECTS_PER_CALL`], each valid. An error names the
/// position, never the identifier.
pub(crate) fn subjects(
    named: &[String],
    now: OffsetDateTime,
) -> Result<Vec<SubjectId>, ExchangeError> {
    if named.is_empty() || named.len() > MAX_SUBJECTS_PER_CALL {
        return Err(invalid(format!(
            "`subjects` names 1 to {MAX_SUBJECTS_PER_CALL} subjects; this names {}",
            named.len()
        )));
    }
    let reference = utbyte_domain::legal_time::swedish_reference_date(now)
        .map_err(|e| ExchangeError::Internal(e.to_string()))?;
    named
        .iter()
        .enumerate()
        .map(|(i, id)| {
            SubjectId::parse_at(id, reference).map_err(|e| {
                ExchangeError::InvalidSubject(format!("subject {} of the list: {e}", i + 1))
            })
        })
        .collect()
}

/// SHA-256 (hex) of a request without its `sent_at`: the same request sent again keeps what it
/// asks for, not when.
fn request_hash(request: &SubscriptionRequest) -> Result<String, ExchangeError> {
    let unsent = SubscriptionRequest {
        sent_at: String::new(),
        ..request.clone()
    };
    Ok(hex::encode(Sha256::digest(
        serde_json::to_vec(&unsent).map_err(internal)?,
    )))
}

fn invalid(detail: impl Into<String>) -> ExchangeError {
    ExchangeError::InvalidRequest(detail.into())
}

fn internal(error: impl std::fmt::Display) -> ExchangeError {
    ExchangeError::Internal(error.to_string())
}
