//! The provider side of subscriptions: what was granted to whom ([`NewSubscription`]), the
//! subjects each covers, how far each register's change feed has been matched, and the notices
//! matching queued ([`Notice`]). Engine-neutral; the SQL is in `sql::subscriptions`.
//!
//! Matching is set-based and keyed: the subjects a subscription covers are rows keyed by
//! (offering, subject, subscription), so the subscriptions a change concerns are found by one
//! index lookup per change, whatever the number of pairs held. The change cursor advances in
//! the same transaction as the notices it queued: a batch of changes matched twice (a node
//! stopped after matching, before it learnt so) queues nothing the second time.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;

use crate::exchange::{check_id, check_json, check_text};
use crate::register::check_name;
use crate::StoreError;

/// The most subjects one call adds to a subscription; larger lists arrive in several calls.
pub const MAX_SUBJECTS_PER_CALL: usize = 50_000;

/// A subscription the provider's rulebook granted.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSubscription {
    /// Its id (chosen by the provider's node).
    pub id: String,
    /// The subscribing authority.
    pub subscriber: String,
    /// The offering whose changes it follows.
    pub offering: String,
    /// The event types granted, sorted.
    pub events: Vec<String>,
    /// The fields a notice may carry values of (empty: thin notices only), sorted.
    pub fields: Vec<String>,
    /// The request as decided (unit, officer, purpose, legal basis, case reference), JSON.
    pub request: String,
    /// The ledger entry that recorded the decision.
    pub decision_index: u64,
    /// When it was granted; changes before then are not its concern.
    pub created_at: OffsetDateTime,
    /// When it ends; changes from then on are not its concern.
    pub ends_at: OffsetDateTime,
}

impl NewSubscription {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        check_id("subscription id", &self.id)?;
        check_id("subscriber", &self.subscriber)?;
        check_name("offering", &self.offering)?;
        if self.events.is_empty() {
            return Err(StoreError::InvalidInput {
                what: "event types",
                reason: "none was granted".to_owned(),
            });
        }
        for name in self.events.iter().chain(&self.fields) {
            check_name("event type or field", name)?;
        }
        check_json("subscription request", &self.request)?;
        if self.ends_at <= self.created_at {
            return Err(StoreError::InvalidInput {
                what: "subscription end",
                reason: "it is not after the start".to_owned(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for NewSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSubscription")
            .field("id", &self.id)
            .field("subscriber", &self.subscriber)
            .field("offering", &self.offering)
            .field("events", &self.events)
            .field("fields", &self.fields)
            .field("request_bytes", &self.request.len())
            .field("decision_index", &self.decision_index)
            .field("created_at", &self.created_at)
            .field("ends_at", &self.ends_at)
            .finish()
    }
}

/// A subscription decided again to run longer: what the provider's rulebook grants now.
#[derive(Clone, PartialEq, Eq)]
pub struct Renewal {
    pub id: String,
    /// The event types granted now (not empty), sorted.
    pub events: Vec<String>,
    /// The fields a notice may carry values of now, sorted.
    pub fields: Vec<String>,
    /// The new end.
    pub ends_at: OffsetDateTime,
    /// The ledger entry that recorded the new decision.
    pub decision_index: u64,
    /// What the provider keeps with it now (JSON).
    pub request: String,
}

impl Renewal {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        check_id("subscription id", &self.id)?;
        if self.events.is_empty() {
            return Err(StoreError::InvalidInput {
                what: "event types",
                reason: "none was granted".to_owned(),
            });
        }
        for name in &self.events {
            check_name("event type", name)?;
        }
        for name in &self.fields {
            check_name("field", name)?;
        }
        check_json("subscription request", &self.request)
    }
}

impl fmt::Debug for Renewal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renewal")
            .field("id", &self.id)
            .field("events", &self.events)
            .field("fields", &self.fields)
            .field("ends_at", &self.ends_at)
            .field("decision_index", &self.decision_index)
            .finish_non_exhaustive()
    }
}

/// Whether a subscription still gets notices (until it ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionState {
    /// Notices are queued for changes before it ends.
    Active,
    /// Cancelled by the subscriber or the provider: nothing more is queued.
    Cancelled,
}

