//! [`AgencyClient`]: the one plain HTTP client a node uses inside its own authority — towards
//! register backends and case systems' callback URLs.
//!
//! It is `reqwest` over rustls with the ring provider, set up so that nothing is implicit:
//!
//! - **Trust**: `https://` is verified against the agency CA bundle the operator configures
//!   ([`AgencyTrust`]) and nothing else — no system roots, no webpki roots. An agency's internal
//!   services carry certificates from its own CA; trusting every public CA as well would let
//!   anyone who can get a public certificate for an internal name stand in for the service.
//!   Without a bundle, every `https://` connection fails verification.
//! - **No proxy** from the environment (`HTTP_PROXY` and friends are ignored): where requests go
//!   is the configuration's business, not the process environment's.
//! - **No redirects**: a target that redirects would lead the node past the checks made on the
//!   URL it was given (a callback allow-list, for one).
//! - **Resolution** can be replaced ([`AgencyClient::with_resolver`]), so a caller that must
//!   check the addresses a name resolves to (callbacks: no link-local or metadata addresses)
//!   checks the very addresses that are connected to.
//!
//! Errors out of `reqwest` name the URL they concern; callers strip it (`without_url`) before
//! an error reaches a message, because a register URL holds the subject.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::AdapterError;

/// How long an unused pooled connection is kept: shorter than nginx's default
/// `keepalive_timeout` (75 s), so the pool lets go of a connection before a proxy in front of
/// a backend closes it under a request.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The certificate authorities an agency's internal services are verified against.
#[derive(Clone)]
pub struct AgencyTrust {
    roots: Arc<RootCertStore>,
}

impl AgencyTrust {
    /// The CA certificates of a PEM bundle (one or more `CERTIFICATE` blocks).
    pub fn from_pem(pem: &[u8]) -> Result<Self, AdapterError> {
        let invalid = |reason: String| AdapterError::InvalidCaBundle { reason };
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(pem) {
            let certificate =
                certificate.map_err(|error| invalid(format!("it is not PEM ({error})")))?;
            roots
                .add(certificate)
                .map_err(|error| invalid(format!("a certificate in it is unusable ({error})")))?;
        }
        if roots.is_empty() {
            return Err(invalid("it holds no certificate".to_owned()));
        }
        Ok(Self {
            roots: Arc::new(roots),
        })
    }

    /// The CA certificates of the PEM file at `path`.
    pub fn from_pem_file(path: &Path) -> Result<Self, AdapterError> {
        let pem = std::fs::read(path).map_err(|error| AdapterError::InvalidCaBundle {
            reason: format!("{} cannot be read ({error})", path.display()),
        })?;
        Self::from_pem(&pem)
    }

    /// How many CA certificates are trusted.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether no CA is trusted (never true for a bundle that was read).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }
}

impl std::fmt::Debug for AgencyTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgencyTrust")
            .field("certificates", &self.roots.len())
            .finish()
    }
}

/// A configured HTTP client. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct AgencyClient {
    client: reqwest::Client,
    https: bool,
}

impl AgencyClient {
    /// A client trusting `trust` for `https://` (without it, only `http://` can succeed).
    pub fn new(trust: Option<&AgencyTrust>) -> Result<Self, AdapterError> {
        Self::finish(Self::builder(trust)?, trust)
    }

    /// Like [`Self::new`], resolving host names with `resolver` (which may refuse addresses).
    pub fn with_resolver<R: reqwest::dns::Resolve + 'static>(
        trust: Option<&AgencyTrust>,
        resolver: Arc<R>,
    ) -> Result<Self, AdapterError> {
        Self::finish(Self::builder(trust)?.dns_resolver(resolver), trust)
    }

    fn builder(trust: Option<&AgencyTrust>) -> Result<reqwest::ClientBuilder, AdapterError> {
        let roots = trust
            .map(|trust| RootCertStore::clone(&trust.roots))
            .unwrap_or_else(RootCertStore::empty);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|error| AdapterError::Client {
            reason: format!("TLS cannot be set up ({error})"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            // Requests are small and answered at once; Nagle would only add latency.
            .tcp_nodelay(true))
    }

    fn finish(
        builder: reqwest::ClientBuilder,
        trust: Option<&AgencyTrust>,
    ) -> Result<Self, AdapterError> {
        let client = builder.build().map_err(|error| AdapterError::Client {
            reason: error.without_url().to_string(),
        })?;
        Ok(Self {
            client,
            https: trust.is_some(),
        })
    }

    /// Whether `https://` targets can be verified (a CA bundle was given).
    pub fn speaks_https(&self) -> bool {
        self.https
    }

    /// The underlying client, to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }
}

/// An error and its sources, as one line, without the URL `reqwest` would name (a register
/// URL holds the subject).
pub fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
