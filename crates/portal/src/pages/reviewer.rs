//! The reviewer (jurist): the queue of requests the rulebook routed to a human, the decision
//! support for each, and a decision per field with a written reason.

use super::officer::{outcome_class, outcome_key};
use super::{render, render_status, respond, Chrome, FormData, PageError};
use crate::identity::Role;
use crate::session::Signed;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use utbyte_api::paths;
use utbyte_api::reviews::{
    BatchDecisionInput, Candidate, FieldReview, ReviewBatchView, ReviewDecisionInput, ReviewField,
    ReviewState, ReviewView, Reviewer,
};
use utbyte_api::Outcome;

#[derive(Template)]
#[template(path = "review_queue.html")]
struct QueuePage {
    c: Chrome,
    /// Batches of requests alike but for their subject, each decided once.
    batches: Vec<ReviewBatchView>,
    pending: Vec<ReviewView>,
    decided: Vec<ReviewView>,
}

impl QueuePage {
    fn received(&self, review: &ReviewView) -> String {
        super::when(review.received_at)
    }

    fn decided_at(&self, review: &ReviewView) -> String {
        review.decided_at.map(super::when).unwrap_or_default()
    }
}

pub(crate) async fn queue(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/review", "review.title");
    let result = async {
        signed.require(Role::Reviewer)?;
        let pending = signed
            .api(&state)
            .get(&format!("{}?state=pending&limit=200", paths::REVIEWS))
            .await?;
        let decided = signed
            .api(&state)
            .get(&format!("{}?state=decided&limit=50", paths::REVIEWS))
            .await?;
        let batches = signed.api(&state).get(paths::REVIEW_BATCHES).await?;
        render(QueuePage {
            c: c.clone(),
            batches,
            pending,
            decided,
        })
    }
    .await;
    respond(c, result)
}

#[derive(Template, Clone)]
#[template(path = "review.html")]
struct ReviewPage {
    c: Chrome,
    review: ReviewView,
    /// Fields the reviewer decides (those the rulebook routed to review).
    open: Vec<ReviewField>,
    error: String,
    /// What the reviewer entered, per field: (outcome, reason).
    entered: Vec<(String, String, String)>,
    /// When the page decides a batch: the batch, with `review` its oldest request.
    batch: Option<BatchFacts>,
}

/// A batch of requests alike but for their subject, as its page shows it.
#[derive(Clone)]
struct BatchFacts {
    name: String,
    pending: u64,
    /// The first of its pending requests, for choosing which to review on their own.
    requests: Vec<ReviewView>,
    /// What the reviewer left to review on their own, by ticket.
    except: Vec<String>,
}

/// Requests of a batch its page lists.
const BATCH_LISTED: u32 = 100;

impl ReviewPage {
    /// The page of `review` (of `batch`, when it decides one), with nothing entered yet.
    fn new(c: Chrome, review: ReviewView, batch: Option<BatchFacts>) -> Self {
        Self {
            c,
            open: open_fields(&review),
            review,
            error: String::new(),
            entered: Vec::new(),
            batch,
        }
    }

    fn decided(&self) -> bool {
        self.review.state == ReviewState::Decided
    }

    fn received(&self) -> String {
        super::when(self.review.received_at)
    }

    fn received_of(&self, review: &ReviewView) -> String {
        super::when(review.received_at)
    }

    fn excepted(&self, ticket: &str) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| b.except.iter().any(|t| t == ticket))
    }

    fn at(&self, time: &str) -> String {
        super::when_text(time)
    }

    fn decided_at(&self) -> String {
        self.review.decided_at.map(super::when).unwrap_or_default()
    }

    fn entered_outcome(&self, field: &str) -> &str {
        self.entered
            .iter()
            .find(|(f, _, _)| f == field)
            .map_or("", |(_, o, _)| o.as_str())
    }

    fn entered_reason(&self, field: &str) -> &str {
        self.entered
            .iter()
            .find(|(f, _, _)| f == field)
            .map_or("", |(_, _, r)| r.as_str())
    }

    fn outcome_key(&self, outcome: &Outcome) -> &'static str {
        outcome_key(*outcome)
    }

    fn outcome_class(&self, outcome: &Outcome) -> &'static str {
        outcome_class(*outcome)
    }

    fn event(&self, event: &str) -> String {
        super::event_label(self.c.t.0, event)
    }

    /// A field's candidate provisions, each once (several grants can cite one provision).
    fn candidates<'a>(&self, field: &'a ReviewField) -> Vec<&'a Candidate> {
        let mut seen: Vec<&'a Candidate> = Vec::new();
        for candidate in &field.candidates {
            match seen.iter_mut().find(|c| c.citation == candidate.citation) {
                // Keep the one that says what must be weighed.
                Some(kept) if kept.weigh.is_none() && candidate.weigh.is_some() => {
                    *kept = candidate
                }
                Some(_) => {}
                None => seen.push(candidate),
            }
        }
        seen
    }
}

async fn load(state: &AppState, signed: &Signed, ticket: &str) -> Result<ReviewView, PageError> {
    Ok(signed
        .api(state)
        .get(&paths::with(paths::REVIEW, ticket))
        .await?)
}

fn open_fields(review: &ReviewView) -> Vec<ReviewField> {
    review
        .fields
        .iter()
        .filter(|f| f.outcome == Outcome::Review)
        .cloned()
        .collect()
}

pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(ticket): Path<String>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/review", "review.title");
    let result = async {
        signed.require(Role::Reviewer)?;
        let review = load(&state, &signed, &ticket).await?;
        render(ReviewPage::new(c.clone(), review, None))
    }
    .await;
    respond(c, result)
}

/// A batch, its oldest request and the first of the others.
async fn load_batch(
    state: &AppState,
    signed: &Signed,
    batch: &str,
) -> Result<(ReviewView, BatchFacts), PageError> {
    let shown: ReviewBatchView = signed
        .api(state)
        .get(&paths::with(paths::REVIEW_BATCH, batch))
        .await?;
    let requests = signed
        .api(state)
        .get(&format!(
            "{}?limit={BATCH_LISTED}",
            paths::with(paths::REVIEW_BATCH_REVIEWS, batch)
        ))
        .await?;
    Ok((
        shown.first,
        BatchFacts {
            name: shown.batch,
            pending: shown.pending,
            requests,
            except: Vec::new(),
        },
    ))
}

pub(crate) async fn show_batch(
    State(state): State<AppState>,
    signed: Signed,
    Path(batch): Path<String>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/review", "review.title");
    let result = async {
        signed.require(Role::Reviewer)?;
        let (review, facts) = load_batch(&state, &signed, &batch).await?;
        render(ReviewPage::new(c.clone(), review, Some(facts)))
    }
    .await;
    respond(c, result)
}

pub(crate) async fn decide(
    State(state): State<AppState>,
    signed: Signed,
    Path(ticket): Path<String>,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/review", "review.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Reviewer)?;
        let review = load(&state, &signed, &ticket).await?;
        let page = ReviewPage::new(c.clone(), review, None);
        let done = format!("/portal/review/{}", super::encode(&ticket));
        submit(
            &state,
            &signed,
            page,
            &form,
            |reviewer, fields| {
                let decision = ReviewDecisionInput { reviewer, fields };
                (
                    paths::with(paths::REVIEW_DECISION, &ticket),
                    json(&decision),
                )
            },
            &done,
        )
        .await
    }
    .await;
    respond(c, result)
}

pub(crate) async fn decide_batch(
    State(state): State<AppState>,
    signed: Signed,
    Path(batch): Path<String>,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/review", "review.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Reviewer)?;
        let (review, mut facts) = load_batch(&state, &signed, &batch).await?;
        facts.except = form.all("except");
        let except = facts.except.clone();
        let page = ReviewPage::new(c.clone(), review, Some(facts));
        submit(
            &state,
            &signed,
            page,
            &form,
            |reviewer, fields| {
                let decision = BatchDecisionInput {
                    reviewer,
                    fields,
                    except,
                };
                (
                    paths::with(paths::REVIEW_BATCH_DECISION, &batch),
                    json(&decision),
                )
            },
            "/portal/review",
        )
        .await
    }
    .await;
    respond(c, result)
}

fn json<T: serde::Serialize>(body: &T) -> serde_json::Value {
    serde_json::to_value(body).unwrap_or_default()
}

/// Reads the decision entered on `page`'s form — an outcome and a reason per field under
/// review — and posts it where `decision` says, then goes to `done`; a decision not complete,
/// or one the node refuses, shows the page again with what was entered.
async fn submit(
    state: &AppState,
    signed: &Signed,
    page: ReviewPage,
    form: &FormData,
    decision: impl FnOnce(Reviewer, Vec<FieldReview>) -> (String, serde_json::Value),
    done: &str,
) -> Result<Response, PageError> {
    let entered: Vec<(String, String, String)> = page
        .open
        .iter()
        .map(|f| {
            (
                f.field.clone(),
                form.one(&format!("outcome-{}", f.field)),
                form.one(&format!("reason-{}", f.field)),
            )
        })
        .collect();
    let t = page.c.t;
    let again = |error: String| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            ReviewPage {
                error,
                entered: entered.clone(),
                ..page.clone()
            },
        )
    };
    let mut fields = Vec::new();
    for (field, outcome, reason) in &entered {
        let outcome = match outcome.as_str() {
            "disclose" => Outcome::Disclose,
            "refuse" => Outcome::Refuse,
            _ => return Ok(again(t.get("review.missing").to_owned())),
        };
        if reason.is_empty() {
            return Ok(again(t.get("review.missing").to_owned()));
        }
        fields.push(FieldReview {
            field: field.clone(),
            outcome,
            // A reason is one line of text in the signed answer and the ledger, which refuse
            // control characters; the text area's line breaks (and tabs) become spaces.
            reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let who = &signed.identity;
    let reviewer = Reviewer {
        officer: who.username.clone(),
        unit: who.unit.clone(),
        role: who.officer_role.clone(),
    };
    let (path, body) = decision(reviewer, fields);
    match signed
        .api(state)
        .post::<serde_json::Value, _>(&path, &body, &[])
        .await
    {
        Ok(_) => Ok(Redirect::to(done).into_response()),
        // The node's word that this reviewer may not decide it (another unit reviews the
        // offering): access denied, not a form to correct.
        Err(problem) if problem.status == StatusCode::FORBIDDEN => {
            Err(PageError::Denied("review.not_yours"))
        }
        Err(problem)
            if problem.status.is_client_error() && problem.status != StatusCode::NOT_FOUND =>
        {
            Ok(again(format!("{}: {}", problem.title, problem.detail)))
        }
        Err(problem) => Err(problem.into()),
    }
}
