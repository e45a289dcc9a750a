//! Federated search (pattern B's other half): one question — a subject, a purpose, a legal
//! basis, a case — asked of every source the rulebook says may answer this officer.
//!
//! The sources are the offerings other members publish of which the federation's rulebook,
//! deciding this question for all their fields, would disclose something — automatically, or
//! after a reviewer's assessment at the provider. Each is asked with an ordinary request
//! ([`crate::exchange::ask::submit`]) for the fields it would disclose automatically (or, when
//! none, those a reviewer may), so it is decided again by its provider, knowing the subject,
//! and recorded in both ledgers like any other request. The requests run in
//! parallel, each in its own task, and each is waited for until the deadline. A source not done
//! by then is marked `timed_out` without delaying the others, and its request goes on: its
//! answer is kept under its key (`{search key}~{offering}`), and the same search asked again
//! with the same key reads the answers kept rather than asking again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use time::OffsetDateTime;
use utbyte_api::access::{Duty, VouchedBy};
use utbyte_api::paths;
use utbyte_api::requests::{CaseAnswer, CaseRequest, CaseStatus};
use utbyte_api::search::{
    SearchAnswer, SearchRequest, SourceOutcome, SourceStatus, DEFAULT_DEADLINE_MS, MAX_DEADLINE_MS,
};
use utbyte_http::{Json, Problem};

use crate::access::Who;
use crate::exchange::{ask, ExchangeError};
use crate::problems;
use crate::state::{Exchange, NodeState};

/// The longest search key: with `~` and an offering id a source's key stays within the 128
/// characters a request key may have.
pub const MAX_SEARCH_KEY: usize = 63;
/// The most further legal bases a question may claim.
const MAX_ALSO: usize = 4;
/// The shortest deadline a question may set, in milliseconds.
const MIN_DEADLINE_MS: u32 = 100;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new().route(paths::SEARCH, post(search))
}

/// Asks every permitted source at once.
#[utoipa::path(
    operation_id = "search",
    post,
    path = paths::SEARCH,
    tag = "consumer",
    request_body = SearchRequest,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 63, pattern = "^[!-~]+$", description = "Chosen by the case system, 1 to 63 visible ASCII characters; the same key and question again reads the answers kept")),
    responses(
        (status = 200, description = "Every source asked, and how each answered (possibly none)", body = SearchAnswer),
        (status = 400, description = "Missing Idempotency-Key or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not ask, or not for this officer, unit or role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid subject, text or unit, or a deadline outside 100 to 30,000 ms", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn search(
    State(state): State<Arc<NodeState>>,
    who: Who,
    headers: HeaderMap,
    Json(asked): Json<SearchRequest>,
) -> Result<Json<SearchAnswer>, Problem> {
    who.require(Duty::Request)?;
    let acting = who.acting(&asked.officer, &asked.unit, &asked.role)?;
    let key = crate::consumer::idempotency_key(&headers)?;
    if key.len() > MAX_SEARCH_KEY {
        return Err(problems::MISSING_IDEMPOTENCY_KEY.with(format!(
            "a search's Idempotency-Key is 1 to {MAX_SEARCH_KEY} visible ASCII characters"
        )));
    }
    let deadline = asked.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS);
    if !(MIN_DEADLINE_MS..=MAX_DEADLINE_MS).contains(&deadline) {
        return Err(problems::INVALID_REQUEST
            .with(format!(
                "`deadline_ms` is {MIN_DEADLINE_MS} to {MAX_DEADLINE_MS} milliseconds"
            ))
            .with_extension("field", "deadline_ms"));
    }
    let ctx = state.exchange_context()?;
    let now = OffsetDateTime::now_utc();
    let vouched_by = VouchedBy {
        client: acting.client,
        vouch: acting.vouch,
    };
    if asked.also_legal_bases.len() > MAX_ALSO {
        return Err(problems::INVALID_REQUEST
            .with(format!(
                "`also_legal_bases` names at most {MAX_ALSO} provisions"
            ))
            .with_extension("field", "also_legal_bases"));
    }
    let case = |offering: &str, basis: &str, fields: Vec<String>| CaseRequest {
        subject: asked.subject.clone(),
        offering: offering.to_owned(),
        fields,
        purpose: asked.purpose.clone(),
        legal_basis: basis.to_owned(),
        case_ref: asked.case_ref.clone(),
        operation: asked.operation.clone(),
        officer: asked.officer.clone(),
        role: asked.role.clone(),
        unit: asked.unit.clone(),
        callback: None,
        vouched_by: Some(vouched_by.clone()),
    };
    let bases: Vec<&str> = std::iter::once(asked.legal_basis.as_str())
        .chain(asked.also_legal_bases.iter().map(String::as_str))
        .collect();
    let mut cases = Vec::new();
    let mut checked_any = false;
    for offering in candidates(&state, &ctx) {
        checked_any = true;
        let all: Vec<String> = offering
            .categories
            .iter()
            .flat_map(|c| c.fields.iter().map(|f| f.id.clone()))
            .collect();
        // The first basis under which something would go automatically; else the first under
        // which a reviewer may disclose.
        let mut chosen: Option<(&str, Vec<String>)> = None;
        for basis in &bases {
            // What every source would refuse alike — the subject, the texts, the unit — is
            // refused here, before anyone is asked.
            let checked =
                ask::check_case(&state, &ctx, &case(&offering.id, basis, all.clone()), now)?;
            match worth_asking(&ctx, &checked)? {
                Some((fields, true)) => {
                    chosen = Some((basis, fields));
                    break;
                }
                Some((fields, false)) if chosen.is_none() => chosen = Some((basis, fields)),
                _ => {}
            }
        }
        if let Some((basis, fields)) = chosen {
            cases.push((offering.provider.clone(), case(&offering.id, basis, fields)));
        }
    }
    if !checked_any {
        // No offering to check the question against: the subject is checked on its own.
        asked
            .subject
            .parse::<utbyte_domain::SubjectId>()
            .map_err(|_| {
                ExchangeError::InvalidSubject(
                    "`subject` is not a personnummer, samordningsnummer or organisationsnummer"
                        .into(),
                )
            })?;
    }
    let until = tokio::time::Instant::now() + Duration::from_millis(u64::from(deadline));
    let mut running = Vec::with_capacity(cases.len());
    for (provider, case) in cases {
        let request = format!("{key}~{}", case.offering);
        let (offering, legal_basis) = (case.offering.clone(), case.legal_basis.clone());
        let (task_state, task_key) = (Arc::clone(&state), request.clone());
        // Its own task: a source past the deadline finishes its exchange, and it is kept.
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let outcome = ask::submit(&task_state, task_key, &case, now).await;
            (outcome, started.elapsed())
        });
        running.push((offering, provider, legal_basis, request, task));
    }
    let mut sources = Vec::with_capacity(running.len());
    for (offering, provider, legal_basis, request, task) in running {
        let mut source = SourceOutcome {
            offering,
            provider,
            legal_basis,
            status: SourceStatus::TimedOut,
            request,
            answer: None,
            problem: None,
            detail: None,
            elapsed_ms: u64::from(deadline),
        };
        match tokio::time::timeout_at(until, task).await {
            Err(_) => {}
            Ok(Err(_)) => {
                source.status = SourceStatus::Failed;
                source.detail = Some("the request stopped before it was answered".into());
            }
            Ok(Ok((outcome, took))) => {
                source.elapsed_ms = took.as_millis().try_into().unwrap_or(u64::MAX);
                match outcome {
                    Ok(answer) => answered(&mut source, answer),
                    Err(err) => failed(&mut source, err),
                }
            }
        }
        state.metrics.search_source(match source.status {
            SourceStatus::Answered => "answered",
            SourceStatus::Review => "review",
            SourceStatus::Refused => "refused",
            SourceStatus::Failed => "failed",
            SourceStatus::TimedOut => "timed_out",
        });
        sources.push(source);
    }
    Ok(Json(SearchAnswer {
        search: key,
        subject: asked.subject,
        sources,
    }))
}

