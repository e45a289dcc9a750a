//! The one error type of the crate's operations, except reading an identity
//! ([`IdentityError`](crate::IdentityError)), which peers' certificates reach.
//!
//! Every variant says what is wrong and, where a file is involved, which file, so the message an
//! operator sees from `utbyte pki …` or from a node refusing to start is enough to fix the problem.
//! Each message includes the underlying error's, so none is also exposed as `source()`: a
//! report that walks the chain would otherwise print it twice.

use crate::identity::{AuthorityIdError, IdentityError};
use std::path::PathBuf;
use thiserror::Error;
use time::OffsetDateTime;
use utbyte_domain::IdentifierError;

/// Why a PKI operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A file system operation failed.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done (`read`, `create`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// A file that would be written exists already.
    #[error("{} already exists; refusing to overwrite it", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A PEM file is larger than any certificate or key this crate writes.
    #[error("{} is larger than {limit} bytes, too large for a certificate or key", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A private key file can be read or written by others than its owner.
    #[error(
        "{} has mode {mode:04o}: a private key must not be accessible to group or others \
         (chmod 600)", path.display()
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Something is wrong with the contents of a file.
    #[error("{}: {error}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: Box<PkiError>,
    },
    /// The PEM text does not hold exactly one block of the expected kind.
    #[error("expected exactly one PEM block `{label}`, found {found}")]
    PemCount {
        /// The expected label (`CERTIFICATE`, `PRIVATE KEY`).
        label: &'static str,
        /// How many were found.
        found: usize,
    },
    /// The PEM text is malformed.
    #[error("malformed PEM: {reason}")]
    Pem {
        /// What the parser found wrong.
        reason: String,
    },
    /// A certificate that must be the federation CA is not a CA certificate.
    #[error("not a CA certificate (basicConstraints does not say cA)")]
    NotACa,
    /// A node certificate is a CA certificate.
    #[error("a CA certificate cannot be a node certificate")]
    CaAsNode,
    /// A key file does not hold a 32-byte seed.
    #[error("{} is not a 32-byte key seed", path.display())]
    SigningKey {
        /// The key file.
        path: PathBuf,
    },
    /// A private key does not belong to the certificate it is paired with.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    /// A private key cannot be read or used.
    #[error("unusable private key: {reason}")]
    Key {
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate lacks the node identity it must carry.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The organisationsnummer given for a node is invalid.
    #[error("invalid organisationsnummer: {0}")]
    Organisationsnummer(IdentifierError),
    /// The authority id given for a node is invalid.
    #[error("invalid authority id: {0}")]
    AuthorityId(AuthorityIdError),
    /// A name given for the CA or an authority cannot go into a certificate subject.
    #[error("invalid name {name:?}: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A DNS name given for a node is not a valid DNS name.
    #[error("invalid DNS name {name:?}: use letters, digits, `-` and `.` (no wildcards, no IP addresses)")]
    DnsName {
        /// The name as given.
        name: String,
    },
    /// A node certificate would have no DNS name or IP address, so no peer could reach it.
    #[error("a node certificate needs at least one DNS name or IP address for other nodes to connect to")]
    NoAddress,
    /// A validity in days is out of range.
    #[error("validity of {days} days is out of range: use 1 to {max} days")]
    ValidityDays {
        /// The days given.
        days: u32,
        /// The largest accepted.
        max: u32,
    },
    /// An explicit validity ends before it starts.
    #[error(
        "validity ends ({}) before it starts ({})",
        rfc3339(not_after),
        rfc3339(not_before)
    )]
    ValidityOrder {
        /// Start.
        not_before: OffsetDateTime,
        /// End.
        not_after: OffsetDateTime,
    },
    /// A node certificate would stay valid after the CA certificate that vouches for it expires.
    #[error(
        "the node certificate would be valid until {}, after the federation CA expires ({}); \
         ask for fewer days or renew the CA",
        rfc3339(not_after),
        rfc3339(ca_not_after)
    )]
    OutlivesCa {
        /// The requested end of validity.
        not_after: OffsetDateTime,
        /// The CA's end of validity.
        ca_not_after: OffsetDateTime,
    },
    /// Certificate generation or signing failed.
    #[error("cannot generate the certificate: {0}")]
    Generate(rcgen::Error),
    /// The operating system's random number generator failed.
    #[error("no randomness from the operating system: {0}")]
    Random(getrandom::Error),
    /// rustls refused the configuration.
    #[error("cannot build the TLS configuration: {0}")]
    Tls(rustls::Error),
    /// rustls refused the certificate verifier (for example, an unusable CA certificate).
    #[error("cannot build the certificate verifier: {0}")]
    Verifier(String),
}

impl PkiError {
    /// Attaches the file this error is about.
    pub(crate) fn in_file(self, path: impl Into<PathBuf>) -> Self {
        Self::InFile {
            path: path.into(),
            error: Box::new(self),
        }
    }
}

fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

macro_rules! from_without_source {
    ($($error:ty => $variant:ident),* $(,)?) => {$(
        impl From<$error> for PkiError {
            fn from(error: $error) -> Self {
                Self::$variant(error)
            }
        }
    )*};
}

from_without_source! {
    AuthorityIdError => AuthorityId,
    rcgen::Error => Generate,
    getrandom::Error => Random,
    rustls::Error => Tls,
}
