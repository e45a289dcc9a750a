//! Sign-in through the agency's identity provider, the browser's half: `/portal/oidc/start`
//! sends the browser to the provider with a fresh flow, `/portal/oidc/callback` takes the
//! provider's redirect back, and sign-out of such a session goes on to the provider's own.
//!
//! A flow is bound to the browser that started it: a random cookie (`SameSite=Lax`, so that it
//! travels on the provider's top-level redirect back, and scoped to `/portal/oidc/`) whose
//! SHA-256 keys the flow's `state`, `nonce` and PKCE verifier in the account store, taken once.
//! The session cookie is `SameSite=Strict`, which a browser withholds on the navigation that
//! follows a cross-site redirect; so the callback answers with a page that moves on to the
//! destination itself (a same-site navigation) instead of redirecting.

use super::{render_status, Chrome, PageError};
use crate::identity::Identity;
use crate::oidc::{OidcError, Vouched};
use crate::session::{self, flow_cookie, random_token, same_token, token_hash};
use crate::text::Lang;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use utbyte_api::offerings::AuthorityView;
use utbyte_api::paths;

/// How long a sign-in may stay at the provider.
const FLOW_LIFETIME: time::Duration = time::Duration::minutes(10);

fn flow_cookie_name(state: &AppState) -> String {
    format!("{}-oidc", state.portal.cookie_name())
}

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    next: Option<String>,
}

