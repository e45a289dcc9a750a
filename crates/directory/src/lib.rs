//! The directory: the federation's common central part, as a server.
//!
//! It publishes the signed federation configuration (the model is `utbyte-federation`) —
//! members and their node endpoints, certificate fingerprints and revocations, and the shared
//! rulebook with its pre-assessments — and serves the catalog. It never sees the information
//! authorities exchange and never calls their data APIs.

pub mod catalog_api;
pub mod publisher;
pub mod server;

pub use publisher::Publisher;
