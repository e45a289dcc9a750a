//! The consumer side: the local API through which the authority's own case systems ask other
//! authorities, and what the node does with the answers.
//!
//! A case system submits a request with an `Idempotency-Key`; the node finds the provider from
//! the offering, sends the request over mutual TLS, verifies the signed answer (signature,
//! that it answers this request, that nothing beyond the disclosed fields came back), records
//! a receipt in its own ledger and hands over the data with both receipts. A request routed to
//! review gets a ticket; the node asks the provider about it until it is decided, then calls the
//! case system back if it gave a callback.

use crate::protocol::{
    open_answer, AnswerStatus, ExchangeRequest, FieldVerdict, OpenedAnswer, Receipt, ReviewState,
};
use crate::provider::{new_id, request_problem, subject_identifier};
use crate::records::{requester, ExchangeFacts};
use crate::state::{Exchange, NodeState};
use crate::{observe, problems};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::EventKind;
use utbyte_federation::Jws;
use utbyte_http::{ClientError, ExpectedPeer, Json, Problem, TlsFailure};
use utbyte_rules::{DisclosureRequest, Outcome, Subject};
use utbyte_store::{
    Begun, OutgoingRequest, OutgoingState, OutgoingUpdate, StoreError, StoredOutgoing,
};

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// A request from a case system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Personnummer, samordningsnummer or organisationsnummer (10 or 12 digits, with or without separator).
    pub subject: String,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    /// The provision claimed.
    pub legal_basis: String,
    /// The case reference (diarienummer).
    pub case_ref: String,
    /// The joint operation (SFS 2016:774), when the request is made within one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The officer's user id (kept locally, never sent in the ledger).
    pub officer: String,
    pub role: String,
    /// The officer's unit; must be a unit of this node's authority.
    pub unit: String,
    /// Where to POST the final answer when a review is decided (`http://` or `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Decided: `values` holds what was disclosed (possibly nothing).
    Answered,
    /// Waiting for a reviewer at the provider; poll, or wait for the callback.
    Review,
}

/// What the case system gets back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseAnswer {
    pub idempotency_key: String,
    pub status: CaseStatus,
    pub provider: String,
    pub offering: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// The disclosed fields, and only those.
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, Value>,
    /// Per requested field: the outcome, its ground and the provisions cited.
    pub fields: Vec<FieldVerdict>,
    /// Where the provider recorded its decision.
    pub provider_receipt: Receipt,
    /// Where this node recorded the answer it received.
    pub receipt: OwnReceipt,
    /// The provider's signed answer, to keep as proof.
    pub signed_answer: Jws,
}

/// This node's ledger entry for an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnReceipt {
    pub ledger: String,
    pub index: u64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListQuery {
    /// Only this officer's requests.
    officer: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// A request as listed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseSummary {
    pub idempotency_key: String,
    /// `in_flight`, `answered` or `review`.
    pub state: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    #[schema(value_type = Object)]
    pub request: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<CaseAnswer>,
    pub created_at: String,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route("/v1/requests", post(submit).get(list))
        .route("/v1/requests/{key}", get(fetch))
}

fn store_problem(err: StoreError) -> Problem {
    match err {
        StoreError::IdempotencyConflict => problems::IDEMPOTENCY_CONFLICT
            .with("this Idempotency-Key was used with a different request body; use a new key"),
        other => problems::STORE_FAILED.with(other.to_string()),
    }
}

