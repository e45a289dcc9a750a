//! The review queue at the provider (granskning): requests the rulebook routed to a human,
//! with decision support, and the reviewer's per-field decision with a written reason, which
//! is audited and then delivered to the requesting node.

use crate::access::Who;
use crate::exchange::{apply, could_exist, ExchangeError};
use crate::paging::{self, Listed};
use crate::problems;
use crate::records::requester;
use crate::state::NodeState;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::access::VouchedBy;
use utbyte_api::paths;
use utbyte_api::reviews::{
    EarlierExchange, ReviewDecisionInput, ReviewField, ReviewListQuery, ReviewState, ReviewView,
};
use utbyte_audit::SubjectIdentifier;
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_rules::DisclosureRequest;
use utbyte_store::{Deciding, ReviewState as QueueState, StoreError, StoredReview, MAX_ID_BYTES};

/// How long a decider holds its claim on what it decides: far longer than recording a
/// decision takes (a read of the register, a ledger append, a signature), and short enough that
/// a decision cut off by a stop is taken up again soon.
pub(crate) const DECIDING: std::time::Duration = std::time::Duration::from_secs(30);

/// Records a reviewer's decision on `what` with `record`, as the only decider of it among this
/// node's instances: each instance decides one thing at a time, and the store's claim keeps two
/// instances from recording two decisions on one review (each would otherwise find it pending,
/// record its decision in the ledger and sign an answer before one of them is refused).
/// [`ExchangeError::BeingDecided`] while another instance holds the claim.
pub(crate) async fn one_decider<T, E: From<ExchangeError>>(
    state: &NodeState,
    what: Deciding<'_>,
    record: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let holder = crate::exchange::answer::new_id()?;
    let now = OffsetDateTime::now_utc();
    let taken = state
        .exchange
        .claim_deciding(what, &holder, now, now + DECIDING)
        .await
        .map_err(ExchangeError::from)?;
    if !taken {
        let (Deciding::Review(key) | Deciding::HeldNotice(key)) = what;
        return Err(ExchangeError::BeingDecided {
            ticket: key.to_owned(),
        }
        .into());
    }
    let recorded = record.await;
    if let Err(err) = state.exchange.release_deciding(what, &holder).await {
        // The claim lapses on its own.
        tracing::warn!(%err, "a claim on a decision could not be given up");
    }
    recorded
}

/// What the queue keeps about a request under review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReviewCase {
    pub request: DisclosureRequest,
    pub request_id: String,
    pub fields: Vec<ReviewField>,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::REVIEWS, get(list))
        .route(paths::REVIEW, get(show))
        .route(paths::REVIEW_DECISION, post(decide))
}

fn store_problem(err: StoreError) -> Problem {
    problems::STORE_FAILED.with(err.to_string())
}

