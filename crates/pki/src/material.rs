//! Certificates and keys as values: the federation CA certificate (the trust anchor every node
//! holds), a node's certificate and its private key, and the three together as a node's
//! credentials, in memory and as PEM files.
//!
//! Each type is checked on construction, so holding one means it is usable: a
//! [`CaCertificate`] is a CA, a [`NodeCertificate`] carries a full [`NodeIdentity`], and
//! [`NodeCredentials`] pairs a certificate with the key that belongs to it.

use crate::error::PkiError;
use crate::files::{self, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE};
use crate::fingerprint::Fingerprint;
use crate::identity::{self, CertificateInfo, NodeIdentity};
use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fmt;
use std::path::Path;

/// File name of the federation CA certificate, in the CA directory and beside each node's key.
pub const CA_CERT_FILE: &str = "ca.crt";
/// File name of a node's certificate.
pub const NODE_CERT_FILE: &str = "node.crt";
/// File name of a node's private key (mode 0600).
pub const NODE_KEY_FILE: &str = "node.key";

/// The federation CA's certificate: the one trust anchor of mutual TLS between nodes.
#[derive(Clone, Debug)]
pub struct CaCertificate {
    der: CertificateDer<'static>,
    fingerprint: Fingerprint,
}

impl CaCertificate {
    /// Reads a CA certificate from DER, refusing a certificate that is not a CA.
    pub fn from_der(der: Vec<u8>) -> Result<Self, PkiError> {
        if !identity::parse(&der)?.is_ca() {
            return Err(PkiError::NotACa);
        }
        Ok(Self {
            fingerprint: Fingerprint::of_der(&der),
            der: CertificateDer::from(der),
        })
    }

    /// Reads a CA certificate from PEM text holding exactly one certificate.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(one_certificate(pem)?)
    }

    /// Reads a CA certificate from a PEM file.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        Self::from_pem(&files::read_pem(path)?).map_err(|e| e.in_file(path))
    }

    /// The DER encoding.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// SHA-256 of the DER.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }
}

/// A node's certificate, with the identity it names.
#[derive(Clone, Debug)]
pub struct NodeCertificate {
    der: CertificateDer<'static>,
    identity: NodeIdentity,
}

impl NodeCertificate {
    /// Reads a node certificate from DER, refusing a CA certificate or one without a full node
    /// identity. Whether a CA vouches for it is for the TLS verifiers to decide.
    pub fn from_der(der: Vec<u8>) -> Result<Self, PkiError> {
        if identity::parse(&der)?.is_ca() {
            return Err(PkiError::CaAsNode);
        }
        Ok(Self {
            identity: NodeIdentity::from_der(&der)?,
            der: CertificateDer::from(der),
        })
    }

    /// Reads a node certificate from PEM text holding exactly one certificate.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(one_certificate(pem)?)
    }

    /// Reads a node certificate from a PEM file.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        Self::from_pem(&files::read_pem(path)?).map_err(|e| e.in_file(path))
    }

    /// The DER encoding.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The authority this certificate names, and its fingerprint.
    pub fn identity(&self) -> &NodeIdentity {
        &self.identity
    }

    /// SHA-256 of the DER.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.identity.fingerprint
    }

    /// The PEM encoding.
    pub fn to_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.der)
    }
}

/// A node's private key (PKCS#8). `Debug` never shows it.
pub struct NodeKey(PrivatePkcs8KeyDer<'static>);

impl NodeKey {
    pub(crate) fn from_pkcs8(der: Vec<u8>) -> Self {
        Self(PrivatePkcs8KeyDer::from(der))
    }

    /// Reads a key from PEM text holding exactly one `PRIVATE KEY` (PKCS#8) block.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        let keys = PrivatePkcs8KeyDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| PkiError::Pem {
                reason: err.to_string(),
            })?;
        match <[_; 1]>::try_from(keys) {
            Ok([key]) => Ok(Self(key)),
            Err(keys) => Err(PkiError::PemCount {
                label: "PRIVATE KEY",
                found: keys.len(),
            }),
        }
    }

    /// Reads a key from a PEM file, refusing a file that group or others may access.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        Self::from_pem(&files::read_private(path)?).map_err(|e| e.in_file(path))
    }

    /// The key in the form rustls takes.
    pub fn to_rustls(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.0.clone_key())
    }

    /// The PEM encoding. Write it only with mode 0600.
    pub fn to_pem(&self) -> String {
        pem_encode("PRIVATE KEY", self.0.secret_pkcs8_der())
    }

    /// The raw public key (the subjectPublicKey bits of a certificate for this key).
    fn public_key(&self) -> Result<Vec<u8>, PkiError> {
        rcgen::KeyPair::try_from(&self.0)
            .map(|pair| rcgen::PublicKeyData::der_bytes(&pair).to_vec())
            .map_err(|err| PkiError::Key {
                reason: err.to_string(),
            })
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeKey(..)")
    }
}

