//! The portal's own listener, on the agency's network: the `[portal]` section of node.toml, the
//! TLS configuration (a server certificate from the agency's CA; browsers present none) and the
//! `Host` names it answers to. The pages themselves are the portal crate's, which sits above the
//! node and is handed in as a [`Frontend`]; they call the local API in-process.
//!
//! ```toml
//! [portal]
//! name = "Försäkringskassan"                    # the authority's name as people read it
//! listen = "0.0.0.0:7601"
//! certificate = "/etc/utbyte/portal/server.crt" # or plain_http = true (loopback, development)
//! key = "/etc/utbyte/portal/server.key"
//! url = "https://utbyte.fk.example:7601"        # as officers' browsers reach it
//! session_hours = 8                             # absolute lifetime of a sign-in
//! idle_minutes = 30                             # a sign-in left unused ends sooner
//!
//! [portal.oidc]                                 # sign-in through the agency's identity provider
//! issuer = "https://login.fk.example"
//! client_id = "utbyte-portal"
//! client_secret_file = "/etc/utbyte/portal/oidc-secret"  # none: a public client (PKCE)
//! name = "Försäkringskassans inloggning"        # the sign-in link reads "Logga in via …"
//! ca = "/etc/utbyte/idp-ca.pem"                 # roots for the provider; default agency_ca_bundle
//! scopes = ["profile"]                          # asked for besides openid
//! unit_claim = "unit"
//! roles_claim = "roles"
//! officer_role_claim = "officer_role"
//! name_claim = "name"
//!
//! [portal.oidc.roles]                           # the provider's role values → portal roles
//! "FK-Handlaggare" = "officer"
//! "FK-Jurist" = "reviewer"
//! ```

use crate::access::Hosts;
use crate::{Frontend, NodeError};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The portal roles a provider's role may map to.
pub const PORTAL_ROLES: [&str; 4] = ["officer", "reviewer", "auditor", "admin"];

/// The `[portal]` section: where and how the portal is served.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalSettings {
    /// The authority's name as people read it.
    pub name: String,
    /// The portal's own listener.
    pub listen: SocketAddr,
    /// Its TLS certificate chain (PEM).
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Plain HTTP on a loopback address instead of TLS: for development only.
    #[serde(default)]
    pub plain_http: bool,
    /// The portal's address as browsers reach it (scheme, host, port); its host is accepted in
    /// `Host`, and the identity provider redirects back under it. Default: the listen address.
    #[serde(default)]
    pub url: Option<String>,
    /// Mark session cookies `Secure` (browsers keep them on `http://127.0.0.1` too).
    #[serde(default = "default_true")]
    pub secure_cookies: bool,
    /// How long a sign-in lasts.
    #[serde(default = "default_session_hours")]
    pub session_hours: u64,
    /// How long a sign-in lasts unused.
    #[serde(default = "default_idle_minutes")]
    pub idle_minutes: u64,
    /// Sign-in through the agency's identity provider, beside local accounts.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

/// The `[portal.oidc]` section: the agency's OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    /// A file holding the client secret; none: a public client, PKCE only.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// The provider as the sign-in link names it.
    pub name: String,
    /// CA certificates (PEM) the provider's TLS certificate is verified against; none: the
    /// node's `agency_ca_bundle`.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Scopes asked for besides `openid`.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    #[serde(default = "default_unit_claim")]
    pub unit_claim: String,
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    #[serde(default = "default_officer_role_claim")]
    pub officer_role_claim: String,
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// The provider's role values and the portal role each gives; empty: the provider's values
    /// are the portal roles' own names.
    #[serde(default)]
    pub roles: BTreeMap<String, String>,
}

fn default_true() -> bool {
    true
}

fn default_session_hours() -> u64 {
    8
}

fn default_idle_minutes() -> u64 {
    30
}

fn default_scopes() -> Vec<String> {
    vec!["profile".into()]
}

