//! The case officer: find an offering, ask for it, read the answer with its receipts.

use super::{render, render_status, respond, Chrome, FormData, PageError};
use crate::identity::Role;
use crate::session::{random_token, Signed};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use utbyte_api::offerings::{GrantClass, OfferingView, RequestOptions};
use utbyte_api::paths;
use utbyte_api::requests::{CaseAnswer, CaseRequest, CaseState, CaseStatus, CaseSummary};
use utbyte_api::FieldVerdict;
use utbyte_catalog::search::SearchResults;

/// One hit as the page shows it.
struct Found {
    id: String,
    title: String,
    provider_name: String,
    /// This authority's own offering: it is not asked for through the exchange.
    own: bool,
}

/// One facet value, with the query that narrows the search by it.
struct FacetValue {
    label: String,
    count: u64,
    href: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "offerings.html")]
struct OfferingsPage {
    c: Chrome,
    query: String,
    total: u64,
    found: Vec<Found>,
    facets: Vec<(&'static str, Vec<FacetValue>)>,
    previous: String,
    next: String,
    page: u32,
    error: String,
}

#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    page: Option<u32>,
}

const PER_PAGE: u32 = 20;

/// The facets the page offers, with their headings' text keys.
const FACETS: [(&str, &str); 5] = [
    ("provider", "offerings.provider"),
    ("concept", "offerings.concept"),
    ("provision", "offerings.provision"),
    ("purpose", "offerings.purpose"),
    ("secrecy", "offerings.secrecy"),
];

fn search_href(q: &str, page: u32) -> String {
    format!("/portal/offerings?q={}&page={page}", super::encode(q))
}

/// A filter term as the search language writes it (quoted when it has a space).
fn filter(key: &str, value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("{key}:\"{value}\"")
    } else {
        format!("{key}:{value}")
    }
}