pub(crate) async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StartQuery>,
) -> Response {
    let lang = session::lang(&headers);
    let Some(oidc) = state.portal.oidc() else {
        return PageError::NotFound.page(chrome(&state, lang));
    };
    let next = super::auth::safe_next(query.next.as_deref());
    let started = async {
        let (url, flow) = oidc.begin(&next).await.map_err(Failure::Oidc)?;
        let token = random_token().map_err(Failure::Page)?;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        state
            .portal
            .store()
            .begin_flow(
                &token_hash(&token),
                &flow,
                now,
                now + FLOW_LIFETIME.whole_seconds(),
            )
            .await
            .map_err(|e| Failure::Page(PageError::Internal(e.to_string())))?;
        Ok::<_, Failure>((url, token))
    };
    match started.await {
        Ok((url, token)) => {
            let mut response = Redirect::to(&url).into_response();
            let cookie = flow_cookie(
                &flow_cookie_name(&state),
                &token,
                FLOW_LIFETIME,
                state.portal.config().secure_cookies,
            );
            if let Ok(value) = cookie.parse() {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(failure) => failure.page(&state, lang),
    }
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A page that moves the browser on to `next` by itself.
#[derive(Template)]
#[template(path = "moving_on.html")]
struct MovingOn {
    c: Chrome,
    heading: String,
    next: String,
}

pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let lang = session::lang(&headers);
    let Some(oidc) = state.portal.oidc() else {
        return PageError::NotFound.page(chrome(&state, lang));
    };
    let signed_in = async {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        // Taken whatever happens next: a flow answers one redirect back.
        let cookie = session::cookie(&headers, &flow_cookie_name(&state)).unwrap_or_default();
        let flow = if cookie.is_empty() {
            None
        } else {
            state
                .portal
                .store()
                .take_flow(&token_hash(&cookie), now)
                .await
                .map_err(|e| Failure::Page(PageError::Internal(e.to_string())))?
        };
        let flow = flow.ok_or(Failure::Oidc(OidcError::NoFlow))?;
        if !same_token(query.state.as_deref().unwrap_or_default(), &flow.state) {
            return Err(Failure::Oidc(OidcError::NoFlow));
        }
        if let Some(error) = &query.error {
            // The provider's error code only (`access_denied`, …): a short, fixed vocabulary.
            let code: String = error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            return Err(Failure::Oidc(OidcError::Refused(code)));
        }
        let code = query
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Failure::Oidc(OidcError::Invalid("no code in the redirect".into())))?;
        let Vouched { username, profile } =
            oidc.finish(code, &flow).await.map_err(Failure::Oidc)?;
        // The provider may serve several authorities: its word on the unit counts only for a
        // unit of this one, as the node's rulebook knows them.
        let person = Identity {
            username: username.clone(),
            display_name: profile.display_name.clone(),
            authority: state.portal.authority().to_owned(),
            unit: profile.unit.clone(),
            officer_role: profile.officer_role.clone(),
            roles: Vec::new(),
            external: true,
        };
        let authority: AuthorityView = state
            .api
            .acting_for(&person)
            .get(paths::AUTHORITY)
            .await
            .map_err(|problem| Failure::Page(problem.into()))?;
        if !authority.units.iter().any(|u| u.id == profile.unit) {
            return Err(Failure::ForeignUnit);
        }
        let account = state
            .portal
            .store()
            .sign_in_external(&username, &profile, now)
            .await
            .map_err(|e| match e {
                utbyte_store::StoreError::Duplicate { .. } => Failure::LocalAccount,
                utbyte_store::StoreError::InvalidInput { what, .. } => {
                    Failure::Oidc(OidcError::Claim(what.to_owned()))
                }
                other => Failure::Page(PageError::Internal(other.to_string())),
            })?;
        if account.disabled {
            return Err(Failure::Disabled);
        }
        let cookie = super::auth::start_session(&state, &account.username)
            .await
            .map_err(Failure::Page)?;
        tracing::info!(unit = %account.unit, "portal sign-in through the identity provider");
        Ok::<_, Failure>((cookie, flow.next))
    };
    let (cookie, next) = match signed_in.await {
        Ok(done) => done,
        Err(failure) => {
            let mut response = failure.page(&state, lang);
            clear_flow_cookie(&state, &mut response);
            return response;
        }
    };
    let mut c = chrome(&state, lang);
    c.title = c.t.get("oidc.signed_in").to_owned();
    let mut response = render_status(
        StatusCode::OK,
        MovingOn {
            heading: c.title.clone(),
            c,
            next,
        },
    );
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    clear_flow_cookie(&state, &mut response);
    response
}

/// The page after sign-out of a session the provider vouched for: on to the provider's own
/// sign-out, which sends the browser back to the sign-in page. (A page, not a redirect: the
/// sign-out form's redirect to another origin would be outside the portal's `form-action`.)
pub(crate) fn signed_out(state: &AppState, lang: Lang, provider_sign_out: String) -> Response {
    let mut c = chrome(state, lang);
    c.title = c.t.get("oidc.signing_out").to_owned();
    render_status(
        StatusCode::OK,
        MovingOn {
            heading: c.title.clone(),
            c,
            next: provider_sign_out,
        },
    )
}

fn clear_flow_cookie(state: &AppState, response: &mut Response) {
    let clear = flow_cookie(
        &flow_cookie_name(state),
        "",
        time::Duration::ZERO,
        state.portal.config().secure_cookies,
    );
    if let Ok(value) = clear.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn chrome(state: &AppState, lang: Lang) -> Chrome {
    Chrome::anonymous(state, lang, "/portal/login", "login.title")
}

/// Why a sign-in through the provider ended without a session.
enum Failure {
    Oidc(OidcError),
    /// The provider's subject is the username of a local account.
    LocalAccount,
    /// The provider names a unit that is not this authority's.
    ForeignUnit,
    Disabled,
    Page(PageError),
}

impl Failure {
    fn page(self, state: &AppState, lang: Lang) -> Response {
        let (status, text) = match self {
            Failure::Page(error) => return error.page(chrome(state, lang)),
            Failure::Oidc(error) => {
                tracing::warn!(%error, "portal sign-in through the identity provider failed");
                match error {
                    OidcError::Unavailable(_) => {
                        (StatusCode::SERVICE_UNAVAILABLE, "oidc.unavailable")
                    }
                    OidcError::Refused(_) => (StatusCode::BAD_REQUEST, "oidc.refused"),
                    OidcError::NoFlow => (StatusCode::BAD_REQUEST, "oidc.no_flow"),
                    OidcError::Invalid(_) => (StatusCode::BAD_REQUEST, "oidc.invalid"),
                    OidcError::Claim(_) => (StatusCode::FORBIDDEN, "oidc.claims"),
                    OidcError::NoRole => (StatusCode::FORBIDDEN, "oidc.no_role"),
                }
            }
            Failure::LocalAccount => {
                tracing::warn!(
                    "portal sign-in through the identity provider refused: the subject is a local account's username"
                );
                (StatusCode::FORBIDDEN, "oidc.local_account")
            }
            Failure::ForeignUnit => {
                tracing::warn!(
                    "portal sign-in through the identity provider refused: a unit of another authority"
                );
                (StatusCode::FORBIDDEN, "oidc.foreign_unit")
            }
            Failure::Disabled => {
                tracing::warn!(
                    "portal sign-in through the identity provider refused: account disabled"
                );
                (StatusCode::FORBIDDEN, "login.disabled")
            }
        };
        PageError::SignInFailed { status, text }.page(chrome(state, lang))
    }
}
