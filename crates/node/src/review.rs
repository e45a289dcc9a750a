//! The review queue at the provider (granskning): requests the rulebook routed to a human,
//! with decision support, and the reviewer's per-field decision with a written reason, which
//! is audited and then delivered to the requesting node.

use crate::problems;
use crate::protocol::{Answer, AnswerStatus, FieldVerdict};
use crate::provider::{disclosed_values, subject_identifier};
use crate::records::{requester, ExchangeFacts};
use crate::state::NodeState;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::{Actor, EventKind, SubjectIdentifier};
use utbyte_domain::SubjectId;
use utbyte_http::{Json, Problem};
use utbyte_rules::{DisclosureRequest, Ground, Outcome};
use utbyte_store::{ReviewDecided, ReviewState as QueueState, StoreError, StoredReview};

/// Longest reason a reviewer may write, in bytes.
pub const MAX_REASON: usize = 4000;

/// A provision a reviewer may disclose under, and what it requires to be weighed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    pub policy: String,
    pub citation: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weigh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_assessment: Option<String>,
}

/// One requested field as the rulebook decided it, with the candidates for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewField {
    pub field: String,
    #[schema(value_type = String)]
    pub outcome: Outcome,
    #[schema(value_type = String)]
    pub ground: Ground,
    pub citations: Vec<String>,
    pub candidates: Vec<Candidate>,
}

/// What the queue keeps about a request under review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReviewCase {
    pub request: DisclosureRequest,
    pub request_id: String,
    pub fields: Vec<ReviewField>,
}

/// An earlier exchange about the same subject, from this node's ledger.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EarlierExchange {
    pub ledger_index: u64,
    pub time: String,
    pub event: String,
    pub requester: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offering: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// `field: outcome` for each field.
    pub fields: Vec<String>,
}

/// A review as a reviewer sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewView {
    pub ticket: String,
    /// `pending` or `decided`.
    pub state: String,
    pub requester: String,
    pub unit: String,
    pub role: String,
    pub offering: String,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub subject: String,
    pub protected_identity: bool,
    pub received_at: String,
    /// The rulebook's decision per field, with candidate provisions and what must be weighed.
    pub fields: Vec<ReviewField>,
    /// Earlier exchanges about the same subject (decision support); empty in listings.
    pub earlier: Vec<EarlierExchange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Vec<FieldVerdict>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// The reviewer, as the audit trail names them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reviewer {
    /// The reviewer's user id, kept with the decision (not in the ledger).
    pub officer: String,
    pub unit: String,
    pub role: String,
}

/// The decision for one field under review.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldReview {
    pub field: String,
    /// `disclose` or `refuse`.
    #[schema(value_type = String)]
    pub outcome: Outcome,
    /// Why: the assessment made, in words. Mandatory.
    pub reason: String,
}

/// A reviewer's decision on a whole ticket: every field under review, exactly once.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisionInput {
    pub reviewer: Reviewer,
    pub fields: Vec<FieldReview>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct ListQuery {
    /// `pending` (default) or `decided`.
    state: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route("/v1/reviews", get(list))
        .route("/v1/reviews/{ticket}", get(show))
        .route("/v1/reviews/{ticket}/decision", post(decide))
}

fn store_problem(err: StoreError) -> Problem {
    problems::STORE_FAILED.with(err.to_string())
}