fn default_unit_claim() -> String {
    "unit".into()
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_officer_role_claim() -> String {
    "officer_role".into()
}

fn default_name_claim() -> String {
    "name".into()
}

impl PortalSettings {
    /// Takes relative paths relative to `base`, the configuration file's directory.
    pub fn resolve_paths(&mut self, base: &Path) {
        let oidc = self.oidc.as_mut();
        let (secret, ca) = match oidc {
            Some(o) => (o.client_secret_file.as_mut(), o.ca.as_mut()),
            None => (None, None),
        };
        for path in [self.certificate.as_mut(), self.key.as_mut(), secret, ca]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
    }

    /// Checks what TOML types cannot; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("portal: name must not be empty".into());
        }
        if !(1..=24).contains(&self.session_hours) {
            return Err("portal: session_hours must be 1 to 24".into());
        }
        if !(1..=self.session_hours * 60).contains(&self.idle_minutes) {
            return Err("portal: idle_minutes must be 1 to the session's length".into());
        }
        match (self.plain_http, &self.certificate, &self.key) {
            (true, None, None) if !self.listen.ip().is_loopback() => {
                return Err("portal: plain_http needs a loopback listen address".into())
            }
            (true, None, None) | (false, Some(_), Some(_)) => {}
            (true, _, _) => {
                return Err("portal: give either plain_http or certificate and key, not both".into())
            }
            (false, _, _) => {
                return Err(
                    "portal: the listener needs certificate and key (TLS), or plain_http = true for development"
                        .into(),
                )
            }
        }
        let url = self.public_url();
        let scheme = if self.plain_http {
            "http://"
        } else {
            "https://"
        };
        if !url.starts_with(scheme) || url_host(&url).is_none() {
            return Err(format!(
                "portal: url `{url}` must be {scheme}host[:port], as the listener speaks"
            ));
        }
        if let Some(oidc) = &self.oidc {
            let loopback = oidc.issuer.starts_with("http://")
                && url_host(&oidc.issuer).is_some_and(|host| {
                    ["localhost", "127.0.0.1", "[::1]"]
                        .iter()
                        .any(|name| host == *name || host.starts_with(&format!("{name}:")))
                });
            if !oidc.issuer.starts_with("https://") && !loopback {
                return Err(format!(
                    "portal.oidc: issuer `{}` must be https:// (http:// only on loopback, for development)",
                    oidc.issuer
                ));
            }
            for (name, value) in [
                ("client_id", &oidc.client_id),
                ("name", &oidc.name),
                ("unit_claim", &oidc.unit_claim),
                ("roles_claim", &oidc.roles_claim),
                ("officer_role_claim", &oidc.officer_role_claim),
                ("name_claim", &oidc.name_claim),
            ] {
                if value.trim().is_empty() {
                    return Err(format!("portal.oidc: {name} must not be empty"));
                }
            }
            if let Some((value, role)) = oidc
                .roles
                .iter()
                .find(|(_, role)| !PORTAL_ROLES.contains(&role.as_str()))
            {
                return Err(format!(
                    "portal.oidc.roles: `{value}` maps to `{role}`, which is not a portal role ({})",
                    PORTAL_ROLES.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The portal's address as browsers reach it, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.plain_http { "http" } else { "https" };
                format!("{scheme}://{}", self.listen)
            }
        }
    }
}

/// `host[:port]` of an `http(s)://host[:port][/]` URL.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host = rest.split('/').next()?;
    (!host.is_empty() && !host.contains('@')).then_some(host)
}

/// The portal's listener, ready to serve.
pub struct PortalSite {
    /// The pages, around the local API.
    pub frontend: Frontend,
    /// None: plain HTTP (loopback, development).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The names it answers to.
    pub hosts: Hosts,
}

impl std::fmt::Debug for PortalSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSite")
            .field("tls", &self.tls.is_some())
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl PortalSite {
    /// The listener `settings` describe, serving `frontend`.
    pub fn from_settings(settings: &PortalSettings, frontend: Frontend) -> Result<Self, NodeError> {
        let tls = match (&settings.certificate, &settings.key) {
            (Some(certificate), Some(key)) => {
                let (chain, key) =
                    utbyte_access::certificates::server_material(certificate, key)
                        .map_err(|e| NodeError::Access(crate::access::GateError(e.to_string())))?;
                let tls = utbyte_access::ClientCertificates::server_config(None, chain, key)
                    .map_err(|e| NodeError::Access(crate::access::GateError(e)))?;
                Some(Arc::new(tls))
            }
            _ => None,
        };
        let url = settings.public_url();
        let named: Vec<String> = url_host(&url).map(str::to_owned).into_iter().collect();
        Ok(Self {
            frontend,
            tls,
            hosts: Hosts::new(&named, settings.listen),
        })
    }

    /// Plain HTTP on a loopback listener at `listen` (development, tests and the demo).
    pub fn plain(frontend: Frontend, listen: SocketAddr) -> Self {
        Self {
            frontend,
            tls: None,
            hosts: Hosts::new(&[], listen),
        }
    }
}

