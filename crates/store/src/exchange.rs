//! The exchange state contract: what an agency node remembers about exchanges, as plain data.
//! Engine-neutral; the SQL lives in the engines (`sqlite::exchange`).
//!
//! Three concerns, all small:
//!
//! - the consumer side's *outgoing requests*, one per idempotency key, so that a case system
//!   retrying a request gets the first attempt's outcome instead of a second disclosure
//!   ([`OutgoingRequest`], [`StoredOutgoing`], [`OutgoingState`]);
//! - the provider side's *replay guard*: the request ids each peer has sent recently, with the
//!   answers signed for them (`replay`);
//! - the provider side's *review queue*: requests the rulebook routed to a human reviewer, and
//!   each reviewer's decision ([`NewReview`], [`ReviewDecided`], [`StoredReview`]).
//!
//! Requests, answers and decisions are JSON texts the node produces; the store checks that they
//! are JSON and bounded, never what they say. They carry personal data (the subject's
//! identifier, disclosed values), so `Debug` shows their sizes only.
//!
//! Times are kept to the second: an engine stores whole unix seconds, so a time read back is the
//! time written, truncated to the second, in UTC.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use async_trait::async_trait;

use crate::page::{Cursor, Page};
use crate::StoreError;

/// The longest idempotency key, request id, request hash, authority id, officer or reviewer id
/// and review ticket accepted, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// The longest callback URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// The largest request, answer, decision or review text accepted, in bytes of JSON. An answer
/// holds the disclosed fields of one subject; a megabyte is far more than any offering yields.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Where an outgoing request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutgoingState {
    /// Sent (or about to be); the provider has not answered yet.
    InFlight,
    /// The provider answered. Covers full and partial disclosure and refusal: the answer says
    /// which. Final.
    Answered,
    /// The provider routed the request to a reviewer and gave a ticket to poll with.
    InReview,
    /// The exchange ended without an answer: the provider refused it, or could not be reached
    /// for too long. The store keeps the problem it ended with. Final.
    Failed,
}

impl OutgoingState {
    /// The state's name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InFlight => "in_flight",
            Self::Answered => "answered",
            Self::InReview => "in_review",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::InFlight, Self::Answered, Self::InReview, Self::Failed]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// What [`begin_outgoing`](crate::ExchangeStore::begin_outgoing) found.
///
/// Not boxed although one variant is large: it is returned once per request and matched at
/// once, never kept in bulk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Begun {
    /// The key was new: the request is stored in flight and is the caller's to send.
    Started,
    /// The key was already used for the same request: here it is, in whatever state it is. The
    /// caller must not send it again.
    Existing(StoredOutgoing),
}

/// A request this node is about to send for one of its case systems.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingRequest {
    /// The case system's idempotency key.
    pub key: String,
    /// SHA-256 (hex) of the canonical request, computed by the caller: the same key with another
    /// hash is a different request, which is refused.
    pub request_hash: String,
    /// The request id sent to the provider (what its replay guard remembers).
    pub request_id: String,
    /// The provider's authority id.
    pub provider: String,
    /// The officer the request is made for, if the case system named one.
    pub officer: Option<String>,
    /// The local API client that made it.
    pub client: Option<String>,
    /// The request as JSON.
    pub request_json: String,
    /// Where to deliver the answer, if the case system asked for a callback.
    pub callback: Option<String>,
    /// When the request was begun.
    pub created_at: OffsetDateTime,
}

/// The outcome of an outgoing request, for
/// [`complete_outgoing`](crate::ExchangeStore::complete_outgoing).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingUpdate {
    /// [`OutgoingState::Answered`] (needs `answer_json`) or [`OutgoingState::InReview`] (needs
    /// `ticket`).
    pub state: OutgoingState,
    /// The provider's answer as JSON.
    pub answer_json: Option<String>,
    /// The provider's review ticket. `None` when answering a request in review keeps its ticket.
    pub ticket: Option<String>,
    /// When the outcome arrived.
    pub updated_at: OffsetDateTime,
}

