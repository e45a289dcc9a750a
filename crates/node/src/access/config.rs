//! The `[access]` section of node.toml: how the local listener is reached and who may call it.
//!
//! ```toml
//! [access]
//! certificate = "/etc/utbyte/local/server.crt"  # the local listener's TLS certificate (PEM chain)
//! key = "/etc/utbyte/local/server.key"
//! client_ca = "/etc/utbyte/agency-ca.pem"       # case systems' client certificates are from this CA
//! client_crls = ["/etc/utbyte/agency.crl"]      # and not revoked here
//! hosts = ["utbyte.fk.example"]                 # Host names accepted besides the listen address
//!
//! [access.tokens]                               # OAuth 2.0 access tokens (RFC 9068)
//! issuer = "https://login.fk.example"
//! audience = "utbyte:forsakringskassan"
//! jwks = "https://login.fk.example/jwks"        # or a file: "idp-jwks.json"
//!
//! [access.officers]                             # officer assertions from the identity provider
//! issuer = "https://login.fk.example"
//! audience = "utbyte:forsakringskassan"
//! jwks = "https://login.fk.example/jwks"
//!
//! [[access.client]]                             # one per case system
//! id = "arende"                                 # certificate commonName or token client_id/sub
//! duties = ["request"]
//! units = ["fk-kontroll"]
//! roles = ["handlaggare"]
//! officers = "asserted"                         # or "trusted": its own word, recorded as such
//! ```

use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::PathBuf;
use utbyte_api::access::Duty;

/// Who may call the local API, and over what.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// The local listener's certificate chain (PEM), from the agency's CA.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Plain HTTP on a loopback address instead of TLS: for development only.
    #[serde(default)]
    pub plain_http: bool,
    /// The CA certificates (PEM) client certificates are verified against; none: clients
    /// authenticate with access tokens only.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Certificate revocation lists (PEM) of the client CA.
    #[serde(default)]
    pub client_crls: Vec<PathBuf>,
    /// Host names (with or without port) accepted in the `Host` header besides the listen
    /// address and, for a loopback listener, `localhost`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Access tokens from the agency's authorization server.
    #[serde(default)]
    pub tokens: Option<IssuerConfig>,
    /// Officer assertions from the agency's identity provider.
    #[serde(default)]
    pub officers: Option<OfficerIssuerConfig>,
    /// The clients and what each may do.
    #[serde(default, rename = "client")]
    pub clients: Vec<ClientConfig>,
}

/// A token issuer and where its keys are published.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    pub issuer: String,
    pub audience: String,
    /// Where the issuer's keys are: its `jwks_uri` (`https://`), or a JWKS file.
    pub jwks: String,
}

/// The identity provider that signs officer assertions, and the claims it uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficerIssuerConfig {
    pub issuer: String,
    pub audience: String,
    /// Where the identity provider's keys are: its `jwks_uri` (`https://`), or a JWKS file.
    pub jwks: String,
    /// The claim holding the officer's unit.
    #[serde(default = "default_unit_claim")]
    pub unit_claim: String,
    /// The claim holding the officer's roles (a list, or one string).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
    /// An assertion issued longer ago than this is refused, even if not expired.
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
}

fn default_unit_claim() -> String {
    "unit".into()
}

fn default_roles_claim() -> String {
    "roles".into()
}

fn default_max_age() -> u64 {
    300
}

/// How a client's officers are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficerSource {
    /// Every call carries an officer assertion from the identity provider.
    Asserted,
    /// The client names the officer itself; the node records that it did.
    Trusted,
}

/// One client system and what it may do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The name its certificate (commonName) or its tokens (`client_id`, else `sub`) carry.
    pub id: String,
    pub duties: BTreeSet<DutyName>,
    /// Units it may act for; empty: any unit of this authority.
    #[serde(default)]
    pub units: Vec<String>,
    /// Roles it may act in; empty: any.
    #[serde(default)]
    pub roles: Vec<String>,
    pub officers: OfficerSource,
}

/// A duty as configuration names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DutyName {
    Request,
    Review,
    Audit,
    Admin,
}

impl From<DutyName> for Duty {
    fn from(name: DutyName) -> Self {
        match name {
            DutyName::Request => Duty::Request,
            DutyName::Review => Duty::Review,
            DutyName::Audit => Duty::Audit,
            DutyName::Admin => Duty::Admin,
        }
    }
}

