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
    /// The requester's system that vouched for the officer, and how; for the audit trail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouched_by: Option<VouchedBy>,
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

/// Which of the requesting authority's systems vouched for the officer, and how (`session`: a
/// portal sign-in; `assertion`: a signed assertion from the authority's identity provider;
/// `client`: the system's own word, which its configuration trusts it to give).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VouchedBy {
    pub client: String,
    pub vouch: String,
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
    #[error("`{name}` holds a control character; only printable text is allowed")]
    ControlCharacter { name: &'static str },
    #[error("the subject identifier is not valid: {0}")]
    InvalidSubject(#[from] IdentifierError),
    #[error("the subject identifier is not valid: its birth date is after the day of the request")]
    SubjectNotYetBorn,
    #[error("recipient `{0}` is not an authority of this federation")]
    UnknownRecipient(String),
    #[error("unit `{unit}` is not a unit of `{recipient}`")]
    UnitNotOfRecipient { unit: String, recipient: String },
    #[error("sender `{0}` is not an authority of this federation")]
    UnknownSender(String),
    #[error("unit `{unit}` is not a unit of the sender `{sender}`")]
    UnitNotOfSender { unit: String, sender: String },
    #[error("`{kind}` is not a kind of notice `{sender}` sends: it is not an offering of `{sender}` marked as a notice")]
    NotANoticeOfSender { kind: String, sender: String },
}

impl RequestError {
    /// The field of the request the error is about, when it is about one field's text.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RequestError::Empty { name }
            | RequestError::TooLong { name, .. }
            | RequestError::ControlCharacter { name } => Some(name),
            _ => None,
        }
    }
}

impl DisclosureRequest {
    /// Checks sizes and the subject identifier; returns the parsed subject.
    pub fn validate(&self) -> Result<SubjectId, RequestError> {
        self.validate_asked()?;
        check_text("subject.id", &self.subject.id)?;
        let reference = legal_time::swedish_reference_date(self.time)?;
        subject_at(&self.subject.id, reference)
    }

