//! The directory: the federation's common central part.
//!
//! It publishes the signed [`FederationConfig`] — members and their node endpoints, certificate
//! fingerprints and revocations, and the shared rulebook with its pre-assessments. It never sees
//! the information authorities exchange and never calls their data APIs.

pub mod catalog_api;
pub mod config;
pub mod jws;
pub mod publisher;
pub mod server;
pub mod trust;

pub use config::{ConfigError, FederationConfig, Member, RulebookBundle, RulebookFile};
pub use jws::{Jws, JwsError};
pub use publisher::Publisher;
pub use trust::TrustedConfig;
