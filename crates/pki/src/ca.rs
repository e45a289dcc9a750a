//! The federation certificate authority: its directory, its key, and signing node certificates.
//!
//! A CA directory holds `ca.crt` (the trust anchor handed to every node) and `ca.key` (mode
//! 0600, in a directory created 0700). [`FederationCa::init`] refuses to touch a directory that
//! already holds either file, because replacing a federation's CA silently cuts every node off
//! from every other. [`FederationCa::open`] refuses a key others can read, or one that does not
//! belong to the certificate.
//!
//! The CA keeps no record of what it issued: a node certificate is revoked by listing its
//! fingerprint in the signed federation configuration, which the directory publishes.

use crate::error::PkiError;
use crate::files::{self, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE};
use crate::identity;
use crate::issue::{self, NodeRequest, Validity};
use crate::material::{CaCertificate, NodeCertificate, NodeCredentials, NodeKey, CA_CERT_FILE};
use rcgen::{CertificateParams, KeyPair, PublicKeyData as _, PKCS_ECDSA_P256_SHA256};
use std::fmt;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// File name of the federation CA's private key (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// The CA's name when none is given.
pub const DEFAULT_CA_NAME: &str = "utbyte federation CA";

/// The federation CA, able to issue node certificates. `Debug` never shows the key.
pub struct FederationCa {
    dir: PathBuf,
    certificate: CaCertificate,
    key: KeyPair,
    /// rcgen's view of the CA certificate, which signing needs.
    issuer: rcgen::Certificate,
    not_after: OffsetDateTime,
}

impl FederationCa {
    /// Creates a new CA named `name` in `dir` (created if missing), valid for `validity`.
    pub fn init(dir: &Path, name: &str, validity: Validity) -> Result<Self, PkiError> {
        let (not_before, not_after) = validity.resolve(OffsetDateTime::now_utc())?;
        let params = issue::ca_params(name, not_before, not_after)?;
        files::ensure_private_dir(dir)?;
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        files::refuse_existing(&key_path)?;
        files::refuse_existing(&cert_path)?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let issuer = params.self_signed(&key)?;
        let certificate = CaCertificate::from_der(issuer.der().to_vec())?;
        files::write_new(&key_path, key.serialize_pem().as_bytes(), PRIVATE_FILE_MODE)?;
        if let Err(err) = files::write_new(
            &cert_path,
            certificate.to_pem().as_bytes(),
            PUBLIC_FILE_MODE,
        ) {
            // A key without its certificate is useless and would block the next attempt; it
            // is the file this call just created, so removing it loses nothing.
            let _ = std::fs::remove_file(&key_path);
            return Err(err);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            certificate,
            key,
            issuer,
            not_after,
        })
    }

    /// Opens the CA in `dir`.
    pub fn open(dir: &Path) -> Result<Self, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let certificate = CaCertificate::load(&cert_path)?;
        let key = KeyPair::from_pem(&files::read_private(&key_path)?).map_err(|err| {
            PkiError::Key {
                reason: err.to_string(),
            }
            .in_file(&key_path)
        })?;
        let parsed = identity::parse(certificate.der())?;
        if *parsed.public_key().subject_public_key.data != *key.der_bytes() {
            return Err(PkiError::KeyMismatch.in_file(&key_path));
        }
        // rcgen's parser panics on a multi-valued RDN set with no values; refuse any
        // multi-valued RDN before handing it the certificate. Ours never have one.
        if parsed.subject().iter().any(|rdn| rdn.iter().count() != 1) {
            return Err(PkiError::Pem {
                reason: "the CA subject has a multi-valued or empty RDN".into(),
            }
            .in_file(&cert_path));
        }
        let not_after = parsed.validity().not_after.to_datetime();
        let issuer = CertificateParams::from_ca_cert_der(certificate.der())
            .and_then(|params| params.self_signed(&key))
            .map_err(|err| PkiError::from(err).in_file(&cert_path))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            certificate,
            key,
            issuer,
            not_after,
        })
    }

    /// The CA certificate, to hand to nodes as their trust anchor.
    pub fn certificate(&self) -> &CaCertificate {
        &self.certificate
    }

    /// When the CA certificate expires; no node certificate may outlive it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The directory the CA lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Issues a node certificate with a fresh ECDSA P-256 key.
    pub fn issue(&self, request: &NodeRequest) -> Result<NodeCredentials, PkiError> {
        let (not_before, not_after) = request
            .requested_validity()
            .resolve(OffsetDateTime::now_utc())?;
        if not_after > self.not_after {
            return Err(PkiError::OutlivesCa {
                not_after,
                ca_not_after: self.not_after,
            });
        }
        let params = request.params(not_before, not_after)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        NodeCredentials::new(
            self.certificate.clone(),
            NodeCertificate::from_der(cert.der().to_vec())?,
            NodeKey::from_pkcs8(key.serialize_der()),
        )
    }
}

impl fmt::Debug for FederationCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FederationCa")
            .field("dir", &self.dir)
            .field("fingerprint", self.certificate.fingerprint())
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}
