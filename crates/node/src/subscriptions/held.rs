//! The local API of subscriptions, the subscriber's side: officers and case systems subscribe at
//! the offering's provider through their node, list and read what their node holds, add
//! subjects, renew, cancel, and follow the notices taken — a feed with a cursor and long-poll. An
//! administrator sees where pushing the notices to the case system's webhook stands and
//! re-enables it after it was given up.
//!
//! Subscribing is asking the provider (`POST /federation/v1/subscriptions`): its rulebook
//! decides, its signed verdict is verified with its answer key, and what it granted is kept
//! with the verdict. Nothing is kept when nothing was granted. Cancelling asks the provider
//! first; the subscription is marked cancelled here once the provider has ended it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::paths;
use utbyte_api::subscriptions::{
    AddSubjects, EventOutcome, NoticeFeedQuery, NoticePage, NoticeView, PushView, Renew, Subscribe,
    SubscriptionListQuery, SubscriptionStatus, SubscriptionView,
};
use utbyte_federation::{Jws, Member};
use utbyte_http::{Json, Path, Problem, Query, INVALID_QUERY};
use utbyte_store::{HeldSubscription, PushState, StoredHeld, SubscriptionState};

use super::grant::{
    self, Cancelled, MoreSubjects, OpenedGrant, RenewRequest, SubjectsAdded, SubscriptionRequest,
    RENEW_PATH, SUBJECTS_PATH, SUBSCRIPTIONS_PATH, SUBSCRIPTION_PATH,
};
use crate::access::{Acting, Who};
use crate::exchange::ask::{call, provider_refused};
use crate::exchange::ExchangeError;
use crate::paging;
use crate::problems;
use crate::state::{Exchange, NodeState};

/// The push state's name in the store.
pub(crate) const PUSH: &str = "notices";

/// The longest a feed read waits for a notice.
const LONGEST_WAIT: u32 = 30;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::SUBSCRIPTIONS, post(subscribe).get(list))
        .route(paths::SUBSCRIPTION, get(show))
        .route(paths::SUBSCRIPTION_CANCEL, post(cancel))
        .route(paths::SUBSCRIPTION_SUBJECTS, post(add_subjects))
        .route(paths::SUBSCRIPTION_RENEW, post(renew))
        .route(paths::NOTICES, get(feed))
        .route(paths::NOTICE_PUSH, get(push_state).post(re_enable))
        .route(paths::AUDIT_SUBSCRIPTIONS, get(grant::granted))
}

/// Subscribes at the offering's provider.
#[utoipa::path(
    operation_id = "subscriptions_create",
    post,
    path = paths::SUBSCRIPTIONS,
    tag = "subscriptions",
    request_body = Subscribe,
    responses(
        (status = 201, description = "Granted (some or all event types): the subscription", body = SubscriptionView),
        (status = 200, description = "Nothing was granted (status `refused`), or the same request again", body = SubscriptionView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid: the id, an unknown offering, an end outside what is allowed, no subject or too many", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused or could not be reached (its problem inside)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn subscribe(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Json(asked): Json<Subscribe>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&asked.officer, &asked.unit, &asked.role)?;
    check_id(&asked.subscription_id)?;
    if asked.subjects.is_empty() || asked.subjects.len() > grant::MAX_SUBJECTS_PER_CALL {
        return Err(invalid(format!(
            "`subjects` names 1 to {} subjects",
            grant::MAX_SUBJECTS_PER_CALL
        )));
    }
    let ctx = state.exchange_context()?;
    let now = OffsetDateTime::now_utc();
    let request = SubscriptionRequest {
        subscription_id: asked.subscription_id.clone(),
        sent_at: rfc3339(now),
        unit: acting.unit.clone(),
        role: acting.role.clone(),
        officer: Some(acting.officer.clone()),
        vouched_by: Some(vouched_by(&acting)),
        offering: asked.offering.clone(),
        events: asked.events.clone(),
        purpose: asked.purpose.clone(),
        legal_basis: asked.legal_basis.clone(),
        case_ref: asked.case_ref.clone(),
        operation: asked.operation.clone(),
        ends: rfc3339(asked.ends),
        subjects: asked.subjects.clone(),
    };
    // What the provider would refuse whoever asked is refused here, with the same problems.
    grant::check_asked(&ctx, &state.authority, &request, now)?;
    let member = provider_of(&ctx, &asked.offering)?;
    let body = serde_json::to_vec(&request).map_err(internal)?;
    let answer = ask(&state, &ctx, member, SUBSCRIPTIONS_PATH, body).await?;
    let signed: Jws = serde_json::from_slice(&answer)
        .map_err(|_| unreadable(&member.authority, "the verdict is not a JWS"))?;
    let opened = open(member, &signed)?;
    let verdict = &opened.grant;
    if verdict.subscription_id != asked.subscription_id
        || verdict.subscriber != state.authority
        || verdict.provider != member.authority
        || verdict.offering != asked.offering
    {
        return Err(
            unreadable(&member.authority, "the verdict is for another subscription").into(),
        );
    }
    let ends = OffsetDateTime::parse(&verdict.ends, &Rfc3339)
        .map_err(|_| unreadable(&member.authority, "the verdict's end is not a time"))?;
    let held = HeldSubscription {
        id: asked.subscription_id.clone(),
        provider: member.authority.clone(),
        offering: asked.offering.clone(),
        unit: acting.unit.clone(),
        role: acting.role.clone(),
        officer: Some(acting.officer.clone()),
        purpose: asked.purpose.clone(),
        legal_basis: asked.legal_basis.clone(),
        case_ref: asked.case_ref.clone(),
        events: verdict.granted.clone(),
        subjects: verdict.subjects,
        verdict: serde_json::to_string(&signed).map_err(internal)?,
        created_at: OffsetDateTime::now_utc().min(ends - time::Duration::SECOND),
        ends_at: ends,
    };
    if verdict.granted.is_empty() {
        let mut view = view(&StoredHeld {
            held,
            state: SubscriptionState::Cancelled,
        });
        view.status = SubscriptionStatus::Refused;
        with_verdict(&mut view, &opened);
        return Ok((StatusCode::OK, Json(view)).into_response());
    }
    let new = state
        .exchange
        .hold_subscription(&held)
        .await
        .map_err(ExchangeError::from)?;
    let stored = state
        .exchange
        .held_subscription(&held.id)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(|| ExchangeError::Internal("a subscription just kept is gone".into()))?;
    let mut view = view(&stored);
    with_verdict(&mut view, &opened);
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)).into_response())
}

