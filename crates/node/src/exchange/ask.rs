//! The recipient's side of an exchange: a case system's request sent to the provider's node,
//! the signed answer verified and its receipt recorded, the answer kept under the case
//! system's `Idempotency-Key`; and a request in review followed until it is decided. A request
//! left in flight by a crash is driven to an end by `recover`.

use super::verify::{verify, Expected};
use super::{CheckedRequest, ExchangeError};
use crate::protocol::{AnswerStatus, ExchangeRequest, OpenedAnswer, ReviewState};
use crate::records::{requester, ExchangeFacts};
use crate::state::{Exchange, NodeState};
use http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_api::access::{Vouch, VouchedBy};
use utbyte_api::requests::{CaseAnswer, CaseRequest, CaseStatus, OwnReceipt};
use utbyte_api::SignedAnswer;
use utbyte_audit::EventKind;
use utbyte_federation::{Jws, Member};
use utbyte_http::{ClientError, ExpectedPeer, FederationResponse, Problem, TlsFailure};
use utbyte_rules::DisclosureRequest;
use utbyte_store::{Begun, OutgoingRequest, OutgoingState, OutgoingUpdate, StoredOutgoing};

/// Asks the authority that publishes the offering, once per key: a retry with the same key
/// and body is answered from the record.
pub(crate) async fn submit(
    state: &NodeState,
    key: String,
    case: &CaseRequest,
    now: OffsetDateTime,
) -> Result<CaseAnswer, ExchangeError> {
    let _timed = crate::metrics::Metrics::time(&state.metrics.consumer_request);
    let ctx = state.exchange_context()?;
    if let Some(callback) = &case.callback {
        // At submit only: a request stored under an earlier allow-list is still checked at
        // each delivery, but never refused after the fact.
        state
            .callback_targets
            .check(callback)
            .map_err(|refused| ExchangeError::CallbackNotAllowed(refused.to_string()))?;
    }
    let request = check_case(state, &ctx, case, now)?;
    let provider = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&case.offering)
        .map(|o| o.provider.clone())
        .ok_or_else(|| {
            ExchangeError::UnknownOffering(format!(
                "offering `{}` is not in the federation's rulebook",
                case.offering
            ))
        })?;
    let member = ctx.config.member(&provider).cloned().ok_or_else(|| {
        ExchangeError::UnknownOffering(format!(
            "`{provider}`, which publishes `{}`, has no node in the federation",
            case.offering
        ))
    })?;
    let body = serde_json::to_vec(case).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let request_id = super::answer::new_id()?;
    let outgoing = OutgoingRequest {
        key: key.clone(),
        request_hash: hex::encode(Sha256::digest(&body)),
        request_id: request_id.clone(),
        provider: provider.clone(),
        officer: Some(case.officer.clone()),
        client: case.vouched_by.as_ref().map(|by| by.client.clone()),
        request_json: String::from_utf8_lossy(&body).into_owned(),
        callback: case.callback.clone(),
        created_at: now,
    };
    if let Begun::Existing(stored) = state.exchange.begin_outgoing(&outgoing).await? {
        // A retry after a crash: the exchange is recovered now rather than at the next round.
        return kept_outcome(super::recover::now_or_later(state, stored, now).await?);
    }
    match ask_provider(state, &ctx, &member, &request, &request_id, now).await {
        Ok((signed, opened)) => {
            record_and_keep(state, &key, &request, &member, signed, opened, None).await
        }
        Err(err) => {
            // Nothing usable was received, so nothing is kept: a retry with the same key
            // starts afresh.
            let _ = state.exchange.abandon_outgoing(&key).await;
            Err(err)
        }
    }
}

/// A request and, once there is one, its answer. A request in review is first asked about at
/// the provider.
/// The request `key` and its answer, as the caller may see it: with `scope`, only if that client
/// made it (or no client is recorded for it) — another client's request is not there.
pub(crate) async fn fetch(
    state: &NodeState,
    key: &str,
    scope: Option<&str>,
) -> Result<CaseAnswer, ExchangeError> {
    let no_such = || ExchangeError::NoSuchRequest {
        key: key.to_owned(),
    };
    let stored = state.exchange.outgoing(key).await?.ok_or_else(no_such)?;
    if let (Some(scope), Some(owner)) = (scope, stored.client.as_deref()) {
        if scope != owner {
            return Err(no_such());
        }
    }
    if stored.state == OutgoingState::InReview {
        if let Some(answer) = poll_one(state, &stored).await? {
            return Ok(answer);
        }
    }
    let stored = super::recover::now_or_later(state, stored, OffsetDateTime::now_utc()).await?;
    kept_outcome(stored)
}