fn answered(source: &mut SourceOutcome, answer: CaseAnswer) {
    source.status = match answer.status {
        CaseStatus::Answered => SourceStatus::Answered,
        CaseStatus::Review => SourceStatus::Review,
    };
    source.answer = Some(answer);
}

fn failed(source: &mut SourceOutcome, err: ExchangeError) {
    source.status = if matches!(err, ExchangeError::ProviderRefused { .. }) {
        SourceStatus::Refused
    } else {
        SourceStatus::Failed
    };
    let problem = Problem::from(err);
    source.problem = Some(problem.kind);
    source.detail = Some(problem.detail);
}

/// The offerings another member of the federation publishes to be asked for.
fn candidates<'a>(
    state: &'a NodeState,
    ctx: &'a Exchange,
) -> impl Iterator<Item = &'a utbyte_rules::vocabulary::Offering> {
    ctx.rulebook
        .vocabulary
        .offerings
        .values()
        .filter(move |o| !o.notice && o.provider != state.authority)
        .filter(move |o| ctx.config.member(&o.provider).is_some())
}

/// The fields to ask a source for, decided beforehand with the federation's rulebook (the
/// provider decides again, knowing the subject): those it would disclose automatically
/// (`true`); when none, those a reviewer there may disclose (`false`); `None` when it would
/// refuse every field — then the source is not one this officer may ask with this legal basis
/// and purpose.
fn worth_asking(
    ctx: &Exchange,
    checked: &crate::exchange::checked::CheckedRequest,
) -> Result<Option<(Vec<String>, bool)>, ExchangeError> {
    let decision = ctx.rulebook.decide(checked.request())?;
    let with = |outcome: utbyte_rules::Outcome| -> Vec<String> {
        decision
            .fields
            .iter()
            .filter(|f| f.outcome == outcome)
            .map(|f| f.field.clone())
            .collect()
    };
    let automatic = with(utbyte_rules::Outcome::Disclose);
    if !automatic.is_empty() {
        return Ok(Some((automatic, true)));
    }
    let reviewed = with(utbyte_rules::Outcome::Review);
    Ok((!reviewed.is_empty()).then_some((reviewed, false)))
}
