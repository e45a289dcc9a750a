//! Who is at the other end: the authority a node certificate names.
//!
//! Owns the mapping between an authority and the fields of its node certificate, in both
//! directions: [`issue`](crate::issue) writes them, [`NodeIdentity::from_der`] reads them back
//! from a peer's certificate. Keeping both sides of the mapping in this one module is what keeps
//! them in agreement. A node certificate names its authority three ways:
//!
//! - subject `organizationName` (and `commonName`, for people reading it with other tools): the
//!   authority's name;
//! - subject `serialNumber` (OID 2.5.4.5): its organisationsnummer, the legal person;
//! - one SAN URI `urn:utbyte:authority:<id>`: its id in the federation configuration and the
//!   rulebook, which is what access decisions use.
//!
//! Reading is strict: a certificate with a field missing, repeated or malformed has no identity,
//! and every such case has its own error.

pub use crate::authority::{
    AuthorityId, AuthorityIdError, AUTHORITY_URN_PREFIX, MAX_AUTHORITY_ID_LEN,
};
use crate::fingerprint::Fingerprint;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use thiserror::Error;
use time::OffsetDateTime;
use utbyte_domain::{IdentifierError, Organisationsnummer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{Oid, OID_X509_ORGANIZATION_NAME, OID_X509_SERIALNUMBER};
use x509_parser::prelude::FromDer;

/// The authority a verified node certificate speaks for, and which certificate it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// The authority's federation id, from the SAN URI `urn:utbyte:authority:<id>`.
    pub authority: AuthorityId,
    /// The authority's organisationsnummer, from the subject `serialNumber`.
    pub orgnr: Organisationsnummer,
    /// The authority's name, from the subject `organizationName`.
    pub name: String,
    /// SHA-256 of the certificate's DER.
    pub fingerprint: Fingerprint,
}

/// Why a certificate does not name a node's authority.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The peer presented no certificate (only possible without client authentication).
    #[error("the peer presented no certificate")]
    NoPeerCertificate,
    /// The bytes are not one DER-encoded X.509 certificate.
    #[error("not a DER-encoded X.509 certificate: {reason}")]
    NotX509 {
        /// What the parser found wrong.
        reason: String,
    },
    /// A required subject attribute is absent.
    #[error("the certificate subject has no {attribute}")]
    MissingAttribute {
        /// The attribute's name (`organizationName`, `serialNumber`).
        attribute: &'static str,
    },
    /// A subject attribute that must be unique appears more than once.
    #[error("the certificate subject has {count} {attribute} attributes, exactly one is allowed")]
    RepeatedAttribute {
        /// The attribute's name.
        attribute: &'static str,
        /// How many there are.
        count: usize,
    },
    /// A subject attribute is not a string, or is an empty one.
    #[error("the certificate subject's {attribute} is not a non-empty string")]
    AttributeNotText {
        /// The attribute's name.
        attribute: &'static str,
    },
    /// The subject `serialNumber` is not an organisationsnummer.
    #[error("the certificate subject's serialNumber is not a valid organisationsnummer: {0}")]
    Organisationsnummer(IdentifierError),
    /// The subjectAltName extension cannot be read.
    #[error("the certificate's subjectAltName extension is malformed: {reason}")]
    MalformedSubjectAltName {
        /// What the parser found wrong.
        reason: String,
    },
    /// No SAN URI names an authority.
    #[error("the certificate has no subjectAltName URI {AUTHORITY_URN_PREFIX}<id>")]
    MissingAuthority,
    /// More than one SAN URI names an authority.
    #[error(
        "the certificate names {count} authorities in subjectAltName URIs, exactly one is allowed"
    )]
    RepeatedAuthority {
        /// How many there are.
        count: usize,
    },
    /// The authority URI's id is not a valid authority id.
    #[error("the certificate's authority URI does not hold a valid authority id: {0}")]
    AuthorityId(AuthorityIdError),
}

impl NodeIdentity {
    /// Reads the identity from a DER-encoded node certificate.
    ///
    /// This reads; it does not verify. Call it on certificates that a verifier built by
    /// [`server_config`](crate::server_config) or [`client_config`](crate::client_config) has
    /// accepted, which is what [`peer_identity`] is for.
    pub fn from_der(der: &[u8]) -> Result<Self, IdentityError> {
        identity_of(&parse(der)?, der)
    }
}