/// The review queue.
#[utoipa::path(
    operation_id = "reviews_list",
    get,
    path = "/v1/reviews",
    tag = "review",
    params(ListQuery),
    responses(
        (status = 200, description = "Reviews, pending oldest first or decided newest first", body = Vec<ReviewView>),
        (status = 422, description = "Bad query", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ReviewView>>, Problem> {
    let which = match query.state.as_deref().unwrap_or("pending") {
        "pending" => QueueState::Pending,
        "decided" => QueueState::Decided,
        other => {
            return Err(problems::INVALID_REQUEST
                .with(format!("state `{other}`: use `pending` or `decided`")))
        }
    };
    let limit = query.limit.unwrap_or(50);
    if limit == 0 || limit > 500 {
        return Err(problems::INVALID_REQUEST.with("limit must be 1 to 500"));
    }
    let reviews = state
        .exchange
        .reviews(Some(which), limit, query.offset.unwrap_or(0))
        .await
        .map_err(store_problem)?;
    reviews
        .iter()
        .map(|r| view(r, Vec::new()))
        .collect::<Result<_, _>>()
        .map(Json)
}

/// One review with its decision support.
#[utoipa::path(
    operation_id = "reviews_show",
    get,
    path = "/v1/reviews/{ticket}",
    tag = "review",
    params(("ticket" = String, Path, description = "The review ticket")),
    responses(
        (status = 200, description = "The review, with candidate provisions, what must be weighed, and earlier exchanges about the subject", body = ReviewView),
        (status = 404, description = "No such review", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    Path(ticket): Path<String>,
) -> Result<Json<ReviewView>, Problem> {
    let review = load(&state, &ticket).await?;
    let case = case_of(&review)?;
    let earlier = earlier_exchanges(&state, &case, review.ledger_index)?;
    view(&review, earlier).map(Json)
}

/// Decides a review: every field under review disclosed or refused with a reason. The decision
/// is recorded in the ledger, then signed and kept for the requesting node to fetch.
#[utoipa::path(
    operation_id = "reviews_decide",
    post,
    path = "/v1/reviews/{ticket}/decision",
    tag = "review",
    params(("ticket" = String, Path, description = "The review ticket")),
    request_body = ReviewDecisionInput,
    responses(
        (status = 200, description = "Decided and recorded; the review as it now stands", body = ReviewView),
        (status = 404, description = "No such review", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The decision does not cover exactly the fields under review, or lacks a reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn decide(
    State(state): State<Arc<NodeState>>,
    Path(ticket): Path<String>,
    Json(input): Json<ReviewDecisionInput>,
) -> Result<Json<ReviewView>, Problem> {
    let _one_at_a_time = state.review_lock.lock().await;
    let ctx = state.exchange_context()?;
    let review = load(&state, &ticket).await?;
    if review.state == QueueState::Decided {
        return Err(problems::ALREADY_DECIDED.with(format!("review `{ticket}` is already decided")));
    }
    let case = case_of(&review)?;
    let verdicts = apply_review(&case.fields, &input)?;
    let subject: SubjectId = case
        .request
        .subject
        .id
        .parse()
        .map_err(|e| problems::INTERNAL.with(format!("stored subject unreadable: {e}")))?;
    let register = state.registers.get(&case.request.offering).ok_or_else(|| {
        problems::OFFERING_NOT_HERE.with("the offering is no longer served by this node")
    })?;
    let now = OffsetDateTime::now_utc();
    let answer = Answer {
        request_id: case.request_id.clone(),
        provider: state.authority.clone(),
        recipient: case.request.recipient.clone(),
        offering: case.request.offering.clone(),
        subject: subject.as_str().to_owned(),
        status: AnswerStatus::Answered,
        ticket: Some(ticket.clone()),
        values: disclosed_values(register.as_ref(), &case.request, &subject, &verdicts).await?,
        fields: verdicts,
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        decided_at: now.format(&Rfc3339).unwrap_or_default(),
    };
    let sealed = crate::protocol::SealedAnswer::new(&answer)?;
    let facts = ExchangeFacts {
        actor: Actor {
            authority: state.authority.clone(),
            role: input.reviewer.role.clone(),
            unit: input.reviewer.unit.clone(),
        },
        provider: &state.authority,
        request: &case.request,
        rulebook_sha256: ctx.rulebook.hash(),
    };
    let record = facts.record(
        EventKind::ReviewDecision,
        &answer.fields,
        Some(&sealed.sha256),
        Some(review.ledger_index),
    );
    let receipt = state
        .record(record, vec![subject_identifier(&subject)?])
        .await?;
    let signed = sealed.sign(&state.receipt(&receipt), &state.answer_key)?;
    crate::observe::reviewed(&answer, receipt.index);
    let decided = ReviewDecided {
        reviewer: input.reviewer.officer.clone(),
        review_json: serde_json::to_string(&answer.fields)
            .map_err(|e| problems::INTERNAL.with(e.to_string()))?,
        answer_json: serde_json::to_string(&signed)
            .map_err(|e| problems::INTERNAL.with(e.to_string()))?,
        ledger_index: receipt.index,
        decided_at: now,
    };
    state
        .exchange
        .decide_review(&ticket, &decided)
        .await
        .map_err(store_problem)?;
    let review = load(&state, &ticket).await?;
    view(&review, Vec::new()).map(Json)
}

/// The final verdicts: the rulebook's, with the reviewer's decision on each field under review.
fn apply_review(
    fields: &[ReviewField],
    input: &ReviewDecisionInput,
) -> Result<Vec<FieldVerdict>, Problem> {
    let invalid = |m: String| Err(problems::INVALID_REVIEW.with(m));
    for (name, value) in [
        ("reviewer.officer", &input.reviewer.officer),
        ("reviewer.unit", &input.reviewer.unit),
        ("reviewer.role", &input.reviewer.role),
    ] {
        if value.trim().is_empty() || value.len() > 256 {
            return invalid(format!("`{name}` must be 1 to 256 bytes"));
        }
    }
    for decided in &input.fields {
        let Some(field) = fields.iter().find(|f| f.field == decided.field) else {
            return invalid(format!("`{}` was not requested", decided.field));
        };
        if field.outcome != Outcome::Review {
            return invalid(format!(
                "`{}` is not under review: the rulebook decided it ({})",
                decided.field, field.outcome
            ));
        }
        if decided.outcome == Outcome::Review {
            return invalid(format!(
                "`{}`: decide `disclose` or `refuse`",
                decided.field
            ));
        }
        if decided.reason.trim().is_empty() || decided.reason.len() > MAX_REASON {
            return invalid(format!(
                "`{}`: a written reason of 1 to {MAX_REASON} bytes is required",
                decided.field
            ));
        }
        if input
            .fields
            .iter()
            .filter(|d| d.field == decided.field)
            .count()
            > 1
        {
            return invalid(format!("`{}` is decided twice", decided.field));
        }
    }
    fields
        .iter()
        .map(|field| {
            let mut verdict = FieldVerdict {
                field: field.field.clone(),
                outcome: field.outcome,
                ground: field.ground,
                citations: field.citations.clone(),
                reason: None,
            };
            if field.outcome == Outcome::Review {
                let decided = input
                    .fields
                    .iter()
                    .find(|d| d.field == field.field)
                    .ok_or_else(|| {
                        problems::INVALID_REVIEW.with(format!(
                            "`{}` is under review and must be decided",
                            field.field
                        ))
                    })?;
                verdict.outcome = decided.outcome;
                verdict.reason = Some(decided.reason.trim().to_owned());
            }
            Ok(verdict)
        })
        .collect()
}

async fn load(state: &NodeState, ticket: &str) -> Result<StoredReview, Problem> {
    state
        .exchange
        .review(ticket)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| problems::NO_SUCH_REVIEW.with(format!("no review `{ticket}`")))
}

fn case_of(review: &StoredReview) -> Result<ReviewCase, Problem> {
    serde_json::from_str(&review.request_json)
        .map_err(|e| problems::INTERNAL.with(format!("stored review unreadable: {e}")))
}

fn earlier_exchanges(
    state: &NodeState,
    case: &ReviewCase,
    own_index: u64,
) -> Result<Vec<EarlierExchange>, Problem> {
    let Ok(subject) = SubjectIdentifier::new(&case.request.subject.id) else {
        return Ok(Vec::new());
    };
    let mut earlier = Vec::new();
    for index in state
        .audit
        .records_about(&subject)
        .into_iter()
        .rev()
        .take(20)
    {
        if index == own_index {
            continue;
        }
        let Ok(leaf) = state.audit.ledger().entry(index) else {
            continue;
        };
        let Ok(record) = utbyte_audit::AuditRecord::from_leaf(&leaf) else {
            continue;
        };
        earlier.push(EarlierExchange {
            ledger_index: index,
            time: record.time,
            event: serde_json::to_value(record.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            requester: record.actor.authority,
            offering: record.offering,
            purpose: record.why.map(|w| w.purpose),
            fields: record
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "{}: {}",
                        f.field,
                        serde_json::to_value(f.outcome)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    )
                })
                .collect(),
        });
    }
    Ok(earlier)
}

fn view(review: &StoredReview, earlier: Vec<EarlierExchange>) -> Result<ReviewView, Problem> {
    let case = case_of(review)?;
    let decision = match &review.review_json {
        Some(json) => {
            Some(serde_json::from_str(json).map_err(|e| problems::INTERNAL.with(e.to_string()))?)
        }
        None => None,
    };
    let request = case.request;
    Ok(ReviewView {
        ticket: review.ticket.clone(),
        state: match review.state {
            QueueState::Pending => "pending",
            QueueState::Decided => "decided",
        }
        .into(),
        requester: requester(&request).authority,
        unit: request.unit,
        role: request.role,
        offering: request.offering,
        purpose: request.purpose,
        legal_basis: request.legal_basis,
        case_ref: request.case_ref,
        operation: request.operation,
        subject: request.subject.id,
        protected_identity: request.subject.protected_identity,
        received_at: review.created_at.format(&Rfc3339).unwrap_or_default(),
        fields: case.fields,
        earlier,
        reviewer: review.reviewer.clone(),
        decision,
        decided_at: review.decided_at.and_then(|t| t.format(&Rfc3339).ok()),
    })
}
