//! "Sök i alla källor": one question — a subject, a legal basis, a purpose, a case — to every
//! source the rulebook lets the officer ask (`POST /v1/search`), the answers side by side: what
//! each disclosed, field by field with its provisions, and which refused, went to review or
//! did not answer in time. Each source's answer stays under *My requests*.

use super::officer::{outcome_class, outcome_key};
use super::{render, render_status, respond, Chrome, FormData, PageError};
use crate::identity::Role;
use crate::session::{random_token, Signed};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utbyte_api::offerings::{OfferingView, RequestOptions};
use utbyte_api::paths;
use utbyte_api::search::{SearchAnswer, SearchRequest, SourceOutcome, SourceStatus};

/// What the officer typed, to show again.
#[derive(Default)]
struct Entered {
    subject: String,
    legal_basis: String,
    purpose: String,
    case_ref: String,
    operation: String,
}

/// One field of one source's answer.
struct Shown {
    field: String,
    outcome_key: &'static str,
    outcome_class: &'static str,
    value: String,
    citations: String,
}

/// One source as the page shows it.
struct Source {
    offering: String,
    provider: String,
    status_key: &'static str,
    status_class: &'static str,
    /// The request kept under *My requests*, when there is one to read.
    href: Option<String>,
    detail: String,
    fields: Vec<Shown>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    c: Chrome,
    key: String,
    bases: Choices,
    purposes: Choices,
    entered: Entered,
    error: String,
    error_detail: String,
    /// The answers, once asked.
    sources: Option<Vec<Source>>,
}

/// Ids with their titles, in the order first met.
type Choices = Vec<(String, String)>;

/// The legal bases and purposes the officer can claim for any offering of another authority.
async fn choices(state: &AppState, signed: &Signed) -> Result<(Choices, Choices), PageError> {
    let api = signed.api(state);
    let who = &signed.identity;
    let offerings: Vec<OfferingView> = api.get(paths::OFFERINGS).await?;
    let (mut bases, mut purposes): (Choices, Choices) = (Vec::new(), Vec::new());
    for offering in offerings.iter().filter(|o| !o.published_here) {
        let Ok(options) = api
            .get::<RequestOptions>(&format!(
                "{}?unit={}&role={}",
                paths::with(paths::OFFERING_OPTIONS, &offering.id),
                super::encode(&who.unit),
                super::encode(&who.officer_role)
            ))
            .await
        else {
            continue;
        };
        for option in options.options {
            if !bases.iter().any(|(id, _)| id == &option.legal_basis) {
                let title = format!("{} – {}", option.short, option.title);
                bases.push((option.legal_basis.clone(), title));
            }
            for purpose in option.purposes {
                if !purposes.iter().any(|(id, _)| id == &purpose.id) {
                    purposes.push((purpose.id, purpose.title));
                }
            }
        }
    }
    Ok((bases, purposes))
}

async fn page(
    state: &AppState,
    signed: &Signed,
    c: Chrome,
    entered: Entered,
    error: (String, String),
    sources: Option<Vec<Source>>,
) -> Result<SearchPage, PageError> {
    let (bases, purposes) = choices(state, signed).await?;
    Ok(SearchPage {
        c,
        key: random_token()?,
        bases,
        purposes,
        entered,
        error: error.0,
        error_detail: error.1,
        sources,
    })
}

pub(crate) async fn form(State(state): State<AppState>, signed: Signed) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/search", "search.title");
    let result = async {
        signed.require(Role::Officer)?;
        render(
            page(
                &state,
                &signed,
                c.clone(),
                Entered::default(),
                Default::default(),
                None,
            )
            .await?,
        )
    }
    .await;
    respond(c, result)
}

pub(crate) async fn ask(State(state): State<AppState>, signed: Signed, form: FormData) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/search", "search.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Officer)?;
        let key = form.one("key");
        if key.is_empty() || key.len() > 63 {
            return Err(PageError::Csrf);
        }
        let entered = Entered {
            subject: form.one("subject"),
            legal_basis: form.one("legal_basis"),
            purpose: form.one("purpose"),
            case_ref: form.one("case_ref"),
            operation: form.one("operation"),
        };
        let who = &signed.identity;
        let question = SearchRequest {
            subject: entered.subject.clone(),
            purpose: entered.purpose.clone(),
            legal_basis: entered.legal_basis.clone(),
            also_legal_bases: Vec::new(),
            case_ref: entered.case_ref.clone(),
            operation: (!entered.operation.is_empty()).then(|| entered.operation.clone()),
            officer: who.username.clone(),
            role: who.officer_role.clone(),
            unit: who.unit.clone(),
            deadline_ms: None,
        };
        let asked = signed
            .api(&state)
            .post::<SearchAnswer, _>(paths::SEARCH, &question, &[("Idempotency-Key", &key)])
            .await;
        match asked {
            Ok(answer) => {
                let sources = answer.body.sources.into_iter().map(shown).collect();
                render(
                    page(
                        &state,
                        &signed,
                        c.clone(),
                        entered,
                        Default::default(),
                        Some(sources),
                    )
                    .await?,
                )
            }
            Err(problem) if problem.status.is_client_error() => {
                // The officer can correct this: the form again, with what the node said.
                let error = (
                    format!("{}: {}", c.t.get("search.failed"), problem.title),
                    problem.detail,
                );
                let page = page(&state, &signed, c.clone(), entered, error, None).await?;
                Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, page))
            }
            Err(problem) => Err(PageError::Api(problem)),
        }
    }
    .await;
    respond(c, result)
}

fn shown(source: SourceOutcome) -> Source {
    let (status_key, status_class) = match source.status {
        SourceStatus::Answered => ("search.status.answered", "ok"),
        SourceStatus::Review => ("search.status.review", "warn"),
        SourceStatus::Refused => ("search.status.refused", "error"),
        SourceStatus::Failed => ("search.status.failed", "error"),
        SourceStatus::TimedOut => ("search.status.timed_out", "warn"),
    };
    let fields = source
        .answer
        .as_ref()
        .map(|answer| {
            answer
                .fields
                .iter()
                .map(|verdict| Shown {
                    field: verdict.field.clone(),
                    outcome_key: outcome_key(verdict.outcome),
                    outcome_class: outcome_class(verdict.outcome),
                    value: match answer.values.get(&verdict.field) {
                        Some(serde_json::Value::String(text)) => text.clone(),
                        Some(value) => value.to_string(),
                        None => String::new(),
                    },
                    citations: verdict.citations.join("; "),
                })
                .collect()
        })
        .unwrap_or_default();
    Source {
        href: matches!(
            source.status,
            SourceStatus::Answered | SourceStatus::Review | SourceStatus::TimedOut
        )
        .then(|| format!("/portal/requests/{}", super::encode(&source.request))),
        offering: source.offering,
        provider: source.provider,
        status_key,
        status_class,
        detail: source.detail.unwrap_or_default(),
        fields,
    }
}
