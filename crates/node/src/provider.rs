//! The provider side: answering other nodes' requests for the offerings this node publishes.
//!
//! For each request: the peer is authenticated by its certificate (and must be a listed,
//! unrevoked member), the request is checked and its id claimed (a replay is refused), the
//! rulebook decides field by field, only the disclosed fields are read from the register, the
//! decision is recorded in the ledger (refusals too) before anything is sent, and the answer is
//! signed with a receipt naming that ledger entry. A request routed to review is queued and
//! answered with a signed ticket.

use crate::metrics::Metrics;
use crate::protocol::{
    Answer, AnswerStatus, ExchangeRequest, FieldVerdict, Receipt, ReviewState, SealedAnswer,
};
use crate::records::{answer_event, requester, ExchangeFacts};
use crate::review::{Candidate, ReviewCase, ReviewField};
use crate::state::NodeState;
use crate::{observe, problems};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use utbyte_audit::{EventKind, SubjectIdentifier};
use utbyte_domain::SubjectId;
use utbyte_http::{Json, Peer, Problem};
use utbyte_rules::{Decision, DisclosureRequest, Outcome, RequestError, Subject};
use utbyte_store::{NewReview, Register};

/// How far a request's `sent_at` may be from the provider's clock. Request ids are remembered
/// for twice as long, so a replay is caught whichever way it arrives.
pub(crate) const REQUEST_WINDOW: Duration = Duration::minutes(5);

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route("/federation/v1/requests", post(exchange))
        .route("/federation/v1/reviews/{ticket}", get(review_state))
}

