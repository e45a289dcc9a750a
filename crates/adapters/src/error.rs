//! [`AdapterError`]: why an adapter or the agency client could not be set up, worded for an
//! operator.
//!
//! Errors of the calls themselves are `utbyte_store::StoreError`s, because they come out of
//! the `Register` trait.

/// An adapter could not be constructed from its configuration.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The backend's base URL cannot be used.
    #[error("the register backend URL `{url}` cannot be used: {reason}")]
    InvalidBaseUrl {
        /// The URL as configured (a base URL names a service, never a person).
        url: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The timeout is zero, which would fail every call.
    #[error("the register backend timeout must be longer than zero")]
    ZeroTimeout,

    /// The agency CA bundle cannot be used.
    #[error("the agency CA bundle cannot be used: {reason}")]
    InvalidCaBundle {
        /// Why (the file's path, never a certificate's content).
        reason: String,
    },

    /// The HTTP client cannot be set up.
    #[error("the HTTP client cannot be set up: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
}
