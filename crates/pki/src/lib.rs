//! The federation's public key infrastructure: one certificate authority, one certificate per
//! agency node naming its authority, and mutual TLS 1.3 between nodes.
//!
//! Nodes trust the federation CA and nothing else (no system roots). A node certificate names
//! its authority by federation id, organisationsnummer and name ([`NodeIdentity`]); every
//! node presents it both as server and as client, so a connection between two nodes tells
//! each side which authority the other is. A peer is refused when its certificate is not
//! issued by the federation CA, is outside its validity, is revoked (its fingerprint is in the
//! runtime-updatable [`Revocations`]), or names no authority.
//!
//! - [`ca`]: the CA directory, [`FederationCa::init`], [`FederationCa::open`], issuing;
//! - [`issue`]: what a node certificate says ([`NodeRequest`], [`Validity`]);
//! - [`identity`]: reading the authority back from a certificate (`authority`: the id and its
//!   SAN URI);
//! - [`material`]: certificates and keys as checked values and PEM files;
//! - [`revocation`]: the revoked fingerprints;
//! - [`signing_key`]: the Ed25519 keys that sign answers and the federation configuration, kept
//!   as private files;
//! - [`tls`]: the rustls configurations and their verifiers;
//! - `files`: atomic, no-clobber writes and private modes.
//!
//! # Why ECDSA P-256
//!
//! rustls with the ring provider verifies both ECDSA P-256 and Ed25519 certificates and
//! handshake signatures in TLS 1.3, for server and client authentication alike. P-256 is the
//! one every TLS stack an authority or its vendors may put in front of or beside a node
//! accepts (OpenSSL, Java, .NET/SChannel, Go, browsers for the portal) and that hardware
//! security modules and qualified certificate services in the EU offer; Ed25519 certificates
//! are still refused by browsers and several enterprise stacks. The signatures of the
//! federation configuration and of answers are a separate matter (Ed25519, JWS) and need no
//! X.509 interoperability.

mod authority;
pub mod ca;
mod error;
mod files;
pub mod fingerprint;
pub mod identity;
pub mod issue;
pub mod material;
pub mod revocation;
pub mod signing_key;
pub mod tls;

pub use ca::{FederationCa, CA_KEY_FILE, DEFAULT_CA_NAME};
pub use error::PkiError;
pub use fingerprint::{Fingerprint, FingerprintError};
pub use identity::{
    peer_identity, AuthorityId, AuthorityIdError, CertificateInfo, IdentityError, NodeIdentity,
};
pub use issue::{NodeRequest, Validity};
pub use material::{
    CaCertificate, NodeCertificate, NodeCredentials, NodeKey, CA_CERT_FILE, NODE_CERT_FILE,
    NODE_KEY_FILE,
};
pub use revocation::Revocations;
pub use tls::{client_config, server_config};
