//! Review batches at the provider: requests alike in everything but their subject — a bulk's
//! held subjects, or one case's many requests — reach the reviewer as one batch, decided once.
//!
//! Every review still is its own ticket, ledger entry and signed answer: a batch is what the
//! reviews share (a digest, kept with each review), so the reviewer sees one batch with its
//! count and the decision support of its oldest review, and decides it once. The decision is
//! checked against that review before it is accepted, then applied to every review pending in
//! the batch at that moment but those the reviewer left for one-by-one review, one at a time
//! as a decision on the ticket would be (recorded, signed, delivered). Reviews queued after the
//! decision are not decided by it. The decision is kept before it is accepted (with the place
//! of the newest review it covers) and forgotten once applied to every review it covers: a node
//! stopped midway applies the rest when it starts again, the review it was cut off in once the
//! claim on deciding it (`review::one_decider`) has lapsed.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utbyte_api::access::{Duty, VouchedBy};
use utbyte_api::paths;
use utbyte_api::reviews::{
    BatchDecided, BatchDecisionInput, ReviewBatchView, ReviewDecisionInput, ReviewListQuery,
    ReviewView, MAX_EXCEPT,
};
use utbyte_domain::SubjectId;
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_store::{BatchDecision, StoreError, StoredReview};

use crate::access::Who;
use crate::exchange::answer::new_id;
use crate::exchange::{apply, ExchangeError};
use crate::paging::{self, Listed};
use crate::problems;
use crate::review::{self, ReviewCase};
use crate::state::NodeState;

/// Most batches listed at once.
const MAX_BATCHES: u32 = 500;
/// Reviews read per page while a batch decision collects its tickets.
const PAGE: u32 = 500;

/// The batch of a request routed to review: a digest of all the request shares with requests
/// alike in everything but their subject, and of what the rulebook left to the reviewer.
pub(crate) fn batch_of(requester: &str, subject: &SubjectId, case: &ReviewCase) -> String {
    #[derive(Serialize)]
    struct Alike<'a> {
        requester: &'a str,
        unit: &'a str,
        role: &'a str,
        officer: Option<&'a str>,
        offering: &'a str,
        fields: &'a [String],
        purpose: &'a str,
        legal_basis: &'a str,
        case_ref: &'a str,
        operation: Option<&'a str>,
        kind: &'static str,
        protected_identity: bool,
        reviewed: Vec<(&'a str, utbyte_api::Outcome)>,
    }
    let request = &case.request;
    let alike = Alike {
        requester,
        unit: &request.unit,
        role: &request.role,
        officer: request.officer.as_deref(),
        offering: &request.offering,
        fields: &request.fields,
        purpose: &request.purpose,
        legal_basis: &request.legal_basis,
        case_ref: &request.case_ref,
        operation: request.operation.as_deref(),
        kind: utbyte_rules::subject_kind(subject),
        protected_identity: request.subject.protected_identity,
        reviewed: case
            .fields
            .iter()
            .map(|f| (f.field.as_str(), f.outcome))
            .collect(),
    };
    // Serialising plain strings, booleans and enums cannot fail.
    let json = serde_json::to_vec(&alike).unwrap_or_default();
    hex::encode(&Sha256::digest(json)[..16])
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::REVIEW_BATCHES, get(list))
        .route(paths::REVIEW_BATCH, get(show))
        .route(paths::REVIEW_BATCH_REVIEWS, get(reviews))
        .route(paths::REVIEW_BATCH_DECISION, post(decide))
}

fn store_problem(err: StoreError) -> Problem {
    problems::STORE_FAILED.with(err.to_string())
}