/// An outgoing request as the store holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredOutgoing {
    /// The case system's idempotency key.
    pub key: String,
    /// SHA-256 (hex) of the canonical request.
    pub request_hash: String,
    /// The request id sent to the provider.
    pub request_id: String,
    /// The provider's authority id.
    pub provider: String,
    /// The officer the request was made for.
    pub officer: Option<String>,
    /// The local API client that made it (none: made before clients were authenticated).
    pub client: Option<String>,
    /// The request as JSON.
    pub request_json: String,
    /// Where to deliver the answer.
    pub callback: Option<String>,
    /// Where the request stands.
    pub state: OutgoingState,
    /// The provider's answer, once there is one.
    pub answer_json: Option<String>,
    /// The provider's review ticket, once the request went to review.
    pub ticket: Option<String>,
    /// When the request was begun (to the second).
    pub created_at: OffsetDateTime,
    /// When its state last changed (to the second).
    pub updated_at: OffsetDateTime,
    /// Whether the answer has been delivered to the callback.
    pub callback_delivered: bool,
    /// The problem (RFC 9457, as JSON) a failed request ended with; `Some` exactly when the
    /// state is [`OutgoingState::Failed`].
    pub failure_json: Option<String>,
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a reviewer.
    Pending,
    /// A reviewer decided; the answer is ready for the requester. Final.
    Decided,
}

impl ReviewState {
    /// The state's name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Decided => "decided",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Decided]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// A request the rulebook routed to review, as the provider queues it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The ticket the requester polls with.
    pub ticket: String,
    /// The requesting authority's id.
    pub requester: String,
    /// The requester's request id.
    pub request_id: String,
    /// The request as JSON.
    pub request_json: String,
    /// The rulebook's decision (what must be weighed) as JSON.
    pub decision_json: String,
    /// The ledger entry that recorded the routing to review.
    pub ledger_index: u64,
    /// When the review was queued.
    pub created_at: OffsetDateTime,
    /// What the request shares with requests alike in everything but their subject (a digest):
    /// reviews with the same batch may be decided as one.
    pub batch: String,
}

/// A reviewer's decision, for [`decide_review`](crate::ExchangeStore::decide_review).
#[derive(Clone, PartialEq, Eq)]
pub struct ReviewDecided {
    /// The reviewer's id.
    pub reviewer: String,
    /// The reviewer's decision (per field, with reasons) as JSON.
    pub review_json: String,
    /// The answer to deliver to the requester as JSON.
    pub answer_json: String,
    /// The ledger entry that recorded the decision.
    pub ledger_index: u64,
    /// When the reviewer decided.
    pub decided_at: OffsetDateTime,
}

/// A review as the store holds it. The decision's fields are `Some` exactly when the state is
/// [`ReviewState::Decided`].
#[derive(Clone, PartialEq, Eq)]
pub struct StoredReview {
    /// The ticket the requester polls with.
    pub ticket: String,
    /// The requesting authority's id.
    pub requester: String,
    /// The requester's request id.
    pub request_id: String,
    /// The request as JSON.
    pub request_json: String,
    /// The rulebook's decision as JSON.
    pub decision_json: String,
    /// The ledger entry that recorded the routing to review.
    pub ledger_index: u64,
    /// When the review was queued (to the second).
    pub created_at: OffsetDateTime,
    /// The batch of requests alike but for their subject, `None` for a review queued before
    /// batches were kept.
    pub batch: Option<String>,
    /// Where the review stands.
    pub state: ReviewState,
    /// Who decided.
    pub reviewer: Option<String>,
    /// The reviewer's decision as JSON.
    pub review_json: Option<String>,
    /// The answer to deliver as JSON.
    pub answer_json: Option<String>,
    /// The ledger entry that recorded the decision.
    pub decided_ledger_index: Option<u64>,
    /// When the reviewer decided (to the second).
    pub decided_at: Option<OffsetDateTime>,
}

/// Shows a JSON text's size, never its content.
pub(crate) struct Redacted<'a>(pub(crate) &'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes of JSON>", self.0.len())
    }
}

fn redacted(text: &Option<String>) -> Option<Redacted<'_>> {
    text.as_deref().map(Redacted)
}