/// The subscriptions this node holds.
#[utoipa::path(
    operation_id = "subscriptions_list",
    get,
    path = paths::SUBSCRIPTIONS,
    tag = "subscriptions",
    params(SubscriptionListQuery),
    responses(
        (status = 200, description = "In id order", body = Vec<SubscriptionView>),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Query(query): Query<SubscriptionListQuery>,
) -> Result<Json<Vec<SubscriptionView>>, Problem> {
    who.require(Duty::Request)?;
    let unit = unit_filter(query.unit.as_deref())?;
    may_see(&who, unit)?;
    let limit = paging::limit(query.limit)?;
    if let Some(after) = &query.after {
        check_id(after).map_err(|_| {
            INVALID_QUERY
                .with("`after` is a subscription id")
                .with_extension("field", "after")
        })?;
    }
    let held = state
        .exchange
        .held_subscriptions(unit, query.after.as_deref(), limit)
        .await
        .map_err(ExchangeError::from)?;
    Ok(Json(held.iter().map(view).collect()))
}

/// One subscription this node holds, with the provider's verdict on each event type.
#[utoipa::path(
    operation_id = "subscriptions_show",
    get,
    path = paths::SUBSCRIPTION,
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, description = "The subscription", body = SubscriptionView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the subscription's unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No subscription with this id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, Problem> {
    who.require(Duty::Request)?;
    let stored = held(&state, &who, &id).await?;
    let mut view = view(&stored);
    if let Ok(ctx) = state.exchange_context() {
        if let (Some(member), Ok(signed)) = (
            ctx.config.member(&stored.held.provider),
            serde_json::from_str::<Jws>(&stored.held.verdict),
        ) {
            if let Ok(opened) = open(member, &signed) {
                with_verdict(&mut view, &opened);
            }
        }
    }
    Ok(Json(view))
}

/// Adds subjects to a subscription, at its provider.
#[utoipa::path(
    operation_id = "subscriptions_add_subjects",
    post,
    path = paths::SUBSCRIPTION_SUBJECTS,
    tag = "subscriptions",
    request_body = AddSubjects,
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, description = "Added at the provider", body = SubscriptionView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the subscription's unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active subscription with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid subject, none, or more than 5,000", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused or could not be reached", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn add_subjects(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
    Json(more): Json<AddSubjects>,
) -> Result<Json<SubscriptionView>, Problem> {
    who.require(Duty::Request)?;
    let stored = active(&state, &who, &id).await?;
    grant::subjects(&more.subjects, OffsetDateTime::now_utc())?;
    let ctx = state.exchange_context()?;
    let member = member(&ctx, &stored.held.provider)?;
    let body = serde_json::to_vec(&MoreSubjects {
        subjects: more.subjects,
    })
    .map_err(internal)?;
    let path = SUBJECTS_PATH.replace("{id}", &id);
    let answer = ask(&state, &ctx, member, &path, body).await?;
    let added: SubjectsAdded = serde_json::from_slice(&answer)
        .map_err(|_| unreadable(&member.authority, "its answer is unreadable"))?;
    state
        .exchange
        .held_subjects(&id, added.subjects)
        .await
        .map_err(ExchangeError::from)?;
    let mut view = view(&stored);
    view.subjects = added.subjects;
    Ok(Json(view))
}

