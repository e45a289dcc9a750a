//! Sign-in through the agency's identity provider with OpenID Connect: the authorization code
//! flow with PKCE (S256), `state` and `nonce`, the provider found by discovery, the ID token
//! verified against the provider's keys (issuer, audience, expiry, signature, nonce), and its
//! claims mapped onto the portal's [`Identity`](crate::identity::Identity) — unit, portal roles
//! and the role the rulebook knows the person by.
//!
//! The protocol itself is the `openidconnect` crate's; what is here is what the portal adds:
//! finding the provider lazily (a node starts while its provider is down, and tries again at
//! the next sign-in), trying discovery again once when the provider has rotated its keys, the
//! claims the portal needs (read from the ID token, else from the userinfo endpoint), and the
//! provider's sign-out address. The browser's half of a sign-in under way (the flow cookie, the
//! [`SignInFlow`] kept under its hash) is the pages' (`pages::provider`).

use crate::identity::Role;
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use utbyte_store::{AccountProfile, SignInFlow};

/// Where the portal answers the provider's redirect, under its public address.
pub const CALLBACK_PATH: &str = "/portal/oidc/callback";
/// Where the provider sends the browser after signing out.
pub const SIGNED_OUT_PATH: &str = "/portal/login";

/// The claims the portal reads, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The person's unit (a unit id of this authority).
    pub unit: String,
    /// The person's roles at the provider (a list, or one string).
    pub roles: String,
    /// The role the rulebook knows the person by (`context.role`).
    pub officer_role: String,
    /// The name people read.
    pub name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            unit: "unit".into(),
            roles: "roles".into(),
            officer_role: "officer_role".into(),
            name: "name".into(),
        }
    }
}

/// How the portal signs people in through the provider.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer identifier (discovery is under it).
    pub issuer: String,
    pub client_id: String,
    /// None: a public client, authenticated by PKCE alone.
    pub client_secret: Option<String>,
    /// The portal's address as browsers reach it (`https://utbyte.fk.example:7601`), from which
    /// the redirect and sign-out addresses are made.
    pub portal_url: String,
    /// The provider as the sign-in link names it ("Försäkringskassans inloggning").
    pub name: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    pub claims: ClaimNames,
    /// The provider's role values and the portal role each gives; empty: the values are the
    /// portal roles' own names (officer, reviewer, auditor, admin).
    pub roles: BTreeMap<String, Role>,
}

/// Why a sign-in through the provider failed. None of these carries a token or a claim value.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or described itself wrongly.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider answered the sign-in with an error (the person cancelled, for one).
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    /// The redirect back matches no sign-in this browser started, or it lapsed.
    #[error("the sign-in does not match one this browser started, or it lapsed")]
    NoFlow,
    /// The code exchange or the ID token failed verification.
    #[error("the identity provider's answer was not valid: {0}")]
    Invalid(String),
    /// A claim the portal needs is missing or malformed.
    #[error("the identity provider gave no usable `{0}` claim")]
    Claim(String),
    /// None of the person's roles at the provider is a portal role.
    #[error("the identity provider gives the person no portal role")]
    NoRole,
}

/// The client as discovery leaves it: authorization endpoint known, token and userinfo
/// endpoints as the provider described them.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery found.
struct Provider {
    client: Client,
    userinfo: Option<String>,
    end_session: Option<EndSessionUrl>,
    found: Instant,
}

/// Discovery is not repeated more often than this, whatever fails.
const REDISCOVER_AFTER: Duration = Duration::from_secs(30);

/// The portal's client of the agency's identity provider. Cheap to clone.
#[derive(Clone)]
pub struct OidcSignIn {
    settings: Arc<OidcSettings>,
    http: reqwest::Client,
    provider: Arc<Mutex<Option<Arc<Provider>>>>,
}

impl std::fmt::Debug for OidcSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSignIn")
            .field("issuer", &self.settings.issuer)
            .field("client_id", &self.settings.client_id)
            .finish_non_exhaustive()
    }
}

/// Who the provider vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    /// The account name: the provider's subject identifier.
    pub username: String,
    pub profile: AccountProfile,
}