impl SubscriptionState {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A subscription as held, with its state and how many subjects it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSubscription {
    /// What was granted.
    pub subscription: NewSubscription,
    /// Active or cancelled.
    pub state: SubscriptionState,
    /// The (offering, subject) pairs it covers.
    pub subjects: u64,
}

/// A change as matching sees it: the register's change with the event types it stands for
/// (from the rulebook's definition of the offering's events).
#[derive(Clone, PartialEq, Eq)]
pub struct ChangeToMatch {
    /// Its place in its feed.
    pub seq: u64,
    /// The offering id.
    pub offering: String,
    /// Whom it is about.
    pub subject: SubjectId,
    /// The event types it stands for, sorted.
    pub events: Vec<String>,
    /// The fields changed, sorted.
    pub fields: Vec<String>,
    /// When the register was written.
    pub at: OffsetDateTime,
}

impl fmt::Debug for ChangeToMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeToMatch")
            .field("seq", &self.seq)
            .field("offering", &self.offering)
            .field("events", &self.events)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

/// A notice queued for a subscriber: that `subject` changed in `offering` — the event types and
/// field names. Queued, it holds no values; taken by a subscriber, it holds the values it
/// carried, where its subscription may carry values. `Debug` leaves the subject and values out.
#[derive(Clone, PartialEq, Eq)]
pub struct Notice {
    /// Its place among this node's notices: increasing, so ordered per subject too.
    pub seq: u64,
    /// The subscription it is for.
    pub subscription: String,
    /// The subscribing authority.
    pub subscriber: String,
    /// The change it tells of: its feed and place there.
    pub feed: String,
    /// The change's `seq` in its feed.
    pub change_seq: u64,
    /// The offering id.
    pub offering: String,
    /// Whom it is about.
    pub subject: SubjectId,
    /// The event types, of those the subscription was granted.
    pub events: Vec<String>,
    /// The fields changed.
    pub fields: Vec<String>,
    /// When the register was written.
    pub changed_at: OffsetDateTime,
    /// The values carried, of fields changed (empty: a thin notice).
    pub values: NoticeValues,
}

/// The values a notice carries: field id → value.
pub type NoticeValues = std::collections::BTreeMap<String, serde_json::Value>;

impl fmt::Debug for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notice")
            .field("seq", &self.seq)
            .field("subscription", &self.subscription)
            .field("subscriber", &self.subscriber)
            .field("change_seq", &self.change_seq)
            .field("offering", &self.offering)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The subscriptions a provider's node granted and the notices they are owed.
#[async_trait]
pub trait Subscriptions: Send + Sync {
    /// Keeps a granted subscription. The same subscription again is a no-op (`false`); another
    /// one under the same id is [`StoreError::Duplicate`].
    async fn create_subscription(&self, subscription: &NewSubscription)
        -> Result<bool, StoreError>;

    /// Adds subjects (at most [`MAX_SUBJECTS_PER_CALL`]) to an active subscription; returns
    /// how many it did not cover before. [`StoreError::NotFound`] for no active subscription.
    async fn add_subjects(&self, id: &str, subjects: &[SubjectId]) -> Result<u64, StoreError>;

    /// The subscription with this id.
    async fn subscription(&self, id: &str) -> Result<Option<StoredSubscription>, StoreError>;

