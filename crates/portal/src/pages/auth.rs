//! Sign-in, sign-out and the language switch.

use super::{encode, render_status, when, Chrome, FormData, PageError};
use crate::session::{self, random_token, same_token, set_cookie, token_hash, Signed, LANG_COOKIE};
use crate::text::{Lang, Text};
use crate::throttle::{self, Refusal, Source, BUSY_RETRY};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The sign-in form's own CSRF cookie (double submit: there is no session yet to bind to).
fn login_cookie(state: &AppState) -> String {
    format!("{}-login", state.portal.cookie_name())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    /// The identity provider's name, if the portal signs in through one.
    provider: String,
    next: String,
    username: String,
    error: String,
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Only a portal path is a place to return to after sign-in.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/portal/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/portal/".to_owned(),
    }
}

fn login_response(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    next: String,
    username: String,
    error: String,
) -> Result<Response, PageError> {
    let token = random_token()?;
    let mut c = Chrome::anonymous(state, lang, "/portal/login", "login.title");
    c.csrf = token.clone();
    let mut response = render_status(
        status,
        LoginPage {
            c,
            provider: state
                .portal
                .oidc()
                .map(|o| o.settings().name.clone())
                .unwrap_or_default(),
            next,
            username,
            error,
        },
    );
    let cookie = set_cookie(
        &login_cookie(state),
        &token,
        Some(time::Duration::hours(1)),
        state.portal.config().secure_cookies,
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie
            .parse()
            .map_err(|_| PageError::Internal("cookie".into()))?,
    );
    Ok(response)
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<NextQuery>,
) -> Response {
    let lang = session::lang(&headers);
    login_response(
        &state,
        lang,
        StatusCode::OK,
        safe_next(query.next.as_deref()),
        String::new(),
        String::new(),
    )
    .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    source: Source,
    form: FormData,
) -> Response {
    let lang = session::lang(&headers);
    let next = form.one("next");
    let next = safe_next(Some(next.as_str()));
    let expected = session::cookie(&headers, &login_cookie(&state)).unwrap_or_default();
    if expected.is_empty() || !same_token(&expected, &form.one("csrf")) {
        let c = Chrome::anonymous(&state, lang, "/portal/login", "login.title");
        return PageError::Csrf.page(c);
    }
    let username = form.one("username");
    // The password exactly as typed: spaces at either end are part of it.
    let password = form.all("password").concat();
    let outcome = throttle::sign_in(
        state.portal.throttle(),
        state.portal.identity_provider(),
        source,
        &username,
        &password,
    )
    .await;
    let identity = match outcome {
        Ok(identity) => {
            tracing::info!(%source, unit = %identity.unit, "portal sign-in");
            identity
        }
        Err(refusal) => return refused(&state, lang, source, next, username, refusal),
    };
    match start_session(&state, &identity.username).await {
        Ok(cookie) => {
            let mut response = Redirect::to(&next).into_response();
            let headers = response.headers_mut();
            if let Ok(value) = cookie.parse() {
                headers.append(header::SET_COOKIE, value);
            }
            let clear = set_cookie(
                &login_cookie(&state),
                "",
                Some(time::Duration::ZERO),
                state.portal.config().secure_cookies,
            );
            if let Ok(value) = clear.parse() {
                headers.append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => e.page(Chrome::anonymous(
            &state,
            lang,
            "/portal/login",
            "login.title",
        )),
    }
}

/// The sign-in page again, saying why it refused. Sign-ins are logged by source address only,
/// never with what was typed: a username may be a mistyped password, or a person's identifier
/// typed into the wrong field.
fn refused(
    state: &AppState,
    lang: Lang,
    source: Source,
    next: String,
    username: String,
    refusal: Refusal,
) -> Response {
    let t = Text(lang);
    let (status, error, retry_after) = match refusal {
        Refusal::Rejected => {
            tracing::warn!(%source, "portal sign-in rejected: wrong username or password");
            (
                StatusCode::UNAUTHORIZED,
                t.get("login.rejected").to_owned(),
                None,
            )
        }
        Refusal::Locked { until } => {
            tracing::warn!(%source, "portal sign-in refused: locked after repeated failures");
            let error = format!("{} {}.", t.get("login.locked"), shown_until(until));
            (StatusCode::UNAUTHORIZED, error, None)
        }
        Refusal::Throttled { retry_after } => {
            tracing::warn!(%source, "portal sign-in refused: too many failures from this source");
            let error = t.get("login.throttled").to_owned();
            (StatusCode::TOO_MANY_REQUESTS, error, Some(retry_after))
        }
        Refusal::Busy => {
            tracing::warn!(%source, "portal sign-in refused: too many sign-ins at once");
            let error = t.get("login.busy").to_owned();
            (StatusCode::SERVICE_UNAVAILABLE, error, Some(BUSY_RETRY))
        }
        Refusal::Disabled => {
            tracing::warn!(%source, "portal sign-in refused: account disabled");
            (
                StatusCode::FORBIDDEN,
                t.get("login.disabled").to_owned(),
                None,
            )
        }
        Refusal::Failed(e) => {
            tracing::warn!(%source, err = %e, "portal sign-in failed");
            let c = Chrome::anonymous(state, lang, "/portal/login", "login.title");
            return PageError::Internal(e.to_string()).page(c);
        }
    };
    let mut response = login_response(state, lang, status, next, username, error)
        .unwrap_or_else(IntoResponse::into_response);
    if let Some(wait) = retry_after {
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// When a lock lapses, as the portal shows times, rounded up to the minute so that trying at
/// the minute shown succeeds.
fn shown_until(until: Instant) -> String {
    let left = until.saturating_duration_since(Instant::now()) + Duration::from_secs(59);
    when(OffsetDateTime::now_utc() + left)
}

/// Starts a session for `username` and returns its `Set-Cookie` value.
pub(crate) async fn start_session(state: &AppState, username: &str) -> Result<String, PageError> {
    let token = random_token()?;
    let csrf = random_token()?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let lifetime = state.portal.config().session_lifetime;
    state
        .portal
        .store()
        .create_session(
            &token_hash(&token),
            username,
            &csrf,
            now,
            now + lifetime.whole_seconds(),
        )
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(set_cookie(
        state.portal.cookie_name(),
        &token,
        Some(lifetime),
        state.portal.config().secure_cookies,
    ))
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    signed: Signed,
    form: FormData,
) -> Response {
    let c = Chrome::new(&state, &signed, "/portal/logout", "logout");
    if let Err(e) = signed.check_csrf(&form.one("csrf")) {
        return e.page(c);
    }
    if let Err(e) = state.portal.store().end_session(signed.token_hash()).await {
        return PageError::Internal(e.to_string()).page(c);
    }
    let provider_sign_out = match state.portal.oidc() {
        Some(oidc) if signed.identity.external => oidc.sign_out_url().await,
        _ => None,
    };
    let mut response = match provider_sign_out {
        Some(url) => super::provider::signed_out(&state, signed.lang, url),
        None => Redirect::to("/portal/login").into_response(),
    };
    let clear = set_cookie(
        state.portal.cookie_name(),
        "",
        Some(time::Duration::ZERO),
        state.portal.config().secure_cookies,
    );
    if let Ok(value) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// Switches the language and goes back to the page (a plain link, so it works without
/// JavaScript; it changes nothing but a preference cookie).
pub(crate) async fn language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(query): Query<NextQuery>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return PageError::NotFound.into_response();
    };
    let next = safe_next(query.next.as_deref());
    let mut response = Redirect::to(&next).into_response();
    let cookie = set_cookie(
        LANG_COOKIE,
        lang.code(),
        Some(time::Duration::days(365)),
        state.portal.config().secure_cookies,
    );
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The language switch's link for the page at `path`.
pub(crate) fn switch_href(lang: &str, path: &str) -> String {
    format!("/portal/lang/{lang}?next={}", encode(path))
}
