//! The register contract: [`Register`], what it returns ([`Record`]) and what it accepts
//! ([`RegisterBatch`]). Engine-neutral; the SQL lives in the engines.
//!
//! A register is generic: a value is addressed by offering id, subject and field id, so a new
//! offering or field in a rulebook needs data, never a schema change. Subjects are held as
//! [`SubjectId`], so every stored identifier is valid and in canonical form by construction,
//! and a lookup by any written form of the same number finds it.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::Value;
use utbyte_domain::SubjectId;

use crate::StoreError;

/// The longest offering or field id accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// The largest value accepted, in bytes of compact JSON. Register values are facts (an amount,
/// an address, a list of board members), not documents; documents travel as messages.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The future every [`Register`] method returns: boxed, so that `dyn Register` works and a node
/// can choose its engine from configuration at run time.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A register that backs offerings on a provider's node.
pub trait Register: Send + Sync {
    /// The requested `fields` of `subject` in `offering`.
    ///
    /// `None` when the register holds nothing about the subject in that offering. Otherwise a
    /// record with exactly those requested fields the register holds: a field that was not
    /// requested is never read into the result, and a requested field the register does not hold
    /// is absent (so the record may be empty). Duplicate requested ids count once.
    fn fetch<'a>(
        &'a self,
        offering: &'a str,
        subject: &'a SubjectId,
        fields: &'a [&'a str],
    ) -> StoreFuture<'a, Option<Record>>;

    /// Whether the register marks `subject` as having protected identity (skyddad
    /// folkbokföring or sekretessmarkering). `false` for a subject the register does not hold
    /// and for every organisation: this is what *this* register knows, not a population-register
    /// lookup.
    fn protected_identity<'a>(&'a self, subject: &'a SubjectId) -> StoreFuture<'a, bool>;

    /// [`protected_identity`](Self::protected_identity) of each of `subjects`, in order: what
    /// a bulk exchange asks of a register, in as few reads as the engine can make it.
    fn protected_identities<'a>(&'a self, subjects: &'a [SubjectId]) -> StoreFuture<'a, Vec<bool>> {
        Box::pin(async move {
            let mut flags = Vec::with_capacity(subjects.len());
            for subject in subjects {
                flags.push(self.protected_identity(subject).await?);
            }
            Ok(flags)
        })
    }

    /// The requested `fields` of each of `subjects` in `offering`, in order, as
    /// [`fetch`](Self::fetch) reads them, except that a subject the register holds nothing
    /// about gets an empty record: a bulk exchange discloses nothing of it either way.
    fn fetch_many<'a>(
        &'a self,
        offering: &'a str,
        subjects: &'a [SubjectId],
        fields: &'a [&'a str],
    ) -> StoreFuture<'a, Vec<Record>> {
        Box::pin(async move {
            let mut records = Vec::with_capacity(subjects.len());
            for subject in subjects {
                records.push(
                    self.fetch(offering, subject, fields)
                        .await?
                        .unwrap_or_default(),
                );
            }
            Ok(records)
        })
    }

    /// Writes a batch in one transaction: all of it, or (on any error) none of it. Subjects
    /// already held get the batch's protected-identity flag; values already held are replaced.
    /// A register with a [`ChangeFeed`] records in the same transaction which values changed.
    fn insert<'a>(&'a self, batch: &'a RegisterBatch) -> StoreFuture<'a, ()>;

    /// The register's change feed, if it keeps one (the built-in registers do).
    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        None
    }
}

/// What changed in a register, in the order the changes were committed: the source of the
/// notices subscribers get.
///
/// Every write that gives a value of a subject in an offering a new or different value adds one
/// [`Change`] per (offering, subject) in the same transaction, naming the fields changed (never
/// the values). A write that stores the values already held adds nothing. A reader that keeps
/// the `seq` of the last change it handled and asks for those after it sees every committed
/// change once, in order.
pub trait ChangeFeed: Send + Sync {
    /// At most `limit` changes with a `seq` greater than `after`, oldest first. `after = 0`
    /// starts at the oldest change kept.
    fn changes_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<Change>>;

    /// Forgets the changes up to and including `through` (every reader has handled them);
    /// returns how many were forgotten.
    fn forget_changes(&self, through: u64) -> StoreFuture<'_, u64>;
}

/// One committed change to a register: new or different values of `fields` of `subject` in
/// `offering`. `Debug` leaves the subject out.
#[derive(Clone, PartialEq, Eq)]
pub struct Change {
    /// Its place in the feed: increasing, never reused.
    pub seq: u64,
    /// The offering id.
    pub offering: String,
    /// Whom the changed values are about.
    pub subject: SubjectId,
    /// The field ids whose values changed, sorted.
    pub fields: Vec<String>,
    /// When the write was made (millisecond precision).
    pub at: time::OffsetDateTime,
    /// Whether the subject had protected identity after the write: no notice tells of it.
    pub protected_identity: bool,
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Change")
            .field("seq", &self.seq)
            .field("offering", &self.offering)
            .field("fields", &self.fields)
            .field("at", &self.at)
            .field("protected_identity", &self.protected_identity)
            .finish_non_exhaustive()
    }
}

/// The fields of one subject in one offering, as a register returned them.
///
/// `Debug` shows the field names only: the values are personal data.
#[derive(Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Record {
    fields: BTreeMap<String, Value>,
}

impl Record {
    /// A record of `fields`, for [`Register`] engines outside this crate. The engine answers for
    /// the [`Register::fetch`] contract: only requested fields.
    pub fn new(fields: BTreeMap<String, Value>) -> Self {
        Self { fields }
    }

