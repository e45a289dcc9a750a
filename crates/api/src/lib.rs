//! The node's local API as types: what the authority's own systems — case systems, the portal —
//! send to their node and get back. The node serves these, the portal and Rust case systems
//! read them; neither side needs the other's code, only this contract.
//!
//! Everything here is data: serde for the wire, utoipa for the OpenAPI document. Closed sets
//! are enums (an outcome, a request's state), times are typed, and every route's path is
//! written once in [`paths`], for the router, the OpenAPI document and clients alike.

pub mod access;
pub mod audit;
pub mod bulk;
pub mod health;
pub mod messages;
pub mod offerings;
pub mod paths;
pub mod requests;
pub mod reviews;
pub mod search;
pub mod subscriptions;
pub mod verdict;

pub use verdict::{FieldVerdict, Ground, Outcome, Receipt, SignedAnswer};