/// Asks the authority that publishes the offering.
#[utoipa::path(
    operation_id = "requests_submit",
    post,
    path = "/v1/requests",
    tag = "consumer",
    request_body = CaseRequest,
    params(("Idempotency-Key" = String, Header, description = "Chosen by the case system; a retry with the same key and body gets the same answer")),
    responses(
        (status = 200, description = "Answered", body = CaseAnswer),
        (status = 202, description = "Routed to review at the provider", body = CaseAnswer),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No member publishes the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same key is still in flight", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or subject identifier, or key reused for another request", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached, refused, or its answer failed verification", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn submit(
    State(state): State<Arc<NodeState>>,
    headers: HeaderMap,
    Json(case): Json<CaseRequest>,
) -> Result<Response, Problem> {
    let _timed = crate::metrics::Metrics::time(&state.metrics.consumer_request);
    let key = idempotency_key(&headers)?;
    let ctx = state.exchange_context()?;
    let now = OffsetDateTime::now_utc();
    let request = check_case(&state, &ctx, &case, now)?;
    let provider = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&case.offering)
        .map(|o| o.provider.clone())
        .ok_or_else(|| {
            problems::UNKNOWN_OFFERING.with(format!(
                "offering `{}` is not in the federation's rulebook",
                case.offering
            ))
        })?;
    let member = ctx.config.member(&provider).cloned().ok_or_else(|| {
        problems::UNKNOWN_OFFERING.with(format!(
            "`{provider}`, which publishes `{}`, has no node in the federation",
            case.offering
        ))
    })?;
    let body = serde_json::to_vec(&case).map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let request_id = new_id()?;
    let outgoing = OutgoingRequest {
        key: key.clone(),
        request_hash: hex::encode(Sha256::digest(&body)),
        request_id: request_id.clone(),
        provider: provider.clone(),
        officer: Some(case.officer.clone()),
        request_json: String::from_utf8_lossy(&body).into_owned(),
        callback: case.callback.clone(),
        created_at: now,
    };
    match state
        .exchange
        .begin_outgoing(&outgoing)
        .await
        .map_err(store_problem)?
    {
        Begun::Started => {}
        Begun::Existing(stored) => return stored_response(&stored),
    }
    let sent = send(&state, &ctx, &member, &request, &request_id, now).await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(problem) => {
            // Nothing was received, so nothing is kept: a retry with the same key starts afresh.
            let _ = state.exchange.abandon_outgoing(&key).await;
            return Err(problem);
        }
    };
    let answer = accept(&state, &ctx, &key, &request, &request_id, &member, answer).await?;
    Ok(case_response(&answer))
}

/// A request and, once there is one, its answer. A request in review is first asked about at
/// the provider.
#[utoipa::path(
    operation_id = "requests_fetch",
    get,
    path = "/v1/requests/{key}",
    tag = "consumer",
    params(("key" = String, Path, description = "The Idempotency-Key the request was submitted with")),
    responses(
        (status = 200, description = "Answered", body = CaseAnswer),
        (status = 202, description = "Still in review", body = CaseAnswer),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still in flight", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn fetch(
    State(state): State<Arc<NodeState>>,
    Path(key): Path<String>,
) -> Result<Response, Problem> {
    let stored = state
        .exchange
        .outgoing(&key)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| problems::NO_SUCH_REQUEST.with(format!("no request with key `{key}`")))?;
    if stored.state == OutgoingState::InReview {
        if let Some(answer) = poll_one(&state, &stored).await? {
            return Ok(case_response(&answer));
        }
    }
    stored_response(&stored)
}

/// This node's requests, newest first.
#[utoipa::path(
    operation_id = "requests_list",
    get,
    path = "/v1/requests",
    tag = "consumer",
    params(ListQuery),
    responses((status = 200, description = "Requests, newest first", body = Vec<CaseSummary>))
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<CaseSummary>>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(problems::INVALID_REQUEST.with("limit must be 1 to 500"));
    }
    let rows = state
        .exchange
        .list_outgoing(query.officer.as_deref(), limit, query.offset.unwrap_or(0))
        .await
        .map_err(store_problem)?;
    rows.iter()
        .map(|row| {
            Ok(CaseSummary {
                idempotency_key: row.key.clone(),
                state: match row.state {
                    OutgoingState::InFlight => "in_flight",
                    OutgoingState::Answered => "answered",
                    OutgoingState::InReview => "review",
                }
                .into(),
                provider: row.provider.clone(),
                officer: row.officer.clone(),
                request: serde_json::from_str(&row.request_json).unwrap_or(Value::Null),
                answer: stored_answer(row)?,
                created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
            })
        })
        .collect::<Result<_, Problem>>()
        .map(Json)
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
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

