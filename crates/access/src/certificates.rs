//! Client certificates from the agency's own CA, for case systems calling their node over TLS.
//!
//! The listener's TLS configuration ([`ClientCertificates::server_config`]) asks for a client
//! certificate but defers judging its chain: the handshake still checks the client's
//! signature over the handshake with the certificate's key (proof of possession, by the same
//! verifier), and [`ClientCertificates::verify`] then judges the chain — issuer, validity,
//! revocation — for every request, before any handler runs. Deferring is what lets a client
//! with an expired, revoked or foreign certificate get an HTTP 401 naming the fault, where a
//! refusal in the handshake would only give it a TLS alert its HTTP library hides; it admits
//! nothing, because a request whose chain does not verify is authenticated as no one. A
//! client without a certificate may still authenticate with an access token.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// Why a client certificate is not accepted. [`CertificateError::reason`] is the stable slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the client certificate was not issued by the agency's CA")]
    UnknownIssuer,
    #[error("the client certificate has expired")]
    Expired,
    #[error("the client certificate is not valid yet")]
    NotYetValid,
    #[error("the client certificate has been revoked")]
    Revoked,
    #[error("the client certificate names no client (no subject commonName or DNS name)")]
    Unnamed,
    #[error("the client certificate is not acceptable: {0}")]
    Invalid(String),
}

impl CertificateError {
    pub fn reason(&self) -> &'static str {
        match self {
            CertificateError::UnknownIssuer => "certificate-unknown-issuer",
            CertificateError::Expired => "certificate-expired",
            CertificateError::NotYetValid => "certificate-not-yet-valid",
            CertificateError::Revoked => "certificate-revoked",
            CertificateError::Unnamed => "certificate-unnamed",
            CertificateError::Invalid(_) => "certificate-invalid",
        }
    }
}

/// Why the listener's TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {detail}")]
pub struct MaterialError {
    pub what: String,
    pub detail: String,
}

fn material(what: impl Into<String>) -> impl FnOnce(String) -> MaterialError {
    let what = what.into();
    move |detail| MaterialError { what, detail }
}

/// The agency's CA and revocation lists, as client certificates are judged against them.
#[derive(Debug, Clone)]
pub struct ClientCertificates {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCertificates {
    /// Reads the CA certificates (PEM) and revocation lists (PEM) from files.
    pub fn from_files(ca: &Path, crls: &[impl AsRef<Path>]) -> Result<Self, MaterialError> {
        let mut roots = RootCertStore::empty();
        let what = format!("client CA {}", ca.display());
        for certificate in read_pem::<CertificateDer<'static>>(ca, &what)? {
            roots
                .add(certificate)
                .map_err(|e| material(what.as_str())(e.to_string()))?;
        }
        let mut lists = Vec::new();
        for path in crls {
            let path = path.as_ref();
            lists.extend(read_pem::<CertificateRevocationListDer<'static>>(
                path,
                &format!("revocation list {}", path.display()),
            )?);
        }
        Self::new(roots, lists).map_err(material("client CA"))
    }

    /// Judges against `roots`, with `crls` (an empty list: no revocation checking).
    pub fn new(
        roots: RootCertStore,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<Self, String> {
        if roots.is_empty() {
            return Err("no CA certificate".into());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crls)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { verifier })
    }

    /// The client a presented chain (leaf first) names, if the chain verifies now.
    pub fn verify(&self, chain: &[CertificateDer<'static>]) -> Result<String, CertificateError> {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err(CertificateError::Invalid("no certificate".into()));
        };
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(kind) => match kind {
                    rustls::CertificateError::UnknownIssuer
                    | rustls::CertificateError::BadSignature => CertificateError::UnknownIssuer,
                    rustls::CertificateError::Expired
                    | rustls::CertificateError::ExpiredContext { .. } => CertificateError::Expired,
                    rustls::CertificateError::NotValidYet
                    | rustls::CertificateError::NotValidYetContext { .. } => {
                        CertificateError::NotYetValid
                    }
                    rustls::CertificateError::Revoked => CertificateError::Revoked,
                    other => CertificateError::Invalid(format!("{other:?}")),
                },
                other => CertificateError::Invalid(other.to_string()),
            })?;
        client_name(leaf)
    }

    /// A TLS 1.3 server configuration with the listener's own certificate that asks clients
    /// for a certificate and defers judging it to [`Self::verify`]. Without `clients`, no
    /// certificate is asked for.
    pub fn server_config(
        clients: Option<&ClientCertificates>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| e.to_string())?;
        let builder = match clients {
            Some(clients) => {
                builder.with_client_cert_verifier(Arc::new(Deferred(Arc::clone(&clients.verifier))))
            }
            None => builder.with_no_client_auth(),
        };
        builder
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())
    }
}

/// A TLS 1.3 client configuration that trusts exactly `leaf` — the certificate a listener is
/// configured to present — and nothing else: for a probe of one's own listener (the container
/// health check), which cannot know which CA the agency used. The server's handshake signature
/// is still checked with that certificate's key.
pub fn pinned_client_config(leaf: CertificateDer<'static>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        leaf,
        algorithms: provider.signature_verification_algorithms,
    });
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// Accepts the one certificate it was given (see [`pinned_client_config`]).
#[derive(Debug)]
struct Pinned {
    leaf: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The listener's own certificate chain and key, from PEM files.
pub fn server_material(
    certificate: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), MaterialError> {
    let chain = certificate_chain(certificate)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| material(format!("key {}", key.display()))(e.to_string()))?;
    Ok((chain, key))
}

/// A certificate chain (leaf first) from a PEM file; not empty.
pub fn certificate_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, MaterialError> {
    let what = format!("certificate {}", path.display());
    let chain = read_pem::<CertificateDer<'static>>(path, &what)?;
    if chain.is_empty() {
        return Err(material(what)("no certificate in the file".into()));
    }
    Ok(chain)
}

/// Every item of one kind in a PEM file; `what` names the file in the error.
fn read_pem<T: PemObject>(path: &Path, what: &str) -> Result<Vec<T>, MaterialError> {
    T::pem_file_iter(path)
        .map_err(|e| e.to_string())
        .and_then(|all| {
            all.collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        })
        .map_err(material(what))
}

/// The client a certificate names: its subject commonName, else its first DNS name.
fn client_name(leaf: &CertificateDer<'_>) -> Result<String, CertificateError> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let (_, certificate) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| CertificateError::Invalid(e.to_string()))?;
    let common_name = certificate
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let dns_name = || {
        certificate
            .subject_alternative_name()
            .ok()
            .flatten()
            .and_then(|san| {
                san.value.general_names.iter().find_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
            })
    };
    common_name
        .or_else(dns_name)
        .filter(|name| !name.is_empty())
        .ok_or(CertificateError::Unnamed)
}

/// Asks for a client certificate and checks the handshake signature with it, leaving the chain
/// to [`ClientCertificates::verify`] (see the module documentation for why that is sound).
#[derive(Debug)]
struct Deferred(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for Deferred {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
