//! A request for disclosure, as the provider's rulebook receives it.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::OffsetDateTime;
use utbyte_domain::{legal_time, IdentifierError, SubjectId};

/// Most fields one request may ask for.
pub const MAX_FIELDS: usize = 256;
/// Longest text value (ids, references) a request may carry, in bytes.
pub const MAX_TEXT: usize = 256;

/// Who asks, for what, why, and about whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// The requesting authority.
    pub recipient: String,
    /// The requesting unit of that authority.
    pub unit: String,
    /// The officer's role, e.g. `handlaggare`.
    pub role: String,
    /// The officer, for the audit trail; rules decide by unit and role, never by person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    pub offering: String,
    pub fields: Vec<String>,
    pub purpose: String,
    /// The provision the requester claims.
    pub legal_basis: String,
    /// The requester's case reference (diarienummer).
    pub case_ref: String,
    /// The joint operation (SFS 2016:774) the request is made within.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    pub subject: Subject,
    /// When the request is made; validity periods are judged at this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// The person or organisation the request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Personnummer, samordningsnummer or organisationsnummer.
    pub id: String,
    /// Whether the provider's register marks the subject's identity as protected
    /// (sekretessmarkering or skyddad folkbokföring).
    #[serde(default)]
    pub protected_identity: bool,
}

/// Why a request cannot be decided at all. Requests that are well-formed but name things the
/// rulebook does not know are decided (and refused), not rejected, so the refusal is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the request asks for no fields")]
    NoFields,
    #[error("the request asks for {count} fields; at most {max} are allowed")]
    TooManyFields { count: usize, max: usize },
    #[error("field `{0}` is asked for twice")]
    DuplicateField(String),
    #[error("`{name}` is empty")]
    Empty { name: &'static str },
    #[error("`{name}` is {len} bytes long; at most {max} are allowed")]
    TooLong {
        name: &'static str,
        len: usize,
        max: usize,
    },
    #[error("the subject identifier is not valid: {0}")]
    InvalidSubject(#[from] IdentifierError),
    #[error("the subject identifier is not valid: its birth date is after the day of the request")]
    SubjectNotYetBorn,
    #[error("recipient `{0}` is not an authority of this federation")]
    UnknownRecipient(String),
    #[error("unit `{unit}` is not a unit of `{recipient}`")]
    UnitNotOfRecipient { unit: String, recipient: String },
}

impl DisclosureRequest {
    /// Checks sizes and the subject identifier; returns the parsed subject.
    pub fn validate(&self) -> Result<SubjectId, RequestError> {
        let texts: [(&'static str, &str); 8] = [
            ("recipient", &self.recipient),
            ("unit", &self.unit),
            ("role", &self.role),
            ("offering", &self.offering),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("case_ref", &self.case_ref),
            ("subject.id", &self.subject.id),
        ];
        for (name, value) in texts
            .into_iter()
            .chain(self.officer.as_deref().map(|o| ("officer", o)))
            .chain(self.operation.as_deref().map(|o| ("operation", o)))
        {
            check_text(name, value)?;
        }
        if self.fields.is_empty() {
            return Err(RequestError::NoFields);
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(RequestError::TooManyFields {
                count: self.fields.len(),
                max: MAX_FIELDS,
            });
        }
        let mut seen = HashSet::with_capacity(self.fields.len());
        for field in &self.fields {
            check_text("fields[]", field)?;
            if !seen.insert(field.as_str()) {
                return Err(RequestError::DuplicateField(field.clone()));
            }
        }
        // The century of a 10-digit personnummer turns at Swedish midnight.
        let reference = legal_time::swedish_reference_date(self.time)?;
        let subject = SubjectId::parse_at(&self.subject.id, reference)?;
        let born = match &subject {
            SubjectId::Personnummer(p) => Some(p.birth_date()),
            SubjectId::Samordningsnummer(s) => Some(s.birth_date()),
            SubjectId::Organisationsnummer(_) => None,
        };
        if born.is_some_and(|born| born > reference) {
            return Err(RequestError::SubjectNotYetBorn);
        }
        Ok(subject)
    }

    /// The Swedish day of the request, as policies see it (`context.date`, YYYYMMDD); see
    /// [`crate::dates`] for why the Swedish calendar.
    pub fn date(&self) -> i64 {
        crate::dates::number(crate::dates::swedish_date(self.time))
    }
}

fn check_text(name: &'static str, value: &str) -> Result<(), RequestError> {
    if value.trim().is_empty() {
        return Err(RequestError::Empty { name });
    }
    if value.len() > MAX_TEXT {
        return Err(RequestError::TooLong {
            name,
            len: value.len(),
            max: MAX_TEXT,
        });
    }
    Ok(())
}

/// The kind of a subject as the rules see it; the number itself never enters Cedar.
pub fn subject_kind(subject: &SubjectId) -> &'static str {
    match subject {
        SubjectId::Personnummer(_) => "personnummer",
        SubjectId::Samordningsnummer(_) => "samordningsnummer",
        SubjectId::Organisationsnummer(_) => "organisationsnummer",
    }
}
