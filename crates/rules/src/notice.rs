//! Own-initiative notices (underrättelser): a disclosure the *sending* authority decides.
//!
//! Some statutes oblige or permit an authority to tell another of something without being asked
//! — the payments authority notifying a benefit agency of a suspected incorrect payment (SFS
//! 2008:206), the prison service reporting someone who did not report for their sentence. The
//! information leaves the sender's registers under the sender's secrecy, so the sender's
//! rulebook decides it, field by field, with the same three outcomes and citations as a request:
//! send automatically, hold for the sender's own jurist, or refuse.
//!
//! A notice *kind* is an offering marked `notice = true` whose provider is the sender: its
//! categories and fields are what a notice of that kind may carry. The provisions that oblige or
//! permit notifying are policies with the action `notify`; the principal is the addressed unit or,
//! when none is addressed, the recipient authority itself; the context is a request's, with the
//! sender as `provider` and the sending officer's role as `role`. Everything else — the index,
//! the law in time, protected identity, explanations — is shared with requests.

use crate::request::{check_text, fields_and_subject, RequestError, Subject};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utbyte_domain::SubjectId;

/// A notice the sender proposes to send: who to, what kind, which fields, why, about whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// The sending authority: the provider of the notice kind.
    pub sender: String,
    /// The sending unit of that authority.
    pub sender_unit: String,
    /// The sending officer's role.
    pub role: String,
    /// The sending officer, for the audit trail; rules decide by unit and role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    /// The authority notified.
    pub recipient: String,
    /// The unit of the recipient addressed (its functional address); absent: the authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_unit: Option<String>,
    /// The notice kind: an offering of the sender marked `notice = true`.
    pub kind: String,
    pub fields: Vec<String>,
    pub purpose: String,
    /// The provision that obliges or permits the notice.
    pub legal_basis: String,
    /// The sender's case reference (diarienummer).
    pub case_ref: String,
    pub subject: Subject,
    /// When the notice is to be sent; the law in force on its Swedish day decides.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

impl Notice {
    /// Checks sizes and the subject identifier, as for a request; returns the parsed subject.
    pub fn validate(&self) -> Result<SubjectId, RequestError> {
        let texts: [(&'static str, &str); 9] = [
            ("sender", &self.sender),
            ("sender_unit", &self.sender_unit),
            ("role", &self.role),
            ("recipient", &self.recipient),
            ("kind", &self.kind),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
            ("case_ref", &self.case_ref),
            ("subject.id", &self.subject.id),
        ];
        for (name, value) in texts
            .into_iter()
            .chain(self.officer.as_deref().map(|o| ("officer", o)))
            .chain(
                self.recipient_unit
                    .as_deref()
                    .map(|u| ("recipient_unit", u)),
            )
        {
            check_text(name, value)?;
        }
        fields_and_subject(&self.fields, &self.subject.id, self.time)
    }

    /// The Swedish day of the notice (`context.date`, YYYYMMDD).
    pub fn date(&self) -> i64 {
        crate::dates::day_number(self.time)
    }
}