/// Batches of two or more pending reviews, the one waiting longest first.
#[utoipa::path(
    operation_id = "review_batches_list",
    get,
    path = paths::REVIEW_BATCHES,
    tag = "review",
    responses(
        (status = 200, description = "Batches of two or more pending reviews alike but for their subject (at most 500), the one whose oldest review has waited longest first", body = Vec<ReviewBatchView>),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<Vec<ReviewBatchView>>, Problem> {
    who.require(Duty::Review)?;
    let batches = state
        .exchange
        .review_batches(2, MAX_BATCHES)
        .await
        .map_err(store_problem)?;
    let views = batches
        .into_iter()
        .map(|batch| {
            Ok(ReviewBatchView {
                pending: batch.pending,
                oldest: batch.first.created_at,
                first: review::view(&batch.first, Vec::new())?,
                batch: batch.batch,
            })
        })
        .collect::<Result<_, Problem>>()?;
    Ok(Json(views))
}

/// One batch: how many reviews are pending, and the oldest with its decision support.
#[utoipa::path(
    operation_id = "review_batches_show",
    get,
    path = paths::REVIEW_BATCH,
    tag = "review",
    params(("batch" = String, Path, description = "The batch")),
    responses(
        (status = 200, description = "The batch: its pending reviews' count and the oldest of them, with candidate provisions, what must be weighed, and earlier exchanges about its subject", body = ReviewBatchView),
        (status = 404, description = "No pending review in such a batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(batch): Path<String>,
) -> Result<Json<ReviewBatchView>, Problem> {
    who.require(Duty::Review)?;
    possible(&batch)?;
    let pending = state
        .exchange
        .review_batch(&batch)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| no_batch(&batch))?;
    let first = &pending.first;
    let case = apply::case_of(first).map_err(Problem::from)?;
    let earlier = review::earlier_exchanges(&state, &case, first.ledger_index)?;
    Ok(Json(ReviewBatchView {
        batch,
        pending: pending.pending,
        oldest: first.created_at,
        first: review::view(first, earlier)?,
    }))
}

/// The batch's pending reviews, oldest first, a page at a time: each subject, for a reviewer
/// choosing which to leave for one-by-one review.
#[utoipa::path(
    operation_id = "review_batches_reviews",
    get,
    path = paths::REVIEW_BATCH_REVIEWS,
    tag = "review",
    params(("batch" = String, Path, description = "The batch"), ReviewListQuery),
    responses(
        (status = 200, description = "Pending reviews of the batch, oldest first", body = Vec<ReviewView>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query: an unknown parameter, `state` other than `pending`, or an `after` that is not a cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a batch any review can have", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn reviews(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Path(batch): Path<String>,
    Query(query): Query<ReviewListQuery>,
) -> Result<Listed<ReviewView>, Problem> {
    who.require(Duty::Review)?;
    possible(&batch)?;
    if query
        .state
        .is_some_and(|s| s != utbyte_api::reviews::ReviewState::Pending)
    {
        return Err(utbyte_http::INVALID_QUERY
            .with("a batch lists its pending reviews only: leave out `state` or ask `pending`"));
    }
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let page = state
        .exchange
        .batch_reviews(&batch, limit, after)
        .await
        .map_err(store_problem)?;
    page.try_map(|r| review::view(&r, Vec::new()))
        .map(|page| Listed::new(&uri, page))
}

/// Decides every pending review of the batch but those excepted, as one decision: checked
/// against the batch's oldest review now, then applied to each review in the background.
#[utoipa::path(
    operation_id = "review_batches_decide",
    post,
    path = paths::REVIEW_BATCH_DECISION,
    tag = "review",
    params(("batch" = String, Path, description = "The batch")),
    request_body = BatchDecisionInput,
    responses(
        (status = 202, description = "Accepted: each pending review of the batch but those excepted is being decided, recorded and delivered as a decision on its ticket would be", body = BatchDecided),
        (status = 404, description = "No pending review in such a batch", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The decision does not cover exactly the fields under review, lacks a reason, or excepts more than 1,000 reviews or one not in the batch", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn decide(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(batch): Path<String>,
    Json(input): Json<BatchDecisionInput>,
) -> Result<(StatusCode, Json<BatchDecided>), Problem> {
    who.require(Duty::Review)?;
    possible(&batch)?;
    let decision = ReviewDecisionInput {
        reviewer: input.reviewer,
        fields: input.fields,
    };
    apply::check_texts(&decision).map_err(Problem::from)?;
    if input.except.len() > MAX_EXCEPT {
        return Err(invalid(format!(
            "`except` names {} reviews; at most {MAX_EXCEPT} are left for one-by-one review",
            input.except.len()
        )));
    }
    let first = oldest(&state, &batch)
        .await?
        .ok_or_else(|| no_batch(&batch))?;
    let case = apply::case_of(&first).map_err(Problem::from)?;
    let acting = review::check_reviewer(&state, &who, &decision.reviewer, &case.request.offering)?;
    apply::verdicts(&case.fields, &decision).map_err(Problem::from)?;
    let except: BTreeSet<String> = input.except.into_iter().collect();
    let (deciding, excepted) = pending_counts(&state, &batch, &except).await?;
    let taken = Taken {
        decision,
        vouched_by: VouchedBy {
            client: acting.client,
            vouch: acting.vouch,
        },
        except,
    };
    let kept = BatchDecision {
        id: new_id().map_err(Problem::from)?,
        batch: batch.clone(),
        decision_json: serde_json::to_string(&taken)
            .map_err(|e| problems::INTERNAL.with(e.to_string()))?,
        created_at: OffsetDateTime::now_utc(),
    };
    // Kept before it is answered: a node that stops while applying it applies the rest when
    // it starts again.
    if !state
        .exchange
        .begin_batch_decision(&kept)
        .await
        .map_err(store_problem)?
    {
        return Err(no_batch(&batch));
    }
    tokio::spawn(apply_to_each(Arc::clone(&state), kept));
    Ok((
        StatusCode::ACCEPTED,
        Json(BatchDecided {
            batch,
            deciding,
            excepted,
        }),
    ))
}

/// What a batch decision keeps: the decision, who vouched for the reviewer, and the reviews
/// left for one-by-one review.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Taken {
    decision: ReviewDecisionInput,
    vouched_by: VouchedBy,
    except: BTreeSet<String>,
}

/// How many of the batch's pending reviews a decision excepting `except` decides, and how many
/// it excepts; an excepted ticket that is not pending in the batch is refused, so a typo
/// leaves nothing decided.
async fn pending_counts(
    state: &NodeState,
    batch: &str,
    except: &BTreeSet<String>,
) -> Result<(u64, u64), Problem> {
    let (mut deciding, mut found) = (0u64, 0u64);
    let mut after = None;
    loop {
        let page = state
            .exchange
            .batch_reviews(batch, PAGE, after)
            .await
            .map_err(store_problem)?;
        for review in page.items {
            if except.contains(&review.ticket) {
                found += 1;
            } else {
                deciding += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if found != except.len() as u64 {
        return Err(invalid(
            "`except` names a ticket that is not a pending review of this batch".into(),
        ));
    }
    Ok((deciding, found))
}

/// Applies the batch decisions a node stopped applying, at its start.
pub(crate) async fn resume(state: Arc<NodeState>) {
    match state.exchange.batch_decisions().await {
        Ok(kept) => {
            for decision in kept {
                apply_to_each(Arc::clone(&state), decision).await;
            }
        }
        Err(err) => tracing::warn!(%err, "the batch decisions left to apply could not be read"),
    }
}

/// Decides each review the batch decision covers but those it excepts, one at a time, as a
/// decision on the ticket would be; a ticket decided on its own meanwhile keeps that decision.
/// Once every one is decided, the decision is forgotten; if one could not be, the decision is
/// kept and applied again when the node next starts.
async fn apply_to_each(state: Arc<NodeState>, kept: BatchDecision) {
    let taken: Taken = match serde_json::from_str(&kept.decision_json) {
        Ok(taken) => taken,
        Err(err) => {
            tracing::warn!(%err, "a kept batch decision is unreadable");
            return;
        }
    };
    let (mut decided, mut failed) = (0u64, 0u64);
    // Tickets another decider holds: this instance's own decision cut off by a stop (its claim
    // lapses), or another instance's, which may be applying this very decision, resumed there
    // too. Tried again until the claims lapse; decided meanwhile, they are done.
    let mut busy = Vec::new();
    let mut after = None;
    loop {
        let page = match state
            .exchange
            .batch_decision_reviews(&kept.id, PAGE, after)
            .await
        {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(%err, "a batch decision's reviews could not be read");
                return;
            }
        };
        for review in page.items {
            if taken.except.contains(&review.ticket) {
                continue;
            }
            match decide_one(&state, &taken, &review.ticket).await {
                Applied::Decided => decided += 1,
                Applied::Done => {}
                Applied::Busy => busy.push(review.ticket),
                Applied::Failed => failed += 1,
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let give_up = tokio::time::Instant::now() + review::DECIDING + BUSY_RETRY * 5;
    while !busy.is_empty() && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(BUSY_RETRY).await;
        let mut still = Vec::new();
        for ticket in busy {
            match decide_one(&state, &taken, &ticket).await {
                Applied::Decided => decided += 1,
                Applied::Done => {}
                Applied::Busy => still.push(ticket),
                Applied::Failed => failed += 1,
            }
        }
        busy = still;
    }
    // Held longer than any claim lasts: kept, and applied again at the next start.
    failed += busy.len() as u64;
    if failed == 0 {
        if let Err(err) = state.exchange.end_batch_decision(&kept.id).await {
            tracing::warn!(%err, "an applied batch decision could not be forgotten");
        }
    }
    tracing::info!(decided, failed, "a batch decision has been applied");
}

/// How often tickets another decider holds are tried again.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// What became of one ticket of a batch decision.
enum Applied {
    Decided,
    /// Decided already (on its own, or by another instance applying this decision).
    Done,
    /// Another decider holds it.
    Busy,
    Failed,
}

/// Decides `ticket` as the batch decision says.
async fn decide_one(state: &NodeState, taken: &Taken, ticket: &str) -> Applied {
    let now = OffsetDateTime::now_utc();
    match apply::decide(state, ticket, &taken.decision, &taken.vouched_by, now).await {
        Ok(()) => Applied::Decided,
        Err(ExchangeError::AlreadyDecided { .. }) => Applied::Done,
        Err(ExchangeError::BeingDecided { .. }) => Applied::Busy,
        Err(err) => {
            tracing::warn!(%err, "a review of a batch could not be decided");
            Applied::Failed
        }
    }
}

/// The batch's oldest pending review, if it has one.
async fn oldest(state: &NodeState, batch: &str) -> Result<Option<StoredReview>, Problem> {
    Ok(state
        .exchange
        .batch_reviews(batch, 1, None)
        .await
        .map_err(store_problem)?
        .items
        .into_iter()
        .next())
}

fn possible(batch: &str) -> Result<(), Problem> {
    let hex = batch.len() == 32
        && batch
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex {
        Ok(())
    } else {
        Err(problems::NO_SUCH_REVIEW_BATCH
            .with("no review batch has this name: batches are 32 lowercase hexadecimal digits"))
    }
}

fn no_batch(batch: &str) -> Problem {
    problems::NO_SUCH_REVIEW_BATCH.with(format!("no pending review in batch `{batch}`"))
}

fn invalid(detail: String) -> Problem {
    problems::INVALID_REVIEW.with(detail)
}
