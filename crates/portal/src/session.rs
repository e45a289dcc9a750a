//! Sign-in sessions and the protections around every page: the session cookie, the CSRF
//! token every form carries, the language, and the role check.
//!
//! The cookie holds 32 random bytes; the account store keeps only their SHA-256, so a copy of
//! the database signs no one in. Cookies are `HttpOnly` (no script reads them), `SameSite=Strict`
//! (no other site's page sends them) and `Secure` unless the portal is configured for plain
//! HTTP on loopback. Each node names its cookie after its authority: browsers share cookies
//! between ports of one host, and one person may be signed in at two authorities' portals.

use crate::identity::{Identity, Role};
use crate::pages::PageError;
use crate::text::Lang;
use crate::AppState;
use axum::extract::FromRequestParts;
use base64::Engine;
use cookie::{Cookie, SameSite};
use http::request::Parts;
use http::HeaderMap;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The cookie that remembers the language.
pub const LANG_COOKIE: &str = "utbyte-lang";

/// 32 random bytes as unpadded base64url.
pub fn random_token() -> Result<String, PageError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The value of cookie `name` in the request, if any.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value with the portal's attributes.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Option<time::Duration>,
    secure: bool,
) -> String {
    let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure);
    if let Some(age) = max_age {
        cookie = cookie.max_age(age);
    }
    cookie.build().to_string()
}

/// A `Set-Cookie` value for the cookie of a sign-in under way at the identity provider:
/// `SameSite=Lax`, so that it travels on the provider's top-level redirect back, and sent to
/// `/portal/oidc/` only.
pub fn flow_cookie(name: &str, value: &str, max_age: time::Duration, secure: bool) -> String {
    Cookie::build((name.to_owned(), value.to_owned()))
        .path("/portal/oidc/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .build()
        .to_string()
}

/// The language of a request: the cookie's, else Swedish.
pub fn lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(|code| Lang::parse(&code))
        .unwrap_or_default()
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A signed-in person, taken from the session cookie. A request without a live session is
/// sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Signed {
    pub identity: Identity,
    pub csrf: String,
    pub lang: Lang,
    token_hash: [u8; 32],
}

impl Signed {
    /// The node's API, called as this person: the portal is the client, the session vouches
    /// for the officer, and the person's portal roles are the duties.
    pub fn api(&self, state: &AppState) -> crate::api::NodeApi {
        state.api.acting_for(&self.identity)
    }

    /// Refuses unless the person has `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        if self.identity.has(role) {
            Ok(())
        } else {
            Err(PageError::Forbidden)
        }
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), PageError> {
        if same_token(given, &self.csrf) {
            Ok(())
        } else {
            Err(PageError::Csrf)
        }
    }

    pub fn token_hash(&self) -> &[u8; 32] {
        &self.token_hash
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let lang = lang(&parts.headers);
        // Inside the nested router the URI has lost its `/portal` prefix; the original has it.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        let next = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let unsigned = || PageError::SignIn { next: next.clone() };
        let token = cookie(&parts.headers, state.portal.cookie_name()).ok_or_else(unsigned)?;
        let hash = token_hash(&token);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let session = state
            .portal
            .store()
            .session(
                &hash,
                now,
                state.portal.config().idle_timeout.whole_seconds(),
            )
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?
            .ok_or_else(unsigned)?;
        Ok(Signed {
            identity: Identity::from_account(&session.account, state.portal.authority()),
            csrf: session.csrf,
            lang,
            token_hash: hash,
        })
    }
}