/// What a stored request says to the case system: its answer, the problem it failed with, or
/// that it is still in flight.
fn kept_outcome(stored: StoredOutgoing) -> Result<CaseAnswer, ExchangeError> {
    if stored.state == OutgoingState::Failed {
        return Err(super::recover::failure(&stored));
    }
    stored_answer(&stored)?
        .filter(|_| stored.state != OutgoingState::InFlight)
        .ok_or(ExchangeError::InFlight { key: stored.key })
}

/// Sends a request to its provider and verifies the signed answer: the first time, and again,
/// under the same request id and time, when an exchange is recovered.
pub(super) async fn ask_provider(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    request: &CheckedRequest,
    request_id: &str,
    sent_at: OffsetDateTime,
) -> Result<(Jws, OpenedAnswer), ExchangeError> {
    let (status, signed) = send(state, ctx, member, request, request_id, sent_at).await?;
    let expected = Expected {
        member,
        request,
        request_id,
        recipient: &state.authority,
        status: if status == StatusCode::ACCEPTED {
            AnswerStatus::Review
        } else {
            AnswerStatus::Answered
        },
    };
    let opened = verify(&expected, &signed).inspect_err(|reason| {
        crate::observe::rejected(
            state,
            &member.authority,
            &request.request().offering,
            reason,
        )
    })?;
    Ok((signed, opened))
}

/// Checks a case request and turns it into the request the provider will decide.
pub(crate) fn check_case(
    state: &NodeState,
    ctx: &Exchange,
    case: &CaseRequest,
    now: OffsetDateTime,
) -> Result<CheckedRequest, ExchangeError> {
    // Every text is checked first, so nothing below reads or quotes an unchecked one.
    let checked = CheckedRequest::from_case(&state.authority, case, now)?;
    let unit_authority = ctx.rulebook.vocabulary.unit_authority.get(&case.unit);
    if unit_authority != Some(&state.authority) {
        return Err(ExchangeError::InvalidText {
            field: "unit",
            detail: format!(
                "unit `{}` is not a unit of `{}`",
                case.unit, state.authority
            ),
        });
    }
    if let Some(callback) = &case.callback {
        let ok = (callback.starts_with("http://") || callback.starts_with("https://"))
            && callback.len() <= 2048
            && callback.parse::<http::Uri>().is_ok();
        if !ok {
            return Err(ExchangeError::InvalidText {
                field: "callback",
                detail: "`callback` must be an http:// or https:// URL of at most 2048 bytes"
                    .into(),
            });
        }
    }
    Ok(checked)
}

/// The vouching a request carries, as the federation protocol names it.
fn case_vouching(request: &DisclosureRequest) -> Option<VouchedBy> {
    let by = request.vouched_by.as_ref()?;
    let vouch = [Vouch::Session, Vouch::Assertion, Vouch::Client]
        .into_iter()
        .find(|v| v.as_str() == by.vouch)?;
    Some(VouchedBy {
        client: by.client.clone(),
        vouch,
    })
}

async fn send(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    checked: &CheckedRequest,
    request_id: &str,
    now: OffsetDateTime,
) -> Result<(StatusCode, Jws), ExchangeError> {
    let request = checked.request();
    let outgoing = ExchangeRequest {
        request_id: request_id.to_owned(),
        sent_at: now.format(&Rfc3339).unwrap_or_default(),
        unit: request.unit.clone(),
        role: request.role.clone(),
        officer: request.officer.clone(),
        vouched_by: case_vouching(request),
        offering: request.offering.clone(),
        fields: request.fields.clone(),
        purpose: request.purpose.clone(),
        legal_basis: request.legal_basis.clone(),
        case_ref: request.case_ref.clone(),
        operation: request.operation.clone(),
        subject: checked.subject().as_str().to_owned(),
    };
    let body = serde_json::to_vec(&outgoing).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let response = call(
        state,
        ctx,
        member,
        Method::POST,
        crate::protocol::REQUESTS_PATH,
        Some(body),
    )
    .await?;
    match response.status {
        StatusCode::OK | StatusCode::ACCEPTED => {
            let signed: Jws = serde_json::from_slice(&response.body).map_err(|e| {
                super::AnswerRejected::Unreadable(format!(
                    "the provider's answer is not a JWS: {e}"
                ))
            })?;
            Ok((response.status, signed))
        }
        status => Err(provider_refused(&member.authority, status, &response.body)),
    }
}