/// Renews a subscription at its provider: decided again with its rulebook in force.
#[utoipa::path(
    operation_id = "subscriptions_renew",
    post,
    path = paths::SUBSCRIPTION_RENEW,
    tag = "subscriptions",
    request_body = Renew,
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, description = "Decided again: the subscription with what is granted now and its end (unchanged when nothing is granted any more)", body = SubscriptionView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the subscription's unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active subscription with this id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An end outside what is allowed", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider refused or could not be reached", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn renew(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
    Json(asked): Json<Renew>,
) -> Result<Json<SubscriptionView>, Problem> {
    who.require(Duty::Request)?;
    let stored = active(&state, &who, &id).await?;
    let now = OffsetDateTime::now_utc();
    grant::end(&rfc3339(asked.ends), now)?;
    let ctx = state.exchange_context()?;
    let member = member(&ctx, &stored.held.provider)?;
    let body = serde_json::to_vec(&RenewRequest {
        sent_at: rfc3339(now),
        ends: rfc3339(asked.ends),
    })
    .map_err(internal)?;
    let path = RENEW_PATH.replace("{id}", &id);
    let answer = ask(&state, &ctx, member, &path, body).await?;
    let signed: Jws = serde_json::from_slice(&answer)
        .map_err(|_| unreadable(&member.authority, "the verdict is not a JWS"))?;
    let opened = open(member, &signed)?;
    let verdict = &opened.grant;
    if verdict.subscription_id != id || verdict.subscriber != state.authority {
        return Err(
            unreadable(&member.authority, "the verdict is for another subscription").into(),
        );
    }
    if !verdict.granted.is_empty() {
        let ends = OffsetDateTime::parse(&verdict.ends, &Rfc3339)
            .map_err(|_| unreadable(&member.authority, "the verdict's end is not a time"))?;
        let kept = serde_json::to_string(&signed).map_err(internal)?;
        state
            .exchange
            .renew_held(&id, &verdict.granted, ends, &kept)
            .await
            .map_err(ExchangeError::from)?;
    }
    let renewed = held(&state, &who, &id).await?;
    let mut view = view(&renewed);
    with_verdict(&mut view, &opened);
    Ok(Json(view))
}

