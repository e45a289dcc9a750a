//! The canonical audit record: what one ledger leaf says. Specified in `docs/audit-record.md`.
//!
//! A leaf must have exactly one byte representation, or two nodes could log the same event as
//! different leaves and an auditor could not compare them. The canonical form is compact JSON
//! with keys in lexicographic order, absent optional members omitted, and nothing else: the
//! structs below declare their fields in that order, and [`AuditRecord::from_leaf`] rejects any
//! leaf that does not re-encode to the same bytes.

use serde::{Deserialize, Serialize};
use utbyte_ledger::Commitment;

/// Version of the record format; part of every leaf.
pub const FORMAT_VERSION: u32 = 1;
/// Longest text value accepted in a record, in bytes.
pub const MAX_TEXT: usize = 512;
/// Most fields, citations or subjects in one record.
pub const MAX_ITEMS: usize = 256;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Information was disclosed (at least one field left the provider).
    Disclosure,
    /// A request was refused in full.
    Refusal,
    /// A request was routed to human review; nothing has left the provider yet.
    ReviewRequest,
    /// A human reviewer decided a request routed to review.
    ReviewDecision,
    /// The recipient's node received a signed answer and recorded it against the provider's
    /// receipt.
    Receipt,
    /// An answer the provider recorded never reached the recipient: reconciliation of the two
    /// ledgers found no receipt for it, and both nodes record that it never arrived.
    /// `refers_to` is the index of the undelivered answer's record in the provider's ledger.
    Undelivered,
    /// The node's configuration (rulebook, pre-assessments, offerings, keys) changed.
    ConfigurationChange,
    /// A message left the sending node (for a notice: the fields its rulebook let go). Recorded
    /// by the sender before the message is handed to delivery.
    MessageSent,
    /// The recipient's node holds the message. Recorded by the recipient when it takes the
    /// message in, and by the sender when the recipient's signed receipt comes back
    /// (`refers_to`: the sender's `message_sent` entry).
    MessageDelivered,
    /// A unit of the recipient (or its case system) took the message. Recorded by the
    /// recipient, and by the sender when the signed receipt comes back.
    MessageAccepted,
    /// A provider decided a subscription: the fields its event types are made of, each with its
    /// outcome (an event type is granted when all of its fields are disclosed), and the digest
    /// of the signed verdict. Recorded whether anything was granted or not.
    SubscriptionDecision,
    /// A provider's node told a subscriber that subjects changed: one record per subscription
    /// and batch of notices (`notices`), the changed fields as disclosed (their names, never
    /// values), a commitment per subject, the digest of the notices as sent, and `refers_to`
    /// the subscription's decision. Recorded before the notices leave.
    NoticeSent,
    /// A subscriber's node took the notices a `notice_sent` record names: the same fields,
    /// subjects and digest, `refers_to` the provider's entry.
    NoticeReceived,
    /// A provider's node held notices back at delivery — the subscription was cancelled or had
    /// ended, or the rulebook in force no longer grants their event types: the fields as
    /// refused, a commitment per subject, `refers_to` the subscription's decision.
    NoticeWithheld,
}

impl EventKind {
    /// Whether the event is one of a message's.
    pub fn is_message(self) -> bool {
        matches!(
            self,
            Self::MessageSent | Self::MessageDelivered | Self::MessageAccepted
        )
    }

    /// Whether the event is about a batch of subscription notices.
    pub fn is_notice(self) -> bool {
        matches!(
            self,
            Self::NoticeSent | Self::NoticeReceived | Self::NoticeWithheld
        )
    }
}

/// The decision for one field: disclose automatically, route to human review, or refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Disclose,
    Review,
    Refuse,
}

/// Who acted: for a disclosure or refusal the requester (the recipient), for a review decision
/// the reviewer, for a configuration change the administrator. Roles, never names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub authority: String,
    /// The actor's system that vouched for the person (`portal`, or a case system's id), for
    /// requests made since the local API authenticates its callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub role: String,
    pub unit: String,
    /// How that system knew the person: `session`, `assertion` or `client`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vouch: Option<String>,
}

/// One requested field, its outcome, and the provisions that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOutcome {
    pub citations: Vec<String>,
    pub field: String,
    pub outcome: Outcome,
}

/// Why: purpose, claimed legal basis, case reference and (for SFS 2016:774) the joint operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Basis {
    pub case_ref: String,
    pub legal_basis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_ref: Option<String>,
    pub purpose: String,
}

