//! The notice a callback carries: a thin CloudEvents 1.0 event in structured JSON mode
//! (`application/cloudevents+json`) saying what happened and where to fetch it — never the
//! disclosed values. A case system reads the answer itself from the local API
//! (`GET /v1/requests/{key}`), with its own access to it; a notice that went astray reveals no
//! more than that a request was decided.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utbyte_store::StoredCallback;

/// The media type of a structured-mode CloudEvent in JSON.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The type of the event sent when a request is decided.
pub const REQUEST_DECIDED: &str = "se.utbyte.request.decided";

/// The type of the event sent when a message arrives.
pub const MESSAGE_RECEIVED: &str = "se.utbyte.message.received";

/// A CloudEvents 1.0 event with its required attributes and the optional ones used here.
#[derive(Debug, Serialize)]
struct CloudEvent<'a, D> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    kind: &'static str,
    time: String,
    /// The idempotency key: what the case system knows the request by, never a personal
    /// identifier.
    subject: &'a str,
    datacontenttype: &'static str,
    data: D,
}

/// What the event says: which request, its status, where to fetch the answer.
#[derive(Debug, Serialize)]
struct Decided<'a> {
    idempotency_key: &'a str,
    status: &'static str,
    href: String,
}

/// What an arrival says: which message, from whom, for which unit, where to fetch it — never
/// its content.
#[derive(Debug, Serialize)]
struct Arrived<'a> {
    sender: &'a str,
    message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    kind: &'a str,
    href: String,
}

/// The id of the announcement of message `id` from `sender`: the same on every attempt.
pub fn arrival_id(sender: &str, id: &str) -> String {
    format!("message-{sender}-{id}")
}

/// The body of the announcement that message `entry` arrived at the node of `authority`.
pub fn arrival_body(
    entry: &utbyte_store::InboxEntry,
    authority: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    let m = &entry.message;
    let id = arrival_id(&m.sender, &m.message_id);
    serde_json::to_vec(&CloudEvent {
        specversion: "1.0",
        id: &id,
        source: source(authority),
        kind: MESSAGE_RECEIVED,
        time: entry.received_at.format(&Rfc3339).unwrap_or_default(),
        subject: &m.message_id,
        datacontenttype: "application/json",
        data: Arrived {
            sender: &m.sender,
            message_id: &m.message_id,
            unit: m.unit.as_deref(),
            kind: &m.kind,
            href: format!(
                "/v1/messages/inbox/{}/{}",
                path_segment(&m.sender),
                path_segment(&m.message_id)
            ),
        },
    })
}

/// The event's `source` for a node of `authority`.
pub fn source(authority: &str) -> String {
    format!("urn:utbyte:node:{authority}")
}

/// The body of the notice for `callback`, sent by the node of `authority`.
pub fn body(callback: &StoredCallback, authority: &str) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&CloudEvent {
        specversion: "1.0",
        id: &callback.id,
        source: source(authority),
        kind: REQUEST_DECIDED,
        time: callback.created_at.format(&Rfc3339).unwrap_or_default(),
        subject: &callback.key,
        datacontenttype: "application/json",
        data: Decided {
            idempotency_key: &callback.key,
            status: "answered",
            href: format!("/v1/requests/{}", path_segment(&callback.key)),
        },
    })
}

/// A key as one path segment: an idempotency key is visible ASCII and may hold `/`, `?`, `%`
/// or `#`, which must be escaped to stay one segment.
fn path_segment(key: &str) -> String {
    let mut segment = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            segment.push(char::from(byte));
        } else {
            segment.push_str(&format!("%{byte:02X}"));
        }
    }
    segment
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use utbyte_store::CallbackState;

    #[test]
    fn the_notice_is_a_cloudevent_naming_the_request_and_nothing_more() {
        let callback = StoredCallback {
            id: "0a1b".into(),
            key: "case 7/x".into(),
            url: "https://case.example/cb".into(),
            state: CallbackState::Pending,
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
            created_at: time::macros::datetime!(2026-03-01 12:00 UTC),
            updated_at: time::macros::datetime!(2026-03-01 12:00 UTC),
        };
        let event: serde_json::Value =
            serde_json::from_slice(&body(&callback, "malmo").unwrap()).unwrap();
        assert_eq!(
            event,
            serde_json::json!({
                "specversion": "1.0",
                "id": "0a1b",
                "source": "urn:utbyte:node:malmo",
                "type": "se.utbyte.request.decided",
                "time": "2026-03-01T12:00:00Z",
                "subject": "case 7/x",
                "datacontenttype": "application/json",
                "data": {
                    "idempotency_key": "case 7/x",
                    "status": "answered",
                    "href": "/v1/requests/case%207%2Fx"
                }
            })
        );
    }
}