/// Checks a case request at the edge and turns it into the request the provider will decide.
fn check_case(
    state: &NodeState,
    ctx: &Exchange,
    case: &CaseRequest,
    now: OffsetDateTime,
) -> Result<DisclosureRequest, Problem> {
    let unit_authority = ctx.rulebook.vocabulary.unit_authority.get(&case.unit);
    if unit_authority != Some(&state.authority) {
        return Err(problems::INVALID_REQUEST.with(format!(
            "unit `{}` is not a unit of `{}`",
            case.unit, state.authority
        )));
    }
    if let Some(callback) = &case.callback {
        let ok = (callback.starts_with("http://") || callback.starts_with("https://"))
            && callback.len() <= 2048
            && callback.parse::<http::Uri>().is_ok();
        if !ok {
            return Err(problems::INVALID_REQUEST
                .with("`callback` must be an http:// or https:// URL of at most 2048 bytes"));
        }
    }
    let mut request = DisclosureRequest {
        recipient: state.authority.clone(),
        unit: case.unit.clone(),
        role: case.role.clone(),
        officer: Some(case.officer.clone()),
        offering: case.offering.clone(),
        fields: case.fields.clone(),
        purpose: case.purpose.clone(),
        legal_basis: case.legal_basis.clone(),
        case_ref: case.case_ref.clone(),
        operation: case.operation.clone(),
        subject: Subject {
            id: case.subject.clone(),
            protected_identity: false,
        },
        time: now,
    };
    let subject = request.validate().map_err(request_problem)?;
    request.subject.id = subject.as_str().to_owned();
    Ok(request)
}