/// Which message a record concerns: its id, sender, recipient and kind. Present on every
/// message event, and on the refusal or review of a notice at its sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRef {
    /// The sending authority.
    pub from: String,
    /// The message id the sending node chose.
    pub id: String,
    /// The notice kind, or `free_text`.
    pub kind: String,
    /// The recipient authority.
    pub to: String,
    /// The recipient unit, when one is addressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_unit: Option<String>,
}

/// Which notices of a subscription a record concerns: the provider's notices `first` through
/// `last` (its own numbering), `count` of them, each of the event types `events`, for
/// subscription `subscription` (the subscriber's id) of `to`, told by `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeBatch {
    pub count: u32,
    /// The event types every one of the notices is (sorted).
    pub events: Vec<String>,
    pub first: u64,
    /// The providing authority.
    pub from: String,
    pub last: u64,
    /// The subscriber's id of the subscription.
    pub subscription: String,
    /// The subscribing authority.
    pub to: String,
}

/// Which part of a bulk exchange a record concerns: the subjects `first` to `first + count - 1`
/// of bulk `id` (the requesting node's id for it), in the order the requester sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRef {
    pub count: u32,
    pub first: u64,
    pub id: String,
}

/// One audit record (one ledger leaf). Field order is the canonical key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub actor: Actor,
    /// The part of a bulk exchange, for an answer given in bulk and its receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<BulkRef>,
    /// For configuration changes: what changed, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    pub event: EventKind,
    pub fields: Vec<FieldOutcome>,
    /// The message, for a message's events and a notice's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageRef>,
    /// The notices, for a subscription notice's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<NoticeBatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offering: Option<String>,
    /// SHA-256 (hex) of the answer payload that left the node, for disclosures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// The authority whose node decided and recorded this.
    pub provider: String,
    /// Ledger index of an earlier record this one concerns (a review decision's request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refers_to: Option<u64>,
    /// SHA-256 (hex) of the rulebook version that decided.
    pub rulebook_sha256: String,
    /// Keyed commitments to the subjects' identifiers; never the identifiers themselves.
    pub subjects: Vec<Commitment>,
    /// UTC, RFC 3339 with second precision: `2025-03-01T09:30:00Z`.
    pub time: String,
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<Basis>,
}

/// Why a record is not a valid canonical audit record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not an audit record: {0}")]
    Json(String),
    #[error("record is valid JSON but not in canonical form (key order, spacing or escapes)")]
    NotCanonical,
    #[error("unsupported record format version {0}; this build reads version {FORMAT_VERSION}")]
    Version(u32),
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

fn invalid(field: &'static str, problem: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        field,
        problem: problem.into(),
    }
}

fn text(field: &'static str, value: &str) -> Result<(), RecordError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_TEXT {
        return Err(invalid(field, format!("longer than {MAX_TEXT} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "contains a control character"));
    }
    Ok(())
}

fn digest(field: &'static str, value: &str) -> Result<(), RecordError> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(invalid(
            field,
            "must be a SHA-256 digest in 64 lower-case hex digits",
        ))
    }
}

fn count(field: &'static str, n: usize) -> Result<(), RecordError> {
    if n > MAX_ITEMS {
        return Err(invalid(field, format!("more than {MAX_ITEMS} items")));
    }
    Ok(())
}

impl AuditRecord {
    /// The canonical leaf bytes, after checking every rule of the format.
    pub fn to_leaf(&self) -> Result<Vec<u8>, RecordError> {
        self.validate()?;
        serde_json::to_vec(self).map_err(|e| RecordError::Json(e.to_string()))
    }

    /// Parses a leaf, requiring a valid record in canonical form.
    pub fn from_leaf(leaf: &[u8]) -> Result<Self, RecordError> {
        let record: AuditRecord =
            serde_json::from_slice(leaf).map_err(|e| RecordError::Json(e.to_string()))?;
        if record.v != FORMAT_VERSION {
            return Err(RecordError::Version(record.v));
        }
        if record.to_leaf()? != leaf {
            return Err(RecordError::NotCanonical);
        }
        Ok(record)
    }

    /// The Swedish calendar day of the record, `YYYY-MM-DD`: follow-up counts the days officers
    /// worked, so a decision at 00:30 in Stockholm belongs to that day, not to the UTC day before
    /// (see [`utbyte_domain::legal_time`]). A time that is not canonical (never so in a valid
    /// record) falls back to its first ten characters.
    pub fn day(&self) -> String {
        match unix_seconds(&self.time)
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        {
            Some(instant) => {
                let day = utbyte_domain::legal_time::swedish_date(instant);
                format!(
                    "{:04}-{:02}-{:02}",
                    day.year(),
                    u8::from(day.month()),
                    day.day()
                )
            }
            None => self.time.get(..10).unwrap_or(&self.time).to_owned(),
        }
    }

