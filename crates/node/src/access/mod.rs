//! Who may call the local API ([`config`] says), established for every request before any
//! handler runs: the [`Gate`] middleware turns a client certificate or an access token into a
//! [`Caller`] — or refuses the request with 401/403 problem+json naming what was wrong — and
//! handlers take [`Who`] to require the duty their endpoint belongs to and, where a request
//! names an officer, [`Who::acting`] to check the officer is vouched for.
//!
//! Endpoint owners: requests belong to [`Duty::Request`], the review queue to
//! [`Duty::Review`], the ledger to [`Duty::Audit`], callbacks to [`Duty::Admin`]; offerings and
//! the catalog to any authenticated caller; `/healthz`, `/readyz`, `/metrics` and
//! `/openapi.json` to anyone who can reach the listener (they carry no personal data).
//!
//! The portal calls the API in-process with a `Caller` it built from its session; a request
//! from the network can never carry one, because only the node's own code puts extensions on a
//! request, and the gate passes such a request on untouched.

pub mod config;
mod hosts;
mod local;
pub(crate) mod openapi;
mod who;

pub use config::AccessConfig;
pub use hosts::Hosts;
pub use local::LocalAccess;
pub use who::{Acting, Refusal, Who};

use crate::state::NodeState;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use config::{ClientConfig, OfficerIssuerConfig, OfficerSource};
use std::collections::HashMap;
use std::sync::Arc;
use utbyte_access::issuer::now;
use utbyte_access::{
    ClientCertificates, KeySource, SeenTokens, TokenError, TokenKind, TokenVerifier,
};
use utbyte_api::access::{Caller, Duty, Officer, Vouch};
use utbyte_http::ClientChain;

pub use utbyte_api::access::PORTAL_CLIENT;
/// The header an officer assertion travels in.
pub const OFFICER_ASSERTION: &str = "utbyte-officer-assertion";

/// The gate's judgement of one request, before any handler.
pub struct Gate {
    clients: HashMap<String, ClientConfig>,
    certificates: Option<ClientCertificates>,
    tokens: Option<TokenVerifier>,
    officers: Option<(TokenVerifier, OfficerIssuerConfig)>,
    seen: SeenTokens,
    hosts: Hosts,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

/// Why the gate could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("access: {0}")]
pub struct GateError(pub String);

impl Gate {
    /// The gate `config` describes for a listener at `listen`. `http` fetches `jwks` URLs.
    pub fn new(
        config: &AccessConfig,
        listen: std::net::SocketAddr,
        http: &reqwest::Client,
    ) -> Result<Self, GateError> {
        let certificates = match &config.client_ca {
            Some(ca) => Some(
                ClientCertificates::from_files(ca, &config.client_crls)
                    .map_err(|e| GateError(e.to_string()))?,
            ),
            None => None,
        };
        let source = |jwks: &str| {
            if config::is_url(jwks) {
                KeySource::Url {
                    url: jwks.to_owned(),
                    client: http.clone(),
                }
            } else {
                KeySource::File(jwks.into())
            }
        };
        let tokens = config.tokens.as_ref().map(|t| {
            TokenVerifier::new(&t.issuer, &t.audience, TokenKind::Access, source(&t.jwks))
        });
        let officers = config.officers.as_ref().map(|o| {
            let verifier = TokenVerifier::new(
                &o.issuer,
                &o.audience,
                TokenKind::Assertion,
                source(&o.jwks),
            );
            (verifier, o.clone())
        });
        let hosts = Hosts::new(&config.hosts, listen);
        Ok(Self {
            clients: config
                .clients
                .iter()
                .map(|c| (c.id.clone(), c.clone()))
                .collect(),
            certificates,
            tokens,
            officers,
            seen: SeenTokens::new(),
            hosts,
        })
    }

    /// Reads the issuers' key sets now, so that a wrong path or URL is reported at start.
    pub async fn load_keys(&self) -> Result<(), GateError> {
        if let Some(tokens) = &self.tokens {
            tokens.load().await.map_err(|e| GateError(e.to_string()))?;
        }
        if let Some((officers, _)) = &self.officers {
            officers
                .load()
                .await
                .map_err(|e| GateError(e.to_string()))?;
        }
        Ok(())
    }

