//! The pages: routes, the frame every page shares, and how failures become pages.

mod admin;
mod auditor;
mod auth;
mod messages;
mod officer;
mod provider;
mod reviewer;
mod search;
mod shown_time;
mod subscriptions;
mod uploads;

pub(crate) use shown_time::{when, when_text};

use crate::api::ApiProblem;
use crate::identity::{Identity, Role};
use crate::session::Signed;
use crate::text::{Lang, Text};
use crate::AppState;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/oidc/start", get(provider::start))
        .route("/oidc/callback", get(provider::callback))
        .route("/lang/{code}", get(auth::language))
        .route("/static/portal.css", get(css))
        .route("/static/portal.js", get(js))
        .route("/offerings", get(officer::offerings))
        .route("/requests", get(officer::requests).post(officer::submit))
        .route("/requests/new", get(officer::new_request))
        .route("/requests/{key}", get(officer::request))
        .route("/messages", get(messages::list))
        .route("/subscriptions", get(subscriptions::list))
        .route("/search", get(search::form).post(search::ask))
        .route("/messages/new", get(messages::compose).post(messages::send))
        .route(
            "/messages/{sender}/{id}/attachments/{n}",
            get(messages::attachment),
        )
        .route(
            "/uploads",
            axum::routing::post(uploads::create).options(uploads::create),
        )
        .route(
            "/uploads/{id}",
            axum::routing::patch(uploads::upload)
                .head(uploads::upload)
                .delete(uploads::upload),
        )
        .route("/messages/{sender}/{id}", get(messages::show))
        .route("/messages/{sender}/{id}/accept", post(messages::accept))
        .route("/review", get(reviewer::queue))
        .route(
            "/review/batch/{batch}",
            get(reviewer::show_batch).post(reviewer::decide_batch),
        )
        .route(
            "/review/{ticket}",
            get(reviewer::show).post(reviewer::decide),
        )
        .route("/audit", get(auditor::overview))
        .route("/audit/verify", post(auditor::verify))
        .route("/audit/reconcile", post(auditor::reconcile))
        .route(
            "/audit/subject",
            get(auditor::subject_form).post(auditor::subject),
        )
        .route("/admin/users", get(admin::users).post(admin::create))
        .route(
            "/admin/users/{username}",
            get(admin::user).post(admin::update),
        )
        .route("/admin/offerings", get(admin::published))
        .fallback(not_found)
}

/// What the frame of every page needs: language, who is signed in, the CSRF token for its
/// forms, and where the page is (for the language switch and the current menu item).
#[derive(Clone)]
pub(crate) struct Chrome {
    pub t: Text,
    pub authority_name: String,
    pub identity: Option<Identity>,
    pub csrf: String,
    pub path: String,
    pub title: String,
}

/// One menu item.
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl Chrome {
    pub fn new(state: &AppState, signed: &Signed, path: &str, title_key: &str) -> Self {
        let t = Text(signed.lang);
        Self {
            t,
            authority_name: state.portal.config().authority_name.clone(),
            identity: Some(signed.identity.clone()),
            csrf: signed.csrf.clone(),
            path: path.to_owned(),
            title: t.get(title_key).to_owned(),
        }
    }

    pub fn anonymous(state: &AppState, lang: Lang, path: &str, title_key: &str) -> Self {
        let t = Text(lang);
        Self {
            t,
            authority_name: state.portal.config().authority_name.clone(),
            identity: None,
            csrf: String::new(),
            path: path.to_owned(),
            title: t.get(title_key).to_owned(),
        }
    }

    pub fn lang(&self) -> &'static str {
        self.t.0.code()
    }

    pub fn other_lang(&self) -> &'static str {
        self.t.0.other().code()
    }

    /// The menu: the pages this person's roles open.
    pub fn nav(&self) -> Vec<NavItem> {
        let Some(who) = &self.identity else {
            return Vec::new();
        };
        let mut items = vec![("/portal/", "nav.home", None)];
        items.extend([
            ("/portal/offerings", "nav.offerings", Some(Role::Officer)),
            ("/portal/search", "nav.search", Some(Role::Officer)),
            ("/portal/requests", "nav.requests", Some(Role::Officer)),
            ("/portal/messages", "nav.messages", Some(Role::Officer)),
            (
                "/portal/subscriptions",
                "nav.subscriptions",
                Some(Role::Officer),
            ),
            ("/portal/review", "nav.review", Some(Role::Reviewer)),
            ("/portal/audit", "nav.audit", Some(Role::Auditor)),
            ("/portal/admin/users", "nav.users", Some(Role::Admin)),
            (
                "/portal/admin/offerings",
                "nav.published",
                Some(Role::Admin),
            ),
        ]);
        items
            .into_iter()
            .filter(|(_, _, role)| role.is_none_or(|r| who.has(r)))
            .map(|(href, label, _)| NavItem {
                href,
                label,
                current: href == section(&self.path),
            })
            .collect()
    }
}