async fn send(
    state: &NodeState,
    ctx: &Exchange,
    member: &utbyte_federation::Member,
    request: &DisclosureRequest,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<(StatusCode, Jws), Problem> {
    let outgoing = ExchangeRequest {
        request_id: request_id.to_owned(),
        sent_at: now.format(&Rfc3339).unwrap_or_default(),
        unit: request.unit.clone(),
        role: request.role.clone(),
        officer: request.officer.clone(),
        offering: request.offering.clone(),
        fields: request.fields.clone(),
        purpose: request.purpose.clone(),
        legal_basis: request.legal_basis.clone(),
        case_ref: request.case_ref.clone(),
        operation: request.operation.clone(),
        subject: request.subject.id.clone(),
    };
    let body = serde_json::to_vec(&outgoing).map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let response = call(
        state,
        ctx,
        member,
        Method::POST,
        "/federation/v1/requests",
        Some(body),
    )
    .await?;
    match response.status {
        StatusCode::OK | StatusCode::ACCEPTED => {
            let signed: Jws = serde_json::from_slice(&response.body).map_err(|e| {
                problems::BAD_ANSWER.with(format!("the provider's answer is not a JWS: {e}"))
            })?;
            Ok((response.status, signed))
        }
        status => Err(provider_problem(&member.authority, status, &response.body)),
    }
}

/// One exchange with a member's node, its failure worded for the case system.
pub(crate) async fn call(
    state: &NodeState,
    ctx: &Exchange,
    member: &utbyte_federation::Member,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<utbyte_http::FederationResponse, Problem> {
    let fingerprints = member.current_certificates(&ctx.config.revoked);
    let expected = ExpectedPeer {
        authority: &member.authority,
        fingerprints: Some(&fingerprints),
    };
    state
        .client
        .send(&member.endpoint, expected, method, path, body)
        .await
        .map_err(|err| client_problem(&member.authority, &err))
}

fn client_problem(provider: &str, err: &ClientError) -> Problem {
    match err {
        ClientError::Tls { failure, .. } => problems::PROVIDER_TLS
            .with(format!("`{provider}`: {err}"))
            .with_extension("tls_failure", tls_failure_slug(*failure)),
        ClientError::UnexpectedPeer { .. } | ClientError::UnlistedCertificate { .. } => {
            problems::PROVIDER_TLS.with(format!("`{provider}`: {err}"))
        }
        _ => problems::PROVIDER_UNREACHABLE.with(format!("`{provider}`: {err}")),
    }
}

fn tls_failure_slug(failure: TlsFailure) -> &'static str {
    match failure {
        TlsFailure::PeerUnknownCa => "peer-unknown-ca",
        TlsFailure::PeerExpired => "peer-certificate-expired",
        TlsFailure::PeerRevoked => "peer-certificate-revoked",
        TlsFailure::PeerBadCertificate => "peer-bad-certificate",
        TlsFailure::RefusedUnknownCa => "refused-unknown-ca",
        TlsFailure::RefusedExpired => "refused-certificate-expired",
        TlsFailure::RefusedRevoked => "refused-certificate-revoked",
        TlsFailure::RefusedBadCertificate => "refused-bad-certificate",
        TlsFailure::Other => "handshake-failed",
    }
}

/// A provider's problem, passed on inside ours so the case system sees exactly what it said.
fn provider_problem(provider: &str, status: StatusCode, body: &[u8]) -> Problem {
    match serde_json::from_slice::<Problem>(body) {
        Ok(inner) => problems::PROVIDER_REFUSED
            .with(format!("`{provider}` answered {status}: {}", inner.detail))
            .with_extension(
                "provider_problem",
                serde_json::to_value(&inner).unwrap_or(Value::Null),
            ),
        Err(_) => problems::PROVIDER_REFUSED.with(format!("`{provider}` answered {status}")),
    }
}

/// Verifies an answer, records the receipt and keeps the answer for the case system.
async fn accept(
    state: &NodeState,
    ctx: &Exchange,
    key: &str,
    request: &DisclosureRequest,
    request_id: &str,
    member: &utbyte_federation::Member,
    (status, signed): (StatusCode, Jws),
) -> Result<CaseAnswer, Problem> {
    let checked = verify(member, request, request_id, &state.authority, &signed);
    let opened = match checked {
        Ok(opened) => opened,
        Err(reason) => {
            let _ = state.exchange.abandon_outgoing(key).await;
            return Err(observe::rejected(state, member, request, reason));
        }
    };
    let expect_review = status == StatusCode::ACCEPTED;
    if expect_review != (opened.answer.status == AnswerStatus::Review) {
        let _ = state.exchange.abandon_outgoing(key).await;
        let reason = "the answer's status does not match the HTTP status".to_owned();
        return Err(observe::rejected(state, member, request, reason));
    }
    let _ = ctx;
    record_and_keep(state, key, request, member, signed, opened).await
}

/// Checks a signed answer against the request it answers.
fn verify(
    member: &utbyte_federation::Member,
    request: &DisclosureRequest,
    request_id: &str,
    recipient: &str,
    signed: &Jws,
) -> Result<OpenedAnswer, String> {
    let key = member.answer_key().map_err(|e| e.to_string())?;
    let opened = open_answer(signed, &key)?;
    let answer = &opened.answer;
    let mismatch = |what: &str| Err(format!("the answer's {what} does not match the request"));
    if answer.request_id != request_id {
        return mismatch("request id");
    }
    if answer.provider != member.authority {
        return mismatch("provider");
    }
    if answer.recipient != recipient {
        return mismatch("recipient");
    }
    if answer.offering != request.offering {
        return mismatch("offering");
    }
    if answer.subject != request.subject.id {
        return mismatch("subject");
    }
    let requested: HashSet<&str> = request.fields.iter().map(String::as_str).collect();
    let decided: HashSet<&str> = answer.fields.iter().map(|f| f.field.as_str()).collect();
    if requested != decided {
        return mismatch("list of decided fields");
    }
    if let Some(extra) = answer.values.keys().find(|field| {
        !answer
            .fields
            .iter()
            .any(|f| f.field == **field && f.outcome == Outcome::Disclose)
    }) {
        return Err(format!(
            "the answer carries field `{extra}`, which its own decision does not disclose"
        ));
    }
    Ok(opened)
}

async fn record_and_keep(
    state: &NodeState,
    key: &str,
    request: &DisclosureRequest,
    member: &utbyte_federation::Member,
    signed: Jws,
    opened: OpenedAnswer,
) -> Result<CaseAnswer, Problem> {
    let subject: utbyte_domain::SubjectId = request
        .subject
        .id
        .parse()
        .map_err(|e| problems::INTERNAL.with(format!("{e}")))?;
    let facts = ExchangeFacts {
        actor: requester(request),
        provider: &member.authority,
        request,
        rulebook_sha256: &opened.answer.rulebook_sha256,
    };
    let record = facts.record(
        EventKind::Receipt,
        &opened.answer.fields,
        Some(&opened.sha256),
        Some(opened.receipt.index),
    );
    let own = state
        .record(record, vec![subject_identifier(&subject)?])
        .await?;
    observe::accepted(state, &opened, own.index);
    let answer = CaseAnswer {
        idempotency_key: key.to_owned(),
        status: match opened.answer.status {
            AnswerStatus::Answered => CaseStatus::Answered,
            AnswerStatus::Review => CaseStatus::Review,
        },
        provider: member.authority.clone(),
        offering: opened.answer.offering,
        ticket: opened.answer.ticket,
        values: opened.answer.values,
        fields: opened.answer.fields,
        provider_receipt: opened.receipt,
        receipt: OwnReceipt {
            ledger: state.origin.clone(),
            index: own.index,
        },
        signed_answer: signed,
    };
    let update = OutgoingUpdate {
        state: match answer.status {
            CaseStatus::Answered => OutgoingState::Answered,
            CaseStatus::Review => OutgoingState::InReview,
        },
        answer_json: Some(
            serde_json::to_string(&answer).map_err(|e| problems::INTERNAL.with(e.to_string()))?,
        ),
        ticket: answer.ticket.clone(),
        updated_at: OffsetDateTime::now_utc(),
    };
    state
        .exchange
        .complete_outgoing(key, &update)
        .await
        .map_err(store_problem)?;
    Ok(answer)
}

fn case_response(answer: &CaseAnswer) -> Response {
    let status = match answer.status {
        CaseStatus::Answered => StatusCode::OK,
        CaseStatus::Review => StatusCode::ACCEPTED,
    };
    (status, Json(answer.clone())).into_response()
}

fn stored_answer(stored: &StoredOutgoing) -> Result<Option<CaseAnswer>, Problem> {
    stored
        .answer_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| problems::INTERNAL.with(format!("stored answer unreadable: {e}")))
}