    /// The client a request authenticates as, if it presents credentials.
    async fn client(&self, parts: &Parts) -> Result<Option<String>, Refusal> {
        if let Some(ClientChain(chain)) = parts.extensions.get::<ClientChain>() {
            let certificates = self.certificates.as_ref().ok_or(Refusal::unauthenticated(
                "certificate-not-accepted",
                "this node accepts no client certificates",
            ))?;
            return certificates
                .verify(chain)
                .map(Some)
                .map_err(|e| Refusal::unauthenticated(e.reason(), &e.to_string()));
        }
        let Some(authorization) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = authorization
            .to_str()
            .ok()
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token.trim())
            })
            .ok_or(Refusal::unauthenticated(
                "credentials-unsupported",
                "the Authorization header must be `Bearer <access token>`",
            ))?;
        let tokens = self.tokens.as_ref().ok_or(Refusal::unauthenticated(
            "token-not-accepted",
            "this node accepts no access tokens",
        ))?;
        let verified = tokens.verify(token).await.map_err(Refusal::token)?;
        let client = verified
            .text("client_id")
            .map_or_else(|| verified.subject.clone(), str::to_owned);
        Ok(Some(client))
    }

    /// The officer an assertion vouches for, if the request carries one.
    async fn officer(&self, headers: &HeaderMap) -> Result<Option<Officer>, Refusal> {
        let Some(value) = headers.get(OFFICER_ASSERTION) else {
            return Ok(None);
        };
        let (verifier, claims) = self.officers.as_ref().ok_or(Refusal::unauthenticated(
            "assertion-not-accepted",
            "this node accepts no officer assertions",
        ))?;
        let token = value
            .to_str()
            .map_err(|_| Refusal::token(TokenError::Malformed))?;
        let verified = verifier
            .verify(token.trim())
            .await
            .map_err(Refusal::token)?;
        let missing = |claim: &str| {
            Refusal::token(TokenError::MissingClaim {
                claim: claim.to_owned(),
            })
        };
        let issued = verified.number("iat").ok_or_else(|| missing("iat"))?;
        let expires = verified.number("exp").ok_or_else(|| missing("exp"))?;
        let jti = verified.text("jti").ok_or_else(|| missing("jti"))?;
        let now = now();
        if now.saturating_sub(issued) > claims.max_age_seconds {
            return Err(Refusal::token(TokenError::TooOld {
                seconds: claims.max_age_seconds,
            }));
        }
        let unit = verified
            .text(&claims.unit_claim)
            .ok_or_else(|| missing(&claims.unit_claim))?
            .to_owned();
        let roles = verified.texts(&claims.roles_claim);
        if !self.seen.first_use(jti, expires, now) {
            return Err(Refusal::token(TokenError::Replayed));
        }
        Ok(Some(Officer {
            id: verified.subject,
            unit,
            roles,
        }))
    }

    /// Authenticates one request: `Ok(None)` when it carries no credentials.
    async fn caller(&self, parts: &Parts) -> Result<Option<Caller>, Refusal> {
        let Some(client) = self.client(parts).await? else {
            if parts.headers.contains_key(OFFICER_ASSERTION) {
                return Err(Refusal::unauthenticated(
                    "credentials-missing",
                    "an officer assertion needs an authenticated client",
                ));
            }
            return Ok(None);
        };
        let config = self.clients.get(&client).ok_or_else(|| {
            Refusal::forbidden(
                "client-unknown",
                "the credentials are valid but name a client this node's configuration does not list",
            )
        })?;
        let officer = self.officer(&parts.headers).await?;
        let vouch = match (config.officers, &officer) {
            (_, Some(_)) => Vouch::Assertion,
            (OfficerSource::Asserted, None) => Vouch::Assertion,
            (OfficerSource::Trusted, None) => Vouch::Client,
        };
        Ok(Some(Caller {
            client,
            duties: config.duties.iter().copied().map(Duty::from).collect(),
            units: config.units.clone(),
            roles: config.roles.clone(),
            officer,
            vouch,
        }))
    }
}

/// The middleware: checks the Host and authenticates, then runs the handler.
pub(crate) async fn gate(
    State(state): State<Arc<NodeState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<Caller>().is_some() {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let gate = &state.gate;
    if !gate.hosts.allow(&parts.headers, &parts.uri) {
        state.metrics.access_refused("host-not-allowed");
        tracing::warn!(reason = "host-not-allowed", "local API call refused");
        return crate::problems::HOST_NOT_ALLOWED
            .with("the Host header names none of this node's local addresses")
            .into_response();
    }
    match gate.caller(&parts).await {
        Ok(Some(caller)) => {
            parts.extensions.insert(caller);
        }
        Ok(None) => {}
        Err(refusal) => {
            state.metrics.access_refused(refusal.reason);
            tracing::warn!(reason = refusal.reason, "local API call refused");
            return refusal.into_response();
        }
    }
    next.run(Request::from_parts(parts, body)).await
}
