//! The HTTP edge every utbyte role shares: serving and dialling over mutual TLS, RFC 9457
//! problem details, and the limits every endpoint is held to.
//!
//! Nodes and the directory differ in what they serve, not in how: both accept only mutual-TLS
//! connections from holders of a federation certificate ([`serve_mtls`]), know who is at the
//! other end from that certificate ([`Peer`]), answer every error as `application/problem+json`
//! ([`Problem`]) and refuse bodies, waits and paths they do not expect ([`Limits`]). Dialling
//! ([`FederationClient`]) checks not only that the other side holds a federation certificate but
//! that it is the member that was meant.

mod client;
mod extract;
mod json;
mod limits;
pub mod openapi;
pub mod problem;
mod serve;
mod tls_error;
mod trace;
mod trace_context;

pub use client::{ClientError, ExpectedPeer, FederationClient, FederationResponse};
pub use extract::{Path, Query, INVALID_PATH, INVALID_QUERY};
pub use json::Json;
pub use limits::{with_limits, Limits};
pub use problem::{Problem, ProblemType, PROBLEM_BASE, PROBLEM_CONTENT_TYPE};
pub use serve::{
    serve_mtls, serve_mtls_observed, serve_plain, serve_tls, ClientChain, HandshakeObserver, Peer,
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_CONNECTIONS_PER_PEER,
};
pub use tls_error::TlsFailure;
pub use trace::{ProblemAnswered, REQUEST_ID};
