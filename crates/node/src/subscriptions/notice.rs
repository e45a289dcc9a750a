//! A notice on the wire: a CloudEvents 1.0 event in structured JSON, sent in batches
//! (`application/cloudevents-batch+json`, a JSON array) from the provider's node to the
//! subscriber's, and from the subscriber's node to its case system.
//!
//! Thin by default: whom it is about, which event types, which fields changed, when; values
//! only of fields a pre-assessment lets the subscription's notices carry. The
//! event's `id` is the provider and its notice number (the same on every delivery, so a
//! receiver recognises a repeat), `source` the provider's node, `type`
//! `se.utbyte.subscription.notice`, `time` when the register was written; the extension
//! attribute `utbyteledger` names the provider's ledger entry that recorded it as sent.
//!
//! The notices one ledger entry records are a *part*; the entry holds the SHA-256 of the part's
//! `data` members as a JSON array ([`part_digest`]), which the subscriber computes again from
//! what it received and records beside its own entry, so the two ledgers pair.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;
use utbyte_store::{Notice, NoticeValues};

/// The media type of a batch of structured-mode CloudEvents in JSON.
pub const BATCH_TYPE: &str = "application/cloudevents-batch+json";

/// The type of a subscription notice.
pub const NOTICE_TYPE: &str = "se.utbyte.subscription.notice";

/// The most notices one batch holds.
pub const MAX_BATCH: usize = 1000;

/// What a notice says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeData {
    /// The provider's number of the notice: increasing, so ordered per subject.
    pub seq: u64,
    /// The subscriber's id of the subscription.
    pub subscription: String,
    pub offering: String,
    /// Whom it is about (the offering's subject identifier).
    pub subject: String,
    /// The event types, of those granted.
    pub events: Vec<String>,
    /// The fields changed.
    pub fields: Vec<String>,
    /// When the register was written (RFC 3339, milliseconds).
    pub changed_at: String,
    /// Values of fields changed, as the register held them when the notice was recorded —
    /// only those a pre-assessment lets the subscription's notices carry; absent for a thin
    /// notice.
    #[serde(default, skip_serializing_if = "NoticeValues::is_empty")]
    #[schema(value_type = Object)]
    pub values: NoticeValues,
}

/// A notice as a CloudEvent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeEvent {
    pub specversion: String,
    /// `{provider}-{seq}`: the same on every delivery.
    pub id: String,
    /// The provider's node, `urn:utbyte:node:{authority}`.
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The subscription the notice is for.
    pub subject: String,
    /// When the register was written.
    pub time: String,
    pub datacontenttype: String,
    /// The provider's ledger entry recording the notice as sent.
    pub utbyteledger: u64,
    pub data: NoticeData,
}

impl NoticeData {
    /// What `notice` says, for the subscriber that knows its subscription as `subscription`.
    pub fn of(notice: &Notice, subscription: &str) -> Self {
        Self {
            seq: notice.seq,
            subscription: subscription.to_owned(),
            offering: notice.offering.clone(),
            subject: notice.subject.as_str().to_owned(),
            events: notice.events.clone(),
            fields: notice.fields.clone(),
            changed_at: rfc3339(notice.changed_at),
            values: notice.values.clone(),
        }
    }

    /// The notice as the subscriber's store takes it; `None` for data no notice can have.
    pub fn to_notice(&self, provider: &str) -> Option<Notice> {
        let subject: SubjectId = self.subject.parse().ok()?;
        let changed_at = OffsetDateTime::parse(&self.changed_at, &Rfc3339).ok()?;
        if self.events.is_empty()
            || self.fields.is_empty()
            || self.values.keys().any(|f| !self.fields.contains(f))
        {
            return None;
        }
        Some(Notice {
            seq: self.seq,
            subscription: self.subscription.clone(),
            subscriber: String::new(),
            feed: provider.to_owned(),
            change_seq: 0,
            offering: self.offering.clone(),
            subject,
            events: self.events.clone(),
            fields: self.fields.clone(),
            changed_at,
            values: self.values.clone(),
        })
    }
}

impl NoticeEvent {
    /// The event for `data`, told by `provider` and recorded in its ledger at `ledger`.
    pub fn new(provider: &str, data: NoticeData, ledger: u64) -> Self {
        Self {
            specversion: "1.0".into(),
            id: event_id(provider, data.seq),
            source: crate::callback::notice::source(provider),
            kind: NOTICE_TYPE.into(),
            subject: data.subscription.clone(),
            time: data.changed_at.clone(),
            datacontenttype: "application/json".into(),
            utbyteledger: ledger,
            data,
        }
    }