impl fmt::Debug for OutgoingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingRequest")
            .field("key", &self.key)
            .field("request_id", &self.request_id)
            .field("provider", &self.provider)
            .field("request_json", &Redacted(&self.request_json))
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OutgoingUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingUpdate")
            .field("state", &self.state)
            .field("answer_json", &redacted(&self.answer_json))
            .field("ticket", &self.ticket)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Debug for StoredOutgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredOutgoing")
            .field("key", &self.key)
            .field("request_id", &self.request_id)
            .field("provider", &self.provider)
            .field("request_json", &Redacted(&self.request_json))
            .field("state", &self.state)
            .field("answer_json", &redacted(&self.answer_json))
            .field("ticket", &self.ticket)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("callback_delivered", &self.callback_delivered)
            .field("failure_json", &redacted(&self.failure_json))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewReview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewReview")
            .field("ticket", &self.ticket)
            .field("requester", &self.requester)
            .field("request_id", &self.request_id)
            .field("request_json", &Redacted(&self.request_json))
            .field("decision_json", &Redacted(&self.decision_json))
            .field("ledger_index", &self.ledger_index)
            .field("created_at", &self.created_at)
            .field("batch", &self.batch)
            .finish()
    }
}

impl fmt::Debug for ReviewDecided {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReviewDecided")
            .field("reviewer", &self.reviewer)
            .field("review_json", &Redacted(&self.review_json))
            .field("answer_json", &Redacted(&self.answer_json))
            .field("ledger_index", &self.ledger_index)
            .field("decided_at", &self.decided_at)
            .finish()
    }
}

impl fmt::Debug for StoredReview {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredReview")
            .field("ticket", &self.ticket)
            .field("requester", &self.requester)
            .field("request_id", &self.request_id)
            .field("request_json", &Redacted(&self.request_json))
            .field("state", &self.state)
            .field("reviewer", &self.reviewer)
            .field("answer_json", &redacted(&self.answer_json))
            .field("decided_at", &self.decided_at)
            .finish_non_exhaustive()
    }
}

/// An id (key, request id, hash, authority, officer, reviewer, ticket) must be non-empty and at
/// most [`MAX_ID_BYTES`] long. The message never quotes it: an officer id is a person's.
pub(crate) fn check_id(what: &'static str, id: &str) -> Result<(), StoreError> {
    check_text(what, id, MAX_ID_BYTES)
}

/// A callback URL must be non-empty and at most [`MAX_URL_BYTES`] long.
pub(crate) fn check_url(what: &'static str, url: &str) -> Result<(), StoreError> {
    check_text(what, url, MAX_URL_BYTES)
}

/// A JSON text must parse and be at most [`MAX_JSON_BYTES`] long.
pub(crate) fn check_json(what: &'static str, json: &str) -> Result<(), StoreError> {
    check_json_within(what, json, MAX_JSON_BYTES)
}

/// A JSON text must parse and be at most `limit` bytes long.
pub(crate) fn check_json_within(
    what: &'static str,
    json: &str,
    limit: usize,
) -> Result<(), StoreError> {
    if json.len() > limit {
        return Err(too_long(what, json.len(), limit));
    }
    // The parser's message gives line and column, never the text.
    serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(|error| {
        StoreError::InvalidInput {
            what,
            reason: format!("it is not JSON ({error})"),
        }
    })?;
    Ok(())
}

/// SQLite integers are signed; a ledger index beyond `i64::MAX` cannot occur in practice, but
/// must not wrap around into a negative number if it does.
pub(crate) fn check_index(what: &'static str, index: u64) -> Result<i64, StoreError> {
    i64::try_from(index).map_err(|_| StoreError::InvalidInput {
        what,
        reason: format!("it is larger than {}", i64::MAX),
    })
}

pub(crate) fn check_text(what: &'static str, text: &str, limit: usize) -> Result<(), StoreError> {
    if text.is_empty() {
        return Err(StoreError::InvalidInput {
            what,
            reason: "it is empty".to_owned(),
        });
    }
    if text.len() > limit {
        return Err(too_long(what, text.len(), limit));
    }
    Ok(())
}

fn too_long(what: &'static str, bytes: usize, limit: usize) -> StoreError {
    StoreError::InvalidInput {
        what,
        reason: format!("it is {bytes} bytes long; the limit is {limit}"),
    }
}