/// The review queue.
#[utoipa::path(
    operation_id = "reviews_list",
    get,
    path = paths::REVIEWS,
    tag = "review",
    params(ReviewListQuery),
    responses(
        (status = 200, description = "Reviews, pending oldest first or decided newest first", body = Vec<ReviewView>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query: an unknown parameter or state, or an `after` that is not a cursor (32 lowercase hexadecimal digits)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<ReviewListQuery>,
) -> Result<Listed<ReviewView>, Problem> {
    who.require(Duty::Review)?;
    let which = match query.state.unwrap_or(ReviewState::Pending) {
        ReviewState::Pending => QueueState::Pending,
        ReviewState::Decided => QueueState::Decided,
    };
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let page = state
        .exchange
        .reviews(which, limit, after)
        .await
        .map_err(store_problem)?;
    page.try_map(|r| view(&r, Vec::new()))
        .map(|page| Listed::new(&uri, page))
}

/// One review with its decision support.
#[utoipa::path(
    operation_id = "reviews_show",
    get,
    path = paths::REVIEW,
    tag = "review",
    params(("ticket" = String, Path, description = "The review ticket")),
    responses(
        (status = 200, description = "The review, with candidate provisions, what must be weighed, and earlier exchanges about the subject", body = ReviewView),
        (status = 404, description = "No such review", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(ticket): Path<String>,
) -> Result<Json<ReviewView>, Problem> {
    who.require(Duty::Review)?;
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
    path = paths::REVIEW_DECISION,
    tag = "review",
    params(("ticket" = String, Path, description = "The review ticket")),
    request_body = ReviewDecisionInput,
    responses(
        (status = 200, description = "Decided and recorded; the review as it now stands", body = ReviewView),
        (status = 404, description = "No such review", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided (`review-already-decided`), or another decision on it is being recorded at another instance of this node (`review-being-decided`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The decision does not cover exactly the fields under review, or lacks a reason", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn decide(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(ticket): Path<String>,
    Json(input): Json<ReviewDecisionInput>,
) -> Result<Json<ReviewView>, Problem> {
    who.require(Duty::Review)?;
    let case = case_of(&load(&state, &ticket).await?)?;
    let acting = check_reviewer(&state, &who, &input.reviewer, &case.request.offering)?;
    let vouched = VouchedBy {
        client: acting.client,
        vouch: acting.vouch,
    };
    apply::decide(&state, &ticket, &input, &vouched, OffsetDateTime::now_utc()).await?;
    let review = load(&state, &ticket).await?;
    view(&review, Vec::new()).map(Json)
}

/// Who may decide a review of `offering` here: a unit of this authority, a role the rulebook
/// gives competence to review it, of the units `review_units` names for it if any.
pub(crate) fn check_reviewer(
    state: &NodeState,
    who: &Who,
    reviewer: &utbyte_api::reviews::Reviewer,
    offering: &str,
) -> Result<crate::access::Acting, Problem> {
    let acting = who.acting(&reviewer.officer, &reviewer.unit, &reviewer.role)?;
    let own_unit = state.rulebook().is_some_and(|rulebook| {
        rulebook
            .vocabulary
            .authorities
            .get(&state.authority)
            .is_some_and(|own| own.units.iter().any(|u| u.id == reviewer.unit))
    });
    if !own_unit {
        return Err(who.forbid(
            "unit-not-reviewer",
            &format!(
                "`{}` is not a unit of {}: only this authority's reviewers decide its reviews",
                reviewer.unit, state.authority
            ),
        ));
    }
    let competent = state.rulebook().is_some_and(|rulebook| {
        rulebook.vocabulary.may_review(
            utbyte_rules::competence::Asker {
                authority: &state.authority,
                unit: &reviewer.unit,
                role: &reviewer.role,
            },
            offering,
        )
    });
    if !competent {
        return Err(who.forbid(
            "role-not-reviewer",
            &format!(
                "the role `{}` at `{}` has no competence to decide reviews of `{}` under the rulebook",
                reviewer.role, reviewer.unit, offering
            ),
        ));
    }
    if let Some(units) = state.review_units.get(offering) {
        if !units.contains(&reviewer.unit) {
            return Err(who.forbid(
                "unit-not-reviewer",
                &format!(
                    "reviews of `{}` are decided by reviewers of {}, not of `{}`",
                    offering,
                    units.join(", "),
                    reviewer.unit
                ),
            ));
        }
    }
    Ok(acting)
}

/// The review `ticket` names; a ticket no review can have is not looked up.
async fn load(state: &NodeState, ticket: &str) -> Result<StoredReview, Problem> {
    possible(ticket)?;
    state
        .exchange
        .review(ticket)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| problems::NO_SUCH_REVIEW.with(format!("no review `{ticket}`")))
}

/// Refuses a ticket no review can have as not found, without quoting it.
pub(crate) fn possible(ticket: &str) -> Result<(), Problem> {
    if could_exist(ticket, MAX_ID_BYTES) {
        Ok(())
    } else {
        Err(problems::NO_SUCH_REVIEW.with(format!(
            "no review has this ticket: tickets are 1 to {MAX_ID_BYTES} visible ASCII characters"
        )))
    }
}

fn case_of(review: &StoredReview) -> Result<ReviewCase, Problem> {
    apply::case_of(review).map_err(Problem::from)
}

pub(crate) fn earlier_exchanges(
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

pub(crate) fn view(
    review: &StoredReview,
    earlier: Vec<EarlierExchange>,
) -> Result<ReviewView, Problem> {
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
            QueueState::Pending => ReviewState::Pending,
            QueueState::Decided => ReviewState::Decided,
        },
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
        received_at: review.created_at,
        fields: case.fields,
        earlier,
        reviewer: review.reviewer.clone(),
        decision,
        decided_at: review.decided_at,
    })
}