    /// Whether the event is a notice `provider` could have sent as it is.
    pub fn is_from(&self, provider: &str) -> bool {
        self.specversion == "1.0"
            && self.kind == NOTICE_TYPE
            && self.source == crate::callback::notice::source(provider)
            && self.id == event_id(provider, self.data.seq)
            && self.subject == self.data.subscription
            && self.time == self.data.changed_at
    }
}

/// A notice taken, as the subscriber's node pushes it to its case system: the provider's event
/// (`id`, `source`, `type`, `time` as the provider sent them) with the notice as the feed shows
/// it (`GET /v1/notices`) as `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseEvent {
    pub specversion: &'static str,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub subject: String,
    pub time: String,
    pub datacontenttype: &'static str,
    pub data: utbyte_api::subscriptions::NoticeView,
}

impl CaseEvent {
    pub fn new(notice: utbyte_api::subscriptions::NoticeView) -> Self {
        Self {
            specversion: "1.0",
            id: event_id(&notice.provider, notice.provider_seq),
            source: crate::callback::notice::source(&notice.provider),
            kind: NOTICE_TYPE,
            subject: notice.subscription.clone(),
            time: rfc3339(notice.changed_at),
            datacontenttype: "application/json",
            data: notice,
        }
    }
}

/// The id of notice `seq` of `provider`.
pub fn event_id(provider: &str, seq: u64) -> String {
    format!("{provider}-{seq}")
}

/// SHA-256 (hex) of a part's notices as a JSON array, in order.
pub fn part_digest<'a>(part: impl IntoIterator<Item = &'a NoticeData>) -> String {
    let items: Vec<&NoticeData> = part.into_iter().collect();
    let bytes = serde_json::to_vec(&items).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

fn rfc3339(at: OffsetDateTime) -> String {
    let at = at
        .replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn notice() -> Notice {
        Notice {
            seq: 42,
            subscription: "forsakringskassan/bostad-1".into(),
            subscriber: "forsakringskassan".into(),
            feed: "skv-folkbokforing".into(),
            change_seq: 9,
            offering: "skv-folkbokforing".into(),
            subject: "19121212-1212".parse().unwrap(),
            events: vec!["adress-andrad".into()],
            fields: vec!["adress".into()],
            changed_at: OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
                .unwrap(),
            values: NoticeValues::new(),
        }
    }

    #[test]
    fn a_notice_travels_as_a_cloudevent_and_reads_back_the_same() {
        let data = NoticeData::of(&notice(), "bostad-1");
        let event = NoticeEvent::new("skatteverket", data.clone(), 7);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], "skatteverket-42");
        assert_eq!(json["type"], NOTICE_TYPE);
        assert_eq!(json["source"], "urn:utbyte:node:skatteverket");
        assert_eq!(json["time"], "2023-11-14T22:13:20.123Z");
        assert_eq!(json["utbyteledger"], 7);
        assert!(event.is_from("skatteverket"));
        assert!(!event.is_from("bolagsverket"));
        let back = data.to_notice("skatteverket").unwrap();
        assert_eq!(back.subject, notice().subject);
        assert_eq!(back.subscription, "bostad-1");
        assert_eq!(
            back.changed_at.unix_timestamp_nanos(),
            1_700_000_000_123_000_000
        );
    }

    #[test]
    fn a_part_digest_depends_on_every_notice_and_their_order() {
        let a = NoticeData::of(&notice(), "bostad-1");
        let b = NoticeData {
            seq: 43,
            ..a.clone()
        };
        assert_eq!(part_digest([&a, &b]), part_digest([&a, &b]));
        assert_ne!(part_digest([&a, &b]), part_digest([&b, &a]));
        assert_ne!(part_digest([&a]), part_digest([&a, &b]));
        let mut valued = a.clone();
        valued
            .values
            .insert("adress".into(), serde_json::json!("Storgatan 1"));
        assert_ne!(part_digest([&a]), part_digest([&valued]));
    }

    #[test]
    fn a_notice_carries_values_only_of_fields_it_names() {
        let mut data = NoticeData::of(&notice(), "bostad-1");
        assert!(
            !serde_json::to_value(&data).unwrap()["values"].is_object(),
            "thin"
        );
        data.values
            .insert("adress".into(), serde_json::json!("Storgatan 1"));
        let json = serde_json::to_value(&data).unwrap();
        assert_eq!(json["values"]["adress"], "Storgatan 1");
        let back = data.to_notice("skatteverket").unwrap();
        assert_eq!(back.values["adress"], "Storgatan 1");
        data.values
            .insert("skyddad".into(), serde_json::json!(true));
        assert!(data.to_notice("skatteverket").is_none());
    }
}