impl OidcSignIn {
    /// A client of the provider `settings` names; `http` must not follow redirects (every
    /// address the portal calls comes from the provider's own metadata) and trusts the roots the
    /// provider's certificate chains to.
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Result<Self, OidcError> {
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| bad_setting("issuer", &e))?;
        redirect_url(&settings)?;
        Ok(Self {
            settings: Arc::new(settings),
            http,
            provider: Arc::new(Mutex::new(None)),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider, found now if it has not been (or `again` and the last discovery is older
    /// than [`REDISCOVER_AFTER`]).
    async fn provider(&self, again: bool) -> Result<Arc<Provider>, OidcError> {
        let mut slot = self.provider.lock().await;
        if let Some(found) = slot.as_ref() {
            if !again || found.found.elapsed() < REDISCOVER_AFTER {
                return Ok(Arc::clone(found));
            }
        }
        let issuer =
            IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| bad_setting("issuer", &e))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(chain(&e)))?;
        let userinfo = metadata.userinfo_endpoint().map(|u| u.url().to_string());
        let end_session = metadata.additional_metadata().end_session_endpoint.clone();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(redirect_url(&self.settings)?);
        let found = Arc::new(Provider {
            client,
            userinfo,
            end_session,
            found: Instant::now(),
        });
        *slot = Some(Arc::clone(&found));
        Ok(found)
    }

    /// Starts a sign-in: the provider's authorization address to send the browser to, and what
    /// its redirect back must match (kept by the caller under the browser's flow cookie).
    pub async fn begin(&self, next: &str) -> Result<(String, SignInFlow), OidcError> {
        let provider = self.provider(true).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            SignInFlow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
                next: next.to_owned(),
            },
        ))
    }

    /// Finishes a sign-in the provider redirected back with `code`: exchanges it (with the PKCE
    /// verifier), verifies the ID token (with the nonce) and maps its claims.
    pub async fn finish(&self, code: &str, flow: &SignInFlow) -> Result<Vouched, OidcError> {
        let provider = self.provider(false).await?;
        let tokens = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Invalid(chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OidcError::Invalid("the token response has no ID token".into()))?;
        let nonce = Nonce::new(flow.nonce.clone());
        let subject = match verify(&provider, id_token, &nonce) {
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps signed with a key published since discovery: look again, once.
                let fresh = self.provider(true).await?;
                verify(&fresh, id_token, &nonce)
            }
            other => other,
        }
        .map_err(|e| OidcError::Invalid(chain(&e)))?;
        let mut claims = payload(id_token)?;
        let names = &self.settings.claims;
        let needed = [&names.unit, &names.roles, &names.officer_role];
        if needed
            .iter()
            .any(|name| !claims.contains_key(name.as_str()))
        {
            if let Some(userinfo) = &provider.userinfo {
                let more = self
                    .userinfo(userinfo, tokens.access_token().secret())
                    .await?;
                // The userinfo answer is about the ID token's subject, or not used at all.
                if more.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                    return Err(OidcError::Invalid(
                        "the userinfo answer is about another subject".into(),
                    ));
                }
                for (name, value) in more {
                    claims.entry(name).or_insert(value);
                }
            }
        }
        vouched(&self.settings, &subject, &claims)
    }

    /// The userinfo endpoint's claims (JSON; a signed answer is not read).
    async fn userinfo(
        &self,
        url: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, OidcError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| OidcError::Unavailable(chain(&e)))?;
        if !response.status().is_success() {
            return Err(OidcError::Invalid(format!(
                "the userinfo endpoint answered {}",
                response.status()
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| OidcError::Unavailable(chain(&e)))?;
        serde_json::from_slice(&body)
            .map_err(|e| OidcError::Invalid(format!("the userinfo answer: {e}")))
    }

    /// Where to send the browser to sign out at the provider too, if it offers RP-initiated
    /// logout; back to the portal's sign-in page afterwards.
    pub async fn sign_out_url(&self) -> Option<String> {
        let provider = self.provider(false).await.ok()?;
        let end = provider.end_session.as_ref()?;
        let back = PostLogoutRedirectUrl::new(format!(
            "{}{SIGNED_OUT_PATH}",
            self.settings.portal_url.trim_end_matches('/')
        ))
        .ok()?;
        let request = openidconnect::LogoutRequest::from(end.clone())
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(back);
        Some(request.http_get_url().to_string())
    }
}

fn redirect_url(settings: &OidcSettings) -> Result<RedirectUrl, OidcError> {
    RedirectUrl::new(format!(
        "{}{CALLBACK_PATH}",
        settings.portal_url.trim_end_matches('/')
    ))
    .map_err(|e| bad_setting("portal url", &e))
}

fn bad_setting(what: &str, error: &dyn std::fmt::Display) -> OidcError {
    OidcError::Unavailable(format!("the {what} is not a URL: {error}"))
}

/// An error with its sources, on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Verifies the ID token and returns its subject.
fn verify(
    provider: &Provider,
    id_token: &CoreIdToken,
    nonce: &Nonce,
) -> Result<String, ClaimsVerificationError> {
    // The algorithms the provider's metadata names, as the client was made from it.
    let verifier = provider.client.id_token_verifier();
    let claims = id_token.claims(&verifier, nonce)?;
    Ok(claims.subject().as_str().to_owned())
}

/// The claims of an ID token already verified, all of them (the core types keep only the
/// standard ones).
fn payload(id_token: &CoreIdToken) -> Result<Map<String, Value>, OidcError> {
    let compact = id_token.to_string();
    let part = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| OidcError::Invalid("the ID token is not a JWS".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| OidcError::Invalid(format!("the ID token's payload: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| OidcError::Invalid(format!("the ID token's payload: {e}")))
}

/// A claim's text, trimmed; none if absent, empty or not a string.
fn text_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Maps the provider's claims onto an account of the portal.
pub fn vouched(
    settings: &OidcSettings,
    subject: &str,
    claims: &Map<String, Value>,
) -> Result<Vouched, OidcError> {
    let names = &settings.claims;
    let claim =
        |name: &String| text_claim(claims, name).ok_or_else(|| OidcError::Claim(name.clone()));
    let unit = claim(&names.unit)?;
    let officer_role = claim(&names.officer_role)?;
    let values: Vec<&str> = match claims.get(&names.roles) {
        Some(Value::String(one)) => one.split_whitespace().collect(),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut roles: Vec<Role> = values
        .into_iter()
        .filter_map(|value| {
            if settings.roles.is_empty() {
                Role::parse(value)
            } else {
                settings.roles.get(value).copied()
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(OidcError::NoRole);
    }
    Ok(Vouched {
        username: subject.to_owned(),
        profile: AccountProfile {
            display_name: text_claim(claims, &names.name).unwrap_or_else(|| subject.to_owned()),
            unit,
            officer_role,
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            disabled: false,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(roles: &[(&str, Role)]) -> OidcSettings {
        OidcSettings {
            issuer: "https://login.fk.example".into(),
            client_id: "utbyte".into(),
            client_secret: None,
            portal_url: "https://utbyte.fk.example:7601".into(),
            name: "FK".into(),
            scopes: vec!["profile".into()],
            claims: ClaimNames::default(),
            roles: roles.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn claims_become_a_unit_a_rulebook_role_and_portal_roles() {
        let got = vouched(
            &settings(&[]),
            "s-1",
            &claims(
                json!({"name": "Rut", "unit": "fk-kontroll", "officer_role": "jurist",
                "roles": ["reviewer", "officer", "superuser", "reviewer"]}),
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.username, "s-1");
        assert_eq!(got.profile.roles, ["officer", "reviewer"]);
        assert_eq!(
            (got.profile.unit.as_str(), got.profile.officer_role.as_str()),
            ("fk-kontroll", "jurist")
        );
        // Mapped: only the provider's values the mapping names count, one string or a list.
        let mapped = settings(&[("FK-Jurister", Role::Reviewer)]);
        let got = vouched(
            &mapped,
            "s-2",
            &claims(json!({"unit": "fk-kontroll", "officer_role": "jurist", "roles": "FK-Jurister reviewer"})),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.profile.roles, ["reviewer"]);
        assert_eq!(
            got.profile.display_name, "s-2",
            "no name claim: the subject"
        );
    }

    #[test]
    fn a_person_without_unit_rulebook_role_or_portal_role_is_refused() {
        let s = settings(&[]);
        let refused = |value: Value| {
            vouched(&s, "s", &claims(value))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(
            refused(json!({"officer_role": "jurist", "roles": ["reviewer"]})).as_deref(),
            Some("the identity provider gave no usable `unit` claim")
        );
        assert!(
            refused(json!({"unit": " ", "officer_role": "jurist", "roles": ["reviewer"]}))
                .is_some()
        );
        assert!(refused(json!({"unit": "u", "roles": ["reviewer"]})).is_some());
        assert!(matches!(
            vouched(
                &s,
                "s",
                &claims(json!({"unit": "u", "officer_role": "r", "roles": ["superuser"]}))
            ),
            Err(OidcError::NoRole)
        ));
        assert!(matches!(
            vouched(
                &s,
                "s",
                &claims(json!({"unit": "u", "officer_role": "r", "roles": 7}))
            ),
            Err(OidcError::NoRole)
        ));
    }
}
