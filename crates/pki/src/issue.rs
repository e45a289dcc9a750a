//! What a node certificate says, checked before anything is signed: the request for one
//! ([`NodeRequest`]), its validity ([`Validity`]), and the X.509 profile both federation
//! certificates follow.
//!
//! The node profile: subject `C=SE, O=<name>, serialNumber=<organisationsnummer>, CN=<name>`;
//! SAN URI `urn:utbyte:authority:<id>` plus the DNS names and IP addresses other nodes connect
//! to; not a CA; key usage digitalSignature; extended key usage serverAuth and clientAuth,
//! because every node presents the same certificate as server and as client. The CA profile:
//! `CN=<name>`, CA with path length 0 (it signs node certificates and nothing that could sign
//! further), key usage keyCertSign and cRLSign. Both keys are ECDSA P-256 (see the crate docs).

use crate::error::PkiError;
use crate::identity::AuthorityId;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use utbyte_domain::Organisationsnummer;

/// Longest validity accepted, in days; beyond it dates stop being meaningful.
pub const MAX_VALIDITY_DAYS: u32 = 36_500;

/// Longest name accepted, in characters: the X.520 upper bound of commonName and
/// organizationName.
pub const MAX_NAME_CHARS: usize = 64;

/// How long a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From now (backdated by an hour, so that peers whose clocks lag accept it at once) for
    /// this many days.
    Days(u32),
    /// Exactly this interval; for tests (an expired certificate) and planned rollovers.
    Between {
        /// Start of validity.
        not_before: OffsetDateTime,
        /// End of validity.
        not_after: OffsetDateTime,
    },
}

impl Validity {
    /// The interval, in whole seconds as X.509 records it.
    pub(crate) fn resolve(
        &self,
        now: OffsetDateTime,
    ) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
        let (not_before, not_after) = match *self {
            Self::Days(days) if days == 0 || days > MAX_VALIDITY_DAYS => {
                return Err(PkiError::ValidityDays {
                    days,
                    max: MAX_VALIDITY_DAYS,
                })
            }
            Self::Days(days) => {
                let start = now - Duration::hours(1);
                (start, now + Duration::days(i64::from(days)))
            }
            Self::Between {
                not_before,
                not_after,
            } => (not_before, not_after),
        };
        let not_before = not_before.replace_nanosecond(0).unwrap_or(not_before);
        let not_after = not_after.replace_nanosecond(0).unwrap_or(not_after);
        if not_after <= not_before {
            return Err(PkiError::ValidityOrder {
                not_before,
                not_after,
            });
        }
        Ok((not_before, not_after))
    }
}

/// A request for a node certificate, every field checked on the way in.
#[derive(Debug, Clone)]
pub struct NodeRequest {
    authority: AuthorityId,
    orgnr: Organisationsnummer,
    name: String,
    dns_names: Vec<String>,
    ip_addresses: Vec<IpAddr>,
    validity: Validity,
}

impl NodeRequest {
    /// A request for the node of authority `authority` (its federation id), with
    /// organisationsnummer `orgnr` and name `name`, valid for 365 days and with no addresses
    /// yet: add at least one DNS name or IP address.
    pub fn new(authority: &str, orgnr: &str, name: &str) -> Result<Self, PkiError> {
        Ok(Self {
            authority: authority.parse()?,
            orgnr: orgnr.parse().map_err(PkiError::Organisationsnummer)?,
            name: check_name(name)?,
            dns_names: Vec::new(),
            ip_addresses: Vec::new(),
            validity: Validity::Days(365),
        })
    }

    /// Adds a DNS name other nodes use to reach this node.
    pub fn dns_name(mut self, name: &str) -> Result<Self, PkiError> {
        let refused = || PkiError::DnsName {
            name: name.to_owned(),
        };
        if name.contains('*') || name.parse::<IpAddr>().is_ok() {
            return Err(refused());
        }
        rustls::pki_types::DnsName::try_from(name).map_err(|_| refused())?;
        self.dns_names.push(name.to_owned());
        Ok(self)
    }

    /// Adds an IP address other nodes use to reach this node.
    pub fn ip_address(mut self, address: IpAddr) -> Self {
        self.ip_addresses.push(address);
        self
    }

