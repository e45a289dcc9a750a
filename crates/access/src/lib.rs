//! Who is calling a node's local API, proven rather than claimed.
//!
//! An agency's own systems authenticate to their node in one of two ways, both anchored in the
//! agency's own infrastructure rather than in the federation's:
//!
//! - a client certificate issued by the agency's CA, presented in the TLS handshake
//!   ([`certificates`]): the TLS layer proves the client holds the certificate's key, and every
//!   request is then refused unless the chain verifies against the agency's CA and revocation
//!   lists — so a bad certificate gets an HTTP answer saying what is wrong with it rather than a
//!   bare TLS alert;
//! - an OAuth 2.0 access token (a JWT per RFC 9068) from the agency's authorization server
//!   ([`tokens`]), verified against its published keys (JWKS), which are fetched again when a
//!   token names a key not seen yet, so the server can rotate keys without the node restarting.
//!
//! The officer a client acts for is vouched for by an assertion the agency's identity provider
//! signed (an ID token or JWT with the officer's id, unit and roles), verified the same way
//! and accepted once ([`replay`]). What a client may do — its duties, units and roles — is the
//! node's configuration, applied by the node; this crate only establishes identities, with a
//! typed error for every way a credential can be wrong.

pub mod certificates;
pub mod issuer;
pub mod replay;
pub mod tokens;

pub use certificates::{CertificateError, ClientCertificates};
pub use issuer::Issuer;
pub use replay::SeenTokens;
pub use tokens::{KeySource, TokenError, TokenKind, TokenVerifier, Verified};
