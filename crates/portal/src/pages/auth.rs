//! Sign-in, sign-out and the language switch.

use super::{encode, render_status, Chrome, FormData, PageError};
use crate::identity::SignInError;
use crate::session::{self, random_token, same_token, set_cookie, token_hash, Signed, LANG_COOKIE};
use crate::text::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

/// The sign-in form's own CSRF cookie (double submit: there is no session yet to bind to).
fn login_cookie(state: &AppState) -> String {
    format!("{}-login", state.portal.cookie_name())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    next: String,
    username: String,
    error: String,
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Only a portal path is a place to return to after sign-in.
fn safe_next(next: Option<&str>) -> String {
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
    form: FormData,
) -> Response {
    let lang = session::lang(&headers);
    let t = crate::text::Text(lang);
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
    let outcome = state
        .portal
        .identity_provider()
        .authenticate(&username, &password)
        .await;
    let refused = |status, error: String| {
        login_response(&state, lang, status, next.clone(), username.clone(), error)
            .unwrap_or_else(IntoResponse::into_response)
    };
    // Sign-ins are logged by account (the username of an existing account, which names no
    // one in the register's sense), never with the password. A rejected sign-in is logged
    // without what was typed as the username: it may be a mistyped password, or a person's
    // identifier typed into the wrong field.
    let identity = match outcome {
        Ok(identity) => {
            tracing::info!(account = %identity.username, unit = %identity.unit, "portal sign-in");
            identity
        }
        Err(SignInError::Rejected) => {
            tracing::warn!("portal sign-in rejected: wrong username or password");
            return refused(StatusCode::UNAUTHORIZED, t.get("login.rejected").to_owned());
        }
        Err(SignInError::Locked { until }) => {
            tracing::warn!(account = %username, %until, "portal sign-in refused: account locked");
            let until = until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            return refused(
                StatusCode::UNAUTHORIZED,
                format!("{} {until}.", t.get("login.locked")),
            );
        }
        Err(SignInError::Disabled) => {
            tracing::warn!(account = %username, "portal sign-in refused: account disabled");
            return refused(StatusCode::FORBIDDEN, t.get("login.disabled").to_owned());
        }
        Err(other) => {
            tracing::warn!(err = %other, "portal sign-in failed");
            let c = Chrome::anonymous(&state, lang, "/portal/login", "login.title");
            return PageError::Internal(other.to_string()).page(c);
        }
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

/// Starts a session for `username` and returns its `Set-Cookie` value.
async fn start_session(state: &AppState, username: &str) -> Result<String, PageError> {
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
    let mut response = Redirect::to("/portal/login").into_response();
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
