//! The consumer side's handlers: the local API through which the authority's own case systems
//! ask other authorities. A case system submits a request with an `Idempotency-Key`; the
//! exchange itself ([`crate::exchange::ask`]) sends it, verifies the signed answer, records the
//! receipt and keeps the answer. A request routed to review gets a ticket; the node asks the
//! provider about it until it is decided, then calls the case system back if it gave a
//! callback. A request left in flight by a crash is asked again or failed
//! ([`crate::exchange::recover`]), at start, in each background round, and when its key is
//! asked about.

use crate::access::Who;
use crate::exchange::ask::{self, stored_answer};
use crate::exchange::{could_exist, ExchangeError};
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
use utbyte_api::access::VouchedBy;
use utbyte_api::paths;
use utbyte_api::requests::{
    CaseAnswer, CaseRequest, CaseState, CaseStatus, CaseSummary, RequestListQuery,
    MAX_IDEMPOTENCY_KEY,
};
use utbyte_http::{Json, Path, Problem, Query, INVALID_QUERY};
use utbyte_store::OutgoingState;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::REQUESTS, post(submit).get(list))
        .route(paths::REQUEST, get(fetch))
}

/// Asks the authority that publishes the offering.
#[utoipa::path(
    operation_id = "requests_submit",
    post,
    path = paths::REQUESTS,
    tag = "consumer",
    request_body = CaseRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 128, pattern = "^[!-~]+$", description = "Chosen by the case system, 1 to 128 visible ASCII characters; a retry with the same key and body gets the same answer")),
    responses(
        (status = 200, description = "Answered", body = CaseAnswer),
        (status = 202, description = "Routed to review at the provider", body = CaseAnswer),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No member publishes the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same key is still in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or subject identifier, or key reused for another request", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached, refused, or its answer failed verification; or, for a key already used, the exchange ended without an answer (`request-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn submit(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    Json(mut case): Json<CaseRequest>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&case.officer, &case.unit, &case.role)?;
    if case.vouched_by.is_some() {
        return Err(problems::INVALID_REQUEST
            .with(
                "`vouched_by` is set by the node from the caller's credentials, not by the caller",
            )
            .with_extension("field", "vouched_by"));
    }
    case.vouched_by = Some(VouchedBy {
        client: acting.client,
        vouch: acting.vouch,
    });
    let key = idempotency_key(&headers)?;
    let answer = ask::submit(&state, key, &case, OffsetDateTime::now_utc()).await?;
    Ok(case_response(&answer))
}