pub(crate) async fn offerings(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<SearchQuery>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/offerings", "offerings.title");
    let result = async {
        signed.require(Role::Officer)?;
        let q = query.q.unwrap_or_default().trim().to_owned();
        let page = query.page.unwrap_or(1).max(1);
        let here = &signed.identity.authority;
        let path = format!(
            "{}?q={}&page={page}&per_page={PER_PAGE}",
            paths::CATALOG_SEARCH,
            super::encode(&q)
        );
        let mut view = OfferingsPage {
            c: c.clone(),
            query: q.clone(),
            total: 0,
            found: Vec::new(),
            facets: Vec::new(),
            previous: String::new(),
            next: String::new(),
            page,
            error: String::new(),
        };
        match signed.api(&state).get::<SearchResults>(&path).await {
            Ok(results) => {
                view.total = results.total;
                view.found = results
                    .hits
                    .into_iter()
                    .map(|hit| Found {
                        own: &hit.provider == here,
                        id: hit.offering,
                        title: hit.title,
                        provider_name: hit.provider_name,
                    })
                    .collect();
                for (key, heading) in FACETS {
                    let values: Vec<FacetValue> = results
                        .facets
                        .get(key)
                        .map(|values| {
                            values
                                .iter()
                                .take(12)
                                .map(|(value, count)| {
                                    let term = filter(key, value);
                                    let active = q.split_whitespace().any(|w| w == term);
                                    let narrowed = if active {
                                        q.clone()
                                    } else {
                                        format!("{q} {term}")
                                    };
                                    FacetValue {
                                        label: value.clone(),
                                        count: *count,
                                        href: search_href(narrowed.trim(), 1),
                                        active,
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if !values.is_empty() {
                        view.facets.push((heading, values));
                    }
                }
                if page > 1 {
                    view.previous = search_href(&q, page - 1);
                }
                if u64::from(page) * u64::from(PER_PAGE) < results.total {
                    view.next = search_href(&q, page + 1);
                }
                render(view)
            }
            Err(problem) if problem.status == StatusCode::UNPROCESSABLE_ENTITY => {
                // A filter the catalog does not know: say so, keep the query to correct.
                view.error = problem.detail;
                Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, view))
            }
            Err(problem) => Err(problem.into()),
        }
    }
    .await;
    respond(c, result)
}

/// What the officer typed, to show again when the form needs correcting.
#[derive(Default)]
struct Entered {
    subject: String,
    legal_basis: String,
    purpose: String,
    fields: Vec<String>,
    case_ref: String,
    operation: String,
}

#[derive(Template)]
#[template(path = "new_request.html")]
struct NewRequestPage {
    c: Chrome,
    offering: OfferingView,
    options: Vec<BasisChoice>,
    purposes: Vec<(String, String)>,
    key: String,
    entered: Entered,
    error: String,
    error_detail: String,
}

/// One legal basis to choose, however many grants under it: answered automatically
/// (`disclose`), by a reviewer (`review`), or depending on the purpose (`mixed`).
struct BasisChoice {
    legal_basis: String,
    short: String,
    title: String,
    class: &'static str,
    purposes: Vec<utbyte_api::offerings::Named>,
}

#[derive(Deserialize)]
pub(crate) struct NewQuery {
    offering: String,
}

async fn options(
    state: &AppState,
    signed: &Signed,
    offering: &str,
) -> Result<RequestOptions, PageError> {
    let who = &signed.identity;
    Ok(signed
        .api(state)
        .get(&format!(
            "{}?unit={}&role={}",
            paths::with(paths::OFFERING_OPTIONS, offering),
            super::encode(&who.unit),
            super::encode(&who.officer_role)
        ))
        .await?)
}

fn request_page(
    c: Chrome,
    mut options: RequestOptions,
    key: String,
    entered: Entered,
    error: (String, String),
) -> NewRequestPage {
    // One choice per legal basis: several grants under one provision (a pre-assessment and the
    // provision's general rule, say) are one basis to claim; which of them answers depends on
    // the purpose and is decided by the rulebook. Automatic disclosure leads: its basis comes
    // first and its purposes head the list.
    options
        .options
        .sort_by_key(|o| o.class != GrantClass::Disclose);
    let mut bases: Vec<BasisChoice> = Vec::new();
    for option in options.options {
        let class = match option.class {
            GrantClass::Disclose => "disclose",
            GrantClass::Review => "review",
        };
        match bases
            .iter_mut()
            .find(|b| b.legal_basis == option.legal_basis)
        {
            Some(basis) => {
                if basis.class != class {
                    basis.class = "mixed";
                }
                for purpose in option.purposes {
                    if !basis.purposes.iter().any(|p| p.id == purpose.id) {
                        basis.purposes.push(purpose);
                    }
                }
            }
            None => bases.push(BasisChoice {
                legal_basis: option.legal_basis,
                short: option.short,
                title: option.title,
                class,
                purposes: option.purposes,
            }),
        }
    }
    let mut purposes: Vec<(String, String)> = Vec::new();
    for option in &bases {
        for p in &option.purposes {
            if !purposes.iter().any(|(id, _)| id == &p.id) {
                purposes.push((p.id.clone(), p.title.clone()));
            }
        }
    }
    NewRequestPage {
        c,
        offering: options.offering,
        options: bases,
        purposes,
        key,
        entered,
        error: error.0,
        error_detail: error.1,
    }
}

pub(crate) async fn new_request(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<NewQuery>,
) -> Response {
    // The language switch comes back to this offering's form.
    let here = format!("/portal/requests/new?offering={}", query.offering);
    let c = Chrome::new(&state, &signed, &here, "request.title");
    let result = async {
        signed.require(Role::Officer)?;
        let options = options(&state, &signed, &query.offering).await?;
        let entered = Entered {
            fields: options
                .offering
                .fields
                .iter()
                .map(|f| f.id.clone())
                .collect(),
            ..Entered::default()
        };
        render(request_page(
            c.clone(),
            options,
            random_token()?,
            entered,
            (String::new(), String::new()),
        ))
    }
    .await;
    respond(c, result)
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/requests/new", "request.title");
    let result = async {
        signed.check_csrf(&form.one("csrf"))?;
        signed.require(Role::Officer)?;
        let offering = form.one("offering");
        let key = form.one("key");
        if key.is_empty() || key.len() > 128 {
            return Err(PageError::Csrf);
        }
        let entered = Entered {
            subject: form.one("subject"),
            legal_basis: form.one("legal_basis"),
            purpose: form.one("purpose"),
            fields: form.all("fields"),
            case_ref: form.one("case_ref"),
            operation: form.one("operation"),
        };
        let who = &signed.identity;
        let case = CaseRequest {
            subject: entered.subject.clone(),
            offering: offering.clone(),
            fields: entered.fields.clone(),
            purpose: entered.purpose.clone(),
            legal_basis: entered.legal_basis.clone(),
            case_ref: entered.case_ref.clone(),
            operation: (!entered.operation.is_empty()).then(|| entered.operation.clone()),
            officer: who.username.clone(),
            role: who.officer_role.clone(),
            unit: who.unit.clone(),
            callback: None,
            vouched_by: None,
        };
        let sent = signed
            .api(&state)
            .post::<CaseAnswer, _>(paths::REQUESTS, &case, &[("Idempotency-Key", &key)])
            .await;
        match sent {
            Ok(_) => Ok(
                Redirect::to(&format!("/portal/requests/{}", super::encode(&key))).into_response(),
            ),
            Err(problem) if problem.status.is_client_error() => {
                // The officer can correct this: the form again, with what the node said.
                let options = options(&state, &signed, &offering).await?;
                let page = request_page(
                    c.clone(),
                    options,
                    random_token()?,
                    entered,
                    (
                        format!("{}: {}", c.t.get("request.failed"), problem.title),
                        problem.detail,
                    ),
                );
                Ok(render_status(StatusCode::UNPROCESSABLE_ENTITY, page))
            }
            Err(problem) => Err(PageError::Api(problem)),
        }
    }
    .await;
    respond(c, result)
}

/// One row of the officer's list.
struct Row {
    key: String,
    created_at: String,
    offering: String,
    provider: String,
    case_ref: String,
    state: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    c: Chrome,
    rows: Vec<Row>,
    page: u32,
    /// The first page, from any later one (the node's cursors lead forward only).
    first: String,
    next: String,
}

/// Where in the officer's list a page starts: after the node's cursor `after`; `page` only
/// numbers it for the reader.
#[derive(Deserialize)]
pub(crate) struct PageQuery {
    after: Option<String>,
    page: Option<u32>,
}

/// A page of the officer's own requests, starting after the cursor `after`, with the cursor
/// of the page after it.
async fn own(
    state: &AppState,
    signed: &Signed,
    limit: u32,
    after: Option<&str>,
) -> Result<(Vec<CaseSummary>, Option<String>), PageError> {
    let after = after
        .map(|cursor| format!("&after={}", super::encode(cursor)))
        .unwrap_or_default();
    Ok(signed
        .api(state)
        .get_page(&format!(
            "{}?officer={}&limit={limit}{after}",
            paths::REQUESTS,
            super::encode(&signed.identity.username)
        ))
        .await?)
}

/// One of the officer's own requests, looked for through all of them.
async fn find_own(state: &AppState, signed: &Signed, key: &str) -> Result<CaseSummary, PageError> {
    const CHUNK: u32 = 500;
    let mut after = None;
    loop {
        let (chunk, next) = own(state, signed, CHUNK, after.as_deref()).await?;
        if let Some(found) = chunk.into_iter().find(|s| s.idempotency_key == key) {
            return Ok(found);
        }
        if next.is_none() {
            return Err(PageError::NotFound);
        }
        after = next;
    }
}

/// Requests per page of the officer's list.
const REQUESTS_PER_PAGE: u32 = 50;

fn status_key(state: CaseState) -> &'static str {
    match state {
        CaseState::Answered => "answer.answered",
        CaseState::Review => "answer.review",
        CaseState::InFlight => "answer.in_flight",
        CaseState::Failed => "answer.failed",
    }
}

pub(crate) async fn requests(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<PageQuery>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/requests", "requests.title");
    let result = async {
        signed.require(Role::Officer)?;
        let t = c.t;
        let page = if query.after.is_some() {
            query.page.unwrap_or(2).clamp(2, 1_000_000)
        } else {
            1
        };
        let (listed, next) =
            own(&state, &signed, REQUESTS_PER_PAGE, query.after.as_deref()).await?;
        let rows = listed
            .into_iter()
            .map(|s| Row {
                offering: s.request.offering,
                case_ref: s.request.case_ref,
                state: t.get(status_key(s.state)).to_owned(),
                key: s.idempotency_key,
                created_at: super::when(s.created_at),
                provider: s.provider,
            })
            .collect();
        render(RequestsPage {
            c: c.clone(),
            rows,
            page,
            first: if page > 1 {
                "/portal/requests".to_owned()
            } else {
                String::new()
            },
            next: next
                .map(|after| {
                    format!(
                        "/portal/requests?after={}&page={}",
                        super::encode(&after),
                        page + 1
                    )
                })
                .unwrap_or_default(),
        })
    }
    .await;
    respond(c, result)
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    c: Chrome,
    summary: CaseSummary,
    answer: Option<CaseAnswer>,
    answered: bool,
    /// Why the exchange ended without an answer, if it did.
    failure: Option<String>,
    values: Vec<(String, String)>,
}

impl RequestPage {
    fn request_text(&self, key: &str) -> String {
        let request = &self.summary.request;
        match key {
            "subject" => request.subject.clone(),
            "offering" => request.offering.clone(),
            "fields" => request.fields.join(", "),
            "purpose" => request.purpose.clone(),
            "legal_basis" => request.legal_basis.clone(),
            "case_ref" => request.case_ref.clone(),
            "operation" => request.operation.clone().unwrap_or_default(),
            "officer" => request.officer.clone(),
            "role" => request.role.clone(),
            "unit" => request.unit.clone(),
            _ => String::new(),
        }
    }

    fn created_at(&self) -> String {
        super::when(self.summary.created_at)
    }

    fn outcome_key(&self, verdict: &FieldVerdict) -> &'static str {
        outcome_key(verdict.outcome)
    }

    fn outcome_class(&self, verdict: &FieldVerdict) -> &'static str {
        outcome_class(verdict.outcome)
    }
}