/// Answers another node's request for disclosure.
#[utoipa::path(
    operation_id = "federation_exchange",
    post,
    path = "/federation/v1/requests",
    tag = "federation",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Decided: a JWS whose payload holds the answer (only disclosed fields) and its receipt", body = utbyte_federation::Jws),
        (status = 202, description = "Routed to review: a signed answer with status `review` and a ticket", body = utbyte_federation::Jws),
        (status = 400, description = "Stale request or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node does not publish the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Replayed request id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or subject identifier", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration, or the register is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn exchange(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(incoming): Json<ExchangeRequest>,
) -> Result<Response, Problem> {
    let _timed = Metrics::time(&state.metrics.provider_decision);
    let ctx = state.exchange_context()?;
    let fingerprint = peer.fingerprint.to_string();
    let member = ctx
        .config
        .member_by_certificate(&fingerprint)
        .filter(|m| m.authority == peer.authority.as_str())
        .ok_or_else(|| {
            problems::NOT_A_MEMBER.with(format!(
                "certificate {fingerprint} of `{}` is not listed for it in federation configuration version {}, or is revoked",
                peer.authority, ctx.config.version
            ))
        })?;
    let now = OffsetDateTime::now_utc();
    let sent_at = OffsetDateTime::parse(&incoming.sent_at, &Rfc3339)
        .map_err(|_| problems::INVALID_REQUEST.with("`sent_at` is not an RFC 3339 date-time"))?;
    if (now - sent_at).abs() > REQUEST_WINDOW {
        return Err(problems::STALE_REQUEST.with(format!(
            "sent_at {} is more than {} minutes from this node's clock",
            incoming.sent_at,
            REQUEST_WINDOW.whole_minutes()
        )));
    }
    check_request_id(&incoming.request_id)?;
    let mut request = DisclosureRequest {
        recipient: member.authority.clone(),
        unit: incoming.unit,
        role: incoming.role,
        officer: incoming.officer,
        offering: incoming.offering,
        fields: incoming.fields,
        purpose: incoming.purpose,
        legal_basis: incoming.legal_basis,
        case_ref: incoming.case_ref,
        operation: incoming.operation,
        subject: Subject {
            id: incoming.subject,
            protected_identity: false,
        },
        time: now,
    };
    let subject = request.validate().map_err(request_problem)?;
    // Kept and recorded in canonical form, whichever form the requester wrote.
    request.subject.id = subject.as_str().to_owned();
    let published = ctx
        .rulebook
        .vocabulary
        .offerings
        .get(&request.offering)
        .is_some_and(|o| o.provider == state.authority);
    let register = state
        .registers
        .get(&request.offering)
        .filter(|_| published)
        .ok_or_else(|| {
            problems::OFFERING_NOT_HERE.with(format!(
                "`{}` does not publish offering `{}`",
                state.authority, request.offering
            ))
        })?;
    // The replay claim is made durable while the register is read and the rulebook decides:
    // nothing is recorded or sent before the claim is known to be fresh.
    let claim = state.exchange.claim_request_id(
        &member.authority,
        &incoming.request_id,
        now,
        now - REQUEST_WINDOW * 2,
    );
    let decide = async {
        request.subject.protected_identity = register
            .protected_identity(&subject)
            .await
            .map_err(|e| problems::REGISTER_FAILED.with(e.to_string()))?;
        let decision = ctx.rulebook.decide(&request).map_err(request_problem)?;
        let verdicts = verdicts(&decision);
        let values = if decision.overall() == Outcome::Review {
            BTreeMap::new()
        } else {
            let _timed = Metrics::time(&state.metrics.register_fetch);
            disclosed_values(register.as_ref(), &request, &subject, &verdicts).await?
        };
        Ok::<_, Problem>((decision, verdicts, values))
    };
    let (fresh, decided) = tokio::join!(claim, decide);
    if !fresh.map_err(|e| problems::STORE_FAILED.with(e.to_string()))? {
        return Err(problems::REPLAYED_REQUEST.with(format!(
            "request id {} from `{}` has been received before; nothing was decided or disclosed again",
            incoming.request_id, member.authority
        )));
    }
    let (decision, verdicts, values) = decided?;
    let facts = ExchangeFacts {
        actor: requester(&request),
        provider: &state.authority,
        request: &request,
        rulebook_sha256: ctx.rulebook.hash(),
    };
    let subjects = vec![subject_identifier(&subject)?];
    let mut answer = Answer {
        request_id: incoming.request_id.clone(),
        provider: state.authority.clone(),
        recipient: member.authority.clone(),
        offering: request.offering.clone(),
        subject: subject.as_str().to_owned(),
        status: AnswerStatus::Answered,
        ticket: None,
        values: BTreeMap::new(),
        fields: verdicts,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    if decision.overall() == Outcome::Review {
        let ticket = new_id()?;
        answer.status = AnswerStatus::Review;
        answer.ticket = Some(ticket.clone());
        let sealed = SealedAnswer::new(&answer)?;
        let record = facts.record(
            EventKind::ReviewRequest,
            &answer.fields,
            Some(&sealed.sha256),
            None,
        );
        let receipt = state.record(record, subjects).await?;
        let case = ReviewCase {
            request: request.clone(),
            request_id: incoming.request_id,
            fields: review_fields(&decision),
        };
        state
            .exchange
            .enqueue_review(&NewReview {
                ticket,
                requester: member.authority.clone(),
                request_id: case.request_id.clone(),
                request_json: serde_json::to_string(&case)
                    .map_err(|e| problems::INTERNAL.with(e.to_string()))?,
                decision_json: serde_json::to_string(&answer.fields)
                    .map_err(|e| problems::INTERNAL.with(e.to_string()))?,
                ledger_index: receipt.index,
                created_at: now,
            })
            .await
            .map_err(|e| problems::STORE_FAILED.with(e.to_string()))?;
        let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
        observe::decided(&state, &answer, receipt.index);
        return Ok((StatusCode::ACCEPTED, Json(signed)).into_response());
    }
    answer.values = values;
    let sealed = SealedAnswer::new(&answer)?;
    let record = facts.record(
        answer_event(&answer.fields),
        &answer.fields,
        Some(&sealed.sha256),
        None,
    );
    let receipt = state.record(record, subjects).await?;
    let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
    observe::decided(&state, &answer, receipt.index);
    Ok((StatusCode::OK, Json(signed)).into_response())
}

/// Tells the requesting node whether its review is decided, and if so hands over the answer.
#[utoipa::path(
    operation_id = "federation_review_state",
    get,
    path = "/federation/v1/reviews/{ticket}",
    tag = "federation",
    params(("ticket" = String, Path, description = "The ticket from a `review` answer")),
    responses(
        (status = 200, description = "`pending`, or `decided` with the signed answer", body = ReviewState),
        (status = 404, description = "No such ticket for this requester", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn review_state(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(ticket): Path<String>,
) -> Result<Json<ReviewState>, Problem> {
    let ctx = state.exchange_context()?;
    let fingerprint = peer.fingerprint.to_string();
    if ctx.config.member_by_certificate(&fingerprint).is_none() {
        return Err(problems::NOT_A_MEMBER.with("the certificate is not a listed member's"));
    }
    let review = state
        .exchange
        .review(&ticket)
        .await
        .map_err(|e| problems::STORE_FAILED.with(e.to_string()))?
        // Another authority's ticket is answered exactly like one that does not exist.
        .filter(|r| r.requester == peer.authority.as_str())
        .ok_or_else(|| {
            problems::NO_SUCH_REVIEW.with(format!("no review `{ticket}` for `{}`", peer.authority))
        })?;
    let answer = match &review.answer_json {
        Some(json) => {
            Some(serde_json::from_str(json).map_err(|e| problems::INTERNAL.with(e.to_string()))?)
        }
        None => None,
    };
    Ok(Json(ReviewState {
        state: if answer.is_some() {
            "decided"
        } else {
            "pending"
        }
        .into(),
        answer,
    }))
}

impl NodeState {
    pub(crate) fn receipt(&self, receipt: &utbyte_ledger::Receipt) -> Receipt {
        Receipt {
            ledger: self.origin.clone(),
            index: receipt.index,
            tree_size: receipt.tree_size,
            root: hex::encode(receipt.root.as_bytes()),
        }
    }
}

/// The values of the disclosed fields, read from the register; nothing else is read.
pub(crate) async fn disclosed_values(
    register: &dyn Register,
    request: &DisclosureRequest,
    subject: &SubjectId,
    verdicts: &[FieldVerdict],
) -> Result<BTreeMap<String, Value>, Problem> {
    let disclosed: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Disclose)
        .map(|v| v.field.as_str())
        .collect();
    if disclosed.is_empty() {
        return Ok(BTreeMap::new());
    }
    let record = register
        .fetch(&request.offering, subject, &disclosed)
        .await
        .map_err(|e| problems::REGISTER_FAILED.with(e.to_string()))?;
    // The register promises to return only what was asked; the node does not rely on it.
    Ok(record
        .map(|r| r.into_fields())
        .unwrap_or_default()
        .into_iter()
        .filter(|(field, _)| disclosed.contains(&field.as_str()))
        .collect())
}

/// The decision as the recipient is told it: per field the outcome, its ground, and every
/// provision it rests on (for a field under review, also those a reviewer may disclose under).
pub(crate) fn verdicts(decision: &Decision) -> Vec<FieldVerdict> {
    decision
        .fields
        .iter()
        .map(|f| FieldVerdict {
            field: f.field.clone(),
            outcome: f.outcome,
            ground: f.ground,
            citations: citations(f),
            reason: None,
        })
        .collect()
}

/// A field's citations, each once, determining policies first.
fn citations(field: &utbyte_rules::FieldDecision) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for cited in field.citations() {
        let text = cited.citation.to_string();
        if !out.contains(&text) {
            out.push(text);
        }
    }
    out
}

fn review_fields(decision: &Decision) -> Vec<ReviewField> {
    decision
        .fields
        .iter()
        .map(|f| ReviewField {
            field: f.field.clone(),
            outcome: f.outcome,
            ground: f.ground,
            citations: citations(f),
            candidates: f
                .candidates
                .iter()
                .map(|c| Candidate {
                    policy: c.id.clone(),
                    citation: c.citation.to_string(),
                    title: c.citation.title.clone(),
                    weigh: c.weigh.clone(),
                    pre_assessment: c.pre_assessment.clone(),
                })
                .collect(),
        })
        .collect()
}

pub(crate) fn subject_identifier(subject: &SubjectId) -> Result<SubjectIdentifier, Problem> {
    SubjectIdentifier::new(subject.as_str()).map_err(|e| problems::INTERNAL.with(e.to_string()))
}

pub(crate) fn request_problem(err: RequestError) -> Problem {
    match err {
        RequestError::InvalidSubject(_) | RequestError::SubjectNotYetBorn => {
            problems::INVALID_SUBJECT.with(err.to_string())
        }
        other => problems::INVALID_REQUEST.with(other.to_string()),
    }
}

fn check_request_id(id: &str) -> Result<(), Problem> {
    if (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err(problems::INVALID_REQUEST
            .with("`request_id` must be 16 to 64 ASCII letters, digits or dashes"))
    }
}

/// A fresh random id (128 bits, hex): request ids and review tickets.
pub(crate) fn new_id() -> Result<String, Problem> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| problems::INTERNAL.with(format!("no randomness: {e}")))?;
    Ok(hex::encode(bytes))
}