fn stored_response(stored: &StoredOutgoing) -> Result<Response, Problem> {
    match stored_answer(stored)? {
        Some(answer) if stored.state != OutgoingState::InFlight => Ok(case_response(&answer)),
        _ => Err(problems::IN_FLIGHT.with(format!(
            "the request with key `{}` is still being processed; ask again shortly",
            stored.key
        ))),
    }
}

/// Asks the provider about one request in review; the answer, if it has been decided.
pub(crate) async fn poll_one(
    state: &NodeState,
    stored: &StoredOutgoing,
) -> Result<Option<CaseAnswer>, Problem> {
    let Some(ticket) = &stored.ticket else {
        return Ok(None);
    };
    let ctx = state.exchange_context()?;
    let member = ctx
        .config
        .member(&stored.provider)
        .cloned()
        .ok_or_else(|| {
            problems::PROVIDER_UNREACHABLE
                .with(format!("`{}` has left the federation", stored.provider))
        })?;
    let response = call(
        state,
        &ctx,
        &member,
        Method::GET,
        &format!("/federation/v1/reviews/{ticket}"),
        None,
    )
    .await?;
    if response.status != StatusCode::OK {
        return Err(provider_problem(
            &member.authority,
            response.status,
            &response.body,
        ));
    }
    let review: ReviewState = serde_json::from_slice(&response.body)
        .map_err(|e| problems::BAD_ANSWER.with(format!("malformed review state: {e}")))?;
    let Some(signed) = review.answer else {
        return Ok(None);
    };
    let case: CaseRequest = serde_json::from_str(&stored.request_json)
        .map_err(|e| problems::INTERNAL.with(format!("stored request unreadable: {e}")))?;
    let request = check_case(state, &ctx, &case, stored.created_at)?;
    let opened = verify(
        &member,
        &request,
        &stored.request_id,
        &state.authority,
        &signed,
    )
    .map_err(|reason| observe::rejected(state, &member, &request, reason))?;
    if opened.answer.status != AnswerStatus::Answered {
        return Err(problems::BAD_ANSWER.with("a decided review must carry a final answer"));
    }
    record_and_keep(state, &stored.key, &request, &member, signed, opened)
        .await
        .map(Some)
}

/// One round of the background work: ask about every request in review, then deliver every
/// pending callback.
pub(crate) async fn background_round(state: &NodeState, callbacks: &crate::callback::Callbacks) {
    if let Ok(waiting) = state.exchange.outgoing_in_review(100).await {
        for stored in waiting {
            if let Err(problem) = poll_one(state, &stored).await {
                tracing::info!(provider = %stored.provider, %problem, "review poll failed");
            }
        }
    }
    if let Ok(pending) = state.exchange.undelivered_callbacks(100).await {
        for stored in pending {
            if let (Some(url), Ok(Some(answer))) = (&stored.callback, stored_answer(&stored)) {
                if callbacks.deliver(url, &answer).await {
                    let _ = state.exchange.mark_callback_delivered(&stored.key).await;
                }
            }
        }
    }
}