    /// What [`validate`](Self::validate) checks of everything but the subject: the texts and
    /// the fields. A bulk request is checked so once, and each of its subjects with
    /// [`subject_on`].
    pub fn validate_asked(&self) -> Result<(), RequestError> {
        let texts: [(&'static str, &str); 7] = [
            ("recipient", &self.recipient),
            ("unit", &self.unit),
            ("role", &self.role),
            ("offering", &self.offering),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("case_ref", &self.case_ref),
        ];
        for (name, value) in texts
            .into_iter()
            .chain(self.officer.as_deref().map(|o| ("officer", o)))
            .chain(self.operation.as_deref().map(|o| ("operation", o)))
            .chain(self.vouched_by.iter().flat_map(|v| {
                [
                    ("vouched_by.client", v.client.as_str()),
                    ("vouched_by.vouch", v.vouch.as_str()),
                ]
            }))
        {
            check_text(name, value)?;
        }
        check_fields(&self.fields)
    }

    /// The Swedish day of the request, as policies see it (`context.date`, YYYYMMDD); see
    /// [`crate::dates`] for why the Swedish calendar.
    pub fn date(&self) -> i64 {
        crate::dates::day_number(self.time)
    }
}

/// The checks a request and a notice share after their texts: between one and [`MAX_FIELDS`]
/// fields, each a valid text asked for once, and the subject as of the exchange's Swedish day.
pub(crate) fn fields_and_subject(
    fields: &[String],
    subject: &str,
    time: OffsetDateTime,
) -> Result<SubjectId, RequestError> {
    check_fields(fields)?;
    let reference = legal_time::swedish_reference_date(time)?;
    subject_at(subject, reference)
}

/// Between one and [`MAX_FIELDS`] fields, each a valid text asked for once.
fn check_fields(fields: &[String]) -> Result<(), RequestError> {
    if fields.is_empty() {
        return Err(RequestError::NoFields);
    }
    if fields.len() > MAX_FIELDS {
        return Err(RequestError::TooManyFields {
            count: fields.len(),
            max: MAX_FIELDS,
        });
    }
    let mut seen = HashSet::with_capacity(fields.len());
    for field in fields {
        check_text("fields[]", field)?;
        if !seen.insert(field.as_str()) {
            return Err(RequestError::DuplicateField(field.clone()));
        }
    }
    Ok(())
}

/// The subject an identifier names in a request made on the Swedish day `reference` (see
/// [`utbyte_domain::legal_time::swedish_reference_date`]), checked as
/// [`DisclosureRequest::validate`] checks a request's subject.
pub fn subject_on(
    id: &str,
    reference: utbyte_domain::CalendarDate,
) -> Result<SubjectId, RequestError> {
    check_text("subject.id", id)?;
    subject_at(id, reference)
}

/// The subject an identifier names on the Swedish day `reference`: the century of a 10-digit
/// personnummer turns at Swedish midnight, and nobody born after the day can be its subject.
fn subject_at(id: &str, reference: utbyte_domain::CalendarDate) -> Result<SubjectId, RequestError> {
    let subject = SubjectId::parse_at(id, reference)?;
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

/// A text must be non-empty, at most [`MAX_TEXT`] bytes, and free of control characters: C0
/// (NUL, tab, newline, escape…), DEL and C1 — Unicode's `Cc`, which `char::is_control` is. None
/// belongs in an id, a reference or a name; they would reach the register, the ledger, logs and
/// a reviewer's screen. Letters of any script and spaces are ordinary text.
pub(crate) fn check_text(name: &'static str, value: &str) -> Result<(), RequestError> {
    if value.chars().any(char::is_control) {
        return Err(RequestError::ControlCharacter { name });
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> DisclosureRequest {
        DisclosureRequest {
            recipient: "malmo-stad".into(),
            unit: "malmo-ekonomiskt-bistand".into(),
            role: "handlaggare".into(),
            officer: Some("malmo-h4711".into()),
            vouched_by: Some(VouchedBy {
                client: "arende".into(),
                vouch: "assertion".into(),
            }),
            offering: "fk-formaner".into(),
            fields: vec!["forman".into()],
            purpose: "kontroll".into(),
            legal_basis: "luffa".into(),
            case_ref: "Ärende ÅÄÖ 2026/17".into(),
            operation: Some("lagesbild".into()),
            subject: Subject {
                id: "19121212-1212".into(),
                protected_identity: false,
            },
            time: time::macros::datetime!(2026-06-01 12:00 UTC),
        }
    }

    #[test]
    fn ordinary_text_with_swedish_letters_and_spaces_passes() {
        assert!(request().validate().is_ok());
    }

    #[test]
    fn a_control_character_in_any_text_is_refused_naming_the_field() {
        type Set = fn(&mut DisclosureRequest, String);
        let texts: [(&str, Set); 12] = [
            ("recipient", |r, v| r.recipient = v),
            ("unit", |r, v| r.unit = v),
            ("role", |r, v| r.role = v),
            ("officer", |r, v| r.officer = Some(v)),
            ("offering", |r, v| r.offering = v),
            ("purpose", |r, v| r.purpose = v),
            ("legal_basis", |r, v| r.legal_basis = v),
            ("case_ref", |r, v| r.case_ref = v),
            ("operation", |r, v| r.operation = Some(v)),
            ("fields[]", |r, v| r.fields.push(v)),
            ("vouched_by.client", |r, v| {
                if let Some(by) = r.vouched_by.as_mut() {
                    by.client = v;
                }
            }),
            ("vouched_by.vouch", |r, v| {
                if let Some(by) = r.vouched_by.as_mut() {
                    by.vouch = v;
                }
            }),
        ];
        for (name, set) in texts {
            for control in [
                '\0', '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}',
            ] {
                let mut bad = request();
                set(&mut bad, format!("a{control}b"));
                let err = bad.validate().err();
                assert_eq!(
                    err,
                    Some(RequestError::ControlCharacter { name }),
                    "{name} with U+{:04X}",
                    u32::from(control)
                );
                let message = err.map(|e| e.to_string()).unwrap_or_default();
                assert!(message.contains(&format!("`{name}`")), "{message}");
                assert_eq!(RequestError::ControlCharacter { name }.field(), Some(name));
            }
        }
        let mut bad = request();
        bad.subject.id = "19121212\u{0}1212".into();
        assert_eq!(
            bad.validate().err(),
            Some(RequestError::ControlCharacter { name: "subject.id" })
        );
    }
}