/// What a node needs for mutual TLS: the federation CA, its certificate, and the key that
/// belongs to the certificate. `utbyte pki issue` writes them as `ca.crt`, `node.crt` and
/// `node.key` in one directory.
#[derive(Debug)]
pub struct NodeCredentials {
    /// The federation CA, the only trust anchor.
    pub ca: CaCertificate,
    /// The node's certificate, presented as server and as client.
    pub certificate: NodeCertificate,
    /// The node's private key.
    pub key: NodeKey,
}

impl NodeCredentials {
    /// Pairs a certificate with its key, refusing a key that does not belong to it.
    pub fn new(
        ca: CaCertificate,
        certificate: NodeCertificate,
        key: NodeKey,
    ) -> Result<Self, PkiError> {
        let cert = identity::parse(certificate.der())?;
        if *cert.public_key().subject_public_key.data != *key.public_key()? {
            return Err(PkiError::KeyMismatch);
        }
        Ok(Self {
            ca,
            certificate,
            key,
        })
    }

    /// Reads `ca.crt`, `node.crt` and `node.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let ca = CaCertificate::load(&dir.join(CA_CERT_FILE))?;
        let certificate = NodeCertificate::load(&dir.join(NODE_CERT_FILE))?;
        let key = NodeKey::load(&dir.join(NODE_KEY_FILE))?;
        Self::new(ca, certificate, key).map_err(|e| e.in_file(dir.join(NODE_KEY_FILE)))
    }

    /// Writes `ca.crt`, `node.crt` and `node.key` (mode 0600) into `dir`, creating it (mode
    /// 0700) if needed. Refuses to overwrite any of them: a node's key is replaced by issuing
    /// into a new directory, never by writing over the one in use.
    pub fn write_to(&self, dir: &Path) -> Result<(), PkiError> {
        files::ensure_private_dir(dir)?;
        let outputs = [
            (NODE_KEY_FILE, self.key.to_pem(), PRIVATE_FILE_MODE),
            (NODE_CERT_FILE, self.certificate.to_pem(), PUBLIC_FILE_MODE),
            (CA_CERT_FILE, self.ca.to_pem(), PUBLIC_FILE_MODE),
        ];
        for (name, _, _) in &outputs {
            files::refuse_existing(&dir.join(name))?;
        }
        for (name, text, mode) in &outputs {
            files::write_new(&dir.join(name), text.as_bytes(), *mode)?;
        }
        Ok(())
    }
}

impl CertificateInfo {
    /// Describes the one certificate in a PEM file, CA or node.
    pub fn load(path: &Path) -> Result<Self, PkiError> {
        let pem = files::read_pem(path)?;
        one_certificate(&pem)
            .and_then(|der| Ok(Self::from_der(&der)?))
            .map_err(|e| e.in_file(path))
    }
}

/// The DER of the one certificate in `pem`.
fn one_certificate(pem: &str) -> Result<Vec<u8>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| PkiError::Pem {
            reason: err.to_string(),
        })?;
    match <[_; 1]>::try_from(certs) {
        Ok([cert]) => Ok(cert.to_vec()),
        Err(certs) => Err(PkiError::PemCount {
            label: "CERTIFICATE",
            found: certs.len(),
        }),
    }
}

/// RFC 7468 text encoding: base64 in lines of 64 characters.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}
