//! The directory: the federation's common central part, as a server.
//!
//! It publishes the signed federation configuration (the model is `utbyte-federation`) —
//! members and their node endpoints, certificate fingerprints and revocations, and the shared
//! rulebook with its pre-assessments — and serves the catalog. It never sees the information
//! authorities exchange and never calls their data APIs.
//!
//! Deployed (`utbyte directory serve`), its state is a directory of every version it ever
//! published ([`state`]); the operator changes it with commands ([`operator`]) and the server
//! ([`serve`]) picks each new version up while it runs. In-process (the test-bed), a
//! [`Publisher`] holds the configuration in memory.

pub mod catalog_api;
pub mod config;
pub mod operator;
pub mod publisher;
pub mod serve;
pub mod server;
pub mod state;

pub use config::DirectoryConfig;
pub use publisher::Publisher;
pub use state::{FederationState, Published, StateError};