/// Cancels a subscription at its provider, then here.
#[utoipa::path(
    operation_id = "subscriptions_cancel",
    post,
    path = paths::SUBSCRIPTION_CANCEL,
    tag = "subscriptions",
    params(("id" = String, Path, description = "The subscription id")),
    responses(
        (status = 200, description = "Cancelled (also when it was before); it stays listed, as cancelled", body = SubscriptionView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the subscription's unit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No subscription with this id", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached: nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn cancel(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, Problem> {
    who.require(Duty::Request)?;
    let mut stored = held(&state, &who, &id).await?;
    if stored.state == SubscriptionState::Active {
        let ctx = state.exchange_context()?;
        let member = member(&ctx, &stored.held.provider)?;
        let path = SUBSCRIPTION_PATH.replace("{id}", &id);
        let response = call(&state, &ctx, member, Method::DELETE, &path, None).await?;
        // A provider that holds no such subscription has nothing to end either.
        if !response.status.is_success() && response.status != StatusCode::NOT_FOUND {
            return Err(
                provider_refused(&member.authority, response.status, &response.body).into(),
            );
        }
        if response.status.is_success() {
            serde_json::from_slice::<Cancelled>(&response.body)
                .map_err(|_| unreadable(&member.authority, "its answer is unreadable"))?;
        }
        state
            .exchange
            .end_held_subscription(&id)
            .await
            .map_err(ExchangeError::from)?;
        stored.state = SubscriptionState::Cancelled;
    }
    Ok(Json(view(&stored)))
}

/// The notices this node took, after a cursor; waits for one when asked to.
#[utoipa::path(
    operation_id = "notices_feed",
    get,
    path = paths::NOTICES,
    tag = "subscriptions",
    params(NoticeFeedQuery),
    responses(
        (status = 200, description = "The notices after the cursor, oldest first (empty when none came within `wait`)", body = NoticePage),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `request` duty or may not act for the unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500 or `wait` above 30", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn feed(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Query(query): Query<NoticeFeedQuery>,
) -> Result<Json<NoticePage>, Problem> {
    who.require(Duty::Request)?;
    let unit = unit_filter(query.unit.as_deref())?;
    may_see(&who, unit)?;
    let limit = paging::limit(query.limit)?;
    let wait = query.wait.unwrap_or(0);
    if wait > LONGEST_WAIT {
        return Err(problems::INVALID_REQUEST
            .with(format!("wait is 0 to {LONGEST_WAIT} seconds"))
            .with_extension("field", "wait"));
    }
    let after = query.after.unwrap_or(0);
    if i64::try_from(after).is_err() {
        return Err(INVALID_QUERY
            .with("`after` is a notice's `seq`")
            .with_extension("field", "after"));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(wait));
    loop {
        // Registered before reading, so a notice taken in between wakes this read.
        let taken = state.notices.taken.notified();
        let notices = state
            .exchange
            .received_after(unit, after, limit)
            .await
            .map_err(ExchangeError::from)?;
        if !notices.is_empty() || tokio::time::Instant::now() >= deadline {
            let next = notices.last().map_or(after, |n| n.seq);
            return Ok(Json(NoticePage {
                notices: notices.into_iter().map(notice_view).collect(),
                next,
            }));
        }
        if tokio::time::timeout_at(deadline, taken).await.is_err() {
            return Ok(Json(NoticePage {
                notices: Vec::new(),
                next: after,
            }));
        }
    }
}

/// Where pushing notices to the webhook stands.
#[utoipa::path(
    operation_id = "notices_push_state",
    get,
    path = paths::NOTICE_PUSH,
    tag = "subscriptions",
    responses(
        (status = 200, description = "Where pushing stands", body = PushView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `admin` duty", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn push_state(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<PushView>, Problem> {
    who.require(Duty::Admin)?;
    let push = state
        .exchange
        .push_state(PUSH)
        .await
        .map_err(ExchangeError::from)?;
    Ok(Json(push_view(&state, &push)))
}

/// Re-enables pushing after it was given up: the notices not accepted are pushed again.
#[utoipa::path(
    operation_id = "notices_push_enable",
    post,
    path = paths::NOTICE_PUSH,
    tag = "subscriptions",
    responses(
        (status = 200, description = "Pushing again", body = PushView),
        (status = 401, description = "No valid credential", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The client lacks the `admin` duty", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn re_enable(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<PushView>, Problem> {
    who.require(Duty::Admin)?;
    let push = state
        .exchange
        .push_state(PUSH)
        .await
        .map_err(ExchangeError::from)?;
    let push = PushState {
        through: push.through,
        ..PushState::default()
    };
    state
        .exchange
        .set_push_state(PUSH, &push)
        .await
        .map_err(ExchangeError::from)?;
    tracing::info!(client = %who.caller.client, "pushing notices re-enabled");
    Ok(Json(push_view(&state, &push)))
}

fn push_view(state: &NodeState, push: &PushState) -> PushView {
    PushView {
        configured: state.notices.webhook.is_some(),
        through: push.through,
        attempts: push.attempts,
        error: push.error.clone(),
        dead: push.dead,
    }
}

/// POSTs `body` to the provider's `path`: its answer's body, or its refusal passed on.
async fn ask(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    path: &str,
    body: Vec<u8>,
) -> Result<axum::body::Bytes, Problem> {
    let response = call(state, ctx, member, Method::POST, path, Some(body)).await?;
    if !response.status.is_success() {
        return Err(provider_refused(&member.authority, response.status, &response.body).into());
    }
    Ok(response.body)
}

/// The active subscription `id`, if the caller may see its unit's.
async fn active(state: &NodeState, who: &Who, id: &str) -> Result<StoredHeld, Problem> {
    let stored = held(state, who, id).await?;
    if stored.state != SubscriptionState::Active {
        return Err(
            problems::NO_SUCH_SUBSCRIPTION.with(format!("subscription `{id}` is cancelled"))
        );
    }
    Ok(stored)
}

/// The subscription `id`, if the caller may see its unit's.
async fn held(state: &NodeState, who: &Who, id: &str) -> Result<StoredHeld, Problem> {
    let no_such = || problems::NO_SUCH_SUBSCRIPTION.with("no subscription has this id");
    check_id(id).map_err(|_| no_such())?;
    let stored = state
        .exchange
        .held_subscription(id)
        .await
        .map_err(ExchangeError::from)?
        .ok_or_else(no_such)?;
    may_see(who, Some(&stored.held.unit))?;
    Ok(stored)
}

fn view(stored: &StoredHeld) -> SubscriptionView {
    let held = &stored.held;
    let status = match stored.state {
        SubscriptionState::Cancelled => SubscriptionStatus::Cancelled,
        SubscriptionState::Active if OffsetDateTime::now_utc() >= held.ends_at => {
            SubscriptionStatus::Ended
        }
        SubscriptionState::Active => SubscriptionStatus::Active,
    };
    SubscriptionView {
        id: held.id.clone(),
        provider: held.provider.clone(),
        offering: held.offering.clone(),
        unit: held.unit.clone(),
        status,
        granted: held.events.clone(),
        events: Vec::new(),
        subjects: held.subjects,
        purpose: held.purpose.clone(),
        legal_basis: held.legal_basis.clone(),
        case_ref: held.case_ref.clone(),
        created_at: held.created_at,
        ends: held.ends_at,
        decision: None,
    }
}

fn with_verdict(view: &mut SubscriptionView, opened: &OpenedGrant) {
    view.events = opened
        .grant
        .events
        .iter()
        .map(|e| EventOutcome {
            event: e.event.clone(),
            outcome: e.outcome,
            values: e.values.clone(),
        })
        .collect();
    view.decision = Some(opened.receipt.clone());
}

pub(crate) fn notice_view(notice: utbyte_store::ReceivedNotice) -> NoticeView {
    NoticeView {
        seq: notice.seq,
        provider: notice.provider,
        provider_seq: notice.provider_seq,
        subscription: notice.subscription,
        offering: notice.offering,
        subject: notice.subject.as_str().to_owned(),
        events: notice.events,
        fields: notice.fields,
        values: notice.values,
        changed_at: notice.changed_at,
        received_at: notice.received_at,
    }
}

fn open(member: &Member, signed: &Jws) -> Result<OpenedGrant, ExchangeError> {
    let key = member
        .answer_key()
        .map_err(|e| ExchangeError::Internal(e.to_string()))?;
    grant::open_grant(signed, &key).map_err(|why| unreadable(&member.authority, &why))
}

/// The provider of `offering`, as the rulebook and configuration name it.
fn provider_of<'a>(ctx: &'a Exchange, offering: &str) -> Result<&'a Member, ExchangeError> {
    let provider = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(offering)
        .map(|o| o.provider.clone())
        .ok_or_else(|| ExchangeError::UnknownOffering(format!("no offering `{offering}`")))?;
    member(ctx, &provider)
}

fn member<'a>(ctx: &'a Exchange, authority: &str) -> Result<&'a Member, ExchangeError> {
    ctx.config
        .member(authority)
        .ok_or_else(|| ExchangeError::NotAMember(format!("`{authority}` is not a member")))
}