    /// The value of `field`, if the record holds it.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    /// The field ids and values, ordered by field id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields
            .iter()
            .map(|(field, value)| (field.as_str(), value))
    }

    /// The field ids, ordered.
    pub fn field_ids(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// How many fields the record holds.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the record holds no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields as a map from field id to value.
    pub fn into_fields(self) -> BTreeMap<String, Value> {
        self.fields
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A subject a batch adds to a register, with its protected-identity flag.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SubjectEntry {
    /// The person or organisation.
    pub subject: SubjectId,
    /// Skyddad folkbokföring or sekretessmarkering; only a person can have it.
    pub protected_identity: bool,
}

/// One value a batch writes.
#[derive(Clone, PartialEq, Serialize)]
pub struct RecordEntry {
    /// The offering id.
    pub offering: String,
    /// Whom the value is about; must be held by the register or added by the same batch.
    pub subject: SubjectId,
    /// The field id.
    pub field: String,
    /// The value.
    pub value: Value,
}

/// Subjects and values to write together, atomically, with [`Register::insert`].
///
/// Serializes (for comparison and export) as `{"subjects": […], "records": […]}` in insertion
/// order. `Debug` shows counts only.
#[derive(Clone, PartialEq, Default, Serialize)]
pub struct RegisterBatch {
    subjects: Vec<SubjectEntry>,
    records: Vec<RecordEntry>,
}

impl RegisterBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or updates the protected-identity flag of) a subject.
    pub fn subject(&mut self, subject: SubjectId, protected_identity: bool) -> &mut Self {
        self.subjects.push(SubjectEntry {
            subject,
            protected_identity,
        });
        self
    }

    /// Adds (or replaces) the value of `field` of `subject` in `offering`.
    pub fn record(
        &mut self,
        offering: impl Into<String>,
        subject: SubjectId,
        field: impl Into<String>,
        value: Value,
    ) -> &mut Self {
        self.records.push(RecordEntry {
            offering: offering.into(),
            subject,
            field: field.into(),
            value,
        });
        self
    }

    /// The subjects, in insertion order.
    pub fn subjects(&self) -> &[SubjectEntry] {
        &self.subjects
    }

    /// The values, in insertion order.
    pub fn records(&self) -> &[RecordEntry] {
        &self.records
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.subjects.is_empty() && self.records.is_empty()
    }

    /// Checks what can be checked without the database, and returns each record's value as
    /// compact JSON, in record order, ready to be stored.
    pub(crate) fn validate(&self) -> Result<Vec<String>, StoreError> {
        if self.subjects.iter().any(|entry| {
            entry.protected_identity && matches!(entry.subject, SubjectId::Organisationsnummer(_))
        }) {
            return Err(StoreError::ProtectedOrganisation);
        }
        self.records
            .iter()
            .map(|entry| {
                check_name("offering", &entry.offering)?;
                check_name("field", &entry.field)?;
                let json = entry.value.to_string();
                if json.len() > MAX_VALUE_BYTES {
                    return Err(StoreError::ValueTooLarge {
                        offering: entry.offering.clone(),
                        field: entry.field.clone(),
                        bytes: json.len(),
                        limit: MAX_VALUE_BYTES,
                    });
                }
                Ok(json)
            })
            .collect()
    }
}

impl fmt::Debug for RegisterBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterBatch")
            .field("subjects", &self.subjects.len())
            .field("records", &self.records.len())
            .finish()
    }
}

/// An offering or field id must be non-empty and at most [`MAX_NAME_BYTES`] long. Ids are not
/// personal data, so the message may quote a short one.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() {
        return Err(StoreError::InvalidName {
            what,
            reason: "it is empty".to_owned(),
        });
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(StoreError::InvalidName {
            what,
            reason: format!(
                "it is {} bytes long; the limit is {MAX_NAME_BYTES}",
                name.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> SubjectId {
        SubjectId::Personnummer("19121212-1212".parse().unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn debug_shows_neither_identifiers_nor_values() {
        let mut batch = RegisterBatch::new();
        batch.subject(person(), true).record(
            "o",
            person(),
            "namn",
            Value::from("Tolvan Tolvansson"),
        );
        let debug = format!("{batch:?}");
        assert_eq!(debug, "RegisterBatch { subjects: 1, records: 1 }");
        let record = Record::new(BTreeMap::from([("namn".to_owned(), Value::from("Tolvan"))]));
        assert_eq!(format!("{record:?}"), "Record { fields: [\"namn\"], .. }");
    }

    #[test]
    fn validation_names_the_problem() {
        let mut batch = RegisterBatch::new();
        batch.record("", person(), "f", Value::Null);
        assert_eq!(
            batch.validate().map_err(|e| e.to_string()),
            Err("invalid offering id: it is empty".to_owned())
        );
        let mut batch = RegisterBatch::new();
        batch.record("o", person(), "x".repeat(129), Value::Null);
        assert_eq!(
            batch.validate().map_err(|e| e.to_string()),
            Err("invalid field id: it is 129 bytes long; the limit is 128".to_owned())
        );
        let mut batch = RegisterBatch::new();
        batch.record("o", person(), "f", Value::from("x".repeat(MAX_VALUE_BYTES)));
        assert!(matches!(
            batch.validate(),
            Err(StoreError::ValueTooLarge { bytes, .. }) if bytes == MAX_VALUE_BYTES + 2
        ));
        let mut batch = RegisterBatch::new();
        let company =
            SubjectId::Organisationsnummer("556016-0680".parse().unwrap_or_else(|e| panic!("{e}")));
        batch.subject(company, true);
        assert!(matches!(
            batch.validate(),
            Err(StoreError::ProtectedOrganisation)
        ));
    }
}
