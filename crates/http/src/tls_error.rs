//! What a failed mutual-TLS handshake means, read off the error chain rustls leaves.
//!
//! A handshake can fail on either side. When *this* side refuses the peer's certificate,
//! rustls reports the certificate error; when the *peer* refuses ours, we only learn the TLS
//! alert it sent. Both are mapped onto the same few cases, so an operator is told "the peer's
//! certificate is revoked" or "the peer refused our certificate as expired", not "connection
//! reset".

use rustls::{AlertDescription, CertificateError};
use std::error::Error;

/// How rustls words a received alert: `received fatal alert: UnknownCA`.
const ALERT_TEXT: &str = "received fatal alert: ";

/// Why a mutual-TLS handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The peer's certificate is not issued by the federation CA.
    PeerUnknownCa,
    /// The peer's certificate has expired (or is not yet valid).
    PeerExpired,
    /// The peer's certificate is revoked.
    PeerRevoked,
    /// The peer's certificate is otherwise unacceptable (wrong name, no authority in it...).
    PeerBadCertificate,
    /// The peer refused our certificate: it does not know our CA.
    RefusedUnknownCa,
    /// The peer refused our certificate as expired.
    RefusedExpired,
    /// The peer refused our certificate as revoked.
    RefusedRevoked,
    /// The peer refused our certificate for another reason.
    RefusedBadCertificate,
    /// Some other TLS failure (protocol version, cipher suites, ...).
    Other,
}

impl TlsFailure {
    /// The failure behind `err`, if any error in its source chain is a rustls error.
    pub fn of(err: &(dyn Error + 'static)) -> Option<Self> {
        let mut current: Option<&(dyn Error + 'static)> = Some(err);
        while let Some(err) = current {
            if let Some(tls) = err.downcast_ref::<rustls::Error>() {
                return Some(Self::classify(tls));
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if let Some(inner) = io.get_ref() {
                    if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                        return Some(Self::classify(tls));
                    }
                    // The h2 crate keeps an I/O error only as its kind and text, so an alert
                    // received on an HTTP/2 connection arrives as rustls' wording of it.
                    if let Some(alert) = inner.to_string().strip_prefix(ALERT_TEXT) {
                        return Some(Self::of_alert_name(alert));
                    }
                }
            }
            current = err.source();
        }
        None
    }

    fn of_alert_name(name: &str) -> Self {
        [
            AlertDescription::UnknownCA,
            AlertDescription::CertificateExpired,
            AlertDescription::CertificateRevoked,
            AlertDescription::BadCertificate,
            AlertDescription::UnsupportedCertificate,
            AlertDescription::CertificateUnknown,
            AlertDescription::CertificateRequired,
        ]
        .into_iter()
        .find(|alert| format!("{alert:?}") == name.trim())
        .map_or(Self::Other, |alert| {
            Self::classify(&rustls::Error::AlertReceived(alert))
        })
    }

    fn classify(err: &rustls::Error) -> Self {
        match err {
            rustls::Error::InvalidCertificate(cert) => match cert {
                CertificateError::UnknownIssuer => Self::PeerUnknownCa,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Self::PeerExpired,
                CertificateError::Revoked => Self::PeerRevoked,
                _ => Self::PeerBadCertificate,
            },
            rustls::Error::AlertReceived(alert) => match alert {
                AlertDescription::UnknownCA => Self::RefusedUnknownCa,
                AlertDescription::CertificateExpired => Self::RefusedExpired,
                AlertDescription::CertificateRevoked => Self::RefusedRevoked,
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateUnknown
                | AlertDescription::CertificateRequired => Self::RefusedBadCertificate,
                _ => Self::Other,
            },
            _ => Self::Other,
        }
    }

    /// A stable name for logs, metric labels and problem extensions.
    pub fn slug(self) -> &'static str {
        match self {
            Self::PeerUnknownCa => "peer-unknown-ca",
            Self::PeerExpired => "peer-certificate-expired",
            Self::PeerRevoked => "peer-certificate-revoked",
            Self::PeerBadCertificate => "peer-bad-certificate",
            Self::RefusedUnknownCa => "refused-unknown-ca",
            Self::RefusedExpired => "refused-certificate-expired",
            Self::RefusedRevoked => "refused-certificate-revoked",
            Self::RefusedBadCertificate => "refused-bad-certificate",
            Self::Other => "handshake-failed",
        }
    }

    /// One line for an operator.
    pub fn describe(self) -> &'static str {
        match self {
            Self::PeerUnknownCa => "the peer's certificate is not issued by the federation CA",
            Self::PeerExpired => "the peer's certificate has expired or is not yet valid",
            Self::PeerRevoked => "the peer's certificate is revoked",
            Self::PeerBadCertificate => "the peer's certificate is not a valid node certificate",
            Self::RefusedUnknownCa => {
                "the peer refused this node's certificate: it is not issued by the federation CA"
            }
            Self::RefusedExpired => "the peer refused this node's certificate as expired",
            Self::RefusedRevoked => "the peer refused this node's certificate as revoked",
            Self::RefusedBadCertificate => "the peer refused this node's certificate",
            Self::Other => "the TLS handshake failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_recognised_as_errors_and_as_their_wording() {
        for (alert, failure) in [
            (AlertDescription::UnknownCA, TlsFailure::RefusedUnknownCa),
            (
                AlertDescription::CertificateExpired,
                TlsFailure::RefusedExpired,
            ),
            (
                AlertDescription::CertificateRevoked,
                TlsFailure::RefusedRevoked,
            ),
            (
                AlertDescription::BadCertificate,
                TlsFailure::RefusedBadCertificate,
            ),
            (AlertDescription::HandshakeFailure, TlsFailure::Other),
        ] {
            let tls = rustls::Error::AlertReceived(alert);
            let typed = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
            assert_eq!(TlsFailure::of(&typed), Some(failure));
            let worded = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.to_string());
            assert_eq!(TlsFailure::of(&worded), Some(failure), "{tls}");
        }
        let unrelated = std::io::Error::other("connection reset");
        assert_eq!(TlsFailure::of(&unrelated), None);
    }
}