fn vouched_by(acting: &Acting) -> utbyte_api::access::VouchedBy {
    utbyte_api::access::VouchedBy {
        client: acting.client.clone(),
        vouch: acting.vouch,
    }
}

fn check_id(id: &str) -> Result<(), Problem> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "`subscription_id` is 1 to 128 letters, digits, `-` and `_`",
        ))
    }
}

fn unit_filter(unit: Option<&str>) -> Result<Option<&str>, Problem> {
    match unit {
        Some(unit) if unit.is_empty() || unit.len() > 256 || unit.chars().any(char::is_control) => {
            Err(INVALID_QUERY
                .with("`unit` must be a unit id: 1 to 256 bytes of printable text")
                .with_extension("field", "unit"))
        }
        unit => Ok(unit),
    }
}

/// Whether the caller may see `unit`'s subscriptions (or, for `None`, every unit's).
fn may_see(who: &Who, unit: Option<&str>) -> Result<(), Problem> {
    let units = &who.caller.units;
    match unit {
        _ if units.is_empty() => Ok(()),
        Some(unit) if units.iter().any(|u| u == unit) => Ok(()),
        _ => Err(who.forbid(
            "unit-not-allowed",
            &format!(
                "client `{}` acts for some units only: name one of them with `unit`",
                who.caller.client
            ),
        )),
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn invalid(detail: impl Into<String>) -> Problem {
    problems::INVALID_REQUEST.with(detail.into())
}

fn unreadable(provider: &str, why: &str) -> ExchangeError {
    ExchangeError::ProviderUnreachable(format!("`{provider}` answered something unusable: {why}"))
}

fn internal(error: impl std::fmt::Display) -> ExchangeError {
    ExchangeError::Internal(error.to_string())
}