/// A request and, once there is one, its answer. A request in review is first asked about at
/// the provider.
#[utoipa::path(
    operation_id = "requests_fetch",
    get,
    path = paths::REQUEST,
    tag = "consumer",
    params(("key" = String, Path, min_length = 1, max_length = 128, pattern = "^[!-~]+$", description = "The Idempotency-Key the request was submitted with")),
    responses(
        (status = 200, description = "Answered", body = CaseAnswer),
        (status = 202, description = "Still in review", body = CaseAnswer),
        (status = 404, description = "No such request (or a key no request can have)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still in flight", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The exchange ended without an answer (`request-failed`, with the provider's problem)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn fetch(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(key): Path<String>,
) -> Result<Response, Problem> {
    who.require(Duty::Request)?;
    if !could_exist(&key, MAX_IDEMPOTENCY_KEY) {
        return Err(problems::NO_SUCH_REQUEST.with(format!(
            "no request has this key: keys are 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        )));
    }
    Ok(case_response(
        &ask::fetch(&state, &key, own_scope(&who)).await?,
    ))
}

/// Whose requests a caller may read: its own client's, or — with the audit duty, which oversees
/// the node — every client's.
fn own_scope(who: &Who) -> Option<&str> {
    (!who.caller.may(Duty::Audit)).then_some(who.caller.client.as_str())
}

/// This node's requests, newest first.
#[utoipa::path(
    operation_id = "requests_list",
    get,
    path = paths::REQUESTS,
    tag = "consumer",
    params(RequestListQuery),
    responses(
        (status = 200, description = "Requests, newest first", body = Vec<CaseSummary>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query: an unknown parameter, an empty or impossible `officer`, or an `after` that is not a cursor (32 lowercase hexadecimal digits)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500, or an `officer` longer than 256 bytes in UTF-8", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<RequestListQuery>,
) -> Result<Listed<CaseSummary>, Problem> {
    who.require(Duty::Request)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    // An officer id is what a case request may carry as `officer`; an empty or impossible one
    // is a mistake to point out, not a filter that matches nothing.
    if let Some(officer) = &query.officer {
        if officer.trim().is_empty() || officer.chars().any(char::is_control) {
            return Err(INVALID_QUERY
                .with("`officer` must be an officer id: printable text, not only spaces")
                .with_extension("field", "officer"));
        }
        // The document's `maxLength` counts characters; an officer id is bounded in bytes, as
        // in a case request, which a schema cannot say.
        if officer.len() > utbyte_rules::request::MAX_TEXT {
            return Err(problems::INVALID_REQUEST
                .with(format!(
                    "`officer` is longer than an officer id can be: {} bytes in UTF-8",
                    utbyte_rules::request::MAX_TEXT
                ))
                .with_extension("field", "officer"));
        }
    }
    let page = state
        .exchange
        .list_outgoing(query.officer.as_deref(), own_scope(&who), limit, after)
        .await
        .map_err(ExchangeError::from)?;
    page.try_map(|row| {
        let request = serde_json::from_str(&row.request_json)
            .map_err(|e| ExchangeError::Internal(format!("stored request unreadable: {e}")))?;
        Ok(CaseSummary {
            idempotency_key: row.key.clone(),
            state: match row.state {
                OutgoingState::InFlight => CaseState::InFlight,
                OutgoingState::Answered => CaseState::Answered,
                OutgoingState::InReview => CaseState::Review,
                OutgoingState::Failed => CaseState::Failed,
            },
            provider: row.provider.clone(),
            officer: row.officer.clone(),
            request,
            answer: stored_answer(&row)?,
            failure: row
                .failure_json
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| ExchangeError::Internal(format!("stored failure unreadable: {e}")))?,
            created_at: row.created_at,
        })
    })
    .map(|page| Listed::new(&uri, page))
    .map_err(|e: ExchangeError| Problem::from(e))
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            problems::MISSING_IDEMPOTENCY_KEY
                .with("send an Idempotency-Key header: a retry with the same key is answered, not repeated")
        })?
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            problems::MISSING_IDEMPOTENCY_KEY.with(format!(
                "the Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
            ))
        })?;
    Ok(key.to_owned())
}

fn case_response(answer: &CaseAnswer) -> Response {
    let status = match answer.status {
        CaseStatus::Answered => StatusCode::OK,
        CaseStatus::Review => StatusCode::ACCEPTED,
    };
    (status, Json(answer.clone())).into_response()
}

/// One round of the background work: drive every request left in flight to an end
/// ([`crate::exchange::recover`]), ask about every request in review, then deliver every
/// callback notice that is due, announce every message that arrived, and push the notices
/// of subscriptions taken.
pub(crate) async fn background_round(state: &NodeState, callbacks: &crate::callback::Callbacks) {
    // Recovery and review polls record receipts: one instance of a node runs them (callbacks
    // are claimed notice by notice, so every instance delivers).
    if state.leading.load(std::sync::atomic::Ordering::Relaxed) {
        crate::exchange::recover::round(state, OffsetDateTime::now_utc()).await;
        if let Ok(waiting) = state.exchange.outgoing_in_review(100).await {
            for stored in waiting {
                if let Err(err) = ask::poll_one(state, &stored).await {
                    tracing::info!(provider = %stored.provider, %err, "review poll failed");
                }
            }
        }
    }
    callbacks.deliver_due(&state.exchange).await;
    if let Some(url) = &state.messages.callback {
        callbacks.announce_arrivals(&state.exchange, url).await;
    }
    // Pushed in order: by one instance.
    if let Some(url) = &state.notices.webhook {
        if state.leading.load(std::sync::atomic::Ordering::Relaxed) {
            callbacks.push_notices(&state.exchange, url).await;
        }
    }
}