/// Refuses a request whose `Host` is none of the portal's names (421).
pub(crate) async fn check_host(
    State(hosts): State<Arc<Hosts>>,
    request: Request,
    next: Next,
) -> Response {
    if !hosts.allow(request.headers(), request.uri()) {
        tracing::warn!(reason = "host-not-allowed", "portal request refused");
        return crate::problems::HOST_NOT_ALLOWED
            .with("the Host header names none of this portal's addresses")
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(extra: &str) -> Result<PortalSettings, String> {
        let settings: PortalSettings = toml::from_str(&format!(
            "name = \"Försäkringskassan\"\nlisten = \"127.0.0.1:7601\"\n{extra}"
        ))
        .map_err(|e| e.to_string())?;
        settings.validate().map(|()| settings)
    }

    #[test]
    fn a_portal_speaks_tls_unless_plain_http_on_loopback_is_asked_for() {
        let plain = settings("plain_http = true").unwrap();
        assert_eq!(plain.public_url(), "http://127.0.0.1:7601");
        assert_eq!((plain.session_hours, plain.idle_minutes), (8, 30));
        let tls =
            settings("certificate = \"c\"\nkey = \"k\"\nurl = \"https://utbyte.fk.example:7601/\"")
                .unwrap();
        assert_eq!(tls.public_url(), "https://utbyte.fk.example:7601");
        for (extra, says) in [
            ("", "needs certificate and key"),
            (
                "plain_http = true\ncertificate = \"c\"\nkey = \"k\"",
                "not both",
            ),
            ("plain_http = true\nurl = \"https://x\"", "must be http://"),
            (
                "certificate = \"c\"\nkey = \"k\"\nurl = \"http://x\"",
                "must be https://",
            ),
            ("plain_http = true\nidle_minutes = 0", "idle_minutes"),
            (
                "plain_http = true\nsession_hours = 1\nidle_minutes = 61",
                "idle_minutes",
            ),
        ] {
            let error = settings(extra).unwrap_err();
            assert!(error.contains(says), "{extra}: {error}");
        }
        let public: PortalSettings =
            toml::from_str("name = \"FK\"\nlisten = \"0.0.0.0:7601\"\nplain_http = true\n")
                .unwrap();
        assert!(public.validate().unwrap_err().contains("loopback"));
    }

    #[test]
    fn the_identity_providers_roles_map_onto_portal_roles_only() {
        let oidc = "plain_http = true\n[oidc]\nissuer = \"https://login.fk.example\"\nclient_id = \"utbyte\"\nname = \"FK\"\n";
        let ok = settings(&format!(
            "{oidc}[oidc.roles]\n\"FK-Jurist\" = \"reviewer\"\n"
        ))
        .unwrap();
        let o = ok.oidc.unwrap();
        assert_eq!(
            (o.unit_claim.as_str(), o.scopes.clone()),
            ("unit", vec!["profile".to_owned()])
        );
        let error = settings(&format!(
            "{oidc}[oidc.roles]\n\"FK-Chef\" = \"superuser\"\n"
        ))
        .unwrap_err();
        assert!(error.contains("`FK-Chef` maps to `superuser`"), "{error}");
        for issuer in [
            "login.fk.example",
            "http://login.fk.example",
            "http://localhost.evil",
        ] {
            let error = settings(&oidc.replace("https://login.fk.example", issuer)).unwrap_err();
            assert!(error.contains("issuer"), "{issuer}: {error}");
        }
        assert!(
            settings(&oidc.replace("https://login.fk.example", "http://127.0.0.1:9000")).is_ok()
        );
    }
}
