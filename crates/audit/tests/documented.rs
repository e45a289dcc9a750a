//! docs/audit-record.md names exactly the events a record can hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use utbyte_audit::EventKind;

/// Every event kind. The match below stops compiling when a kind is added: add it there and
/// here, so this check cannot fall behind the code.
const ALL: [EventKind; 14] = [
    EventKind::Disclosure,
    EventKind::Refusal,
    EventKind::ReviewRequest,
    EventKind::ReviewDecision,
    EventKind::Receipt,
    EventKind::Undelivered,
    EventKind::ConfigurationChange,
    EventKind::MessageSent,
    EventKind::MessageDelivered,
    EventKind::MessageAccepted,
    EventKind::SubscriptionDecision,
    EventKind::NoticeSent,
    EventKind::NoticeReceived,
    EventKind::NoticeWithheld,
];

#[allow(dead_code)]
fn listed(kind: EventKind) {
    match kind {
        EventKind::Disclosure
        | EventKind::Refusal
        | EventKind::ReviewRequest
        | EventKind::ReviewDecision
        | EventKind::Receipt
        | EventKind::Undelivered
        | EventKind::ConfigurationChange
        | EventKind::MessageSent
        | EventKind::MessageDelivered
        | EventKind::MessageAccepted
        | EventKind::SubscriptionDecision
        | EventKind::NoticeSent
        | EventKind::NoticeReceived
        | EventKind::NoticeWithheld => {}
    }
}

#[test]
fn the_record_format_names_every_event_and_no_other() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/audit-record.md"),
    )
    .unwrap();
    let row = doc
        .lines()
        .find(|line| line.starts_with("| `event` |"))
        .expect("the members table has an `event` row");
    let meaning = row.rsplit_once("| always |").map(|(_, m)| m).unwrap();
    let named: Vec<String> = meaning
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    let known: Vec<String> = ALL
        .iter()
        .map(|kind| {
            serde_json::to_value(kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut sorted_named = named;
    sorted_named.sort();
    let mut sorted_known = known;
    sorted_known.sort();
    assert_eq!(
        sorted_named, sorted_known,
        "the `event` row of docs/audit-record.md"
    );
}