/// The style class of an outcome.
pub(crate) fn outcome_class(outcome: utbyte_api::Outcome) -> &'static str {
    match outcome {
        utbyte_api::Outcome::Disclose => "disclose",
        utbyte_api::Outcome::Review => "review",
        utbyte_api::Outcome::Refuse => "refuse",
    }
}

/// The text key of an outcome.
pub(crate) fn outcome_key(outcome: utbyte_api::Outcome) -> &'static str {
    match outcome {
        utbyte_api::Outcome::Disclose => "outcome.disclose",
        utbyte_api::Outcome::Review => "outcome.review",
        utbyte_api::Outcome::Refuse => "outcome.refuse",
    }
}

pub(crate) async fn request(
    State(state): State<AppState>,
    signed: Signed,
    Path(key): Path<String>,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/requests", "answer.title");
    let result = async {
        signed.require(Role::Officer)?;
        // Only the officer's own requests: another officer's, or another authority's, is not
        // found.
        let summary = find_own(&state, &signed, &key).await?;
        // Asking for it again lets the node poll the provider about a review.
        let mut failure = None;
        let answer: Option<CaseAnswer> = match signed
            .api(&state)
            .get::<CaseAnswer>(&paths::with(paths::REQUEST, &key))
            .await
        {
            Ok(answer) => Some(answer),
            Err(p) if p.status == StatusCode::CONFLICT => None,
            // The exchange ended without an answer: the page says why, in the node's words.
            Err(p) if p.problem_type.ends_with(":request-failed") => {
                failure = Some(p.detail);
                None
            }
            Err(p) => return Err(p.into()),
        };
        let answered = answer
            .as_ref()
            .is_some_and(|a| a.status == CaseStatus::Answered);
        let values = answer
            .as_ref()
            .map(|a| {
                a.values
                    .iter()
                    .map(|(k, v)| {
                        let text = match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        render(RequestPage {
            c: c.clone(),
            summary,
            answer,
            answered,
            failure,
            values,
        })
    }
    .await;
    respond(c, result)
}