    /// Checks the rules of the format that the type system does not.
    pub fn validate(&self) -> Result<(), RecordError> {
        if self.v != FORMAT_VERSION {
            return Err(RecordError::Version(self.v));
        }
        check_time(&self.time)?;
        text("actor.authority", &self.actor.authority)?;
        text("actor.unit", &self.actor.unit)?;
        text("actor.role", &self.actor.role)?;
        if let Some(client) = &self.actor.client {
            text("actor.client", client)?;
        }
        if let Some(vouch) = &self.actor.vouch {
            text("actor.vouch", vouch)?;
        }
        text("provider", &self.provider)?;
        digest("rulebook_sha256", &self.rulebook_sha256)?;
        count("fields", self.fields.len())?;
        count("subjects", self.subjects.len())?;
        if self.subjects.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid("subjects", "must be sorted and without duplicates"));
        }
        for f in &self.fields {
            text("fields.field", &f.field)?;
            count("fields.citations", f.citations.len())?;
            for c in &f.citations {
                text("fields.citations", c)?;
            }
        }
        if let Some(why) = &self.why {
            text("why.purpose", &why.purpose)?;
            text("why.legal_basis", &why.legal_basis)?;
            text("why.case_ref", &why.case_ref)?;
            if let Some(op) = &why.operation_ref {
                text("why.operation_ref", op)?;
            }
        }
        if let Some(o) = &self.offering {
            text("offering", o)?;
        }
        if let Some(p) = &self.payload_sha256 {
            digest("payload_sha256", p)?;
        }
        if let Some(m) = &self.message {
            text("message.from", &m.from)?;
            text("message.id", &m.id)?;
            text("message.kind", &m.kind)?;
            text("message.to", &m.to)?;
            if let Some(unit) = &m.to_unit {
                text("message.to_unit", unit)?;
            }
        }
        if let Some(b) = &self.bulk {
            text("bulk.id", &b.id)?;
            if b.count == 0 || b.count as usize > MAX_ITEMS {
                return Err(invalid("bulk.count", format!("1 to {MAX_ITEMS} subjects")));
            }
            let answer = matches!(
                self.event,
                EventKind::Disclosure
                    | EventKind::Refusal
                    | EventKind::ReviewRequest
                    | EventKind::Receipt
            );
            if !answer {
                return Err(invalid(
                    "bulk",
                    "only on an answer given in bulk and its receipt",
                ));
            }
        }
        if let Some(n) = &self.notices {
            text("notices.from", &n.from)?;
            text("notices.to", &n.to)?;
            text("notices.subscription", &n.subscription)?;
            count("notices.events", n.events.len())?;
            if n.events.is_empty() || n.events.windows(2).any(|w| w[0] >= w[1]) {
                return Err(invalid(
                    "notices.events",
                    "at least one, sorted and without duplicates",
                ));
            }
            for event in &n.events {
                text("notices.events", event)?;
            }
        }
        self.validate_event()
    }

    /// The rules that depend on the kind of event.
    fn validate_event(&self) -> Result<(), RecordError> {
        if self.event.is_message() {
            return self.validate_message();
        }
        if self.event.is_notice() != self.notices.is_some() {
            return Err(invalid(
                "notices",
                "present exactly on a subscription notice's events",
            ));
        }
        let exchange = self.event != EventKind::ConfigurationChange;
        if exchange {
            if self.offering.is_none() {
                return Err(invalid("offering", "required for every exchange event"));
            }
            if self.why.is_none() {
                return Err(invalid(
                    "why",
                    "purpose, legal basis and case are required for an exchange",
                ));
            }
            if self.fields.is_empty() {
                return Err(invalid("fields", "an exchange concerns at least one field"));
            }
            if self.change.is_some() {
                return Err(invalid("change", "only for configuration changes"));
            }
        }
        let disclosed = self.fields.iter().any(|f| f.outcome == Outcome::Disclose);
        match self.event {
            EventKind::Disclosure if !disclosed => Err(invalid(
                "fields",
                "a disclosure discloses at least one field",
            )),
            EventKind::Disclosure if self.payload_sha256.is_none() => Err(invalid(
                "payload_sha256",
                "a disclosure records the digest of what was sent",
            )),
            EventKind::Refusal if self.fields.iter().any(|f| f.outcome != Outcome::Refuse) => {
                Err(invalid("fields", "a refusal refuses every field"))
            }
            EventKind::ReviewDecision if self.refers_to.is_none() => Err(invalid(
                "refers_to",
                "a review decision names the request it decides",
            )),
            EventKind::ReviewRequest
                if !self.fields.iter().any(|f| f.outcome == Outcome::Review) =>
            {
                Err(invalid(
                    "fields",
                    "a request routed to review has at least one field under review",
                ))
            }
            EventKind::Receipt if self.refers_to.is_none() => Err(invalid(
                "refers_to",
                "a receipt names the provider's ledger entry",
            )),
            EventKind::Receipt if self.payload_sha256.is_none() => Err(invalid(
                "payload_sha256",
                "a receipt records the digest of the answer received",
            )),
            EventKind::SubscriptionDecision if self.payload_sha256.is_none() => Err(invalid(
                "payload_sha256",
                "a subscription decision records the digest of the verdict sent",
            )),
            EventKind::NoticeSent | EventKind::NoticeReceived | EventKind::NoticeWithheld
                if self.refers_to.is_none() =>
            {
                Err(invalid(
                    "refers_to",
                    "a notice's record names the entry it follows from",
                ))
            }
            EventKind::NoticeSent | EventKind::NoticeReceived if self.payload_sha256.is_none() => {
                Err(invalid(
                    "payload_sha256",
                    "a notice's record holds the digest of the notices told",
                ))
            }
            EventKind::NoticeWithheld if disclosed => {
                Err(invalid("fields", "notices withheld disclose nothing"))
            }
            EventKind::Undelivered if self.refers_to.is_none() => Err(invalid(
                "refers_to",
                "an undelivered answer names the provider's ledger entry",
            )),
            EventKind::Undelivered if self.payload_sha256.is_none() => Err(invalid(
                "payload_sha256",
                "an undelivered answer records the digest of what was never received",
            )),
            EventKind::ConfigurationChange => {
                if self.change.is_none() {
                    return Err(invalid(
                        "change",
                        "a configuration change says what changed",
                    ));
                }
                if !self.subjects.is_empty() {
                    return Err(invalid(
                        "subjects",
                        "a configuration change concerns no person",
                    ));
                }
                self.change.as_deref().map_or(Ok(()), |c| text("change", c))
            }
            _ => Ok(()),
        }
    }

    /// A message's events: the message named and its envelope's digest; a letter in free text
    /// has no fields to decide, a notice does.
    fn validate_message(&self) -> Result<(), RecordError> {
        let Some(message) = &self.message else {
            return Err(invalid("message", "a message's event names the message"));
        };
        if self.payload_sha256.is_none() {
            return Err(invalid(
                "payload_sha256",
                "a message's event records the digest of its envelope",
            ));
        }
        if self.change.is_some() {
            return Err(invalid("change", "only for configuration changes"));
        }
        let notice = message.kind != "free_text";
        if notice && self.event == EventKind::MessageSent {
            if self.offering.as_deref() != Some(message.kind.as_str()) {
                return Err(invalid(
                    "offering",
                    "a notice's record names its kind as the offering",
                ));
            }
            if self.why.is_none() {
                return Err(invalid(
                    "why",
                    "a notice records its purpose and legal basis",
                ));
            }
            if !self.fields.iter().any(|f| f.outcome == Outcome::Disclose) {
                return Err(invalid(
                    "fields",
                    "a notice sent carries at least one field",
                ));
            }
        }
        Ok(())
    }
}

/// Requires `YYYY-MM-DDTHH:MM:SSZ`, a real UTC instant.
fn check_time(value: &str) -> Result<(), RecordError> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let parsed = time::PrimitiveDateTime::parse(value, &format).map_err(|e| {
        invalid(
            "time",
            format!("{value:?} is not YYYY-MM-DDTHH:MM:SSZ in UTC: {e}"),
        )
    })?;
    match parsed.format(&format) {
        Ok(again) if again == value => Ok(()),
        _ => Err(invalid("time", "not in canonical form")),
    }
}

/// The current time in the record format.
/// A record time (`YYYY-MM-DDTHH:MM:SSZ`) as Unix seconds; `None` if it is not one.
pub(crate) fn unix_seconds(time: &str) -> Option<i64> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::PrimitiveDateTime::parse(time, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

pub fn now() -> String {
    time_of(time::OffsetDateTime::now_utc())
}

/// `at` as a record's `time`: UTC, RFC 3339, to the second.
pub fn time_of(at: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}
