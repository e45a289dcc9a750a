//! Fixtures shared by the exchange store's test crates: requests, outcomes, reviews and
//! decisions with recognisable values, at whole seconds so that times read back compare equal.

// Each test crate uses a part of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use time::OffsetDateTime;
use utbyte_store::{
    ExchangeStore, NewReview, OutgoingRequest, OutgoingState, OutgoingUpdate, ReviewDecided,
    StoredOutgoing,
};

/// A whole second, so times read back compare equal.
pub fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
}

pub fn request(key: &str, seconds: i64) -> OutgoingRequest {
    OutgoingRequest {
        key: key.to_owned(),
        request_hash: format!("{:064x}", key.len()),
        request_id: format!("req-{key}"),
        provider: "skatteverket".to_owned(),
        officer: Some("handlaggare-1".to_owned()),
        client: Some("arende".to_owned()),
        request_json: format!(r#"{{"subject":"19121212-1212","key":"{key}"}}"#),
        callback: Some(format!("https://case.example/callback/{key}")),
        created_at: at(seconds),
    }
}

pub fn answered(seconds: i64) -> OutgoingUpdate {
    OutgoingUpdate {
        state: OutgoingState::Answered,
        answer_json: Some(r#"{"outcome":"disclose","fields":{"namn":"Tolvan"}}"#.to_owned()),
        ticket: None,
        updated_at: at(seconds),
    }
}

pub fn in_review(ticket: &str, seconds: i64) -> OutgoingUpdate {
    OutgoingUpdate {
        state: OutgoingState::InReview,
        answer_json: None,
        ticket: Some(ticket.to_owned()),
        updated_at: at(seconds),
    }
}

pub fn new_review(ticket: &str, seconds: i64) -> NewReview {
    NewReview {
        ticket: ticket.to_owned(),
        requester: "forsakringskassan".to_owned(),
        request_id: format!("req-{ticket}"),
        request_json: r#"{"subject":"19121212-1212"}"#.to_owned(),
        decision_json: r#"{"outcome":"review"}"#.to_owned(),
        ledger_index: 7,
        created_at: at(seconds),
    }
}

pub fn decision(reviewer: &str, seconds: i64) -> ReviewDecided {
    ReviewDecided {
        reviewer: reviewer.to_owned(),
        review_json: format!(r#"{{"by":"{reviewer}"}}"#),
        answer_json: r#"{"outcome":"refuse"}"#.to_owned(),
        ledger_index: 8,
        decided_at: at(seconds),
    }
}

pub fn keys(requests: &[StoredOutgoing]) -> Vec<&str> {
    requests.iter().map(|r| r.key.as_str()).collect()
}

pub async fn store() -> ExchangeStore {
    ExchangeStore::open_in_memory().await.unwrap()
}
