//! [`CheckedRequest`]: a disclosure request validated once, at the edge, holding its parsed
//! subject. Everything after the edge takes this type, so nothing further down parses or
//! validates the identifier again, and nothing can skip the check.

use time::OffsetDateTime;
use utbyte_api::requests::CaseRequest;
use utbyte_domain::{legal_time, CalendarDate, SubjectId};
use utbyte_rules::{DisclosureRequest, RequestError, Subject};

use crate::protocol::ExchangeRequest;

/// A request whose sizes, texts and subject identifier have been checked; its subject id is
/// in canonical form, whichever form the requester wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRequest {
    request: DisclosureRequest,
    subject: SubjectId,
}

impl CheckedRequest {
    /// Checks `request` (see [`DisclosureRequest::validate`]). Whether the subject's identity
    /// is protected is not the requester's to say: it starts unset, and only the provider sets
    /// it, from its register.
    pub fn check(mut request: DisclosureRequest) -> Result<Self, RequestError> {
        let subject = request.validate()?;
        request.subject.id = subject.as_str().to_owned();
        request.subject.protected_identity = false;
        Ok(Self { request, subject })
    }

    /// Checks what a case system of `recipient` asked for at `now`.
    pub fn from_case(
        recipient: &str,
        case: &CaseRequest,
        now: OffsetDateTime,
    ) -> Result<Self, RequestError> {
        Self::check(case_request(recipient, case, now))
    }

    /// Checks what the node of `recipient` asked this provider for, judged at `now`.
    pub fn from_peer(
        recipient: &str,
        incoming: &ExchangeRequest,
        now: OffsetDateTime,
    ) -> Result<Self, RequestError> {
        Self::check(peer_request(recipient, incoming, now))
    }

    /// The request, as the rulebook decides it.
    pub fn request(&self) -> &DisclosureRequest {
        &self.request
    }

    /// The subject, parsed.
    pub fn subject(&self) -> &SubjectId {
        &self.subject
    }

    /// Sets what the provider's register says about the subject's identity — the one fact
    /// about the subject the requester cannot state.
    pub fn with_protected_identity(mut self, protected: bool) -> Self {
        self.request.subject.protected_identity = protected;
        self
    }
}

/// What a case system of `recipient` asked for at `now`, unchecked.
pub(crate) fn case_request(
    recipient: &str,
    case: &CaseRequest,
    now: OffsetDateTime,
) -> DisclosureRequest {
    DisclosureRequest {
        recipient: recipient.to_owned(),
        unit: case.unit.clone(),
        role: case.role.clone(),
        officer: Some(case.officer.clone()),
        vouched_by: case.vouched_by.as_ref().map(super::rules_vouching),
        offering: case.offering.clone(),
        fields: case.fields.clone(),
        purpose: case.purpose.clone(),
        legal_basis: case.legal_basis.clone(),
        case_ref: case.case_ref.clone(),
        operation: case.operation.clone(),
        subject: Subject {
            id: case.subject.clone(),
            protected_identity: false,
        },
        time: now,
    }
}

/// What the node of `recipient` asked this provider for at `now`, unchecked.
pub(crate) fn peer_request(
    recipient: &str,
    incoming: &ExchangeRequest,
    now: OffsetDateTime,
) -> DisclosureRequest {
    DisclosureRequest {
        recipient: recipient.to_owned(),
        unit: incoming.unit.clone(),
        role: incoming.role.clone(),
        officer: incoming.officer.clone(),
        vouched_by: incoming.vouched_by.as_ref().map(super::rules_vouching),
        offering: incoming.offering.clone(),
        fields: incoming.fields.clone(),
        purpose: incoming.purpose.clone(),
        legal_basis: incoming.legal_basis.clone(),
        case_ref: incoming.case_ref.clone(),
        operation: incoming.operation.clone(),
        subject: Subject {
            id: incoming.subject.clone(),
            protected_identity: false,
        },
        time: now,
    }
}

/// A request checked in everything but its subject: a bulk's, asked once for many subjects,
/// each checked as it comes ([`subject`](Self::subject)) and decided as its own request
/// ([`with_subject`](Self::with_subject)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedAsk {
    request: DisclosureRequest,
    /// The Swedish day the request is made on, which a 10-digit personnummer's century turns on.
    reference: CalendarDate,
}

impl CheckedAsk {
    /// Checks `request`'s texts and fields; its subject is not read.
    pub fn check(mut request: DisclosureRequest) -> Result<Self, RequestError> {
        request.validate_asked()?;
        let reference = legal_time::swedish_reference_date(request.time)?;
        request.subject.id.clear();
        request.subject.protected_identity = false;
        Ok(Self { request, reference })
    }

    /// The request, without a subject.
    pub fn request(&self) -> &DisclosureRequest {
        &self.request
    }

    /// The subject `id` names, checked as a single request's subject is.
    pub fn subject(&self, id: &str) -> Result<SubjectId, RequestError> {
        utbyte_rules::subject_on(id, self.reference)
    }

    /// The request for one checked subject.
    pub fn with_subject(&self, subject: SubjectId) -> CheckedRequest {
        let mut request = self.request.clone();
        request.subject.id = subject.as_str().to_owned();
        CheckedRequest { request, subject }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utbyte_rules::Subject;

    fn request(subject: &str) -> DisclosureRequest {
        DisclosureRequest {
            recipient: "malmo".into(),
            unit: "malmo-ekonomiskt-bistand".into(),
            role: "handlaggare".into(),
            officer: None,
            vouched_by: None,
            offering: "fk-formaner".into(),
            fields: vec!["bostadsbidrag".into()],
            purpose: "kontroll".into(),
            legal_basis: "luffa".into(),
            case_ref: "M-1".into(),
            operation: None,
            subject: Subject {
                id: subject.into(),
                protected_identity: true,
            },
            time: time::macros::datetime!(2026-06-01 12:00 UTC),
        }
    }

    #[test]
    fn the_subject_is_canonical_and_parsed_once() {
        let checked =
            CheckedRequest::check(request("191212121212")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.request().subject.id, checked.subject().as_str());
        assert_eq!(checked.subject().as_str(), "19121212-1212");
    }

    #[test]
    fn an_invalid_subject_never_becomes_a_checked_request() {
        assert!(matches!(
            CheckedRequest::check(request("19121212-1213")),
            Err(RequestError::InvalidSubject(_))
        ));
    }

    #[test]
    fn protected_identity_is_the_registers_word() {
        let checked =
            CheckedRequest::check(request("19121212-1212")).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !checked.request().subject.protected_identity,
            "a requester cannot set it"
        );
        assert!(
            !checked
                .clone()
                .with_protected_identity(false)
                .request()
                .subject
                .protected_identity
        );
        assert!(
            checked
                .with_protected_identity(true)
                .request()
                .subject
                .protected_identity
        );
    }
}
