//! The content: what only the recipient's node may read.

use crate::attachment::{Attachment, MAX_ATTACHMENTS};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Most subjects one message may concern.
pub const MAX_SUBJECTS: usize = 100;
/// Most field values one notice may carry.
pub const MAX_VALUES: usize = 100;
/// Longest free text, in bytes (a letter, not a file: files are attachments).
pub const MAX_TEXT: usize = 256 * 1024;
/// Longest title and short text, in bytes.
const MAX_SHORT: usize = 200;

/// The sealed part of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// What the message is about, in one line (ärendemening).
    pub title: String,
    /// The persons or organisations the message concerns: personnummer, samordningsnummer or
    /// organisationsnummer, checked by the sending node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// A notice's fields that the sender's rulebook let go, with their values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, Value>,
    /// The letter, or a notice's covering note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Why the sender may tell the recipient this: purpose and provision (a notice's are
    /// decided by the rulebook; a letter's are the officer's statement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// The sending officer and role, as the sending unit vouched for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    pub role: String,
    /// The attached files, in the order the envelope lists their transfers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// What is wrong with a message's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    #[error("`{field}` {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ContentError {
    ContentError::Invalid {
        field,
        problem: problem.into(),
    }
}

fn short(field: &'static str, value: &str) -> Result<(), ContentError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_SHORT {
        return Err(invalid(field, format!("is longer than {MAX_SHORT} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

impl Content {
    /// Checks sizes and forms (not the subjects' identifiers, which the node parses).
    pub fn validate(&self) -> Result<(), ContentError> {
        short("title", &self.title)?;
        short("role", &self.role)?;
        for (field, value) in [
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("officer", &self.officer),
        ] {
            if let Some(value) = value {
                short(field, value)?;
            }
        }
        if self.subjects.len() > MAX_SUBJECTS {
            return Err(invalid(
                "subjects",
                format!("lists more than {MAX_SUBJECTS} subjects"),
            ));
        }
        for subject in &self.subjects {
            short("subjects", subject)?;
        }
        if self.values.len() > MAX_VALUES {
            return Err(invalid(
                "values",
                format!("holds more than {MAX_VALUES} fields"),
            ));
        }
        for field in self.values.keys() {
            short("values", field)?;
        }
        if let Some(text) = &self.text {
            if text.len() > MAX_TEXT {
                return Err(invalid("text", format!("is longer than {MAX_TEXT} bytes")));
            }
            if text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                return Err(invalid(
                    "text",
                    "contains a control character other than a line break or tab",
                ));
            }
        }
        if self.attachments.len() > MAX_ATTACHMENTS {
            return Err(invalid(
                "attachments",
                format!("lists more than {MAX_ATTACHMENTS} files"),
            ));
        }
        for attachment in &self.attachments {
            file_name(&attachment.name)?;
            short("attachments.media_type", &attachment.media_type)?;
            if attachment.sha256.len() != 64
                || !attachment.sha256.bytes().all(|b| b.is_ascii_hexdigit())
            {
                return Err(invalid("attachments.sha256", "is not 64 hex digits"));
            }
        }
        Ok(())
    }
}

/// A file's name: one path component, printable, at most 255 bytes.
pub fn file_name(name: &str) -> Result<(), ContentError> {
    let problem = if name.trim().is_empty() {
        "must not be empty"
    } else if name.len() > 255 {
        "is longer than 255 bytes"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else if name.contains(['/', '\\']) || name == "." || name == ".." {
        "must be a file name, not a path"
    } else {
        return Ok(());
    };
    Err(invalid("attachments.name", problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Content {
        Content {
            title: "Begäran om komplettering".into(),
            subjects: vec!["198507099805".into()],
            values: BTreeMap::new(),
            text: Some("Hej,\n\nse bifogad fil.\n".into()),
            purpose: None,
            legal_basis: None,
            officer: Some("Handläggare 7".into()),
            role: "utredare".into(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_letter_with_line_breaks_is_valid_and_oversized_parts_are_not() {
        assert_eq!(letter().validate(), Ok(()));
        let mut c = letter();
        c.text = Some("x".repeat(MAX_TEXT + 1));
        assert!(c.validate().is_err());
        let mut c = letter();
        c.text = Some("bell\u{7}".into());
        assert!(c.validate().is_err());
        let mut c = letter();
        c.subjects = vec!["198507099805".into(); MAX_SUBJECTS + 1];
        assert!(c.validate().is_err());
        let mut c = letter();
        c.title = String::new();
        assert_eq!(
            c.validate(),
            Err(invalid("title", "must not be empty")),
            "an empty title names its field"
        );
    }
}