    /// Sets the validity (default: 365 days from now).
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = validity;
        self
    }

    /// The authority's federation id.
    pub fn authority(&self) -> &AuthorityId {
        &self.authority
    }

    /// The requested validity.
    pub fn requested_validity(&self) -> &Validity {
        &self.validity
    }

    /// Certificate parameters for the node profile, valid over the resolved interval.
    pub(crate) fn params(
        &self,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<CertificateParams, PkiError> {
        if self.dns_names.is_empty() && self.ip_addresses.is_empty() {
            return Err(PkiError::NoAddress);
        }
        let mut params = base_params(not_before, not_after)?;
        let mut subject = DistinguishedName::new();
        subject.push(
            DnType::CountryName,
            DnValue::PrintableString("SE".try_into()?),
        );
        subject.push(DnType::OrganizationName, self.name.as_str());
        subject.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(self.orgnr.as_str().try_into()?),
        );
        subject.push(DnType::CommonName, self.name.as_str());
        params.distinguished_name = subject;
        let mut names = vec![SanType::URI(self.authority.urn().try_into()?)];
        for dns in &self.dns_names {
            names.push(SanType::DnsName(dns.as_str().try_into()?));
        }
        names.extend(self.ip_addresses.iter().copied().map(SanType::IpAddress));
        params.subject_alt_names = names;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        Ok(params)
    }
}

/// Certificate parameters for the CA profile.
pub(crate) fn ca_params(
    name: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = base_params(not_before, not_after)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CommonName, check_name(name)?);
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn base_params(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    params.not_before = not_before;
    params.not_after = not_after;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

/// 128 random bits, positive: RFC 5280 allows up to 20 octets, and randomness makes serials
/// unpredictable to anyone who would like to collide with one.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A name as a certificate subject may hold it.
pub(crate) fn check_name(name: &str) -> Result<String, PkiError> {
    let refuse = |reason| PkiError::Name {
        name: name.to_owned(),
        reason,
    };
    if name.trim().is_empty() {
        return Err(refuse("a name must not be empty"));
    }
    if name.trim() != name {
        return Err(refuse("a name must not begin or end with whitespace"));
    }
    if name.chars().any(char::is_control) {
        return Err(refuse("a name must not contain control characters"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(refuse("a name may have at most 64 characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn days_start_an_hour_ago_and_are_bounded() -> Result<(), PkiError> {
        let now = datetime!(2026-03-01 12:00:00.5 UTC);
        let (from, to) = Validity::Days(10).resolve(now)?;
        assert_eq!(from, datetime!(2026-03-01 11:00:00 UTC));
        assert_eq!(to, datetime!(2026-03-11 12:00:00 UTC));
        for days in [0, MAX_VALIDITY_DAYS + 1] {
            assert!(matches!(
                Validity::Days(days).resolve(now),
                Err(PkiError::ValidityDays { .. })
            ));
        }
        let backwards = Validity::Between {
            not_before: now,
            not_after: now - Duration::days(1),
        };
        assert!(matches!(
            backwards.resolve(now),
            Err(PkiError::ValidityOrder { .. })
        ));
        Ok(())
    }

    #[test]
    fn requests_check_every_field() {
        let orgnr = |input| NodeRequest::new("skatteverket", input, "Skatteverket");
        assert!(orgnr("202100-5448").is_ok());
        let err = orgnr("202100-5449").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref()
                .map(|m| m.starts_with("invalid organisationsnummer: ")),
            Some(true),
            "{err:?}"
        );
        assert!(matches!(
            NodeRequest::new("skatte verket", "202100-5448", "Skatteverket"),
            Err(PkiError::AuthorityId(_))
        ));
        for name in ["", " Skatteverket", "Skatte\nverket", &"x".repeat(65)] {
            assert!(
                matches!(
                    NodeRequest::new("skatteverket", "202100-5448", name),
                    Err(PkiError::Name { .. })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn dns_names_are_checked() -> Result<(), PkiError> {
        let request = NodeRequest::new("skatteverket", "202100-5448", "Skatteverket")?;
        let request = request.dns_name("node.skatteverket.example")?;
        for bad in ["*.example", "127.0.0.1", "a b", "", "under_score..example"] {
            assert!(
                matches!(request.clone().dns_name(bad), Err(PkiError::DnsName { .. })),
                "{bad}"
            );
        }
        Ok(())
    }

    #[test]
    fn a_node_needs_an_address() -> Result<(), PkiError> {
        let request = NodeRequest::new("skatteverket", "202100-5448", "Skatteverket")?;
        let now = OffsetDateTime::now_utc();
        assert!(matches!(
            request.params(now, now + Duration::days(1)),
            Err(PkiError::NoAddress)
        ));
        Ok(())
    }
}
