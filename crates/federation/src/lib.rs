//! The federation model every node and the directory share: the signed federation
//! configuration ([`FederationConfig`]: members, node endpoints, certificate fingerprints and
//! revocations, answer keys, the shared rulebook), the JWS every signature in the federation
//! uses ([`Jws`]), and a node's hold on the last good configuration ([`TrustedConfig`]).
//!
//! The directory (crate `utbyte-directory`) is the server that publishes the configuration;
//! nodes only need this model to verify and use it, so it lives apart from the server.

pub mod config;
pub mod jws;
pub mod trust;

pub use config::{ConfigError, FederationConfig, Member, RulebookBundle, RulebookFile};
pub use jws::{Jws, JwsError};
pub use trust::TrustedConfig;
