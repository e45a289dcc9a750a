//! Mutual TLS 1.3 between nodes: rustls configurations that trust the federation CA and
//! nothing else, and refuse revoked certificates.
//!
//! Both sides verify the other in three steps, in this order, each with its own error:
//!
//! 1. rustls' webpki verifier: the chain ends at the federation CA (else `UnknownIssuer`), the
//!    certificate is within its validity (else `Expired` / `NotValidYet`), its extended key
//!    usage fits the role, and on the client side it names the server that was dialled;
//! 2. the revocation set: the certificate's fingerprint is not listed (else `Revoked`);
//! 3. the certificate carries a full [`NodeIdentity`] (else `Other`, with
//!    the [`IdentityError`](crate::IdentityError)), so a handshake that succeeds always yields
//!    one from [`peer_identity`](crate::peer_identity).
//!
//! rustls turns these into TLS alerts (`unknown_ca`, `certificate_expired`,
//! `certificate_revoked`, `bad_certificate`) for the peer.
//!
//! Only TLS 1.3 is enabled. Session resumption is off on both sides: a resumed TLS session
//! skips certificate verification, so a peer revoked after its first connection could
//! otherwise keep resuming. Nodes keep connections open, so the cost of always doing a full
//! handshake is small.

use crate::error::PkiError;
use crate::fingerprint::Fingerprint;
use crate::identity::NodeIdentity;
use crate::material::{CaCertificate, NodeCertificate, NodeCredentials, NodeKey};
use crate::revocation::Revocations;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    RootCertStore, ServerConfig, SignatureScheme,
};
use std::sync::Arc;

/// The TLS configuration a node serves with: its certificate as server certificate, client
/// certificates required, verified against the federation CA and `revocations`.
pub fn server_config(
    ca: &CaCertificate,
    certificate: &NodeCertificate,
    key: &NodeKey,
    revocations: &Revocations,
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = provider();
    let inner = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(|err| PkiError::Verifier(err.to_string()))?;
    let verifier = Arc::new(FederationClientVerifier {
        inner,
        revocations: revocations.clone(),
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![certificate.der().clone()], key.to_rustls())?;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The TLS configuration a node connects to other nodes with: its certificate as client
/// certificate, the server verified against the federation CA (no system roots) and
/// `revocations`.
///
/// The server's name is checked against the name dialled; which authority the server speaks
/// for is the caller's to check, with [`peer_identity`](crate::peer_identity) after the
/// handshake.
pub fn client_config(
    ca: &CaCertificate,
    certificate: &NodeCertificate,
    key: &NodeKey,
    revocations: &Revocations,
) -> Result<Arc<ClientConfig>, PkiError> {
    let provider = provider();
    let inner = WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(|err| PkiError::Verifier(err.to_string()))?;
    let verifier = Arc::new(FederationServerVerifier {
        inner,
        revocations: revocations.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![certificate.der().clone()], key.to_rustls())?;
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

impl NodeCredentials {
    /// [`server_config`] with these credentials.
    pub fn server_config(&self, revocations: &Revocations) -> Result<Arc<ServerConfig>, PkiError> {
        server_config(&self.ca, &self.certificate, &self.key, revocations)
    }

    /// [`client_config`] with these credentials.
    pub fn client_config(&self, revocations: &Revocations) -> Result<Arc<ClientConfig>, PkiError> {
        client_config(&self.ca, &self.certificate, &self.key, revocations)
    }
}

/// ring, not aws-lc-rs: it builds with a C compiler alone (aws-lc-rs may need cmake), and it
/// signs and verifies ECDSA P-256, the federation's key type. Named explicitly rather than
/// taken from a process-wide default, so no other crate's choice can change it.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &CaCertificate) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone())?;
    Ok(Arc::new(roots))
}

/// Steps 2 and 3 of verification, on a certificate webpki has accepted.
fn admit(end_entity: &CertificateDer<'_>, revocations: &Revocations) -> Result<(), rustls::Error> {
    if revocations.is_revoked(&Fingerprint::of_der(end_entity)) {
        return Err(CertificateError::Revoked.into());
    }
    NodeIdentity::from_der(end_entity)
        .map_err(|err| CertificateError::Other(OtherError(Arc::new(err))))?;
    Ok(())
}

/// The handshake-signature checks both verifiers leave to webpki unchanged: only the
/// certificate checks differ.
macro_rules! delegate_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// The server's verifier of client certificates.
#[derive(Debug)]
struct FederationClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revocations: Revocations,
}

impl ClientCertVerifier for FederationClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        admit(end_entity, &self.revocations)?;
        Ok(verified)
    }

    delegate_signature_checks!();
}

/// The client's verifier of server certificates.
#[derive(Debug)]
struct FederationServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    revocations: Revocations,
}

impl ServerCertVerifier for FederationServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        admit(end_entity, &self.revocations)?;
        Ok(verified)
    }

    delegate_signature_checks!();
}