impl AccessConfig {
    /// Takes relative paths relative to `base`, the configuration file's directory.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        for path in [&mut self.certificate, &mut self.key, &mut self.client_ca]
            .into_iter()
            .flatten()
        {
            *path = base.join(&*path);
        }
        for path in &mut self.client_crls {
            *path = base.join(&*path);
        }
        for jwks in [
            self.tokens.as_mut().map(|t| &mut t.jwks),
            self.officers.as_mut().map(|o| &mut o.jwks),
        ]
        .into_iter()
        .flatten()
        {
            if !jwks.is_empty() && !is_url(jwks) {
                *jwks = base.join(&*jwks).to_string_lossy().into_owned();
            }
        }
    }

    /// Checks what TOML types cannot; the message names the option.
    pub fn validate(&self, loopback: bool) -> Result<(), String> {
        match (self.plain_http, &self.certificate, &self.key) {
            (true, None, None) if !loopback => {
                return Err("access: plain_http needs a loopback local_listen".into())
            }
            (true, None, None) | (false, Some(_), Some(_)) => {}
            (true, _, _) => {
                return Err("access: give either plain_http or certificate and key, not both".into())
            }
            (false, _, _) => {
                return Err(
                    "access: the local listener needs certificate and key (TLS), or plain_http = true for development"
                        .into(),
                )
            }
        }
        if self.plain_http && self.client_ca.is_some() {
            return Err("access: client_ca needs TLS (certificate and key), not plain_http".into());
        }
        if !self.client_crls.is_empty() && self.client_ca.is_none() {
            return Err("access: client_crls needs client_ca".into());
        }
        let issuers = [
            self.tokens.as_ref().map(|t| ("tokens", &t.jwks)),
            self.officers.as_ref().map(|o| ("officers", &o.jwks)),
        ];
        for (name, jwks) in issuers.into_iter().flatten() {
            if jwks.is_empty() {
                return Err(format!("access.{name}: jwks is empty"));
            }
            if is_url(jwks) && !jwks.starts_with("https://") && !is_loopback_http(jwks) {
                return Err(format!(
                    "access.{name}: jwks must be https:// (http:// only on a loopback address) or a file"
                ));
            }
        }
        if self.client_ca.is_none() && self.tokens.is_none() && !self.clients.is_empty() {
            return Err(
                "access: clients are listed but neither client_ca nor [access.tokens] can authenticate them"
                    .into(),
            );
        }
        let mut seen = BTreeSet::new();
        for client in &self.clients {
            if client.id.is_empty() || !seen.insert(client.id.as_str()) {
                return Err(format!(
                    "access.client: `{}` is empty or listed twice",
                    client.id
                ));
            }
            if client.id == crate::access::PORTAL_CLIENT {
                return Err(format!(
                    "access.client: `{}` is the portal's own name",
                    client.id
                ));
            }
            if client.duties.is_empty() {
                return Err(format!("access.client `{}`: duties is empty", client.id));
            }
            if client.officers == OfficerSource::Asserted && self.officers.is_none() {
                return Err(format!(
                    "access.client `{}`: officers = \"asserted\" needs [access.officers]",
                    client.id
                ));
            }
        }
        Ok(())
    }
}

/// Whether a `jwks` value is a URL rather than a file.
pub(crate) fn is_url(jwks: &str) -> bool {
    jwks.contains("://")
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> AccessConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_listener_is_tls_unless_plain_http_is_asked_for_on_loopback() {
        let tls = parse("certificate = \"s.crt\"\nkey = \"s.key\"\n");
        assert!(tls.validate(false).is_ok());
        let neither = parse("");
        assert!(neither
            .validate(true)
            .unwrap_err()
            .contains("certificate and key"));
        let plain = parse("plain_http = true\n");
        assert!(plain.validate(true).is_ok());
        assert!(plain.validate(false).unwrap_err().contains("loopback"));
        let both = parse("plain_http = true\ncertificate = \"s.crt\"\nkey = \"s.key\"\n");
        assert!(both.validate(true).unwrap_err().contains("not both"));
        let certs_on_plain = parse("plain_http = true\nclient_ca = \"ca.pem\"\n");
        assert!(certs_on_plain
            .validate(true)
            .unwrap_err()
            .contains("needs TLS"));
    }

    #[test]
    fn clients_are_named_once_and_asserted_officers_need_an_identity_provider() {
        let tokens =
            "plain_http = true\n[tokens]\nissuer = \"i\"\naudience = \"a\"\njwks = \"j.json\"\n";
        let asserted = parse(&format!(
            "{tokens}[[client]]\nid = \"arende\"\nduties = [\"request\"]\nofficers = \"asserted\"\n"
        ));
        assert!(asserted
            .validate(true)
            .unwrap_err()
            .contains("[access.officers]"));
        let twice = parse(&format!(
            "{tokens}[[client]]\nid = \"a\"\nduties = [\"audit\"]\nofficers = \"trusted\"\n[[client]]\nid = \"a\"\nduties = [\"admin\"]\nofficers = \"trusted\"\n"
        ));
        assert!(twice.validate(true).unwrap_err().contains("listed twice"));
        let portal = parse(&format!(
            "{tokens}[[client]]\nid = \"portal\"\nduties = [\"audit\"]\nofficers = \"trusted\"\n"
        ));
        assert!(portal.validate(true).unwrap_err().contains("portal"));
        let good = parse(&format!(
            "{tokens}[[client]]\nid = \"arende\"\nduties = [\"request\", \"review\"]\nunits = [\"fk-kontroll\"]\nofficers = \"trusted\"\n"
        ));
        assert!(good.validate(true).is_ok());
        assert_eq!(good.clients[0].duties.len(), 2);
        let loopback_http = parse(
            "plain_http = true\n[tokens]\nissuer = \"i\"\naudience = \"a\"\njwks = \"http://127.0.0.1:9/jwks\"\n",
        );
        assert!(loopback_http.validate(true).is_ok());
    }
}
