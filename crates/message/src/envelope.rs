//! The envelope: what routes a message, in clear, and the parcel that carries it between nodes.

use crate::attachment::{Transfer, MAX_ATTACHMENTS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest text of any envelope field, in bytes.
const MAX_FIELD: usize = 200;

/// A functional address: an authority, or one of its units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub authority: String,
    /// Absent: the authority as a whole (its registry decides which unit takes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// What a message is: a structured notice of a kind the rulebook defines, or free text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Kind {
    /// An own-initiative notice (underrättelse): `notice` names an offering marked `notice`,
    /// whose fields the sender's rulebook decided one by one.
    Notice { notice: String },
    /// A letter in free text, with or without attachments.
    FreeText,
}

impl Kind {
    /// The kind's name as recipients configure what they accept: the notice kind, or
    /// `free_text`.
    pub fn name(&self) -> &str {
        match self {
            Kind::Notice { notice } => notice,
            Kind::FreeText => "free_text",
        }
    }
}

/// The routing part of a message, in clear. Holds no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Chosen by the sending node, unique per message; the recipient keeps one copy per id.
    pub id: String,
    /// The sending unit (always a unit: someone answers for what was sent).
    pub from: Address,
    pub to: Address,
    pub kind: Kind,
    /// The sender's case reference (diarienummer).
    pub sender_case_ref: String,
    /// The recipient's case reference, when the sender knows it (a reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_case_ref: Option<String>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// When the sender's node sent it, RFC 3339 UTC.
    pub sent_at: String,
    /// The id of the recipient's message key the content is sealed for.
    pub key: String,
    /// The sealed attachments to move before the message itself, in the content's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Transfer>,
}

/// What is wrong with an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the envelope is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("`{field}` {problem}")]
    Invalid {
        field: &'static str,
        problem: &'static str,
    },
}

fn check(field: &'static str, value: &str) -> Result<(), EnvelopeError> {
    let problem = if value.trim().is_empty() {
        "must not be empty"
    } else if value.len() > MAX_FIELD {
        "is longer than 200 bytes"
    } else if value.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(EnvelopeError::Invalid { field, problem })
}

impl Envelope {
    /// Checks every field's size and form.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        check("id", &self.id)?;
        check("from.authority", &self.from.authority)?;
        match &self.from.unit {
            Some(unit) => check("from.unit", unit)?,
            None => {
                return Err(EnvelopeError::Invalid {
                    field: "from.unit",
                    problem: "is required: a message is sent by a unit",
                })
            }
        }
        check("to.authority", &self.to.authority)?;
        if let Some(unit) = &self.to.unit {
            check("to.unit", unit)?;
        }
        if let Kind::Notice { notice } = &self.kind {
            check("kind.notice", notice)?;
        }
        check("sender_case_ref", &self.sender_case_ref)?;
        for (field, value) in [
            ("recipient_case_ref", &self.recipient_case_ref),
            ("in_reply_to", &self.in_reply_to),
        ] {
            if let Some(value) = value {
                check(field, value)?;
            }
        }
        check("sent_at", &self.sent_at)?;
        check("key", &self.key)?;
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(EnvelopeError::Invalid {
                field: "attachments",
                problem: "lists more than 20 files",
            });
        }
        if self.attachments.iter().any(|t| !t.is_consistent()) {
            return Err(EnvelopeError::Invalid {
                field: "attachments",
                problem: "holds a sealed size no file seals to",
            });
        }
        Ok(())
    }

    /// The envelope as the JSON text that travels and is stored; the content is bound to
    /// exactly these bytes.
    pub fn to_json(&self) -> String {
        // A struct of strings and enums of strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads and checks an envelope from the text that travelled.
    pub fn from_json(text: &str) -> Result<Self, EnvelopeError> {
        let envelope: Self =
            serde_json::from_str(text).map_err(|e| EnvelopeError::Json(e.to_string()))?;
        envelope.validate()?;
        Ok(envelope)
    }
}

/// SHA-256 of an envelope's exact text: the associated data its content is sealed with.
pub(crate) fn digest(envelope_json: &str) -> [u8; 32] {
    Sha256::digest(envelope_json.as_bytes()).into()
}

/// A message as it travels between nodes and lies in an outbox or inbox: the envelope's exact
/// text and the sealed content (base64url, unpadded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parcel {
    pub envelope: String,
    pub content: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn envelope() -> Envelope {
        Envelope {
            id: "m-1".into(),
            from: Address {
                authority: "utbetalningsmyndigheten".into(),
                unit: Some("ubm-kontroll".into()),
            },
            to: Address {
                authority: "forsakringskassan".into(),
                unit: Some("fk-kontroll".into()),
            },
            kind: Kind::Notice {
                notice: "ubm-underrattelse".into(),
            },
            sender_case_ref: "UBM 2026/41".into(),
            recipient_case_ref: None,
            in_reply_to: None,
            sent_at: "2026-03-02T09:00:00Z".into(),
            key: "0123456789abcdef".into(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn an_envelope_reads_back_from_its_own_text() {
        let e = envelope();
        assert_eq!(Envelope::from_json(&e.to_json()).unwrap(), e);
        let free = Envelope {
            kind: Kind::FreeText,
            ..e
        };
        assert!(free.to_json().contains(r#""kind":{"type":"free_text"}"#));
        assert_eq!(free.kind.name(), "free_text");
    }

    #[test]
    fn a_message_without_a_sending_unit_or_with_bad_text_is_refused() {
        let mut e = envelope();
        e.from.unit = None;
        assert!(
            matches!(
                e.validate(),
                Err(EnvelopeError::Invalid {
                    field: "from.unit",
                    ..
                })
            ),
            "{:?}",
            e.validate()
        );
        let mut e = envelope();
        e.sender_case_ref = "a\nb".into();
        assert_eq!(
            e.validate(),
            Err(EnvelopeError::Invalid {
                field: "sender_case_ref",
                problem: "contains a control character"
            })
        );
        let mut e = envelope();
        e.in_reply_to = Some("x".repeat(201));
        assert!(e.validate().is_err());
        assert!(matches!(
            Envelope::from_json(r#"{"id":"m"}"#),
            Err(EnvelopeError::Json(_))
        ));
    }
}