/// One exchange with a member's node, its failure worded for the case system.
pub(crate) async fn call(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<FederationResponse, ExchangeError> {
    let body = body.map(axum::body::Bytes::from);
    call_with(state, ctx, member, method, path, body, HeaderMap::new()).await
}

/// [`call`] with further request headers (a body's own `Content-Type`, its digest).
pub(crate) async fn call_with(
    state: &NodeState,
    ctx: &Exchange,
    member: &Member,
    method: Method,
    path: &str,
    body: Option<axum::body::Bytes>,
    headers: HeaderMap,
) -> Result<FederationResponse, ExchangeError> {
    let fingerprints = member.current_certificates(&ctx.config.revoked);
    let expected = ExpectedPeer {
        authority: &member.authority,
        fingerprints: Some(&fingerprints),
    };
    state
        .client
        .send_with(&member.endpoint, expected, method, path, body, headers)
        .await
        .map_err(|err| client_error(&member.authority, &err))
}

fn client_error(provider: &str, err: &ClientError) -> ExchangeError {
    let detail = format!("`{provider}`: {err}");
    match err {
        ClientError::Tls { failure, .. } => ExchangeError::ProviderTls {
            detail,
            failure: Some(tls_failure_slug(*failure)),
        },
        ClientError::UnexpectedPeer { .. } | ClientError::UnlistedCertificate { .. } => {
            ExchangeError::ProviderTls {
                detail,
                failure: None,
            }
        }
        _ => ExchangeError::ProviderUnreachable(detail),
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
pub(crate) fn provider_refused(provider: &str, status: StatusCode, body: &[u8]) -> ExchangeError {
    match serde_json::from_slice::<Problem>(body) {
        Ok(inner) => ExchangeError::ProviderRefused {
            detail: format!("`{provider}` answered {status}: {}", inner.detail),
            status: status.as_u16(),
            problem: Some(Box::new(inner)),
        },
        Err(_) => ExchangeError::ProviderRefused {
            detail: format!("`{provider}` answered {status}"),
            status: status.as_u16(),
            problem: None,
        },
    }
}

/// Records the receipt of a verified answer in this node's ledger, then keeps the answer.
///
/// `asked_before` is when the exchange began, for an answer asked for again — an exchange
/// recovered, or a request in review asked about: an earlier attempt may have recorded the
/// receipt of this very answer and not lived to keep it (the node crashed, or the case system
/// hung up and its handler was dropped, in between). Then the answer is kept with that receipt
/// and none is recorded again: a ledger says once that an answer was received.
pub(super) async fn record_and_keep(
    state: &NodeState,
    key: &str,
    checked: &CheckedRequest,
    member: &Member,
    signed: Jws,
    opened: OpenedAnswer,
    asked_before: Option<OffsetDateTime>,
) -> Result<CaseAnswer, ExchangeError> {
    let request = checked.request();
    let recorded = match asked_before {
        Some(begun) => receipt_recorded(state, &member.authority, &opened, begun).await?,
        None => None,
    };
    let own_index = match recorded {
        Some(index) => index,
        None => {
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
            let subject = super::answer::subject_identifier(checked.subject())?;
            let own = state.record(record, vec![subject]).await?;
            crate::observe::accepted(state, &opened, own.index);
            own.index
        }
    };
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
            index: own_index,
        },
        signed_answer: SignedAnswer {
            protected: signed.protected,
            payload: signed.payload,
            signature: signed.signature,
        },
    };
    let update = OutgoingUpdate {
        state: match answer.status {
            CaseStatus::Answered => OutgoingState::Answered,
            CaseStatus::Review => OutgoingState::InReview,
        },
        answer_json: Some(
            serde_json::to_string(&answer).map_err(|e| ExchangeError::Internal(e.to_string()))?,
        ),
        ticket: answer.ticket.clone(),
        updated_at: OffsetDateTime::now_utc(),
    };
    state.exchange.complete_outgoing(key, &update).await?;
    Ok(answer)
}

/// How much earlier than the exchange began its receipt may be timed: a record is timed when it
/// is made, and records made at once are appended in batches, in any order.
pub(crate) const RECEIPT_ORDER_SLACK: time::Duration = time::Duration::minutes(1);

/// This node's receipt of `opened` from `provider`, if it recorded one for the exchange begun at
/// `begun`: its index. Read from the newest entry back to the first timed before the answer
/// can have been received — before the exchange began, or before the provider decided (by the
/// provider's clock, which may be off by the request window).
async fn receipt_recorded(
    state: &NodeState,
    provider: &str,
    opened: &OpenedAnswer,
    begun: OffsetDateTime,
) -> Result<Option<u64>, ExchangeError> {
    let decided = OffsetDateTime::parse(&opened.answer.decided_at, &Rfc3339)
        .ok()
        .and_then(|at| at.checked_sub(super::answer::REQUEST_WINDOW))
        .unwrap_or(begun);
    let since = begun.max(decided) - RECEIPT_ORDER_SLACK;
    let audit = std::sync::Arc::clone(&state.audit);
    let (provider, provider_index) = (provider.to_owned(), opened.receipt.index);
    let digest = opened.sha256.clone();
    let unreadable = |e: &dyn std::fmt::Display| ExchangeError::Audit(e.to_string());
    tokio::task::spawn_blocking(move || {
        // Another instance of this node may have recorded the receipt (and died before keeping
        // it): its record must be in this instance's replica before the search.
        audit.settle().map_err(|e| unreadable(&e))?;
        let dir = crate::audit_api::open_dir(&audit).map_err(|p| unreadable(&p.detail))?;
        for index in (0..dir.size()).rev() {
            let record = dir.record(index).map_err(|e| unreadable(&e))?;
            let time = OffsetDateTime::parse(&record.time, &Rfc3339).map_err(|e| unreadable(&e))?;
            if time < since {
                break;
            }
            if record.event == EventKind::Receipt
                && record.provider == provider
                && record.refers_to == Some(provider_index)
                && record.payload_sha256.as_deref() == Some(digest.as_str())
            {
                return Ok(Some(index));
            }
        }
        Ok(None)
    })
    .await
    .map_err(|e| ExchangeError::Internal(e.to_string()))?
}

/// The answer kept for a request, if one has been recorded.
pub(crate) fn stored_answer(stored: &StoredOutgoing) -> Result<Option<CaseAnswer>, ExchangeError> {
    stored
        .answer_json
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ExchangeError::Internal(format!("stored answer unreadable: {e}")))
}