/// The menu item a page belongs to: a new request is part of finding information.
fn section(path: &str) -> &str {
    let path = path.split('?').next().unwrap_or(path);
    if path.starts_with("/portal/requests/new") {
        return "/portal/offerings";
    }
    [
        "/portal/offerings",
        "/portal/search",
        "/portal/requests",
        "/portal/messages",
        "/portal/subscriptions",
        "/portal/review",
        "/portal/audit",
        "/portal/admin/users",
        "/portal/admin/offerings",
    ]
    .into_iter()
    .find(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")))
    .unwrap_or(path)
}

/// An audit event's name as people read it.
pub(crate) fn event_label(lang: crate::text::Lang, event: &str) -> String {
    let (sv, en) = match event {
        "disclosure" => ("Utlämnande", "Disclosure"),
        "refusal" => ("Avslag", "Refusal"),
        "review_request" => ("Till granskning", "Routed to review"),
        "review_decision" => ("Granskningsbeslut", "Review decision"),
        "receipt" => ("Mottaget svar", "Answer received"),
        "undelivered" => ("Svar som aldrig kom fram", "Answer never delivered"),
        "configuration_change" => ("Konfigurationsändring", "Configuration change"),
        other => (other, other),
    };
    match lang {
        crate::text::Lang::Sv => sv.to_owned(),
        crate::text::Lang::En => en.to_owned(),
    }
}

pub(crate) fn role_label(t: Text, role: Role) -> &'static str {
    t.get(match role {
        Role::Officer => "role.officer",
        Role::Reviewer => "role.reviewer",
        Role::Auditor => "role.auditor",
        Role::Admin => "role.admin",
    })
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// No live session: to the sign-in page, then back.
    SignIn {
        next: String,
    },
    /// Signed in, but the role does not open this page.
    Forbidden,
    /// Signed in, but the node refuses this person what the page would do; the text key says
    /// why.
    Denied(&'static str),
    /// Not there — or not this authority's to see, which must look the same.
    NotFound,
    /// A form without this session's CSRF token.
    Csrf,
    /// The node's API refused or failed.
    Api(ApiProblem),
    /// A sign-in through the identity provider ended without a session; `text` says why.
    SignInFailed {
        status: StatusCode,
        text: &'static str,
    },
    Internal(String),
}

impl From<ApiProblem> for PageError {
    fn from(problem: ApiProblem) -> Self {
        if problem.status == StatusCode::NOT_FOUND {
            PageError::NotFound
        } else {
            PageError::Api(problem)
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    heading: String,
    text: String,
    detail: String,
}

impl PageError {
    /// The page for this error, in `lang`, with the signed-in frame if there is one.
    pub fn page(self, mut c: Chrome) -> Response {
        let t = c.t;
        let (status, heading, text, detail) = match self {
            PageError::SignIn { next } => {
                let target = if next.starts_with("/portal/") && !next.starts_with("/portal/login") {
                    format!("/portal/login?next={}", encode(&next))
                } else {
                    "/portal/login".to_owned()
                };
                return Redirect::to(&target).into_response();
            }
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "error.forbidden",
                t.get("error.forbidden_text").to_owned(),
                String::new(),
            ),
            PageError::Denied(text) => (
                StatusCode::FORBIDDEN,
                "error.forbidden",
                t.get(text).to_owned(),
                String::new(),
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "error.not_found",
                t.get("error.not_found_text").to_owned(),
                String::new(),
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "error.forbidden",
                t.get("error.csrf").to_owned(),
                String::new(),
            ),
            PageError::Api(problem) => (
                if problem.status.is_client_error() {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::BAD_GATEWAY
                },
                "error.failed",
                problem.title,
                problem.detail,
            ),
            PageError::SignInFailed { status, text } => {
                (status, "oidc.failed", t.get(text).to_owned(), String::new())
            }
            PageError::Internal(detail) => {
                tracing::error!(%detail, "portal page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error.failed",
                    String::new(),
                    String::new(),
                )
            }
        };
        let heading = t.get(heading).to_owned();
        c.title = heading.clone();
        render_status(
            status,
            ErrorPage {
                heading,
                text,
                detail,
                c,
            },
        )
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // Without the request, the frame is anonymous and Swedish; handlers that can, render
        // their errors with `page` and the signed-in frame instead.
        let t = Text(Lang::Sv);
        let c = Chrome {
            t,
            authority_name: String::new(),
            identity: None,
            csrf: String::new(),
            path: String::new(),
            title: String::new(),
        };
        self.page(c)
    }
}

/// A page, or its failure rendered in the same frame.
pub(crate) fn respond(c: Chrome, result: Result<Response, PageError>) -> Response {
    result.unwrap_or_else(|e| e.page(c))
}

/// Renders a template with status 200.
pub(crate) fn render(page: impl Template) -> Result<Response, PageError> {
    Ok(render_status(StatusCode::OK, page))
}

/// Renders a template with `status`. Pages are never cached: they show personal data.
pub(crate) fn render_status(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            response
        }
        Err(e) => {
            tracing::error!(%e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template failed").into_response()
        }
    }
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
}

pub(crate) async fn home(
    axum::extract::State(state): axum::extract::State<AppState>,
    signed: Signed,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/", "home.title");
    render_status(StatusCode::OK, HomePage { c })
}

async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    signed: Signed,
) -> Response {
    let c = Chrome::new(&state, &signed, "", "error.not_found");
    PageError::NotFound.page(c)
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/portal.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/portal.js"),
    )
}

impl Chrome {
    /// The link that switches this page to the other language.
    pub fn switch_href(&self) -> String {
        auth::switch_href(self.other_lang(), &self.path)
    }
}

/// A submitted form as name–value pairs in order. Needed where a name repeats (checkboxes)
/// or names are made per field (`reason-<field>`), which typed form extraction cannot express.
pub(crate) struct FormData(Vec<(String, String)>);

/// Largest form accepted, in bytes.
const MAX_FORM: usize = 64 * 1024;

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, Response> {
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected a form").into_response());
        }
        let body = axum::body::to_bytes(req.into_body(), MAX_FORM)
            .await
            .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
        Ok(FormData(
            form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl FormData {
    /// The first value named `name`, trimmed; empty if none.
    pub fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// Every value named `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}