/// The consumer side's outgoing requests, one per idempotency key. Each state change is
/// conditional on the state it starts from, so of two tasks racing on one request exactly one
/// wins, whichever engine and however many node instances share it.
#[async_trait]
pub trait OutgoingRequests: Send + Sync {
    /// Starts a request for a case system, keyed by its idempotency key.
    ///
    /// A new key is stored in flight and gives [`Begun::Started`]: the request is the caller's to
    /// send. A key already used for a request with the same `request_hash` gives
    /// [`Begun::Existing`] with the stored request, whatever its state, and must not be sent
    /// again. A key already used for a different request is
    /// [`StoreError::IdempotencyConflict`].
    async fn begin_outgoing(&self, request: &OutgoingRequest) -> Result<Begun, StoreError>;

    /// Records the outcome of a request: [`OutgoingState::Answered`] with the answer (from in
    /// flight, or from in review when the reviewer's decision arrives), or
    /// [`OutgoingState::InReview`] with the provider's ticket (from in flight only). An answer is
    /// final.
    ///
    /// [`StoreError::NotFound`] if no request has the key; [`StoreError::InvalidTransition`] if
    /// its state does not allow the change (then nothing changes).
    async fn complete_outgoing(&self, key: &str, update: &OutgoingUpdate)
        -> Result<(), StoreError>;

    /// Removes a request still in flight, whose sending failed before the provider answered, so
    /// that a retry with the same key starts afresh. Only a request in flight is removed (one
    /// with an outcome is kept, so a retry finds it); returns whether one was.
    async fn abandon_outgoing(&self, key: &str) -> Result<bool, StoreError>;

    /// The request with this idempotency key, if there is one.
    async fn outgoing(&self, key: &str) -> Result<Option<StoredOutgoing>, StoreError>;