/// Asks the provider about one request in review; the answer, if it has been decided.
pub(crate) async fn poll_one(
    state: &NodeState,
    stored: &StoredOutgoing,
) -> Result<Option<CaseAnswer>, ExchangeError> {
    let _one_at_a_time = state.poll_lock.lock().await;
    // Read again under the lock: another poll may have recorded the answer meanwhile.
    let Some(stored) = state.exchange.outgoing(&stored.key).await? else {
        return Ok(None);
    };
    if stored.state != OutgoingState::InReview {
        return stored_answer(&stored);
    }
    let Some(ticket) = &stored.ticket else {
        return Ok(None);
    };
    let ctx = state.exchange_context()?;
    let member = ctx
        .config
        .member(&stored.provider)
        .cloned()
        .ok_or_else(|| {
            ExchangeError::ProviderUnreachable(format!(
                "`{}` has left the federation",
                stored.provider
            ))
        })?;
    let path = utbyte_api::paths::with(crate::protocol::REVIEW_PATH, ticket);
    let response = call(state, &ctx, &member, Method::GET, &path, None).await?;
    if response.status != StatusCode::OK {
        return Err(provider_refused(
            &member.authority,
            response.status,
            &response.body,
        ));
    }
    let review: ReviewState = serde_json::from_slice(&response.body)
        .map_err(|e| super::AnswerRejected::Unreadable(format!("malformed review state: {e}")))?;
    let Some(signed) = review.answer else {
        return Ok(None);
    };
    let case: CaseRequest = serde_json::from_str(&stored.request_json)
        .map_err(|e| ExchangeError::Internal(format!("stored request unreadable: {e}")))?;
    let request = check_case(state, &ctx, &case, stored.created_at)?;
    let expected = Expected {
        member: &member,
        request: &request,
        request_id: &stored.request_id,
        recipient: &state.authority,
        status: AnswerStatus::Answered,
    };
    let opened = verify(&expected, &signed).inspect_err(|reason| {
        crate::observe::rejected(state, &member.authority, &case.offering, reason)
    })?;
    let asked_before = Some(stored.created_at);
    record_and_keep(
        state,
        &stored.key,
        &request,
        &member,
        signed,
        opened,
        asked_before,
    )
    .await
    .map(Some)
}