    /// At most `limit` subscriptions granted here, with ids after `after`, in id order (an id
    /// is the subscriber's authority, `/`, its own id): who subscribes to what.
    async fn subscriptions_granted(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredSubscription>, StoreError>;

    /// Renews an active subscription: from now on it is granted `renewal.events` until
    /// `renewal.ends_at`, under the decision `renewal.decision_index`. `false` when there is no
    /// active subscription with this id (or the end is not after its start).
    async fn renew_subscription(&self, renewal: &Renewal) -> Result<bool, StoreError>;

    /// Cancels an active subscription: no notice is queued for it from now on. `false` when
    /// there is no active subscription with this id.
    async fn cancel_subscription(&self, id: &str) -> Result<bool, StoreError>;

    /// The `seq` of the last change of `feed` matched (0 before the first).
    async fn change_cursor(&self, feed: &str) -> Result<u64, StoreError>;

    /// Matches changes of `feed` against the active subscriptions and queues one notice per
    /// (subscription, change) where the subscription covers the change's subject, was granted
    /// one of its event types, and was in force when the change was made; advances the feed's
    /// cursor to `through` (the last change read, whether or not it is among `changes`: a
    /// change of no event type is not), in the same transaction. Changes at or before the
    /// cursor are skipped. Returns the number of notices queued.
    async fn match_changes(
        &self,
        feed: &str,
        through: u64,
        changes: &[ChangeToMatch],
    ) -> Result<u64, StoreError>;

    /// At most `limit` notices for `subscriber` after `after` (a notice's `seq`), oldest first.
    async fn notices_after(
        &self,
        subscriber: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Notice>, StoreError>;
}

/// A notice as the subscriber's node took it. `Debug` leaves the subject out.
#[derive(Clone, PartialEq, Eq)]
pub struct ReceivedNotice {
    /// Its place among the notices this node took: increasing (the feed case systems follow).
    pub seq: u64,
    /// The providing authority.
    pub provider: String,
    /// Its place among the provider's notices.
    pub provider_seq: u64,
    /// The subscriber's own id of the subscription.
    pub subscription: String,
    /// The offering id.
    pub offering: String,
    /// Whom it is about.
    pub subject: SubjectId,
    /// The event types.
    pub events: Vec<String>,
    /// The fields changed.
    pub fields: Vec<String>,
    /// The values it carried (empty: a thin notice).
    pub values: NoticeValues,
    /// When the provider's register was written.
    pub changed_at: OffsetDateTime,
    /// When this node took it.
    pub received_at: OffsetDateTime,
}

impl fmt::Debug for ReceivedNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedNotice")
            .field("seq", &self.seq)
            .field("provider", &self.provider)
            .field("provider_seq", &self.provider_seq)
            .field("subscription", &self.subscription)
            .field("offering", &self.offering)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Delivering notices: the provider's cursor per subscriber, and the subscriber's side, which
/// takes each notice once and keeps them in the order taken.
#[async_trait]
pub trait NoticeDelivery: Send + Sync {
    /// How far delivery to `subscriber` stands (zeros before the first notice).
    async fn delivery_cursor(&self, subscriber: &str) -> Result<DeliveryCursor, StoreError>;

    /// `subscriber` acknowledged every notice through `through`: the cursor moves (only ever
    /// forward) and those notices are forgotten — who changed when is kept no longer than it
    /// takes to tell; the ledgers keep what was told.
    async fn notices_delivered(&self, subscriber: &str, through: u64) -> Result<(), StoreError>;

    /// Every notice to `subscriber` through `through` is recorded in the ledger (as sent or
    /// withheld), those after the delivery cursor in `parts`. Only moves forward.
    async fn notices_recorded(
        &self,
        subscriber: &str,
        through: u64,
        parts: &[RecordedPart],
    ) -> Result<(), StoreError>;

    /// Subscribers owed notices (queued after their cursor), at most `limit`, in name order.
    async fn subscribers_owed(&self, limit: u32) -> Result<Vec<String>, StoreError>;

    /// Takes notices from `provider`, as its subscriber: each once by the provider's `seq`, in
    /// the order given (a notice's `subscription` is the subscriber's own id; its `subscriber`,
    /// `feed` and `change_seq` are the provider's and not kept). Returns how many were new.
    async fn take_notices(
        &self,
        provider: &str,
        notices: &[Notice],
        received_at: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// The highest provider `seq` taken from `provider` (0 before the first).
    async fn taken_through(&self, provider: &str) -> Result<u64, StoreError>;

    /// Forgets at most `limit` of the notices taken before `before`, oldest first, through this
    /// node's `seq` `through` (those after it are still to be pushed to the case system); each
    /// provider's newest notice is kept, so that what was taken from it is still known. Returns
    /// how many were forgotten.
    async fn forget_received_notices(
        &self,
        before: OffsetDateTime,
        through: u64,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// At most `limit` notices taken after `after` (this node's `seq`), oldest first: those of
    /// the subscriptions `unit` holds, or every one when `None`.
    async fn received_after(
        &self,
        unit: Option<&str>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<ReceivedNotice>, StoreError>;
}

/// How far delivery to one subscriber stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCursor {
    /// The last notice the subscriber acknowledged.
    pub delivered: u64,
    /// The last notice recorded in the ledger; at or after `delivered`.
    pub recorded: u64,
    /// How the notices after `delivered` through `recorded` were recorded (empty when none
    /// are): sent again after a failure, they are sent as recorded.
    pub parts: Vec<RecordedPart>,
}

/// Notices `first` through `last` to one subscriber, recorded in one ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordedPart {
    pub first: u64,
    pub last: u64,
    /// The ledger entry.
    pub index: u64,
    /// Recorded as sent (`true`) or withheld.
    pub told: bool,
    /// The event types its notices told of, as recorded (the same for each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// The values its notices carried, as recorded, by notice; kept only until the
    /// subscriber acknowledges them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<u64, NoticeValues>,
}

/// A subscription this node holds at a provider, as a subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct HeldSubscription {
    /// The id this node chose (the provider knows it by the same id).
    pub id: String,
    /// The providing authority.
    pub provider: String,
    /// The offering followed.
    pub offering: String,
    /// The unit that asked, and in which role.
    pub unit: String,
    pub role: String,
    /// The officer that asked, where one did.
    pub officer: Option<String>,
    /// Why: purpose, legal basis, case reference.
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    /// The event types the provider granted, sorted.
    pub events: Vec<String>,
    /// How many subjects the provider says it covers.
    pub subjects: u64,
    /// The provider's signed verdict (JSON).
    pub verdict: String,
    /// When it was granted and when it ends.
    pub created_at: OffsetDateTime,
    pub ends_at: OffsetDateTime,
}

impl HeldSubscription {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        check_id("subscription id", &self.id)?;
        check_id("provider", &self.provider)?;
        check_name("offering", &self.offering)?;
        check_text("unit", &self.unit, 256)?;
        check_text("role", &self.role, 256)?;
        if let Some(officer) = &self.officer {
            check_text("officer", officer, 256)?;
        }
        check_text("purpose", &self.purpose, 512)?;
        check_text("legal basis", &self.legal_basis, 512)?;
        check_text("case reference", &self.case_ref, 256)?;
        for name in &self.events {
            check_name("event type", name)?;
        }
        check_json("verdict", &self.verdict)?;
        if self.ends_at <= self.created_at {
            return Err(StoreError::InvalidInput {
                what: "subscription end",
                reason: "it is not after the start".to_owned(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for HeldSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldSubscription")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("offering", &self.offering)
            .field("unit", &self.unit)
            .field("events", &self.events)
            .field("subjects", &self.subjects)
            .field("ends_at", &self.ends_at)
            .finish_non_exhaustive()
    }
}

/// A held subscription with its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredHeld {
    pub held: HeldSubscription,
    pub state: SubscriptionState,
}

/// Where pushing the notices taken to a case system stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushState {
    /// The last notice (this node's `seq`) the case system accepted.
    pub through: u64,
    /// Failed attempts since the last success.
    pub attempts: u32,
    /// When to try again after a failure.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The last failure, without the URL or anything about a subject.
    pub error: Option<String>,
    /// Given up: nothing is pushed until an administrator re-enables it.
    pub dead: bool,
}

/// The subscriber's side: the subscriptions this node holds at providers, and the push of the
/// notices it took to a case system.
#[async_trait]
pub trait HeldSubscriptions: Send + Sync {
    /// Keeps a granted subscription. The same one again is a no-op (`false`); another under the
    /// same id is [`StoreError::Duplicate`].
    async fn hold_subscription(&self, held: &HeldSubscription) -> Result<bool, StoreError>;

    /// The held subscription with this id.
    async fn held_subscription(&self, id: &str) -> Result<Option<StoredHeld>, StoreError>;

    /// At most `limit` held subscriptions of `unit` (every unit's when `None`) with ids after
    /// `after`, in id order.
    async fn held_subscriptions(
        &self,
        unit: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredHeld>, StoreError>;

    /// The provider now covers `subjects` subjects under subscription `id`.
    async fn held_subjects(&self, id: &str, subjects: u64) -> Result<(), StoreError>;

    /// A held subscription renewed at its provider: the event types granted now, the new end and
    /// the provider's new verdict. `false` when none is active with this id.
    async fn renew_held(
        &self,
        id: &str,
        events: &[String],
        ends_at: OffsetDateTime,
        verdict: &str,
    ) -> Result<bool, StoreError>;

    /// Marks a held subscription cancelled; `false` when none was active.
    async fn end_held_subscription(&self, id: &str) -> Result<bool, StoreError>;

    /// Where pushing to the webhook `name` stands (the default before the first push).
    async fn push_state(&self, name: &str) -> Result<PushState, StoreError>;

    /// Keeps where pushing to `name` stands.
    async fn set_push_state(&self, name: &str, state: &PushState) -> Result<(), StoreError>;
}

pub(crate) fn check_feed(feed: &str) -> Result<(), StoreError> {
    check_text("change feed", feed, 128)
}

pub(crate) fn check_subjects(subjects: &[SubjectId]) -> Result<(), StoreError> {
    if subjects.len() > MAX_SUBJECTS_PER_CALL {
        return Err(StoreError::InvalidInput {
            what: "subjects",
            reason: format!(
                "{} in one call; the limit is {MAX_SUBJECTS_PER_CALL}",
                subjects.len()
            ),
        });
    }
    Ok(())
}