    /// Ends a request still in flight as failed, with the problem (RFC 9457, as JSON) it ended
    /// with. [`StoreError::InvalidTransition`] if it is no longer in flight (an answer arrived
    /// first, and stands); [`StoreError::NotFound`] if there is no such request.
    async fn fail_outgoing(
        &self,
        key: &str,
        failure_json: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Up to `limit` requests still in flight that were begun before `begun_before`, oldest
    /// first: the exchanges recovery drives to an end.
    async fn outgoing_in_flight(
        &self,
        begun_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<StoredOutgoing>, StoreError>;

    /// Up to `limit` requests in review, oldest request first: the node polls their providers.
    async fn outgoing_in_review(&self, limit: u32) -> Result<Vec<StoredOutgoing>, StoreError>;

    /// Forgets at most `limit` requests that ended (answered or failed) before `before`, the
    /// oldest made first, with their callbacks' schedule; one whose callback is still to be
    /// delivered is kept. A retry under a forgotten key is a new request. Returns how many were
    /// forgotten.
    async fn forget_ended_outgoing(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// A page of at most `limit` requests, newest first, starting after `after` (from the start
    /// without one): all of them, or only those made for `officer`, and only those `client`
    /// made (with those no client is recorded for).
    async fn list_outgoing(
        &self,
        officer: Option<&str>,
        client: Option<&str>,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<StoredOutgoing>, StoreError>;
}

/// The provider side's review queue: requests the rulebook routed to a reviewer, and each
/// reviewer's decision. Of concurrent deciders of one ticket, exactly one succeeds.
#[async_trait]
pub trait ReviewQueue: Send + Sync {
    /// Queues a request for review. [`StoreError::Duplicate`] if the ticket is already queued
    /// (then nothing changes).
    async fn enqueue_review(&self, review: &NewReview) -> Result<(), StoreError>;

    /// The review with this ticket, if there is one.
    async fn review(&self, ticket: &str) -> Result<Option<StoredReview>, StoreError>;

    /// A page of at most `limit` reviews in `state`, starting after `after` (from the start
    /// without one): pending ones oldest first (the queue's order), decided ones most recently
    /// decided first.
    async fn reviews(
        &self,
        state: ReviewState,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<StoredReview>, StoreError>;

    /// Decides a pending review: records the reviewer, their decision and the answer to deliver,
    /// atomically. [`StoreError::NotFound`] if there is no such ticket;
    /// [`StoreError::AlreadyDecided`] if it is decided already, and then nothing changes. Of
    /// concurrent deciders of one ticket, exactly one succeeds.
    async fn decide_review(&self, ticket: &str, decided: &ReviewDecided) -> Result<(), StoreError>;

    /// Reviews still waiting for a reviewer.
    async fn pending_review_count(&self) -> Result<i64, StoreError>;

    /// The batches with at least `min` reviews pending, at most `limit`, the one whose oldest
    /// review has waited longest first; each with that review, read in the same query.
    async fn review_batches(&self, min: u32, limit: u32) -> Result<Vec<ReviewBatch>, StoreError>;

    /// The batch `batch`, with its oldest pending review, if it has one.
    async fn review_batch(&self, batch: &str) -> Result<Option<ReviewBatch>, StoreError>;

    /// A page of at most `limit` pending reviews of `batch`, oldest first, starting after
    /// `after` (from the start without one).
    async fn batch_reviews(
        &self,
        batch: &str,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<StoredReview>, StoreError>;

    /// Keeps a decision on a batch, covering the batch's reviews pending now: `false`, and
    /// nothing kept, if it has none.
    async fn begin_batch_decision(&self, decision: &BatchDecision) -> Result<bool, StoreError>;

    /// The decisions on batches not yet applied to every review they cover, oldest first.
    async fn batch_decisions(&self) -> Result<Vec<BatchDecision>, StoreError>;

    /// A page of at most `limit` reviews decision `id` covers that are still pending, oldest
    /// first, starting after `after`: its batch's pending reviews queued up to when it was
    /// taken. Empty for a decision not kept.
    async fn batch_decision_reviews(
        &self,
        id: &str,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Page<StoredReview>, StoreError>;

    /// Forgets decision `id`, applied to every review it covers.
    async fn end_batch_decision(&self, id: &str) -> Result<(), StoreError>;

    /// Claims the deciding of `what` for `holder` until `until`: `false`, and nothing changed,
    /// while another holder's claim runs past `now`. Instances of one node share a database, so
    /// of two reviewers deciding one review at two instances exactly one records a decision; a
    /// claim whose holder stopped lapses at `until`.
    async fn claim_deciding(
        &self,
        what: Deciding<'_>,
        holder: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Forgets at most `limit` reviews decided before `before`, the earliest decided first;
    /// returns how many. Pending reviews are never forgotten.
    async fn forget_decided_reviews(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Gives up `holder`'s claim on deciding `what`; nothing if another holds it now.
    async fn release_deciding(&self, what: Deciding<'_>, holder: &str) -> Result<(), StoreError>;
}

/// What a reviewer decides, claimed while their decision is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deciding<'a> {
    /// A request routed to review, by ticket.
    Review(&'a str),
    /// A notice the sender's rulebook held for review, by message id.
    HeldNotice(&'a str),
}

impl Deciding<'_> {
    /// The kind and key a claim is stored under.
    pub(crate) fn parts(self) -> (&'static str, String) {
        match self {
            Self::Review(ticket) => ("review", ticket.to_owned()),
            Self::HeldNotice(id) => ("held", id.to_owned()),
        }
    }
}

/// A reviewer's decision on a review batch, as taken: kept until it has been applied to every
/// review it covers.
#[derive(Clone, PartialEq, Eq)]
pub struct BatchDecision {
    /// Chosen by the node.
    pub id: String,
    /// The batch decided.
    pub batch: String,
    /// The decision, who vouched for the reviewer and the reviews excepted, as the node wrote it.
    pub decision_json: String,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for BatchDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchDecision")
            .field("id", &self.id)
            .field("batch", &self.batch)
            .field(
                "decision_json",
                &format_args!("<{} bytes of JSON>", self.decision_json.len()),
            )
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A batch of pending reviews: requests alike in everything but their subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewBatch {
    /// The batch.
    pub batch: String,
    /// How many of its reviews are pending.
    pub pending: u64,
    /// Its oldest pending review (the first queued; `created_at` says when).
    pub first: StoredReview,
}