/// The identity of the peer of an established connection, from rustls'
/// `peer_certificates()`; the first certificate is the peer's own.
pub fn peer_identity(
    certificates: Option<&[rustls::pki_types::CertificateDer<'_>]>,
) -> Result<NodeIdentity, IdentityError> {
    match certificates.and_then(<[_]>::first) {
        Some(first) => NodeIdentity::from_der(first),
        None => Err(IdentityError::NoPeerCertificate),
    }
}

/// What `utbyte pki show` prints: a certificate's identity (for node certificates), its
/// fingerprint, validity, issuer and addresses.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// The subject, in RFC 4514 form.
    pub subject: String,
    /// The issuer, in RFC 4514 form.
    pub issuer: String,
    /// The serial number, as colon-separated hex.
    pub serial: String,
    /// SHA-256 of the DER.
    pub fingerprint: Fingerprint,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Whether this is a CA certificate (basicConstraints cA).
    pub is_ca: bool,
    /// The identity; `None` for a CA certificate, which names no authority.
    pub identity: Option<NodeIdentity>,
    /// SAN DNS names.
    pub dns_names: Vec<String>,
    /// SAN IP addresses.
    pub ip_addresses: Vec<IpAddr>,
}

impl CertificateInfo {
    /// Describes a DER-encoded certificate. A certificate that is not a CA must carry a full
    /// node identity.
    pub fn from_der(der: &[u8]) -> Result<Self, IdentityError> {
        let cert = parse(der)?;
        let is_ca = cert.is_ca();
        let identity = if is_ca {
            None
        } else {
            Some(identity_of(&cert, der)?)
        };
        let mut dns_names = Vec::new();
        let mut ip_addresses = Vec::new();
        for name in general_names(&cert)? {
            match name {
                GeneralName::DNSName(dns) => dns_names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => ip_addresses.extend(ip_from_bytes(bytes)),
                _ => {}
            }
        }
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            fingerprint: Fingerprint::of_der(der),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            is_ca,
            identity,
            dns_names,
            ip_addresses,
        })
    }
}

/// Parses exactly one certificate: trailing bytes are an error, not ignored.
pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, IdentityError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(IdentityError::NotX509 {
            reason: format!("{} bytes after the certificate", rest.len()),
        }),
        Err(err) => Err(IdentityError::NotX509 {
            reason: err.to_string(),
        }),
    }
}

fn identity_of(cert: &X509Certificate<'_>, der: &[u8]) -> Result<NodeIdentity, IdentityError> {
    let name = single_attribute(cert, &OID_X509_ORGANIZATION_NAME, "organizationName")?;
    let orgnr = single_attribute(cert, &OID_X509_SERIALNUMBER, "serialNumber")?
        .parse::<Organisationsnummer>()
        .map_err(IdentityError::Organisationsnummer)?;
    let authorities: Vec<&str> = general_names(cert)?
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix(AUTHORITY_URN_PREFIX),
            _ => None,
        })
        .collect();
    let authority = match authorities.as_slice() {
        [] => return Err(IdentityError::MissingAuthority),
        [id] => id.parse().map_err(IdentityError::AuthorityId)?,
        many => return Err(IdentityError::RepeatedAuthority { count: many.len() }),
    };
    Ok(NodeIdentity {
        authority,
        orgnr,
        name,
        fingerprint: Fingerprint::of_der(der),
    })
}

fn single_attribute(
    cert: &X509Certificate<'_>,
    oid: &Oid<'_>,
    attribute: &'static str,
) -> Result<String, IdentityError> {
    let values: Vec<_> = cert.subject().iter_by_oid(oid).collect();
    match values.as_slice() {
        [] => Err(IdentityError::MissingAttribute { attribute }),
        [value] => match value.as_str() {
            Ok(text) if !text.trim().is_empty() => Ok(text.to_owned()),
            _ => Err(IdentityError::AttributeNotText { attribute }),
        },
        many => Err(IdentityError::RepeatedAttribute {
            attribute,
            count: many.len(),
        }),
    }
}

fn general_names<'a>(
    cert: &'a X509Certificate<'_>,
) -> Result<&'a [GeneralName<'a>], IdentityError> {
    match cert.subject_alternative_name() {
        Ok(Some(san)) => Ok(&san.value.general_names),
        Ok(None) => Ok(&[]),
        Err(err) => Err(IdentityError::MalformedSubjectAltName {
            reason: err.to_string(),
        }),
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            NodeIdentity::from_der(b"not a certificate"),
            Err(IdentityError::NotX509 { .. })
        ));
        assert_eq!(peer_identity(None), Err(IdentityError::NoPeerCertificate));
    }
}
