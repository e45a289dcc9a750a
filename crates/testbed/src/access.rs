//! The loopback federation's stand-in for an agency's authorization server and identity
//! provider: one ES256 key that signs the case systems' access tokens and officer assertions,
//! published as a JWKS file every node of the federation reads, exactly as a node reads an
//! agency's. `utbyte demo` keeps the key under its directory (so the tokens it prints stay
//! valid across restarts); the tests make one per process.

use crate::loopback::LoopbackError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use utbyte_access::Issuer;
use utbyte_node::access::config::{
    AccessConfig, ClientConfig, DutyName, IssuerConfig, OfficerIssuerConfig, OfficerSource,
};

/// The issuer name the loopback federation's tokens carry.
pub const ISSUER: &str = "https://login.utbyte.invalid";
/// The audience every loopback node expects (one issuer serves the whole federation here; an
/// agency's tokens name its own node).
pub const AUDIENCE: &str = "utbyte-local";
/// The case system every loopback node trusts with every duty.
pub const CASE_SYSTEM: &str = "case-system";
/// How long the tokens [`LocalIssuer::case_system_token`] makes are valid.
pub const TOKEN_HOURS: u64 = 24;

/// The issuer, with its key.
pub struct LocalIssuer {
    issuer: Issuer,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalIssuer").finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// An issuer with a fresh key.
    pub fn generate() -> Result<Self, LoopbackError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| LoopbackError::Access(e.to_string()))?;
        Self::from_key(&key)
    }

    /// The issuer whose key is kept in `dir/issuer.p8` (PKCS#8, 0600), created on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, LoopbackError> {
        let path = dir.join("issuer.p8");
        let failed =
            |e: &dyn std::fmt::Display| LoopbackError::Access(format!("{}: {e}", path.display()));
        if path.exists() {
            let der = std::fs::read(&path).map_err(|e| failed(&e))?;
            let key = rcgen::KeyPair::try_from(der.as_slice()).map_err(|e| failed(&e))?;
            return Self::from_key(&key);
        }
        utbyte_node::create_data_dir(dir)?;
        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| failed(&e))?;
        utbyte_node::write_private(&path, &key.serialize_der()).map_err(|e| failed(&e))?;
        Self::from_key(&key)
    }

    fn from_key(key: &rcgen::KeyPair) -> Result<Self, LoopbackError> {
        let issuer = Issuer::new(
            ISSUER,
            "loopback-1",
            &key.serialize_der(),
            key.public_key_raw(),
        )
        .map_err(LoopbackError::Access)?;
        Ok(Self { issuer })
    }

    /// The issuer, to sign other tokens with (tests of bad ones).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Writes the JWKS document nodes read to `path`.
    pub fn write_jwks(&self, path: &Path) -> Result<(), LoopbackError> {
        std::fs::write(path, self.issuer.jwks().to_string())
            .map_err(|e| LoopbackError::Access(format!("{}: {e}", path.display())))
    }

    /// An access token for `client`, valid for [`TOKEN_HOURS`].
    pub fn access_token(&self, client: &str) -> Result<String, LoopbackError> {
        self.issuer
            .access_token(client, AUDIENCE, TOKEN_HOURS * 3600)
            .map_err(LoopbackError::Access)
    }

    /// An officer assertion, valid for five minutes and usable once.
    pub fn officer_assertion(
        &self,
        officer: &str,
        unit: &str,
        roles: &[&str],
    ) -> Result<String, LoopbackError> {
        self.issuer
            .officer_assertion(officer, unit, roles, AUDIENCE, 300)
            .map_err(LoopbackError::Access)
    }
}

/// A client allowed `duties`, whose officers are as `officers` says, for any unit and role.
pub fn client(id: &str, duties: &[DutyName], officers: OfficerSource) -> ClientConfig {
    ClientConfig {
        id: id.to_owned(),
        duties: duties.iter().copied().collect::<BTreeSet<_>>(),
        units: Vec::new(),
        roles: Vec::new(),
        officers,
    }
}

/// The case system trusted with every duty and to name its officers itself.
pub fn case_system() -> ClientConfig {
    use DutyName::{Admin, Audit, Request, Review};
    client(
        CASE_SYSTEM,
        &[Request, Review, Audit, Admin],
        OfficerSource::Trusted,
    )
}

/// A loopback node's `[access]`: plain HTTP on its loopback listener, tokens and officer
/// assertions from the issuer whose JWKS is at `jwks`, and `clients`.
pub fn access_config(jwks: PathBuf, clients: Vec<ClientConfig>) -> AccessConfig {
    AccessConfig {
        certificate: None,
        key: None,
        plain_http: true,
        client_ca: None,
        client_crls: Vec::new(),
        hosts: Vec::new(),
        tokens: Some(IssuerConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks: jwks.to_string_lossy().into_owned(),
        }),
        officers: Some(OfficerIssuerConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks: jwks.to_string_lossy().into_owned(),
            unit_claim: "unit".into(),
            roles_claim: "roles".into(),
            max_age_seconds: 300,
        }),
        clients,
    }
}
