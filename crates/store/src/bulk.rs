//! The consumer side's bulk exchanges: one request for many subjects, asked of a provider for a
//! case system under its idempotency key ([`NewBulk`]), and each part of it the provider
//! answered ([`BulkPart`]). Engine-neutral; the SQL is in `sql::bulk`.
//!
//! A bulk is taken part by part, in order. A part is kept only if it starts exactly where the
//! bulk stands (the subjects taken so far), in one transaction with the bulk's counters: a part
//! fetched twice — by a node that stopped after keeping it, before it learnt so, or by two
//! instances of a node at once — is kept once, and no subject is skipped or counted twice.
//!
//! The request and the provider's answers carry personal data (the subjects' identifiers,
//! disclosed values), so `Debug` shows their sizes only.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::exchange::{check_id, check_json, check_json_within, check_text, Redacted};
use crate::register::check_name;
use crate::StoreError;

/// The largest signed answer of one part kept, in bytes. A part answers many subjects, so it
/// may be far larger than the answer of one request ([`MAX_JSON_BYTES`](crate::MAX_JSON_BYTES)).
pub const MAX_PART_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// A bulk exchange this node (the consumer) asks of a provider: one request for many subjects,
/// under the case system's idempotency key.
#[derive(Clone, PartialEq, Eq)]
pub struct NewBulk {
    /// The case system's idempotency key.
    pub key: String,
    /// The id this node chose for it at the provider.
    pub bulk_id: String,
    /// The case system that made it.
    pub client: Option<String>,
    /// The providing authority.
    pub provider: String,
    /// The offering asked of.
    pub offering: String,
    /// The unit that asked.
    pub unit: String,
    /// The bulk request as JSON.
    pub request: String,
    /// When it was begun.
    pub created_at: OffsetDateTime,
}

impl NewBulk {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        check_id("idempotency key", &self.key)?;
        check_id("bulk id", &self.bulk_id)?;
        if let Some(client) = &self.client {
            check_id("client id", client)?;
        }
        check_id("provider", &self.provider)?;
        check_name("offering", &self.offering)?;
        check_text("unit", &self.unit, 256)?;
        check_json("bulk request", &self.request)
    }

    /// Whether `other` asks what this asks: a retry of it. The bulk id and the time are not
    /// compared, as a retry may have drawn a new id and comes later; it goes on under the first.
    pub(crate) fn asks_as(&self, other: &NewBulk) -> bool {
        self.request == other.request
            && self.provider == other.provider
            && self.offering == other.offering
            && self.unit == other.unit
            && self.client == other.client
    }
}

impl fmt::Debug for NewBulk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewBulk")
            .field("key", &self.key)
            .field("bulk_id", &self.bulk_id)
            .field("client", &self.client)
            .field("provider", &self.provider)
            .field("offering", &self.offering)
            .field("unit", &self.unit)
            .field("request", &Redacted(&self.request))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A bulk as kept: what was asked and how far it has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBulk {
    /// What was asked.
    pub bulk: NewBulk,
    /// Subjects taken so far (the offset the next part starts at).
    pub subjects: u64,
    /// Parts taken so far.
    pub parts: u64,
    /// Of the subjects taken, how many were answered and how many held for review.
    pub answered: u64,
    pub held: u64,
}

/// One part of a bulk, as the provider answered it: subjects `first .. first + count`.
#[derive(Clone, PartialEq, Eq)]
pub struct BulkPart {
    /// The offset of its first subject in the bulk.
    pub first: u64,
    /// How many subjects it holds (at least one).
    pub count: u32,
    /// Of those, how many were answered and how many held for review; together `count`.
    pub answered: u32,
    pub held: u32,
    /// The provider's signed answer (JSON, at most [`MAX_PART_ANSWER_BYTES`]).
    pub answer: String,
}

impl BulkPart {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let invalid = |reason: &str| StoreError::InvalidInput {
            what: "bulk part",
            reason: reason.to_owned(),
        };
        if self.count == 0 {
            return Err(invalid("it holds no subject"));
        }
        if u64::from(self.answered) + u64::from(self.held) != u64::from(self.count) {
            return Err(invalid(
                "its answered and held subjects do not add up to its count",
            ));
        }
        // Offsets are kept as signed 64-bit integers, on both engines.
        let end = self.first.checked_add(u64::from(self.count));
        if end.and_then(|end| i64::try_from(end).ok()).is_none() {
            return Err(invalid("it ends beyond the largest offset kept"));
        }
        check_json_within("bulk part answer", &self.answer, MAX_PART_ANSWER_BYTES)
    }
}

impl fmt::Debug for BulkPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkPart")
            .field("first", &self.first)
            .field("count", &self.count)
            .field("answered", &self.answered)
            .field("held", &self.held)
            .field("answer", &Redacted(&self.answer))
            .finish()
    }
}

/// What [`begin_bulk`](BulkExchanges::begin_bulk) found.
///
/// Not boxed although one variant is large: it is returned once per bulk and matched at once,
/// never kept in bulk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum BulkBegun {
    /// The key was new: the bulk is kept, with nothing taken yet, and is the caller's to ask.
    New,
    /// The key was already used for the same bulk: here it is, as far as it has come. The
    /// caller goes on from there, under its bulk id.
    Existing(StoredBulk),
}

/// The bulk exchanges this node asks of providers as a consumer, and the parts they answered.
#[async_trait]
pub trait BulkExchanges: Send + Sync {
    /// Keeps a new bulk under its key ([`BulkBegun::New`]). The same key again for the same
    /// bulk — the same request, provider, offering, unit and client — gives
    /// [`BulkBegun::Existing`] with what is kept; for another is [`StoreError::Duplicate`], and
    /// then nothing changes.
    async fn begin_bulk(&self, bulk: &NewBulk) -> Result<BulkBegun, StoreError>;

    /// The bulk kept under `key`.
    async fn bulk(&self, key: &str) -> Result<Option<StoredBulk>, StoreError>;

    /// Keeps a part, in one transaction with the bulk's counters, if it starts exactly where the
    /// bulk stands (`part.first` is its `subjects`): `true` when kept; `false` when the bulk
    /// stands elsewhere (the part was taken before, or it would leave a gap), and then nothing
    /// changes. [`StoreError::NotFound`] when no bulk has `key`.
    async fn add_bulk_part(&self, key: &str, part: &BulkPart) -> Result<bool, StoreError>;

    /// At most `limit` parts of the bulk under `key` that hold subjects at or after `from` (the
    /// part holding `from`, then those after it), in order of `first`; none for an unknown key.
    /// A part may be large: a small `limit` keeps the answer small.
    async fn bulk_parts(
        &self,
        key: &str,
        from: u64,
        limit: u32,
    ) -> Result<Vec<BulkPart>, StoreError>;

    /// Forgets at most `limit` bulks made before `before`, the oldest first, with their parts;
    /// returns how many. A bulk asked again under a forgotten key is a new bulk.
    async fn forget_bulks(&self, before: OffsetDateTime, limit: u32) -> Result<u64, StoreError>;
}
