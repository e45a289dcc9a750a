//! Subscriptions as a subscriber's case systems see them: what they ask for (`Subscribe`), the
//! subscriptions their node holds (`SubscriptionView`), and the notices taken (`NoticePage`).

use crate::verdict::{Outcome, Receipt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A subscription a case system or officer asks its node to make at the offering's provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    /// Chosen by the caller, unique among this node's subscriptions: 1 to 128 letters, digits,
    /// `-` and `_`. The same request again is the same subscription.
    pub subscription_id: String,
    /// The subscribing officer, unit and role, as for a request.
    pub officer: String,
    pub unit: String,
    pub role: String,
    pub offering: String,
    /// The event types asked for (the offering's `events`).
    pub events: Vec<String>,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it ends: after now, at most 366 days ahead.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ends: OffsetDateTime,
    /// The first subjects, 1 to 5,000; more with `POST /v1/subscriptions/{id}/subjects`.
    pub subjects: Vec<String>,
}

/// More subjects for a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSubjects {
    /// 1 to 5,000 subjects.
    pub subjects: Vec<String>,
}

/// A longer life for a subscription: decided again by the provider's rulebook in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Renew {
    /// The new end: after now, at most 366 days ahead.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ends: OffsetDateTime,
}

/// One event type as the provider decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventOutcome {
    pub event: String,
    /// `disclose`: granted.
    pub outcome: Outcome,
    /// The fields whose values its notices carry (a pre-assessment lets them); empty: its
    /// notices name the fields changed, without values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Whether a subscription still brings notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    /// Past its end.
    Ended,
    Cancelled,
    /// Nothing was granted; the node holds no subscription.
    Refused,
}

/// A subscription this node holds at a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionView {
    pub id: String,
    pub provider: String,
    pub offering: String,
    pub unit: String,
    pub status: SubscriptionStatus,
    /// The event types granted.
    pub granted: Vec<String>,
    /// Every event type asked for, with its outcome (when the verdict is at hand).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventOutcome>,
    /// How many subjects the provider covers.
    pub subjects: u64,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ends: OffsetDateTime,
    /// The provider's ledger entry recording its decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Receipt>,
}

/// A notice this node took: that a subject changed at a provider — the event types and the
/// fields changed; values only where a pre-assessment lets the subscription's notices carry
/// them, otherwise read with an ordinary request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeView {
    /// Its place in this node's feed: pass the last one seen as `after`.
    pub seq: u64,
    pub provider: String,
    /// The provider's number of the notice (with `provider`, the same on a repeat).
    pub provider_seq: u64,
    pub subscription: String,
    pub offering: String,
    pub subject: String,
    pub events: Vec<String>,
    pub fields: Vec<String>,
    /// The values carried, of fields changed (absent for a thin notice).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub changed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub received_at: OffsetDateTime,
}

/// A page of the notice feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticePage {
    pub notices: Vec<NoticeView>,
    /// The cursor to ask after next (the last notice's `seq`, or the one asked with).
    pub next: u64,
}

/// Where pushing notices to the case system's webhook stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushView {
    /// Whether a webhook is configured (`[subscriptions] webhook`).
    pub configured: bool,
    /// The last notice the case system accepted.
    pub through: u64,
    /// Failed attempts since the last success.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Given up: nothing is pushed until re-enabled.
    pub dead: bool,
}

/// A subscription this node granted as a provider: who subscribes to what, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantedView {
    /// The subscriber's id of it.
    pub id: String,
    pub subscriber: String,
    pub unit: String,
    pub role: String,
    pub offering: String,
    /// The event types granted.
    pub events: Vec<String>,
    pub subjects: u64,
    /// `active`, `ended` or `cancelled`.
    pub status: SubscriptionStatus,
    pub purpose: String,
    pub legal_basis: String,
    pub case_ref: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub ends: OffsetDateTime,
    /// The ledger entry recording the decision.
    pub decision: u64,
}

/// Which subscriptions to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionListQuery {
    /// Only this unit's subscriptions: a unit id, printable text of at most 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    pub unit: Option<String>,
    /// The id of the last subscription of the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(min_length = 1, max_length = 128, pattern = r"^[A-Za-z0-9_-]+$")]
    pub after: Option<String>,
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Which granted subscriptions to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GrantedListQuery {
    /// The id (subscriber, `/`, its id) of the last subscription of the page before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    pub after: Option<String>,
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Which notices to read from the feed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoticeFeedQuery {
    /// Only notices of this unit's subscriptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    pub unit: Option<String>,
    /// The `seq` of the last notice seen (0 or absent: from the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    pub after: Option<u64>,
    /// 1 to 500; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// When there is no notice yet, wait up to this many seconds (0 to 30) for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u32>,
}
