//! What the integration tests share: a small register (two persons, one of them with protected
//! identity, and a company) and the reference backend serving it.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use utbyte_adapters::backend;
use utbyte_domain::SubjectId;
use utbyte_store::{Register, RegisterBatch, RegisterStore};

pub const OFFERING: &str = "skv-folkbokforing";

pub fn subject(text: &str) -> SubjectId {
    text.parse().unwrap()
}

pub fn tolvan() -> SubjectId {
    subject("19121212-1212")
}

pub fn other_person() -> SubjectId {
    subject("19811228-9874")
}

pub fn company() -> SubjectId {
    subject("556016-0680")
}

pub fn value_of(field: &str, subject: &SubjectId) -> Value {
    json!({ "field": field, "subject": subject.as_str() })
}

/// Tolvan (protected) and another person with three fields each, a company with one, and one
/// offering and field whose ids need percent-encoding.
pub fn sample() -> RegisterBatch {
    let mut batch = RegisterBatch::new();
    batch.subject(tolvan(), true).subject(other_person(), false);
    batch.subject(company(), false);
    for person in [tolvan(), other_person()] {
        for field in ["namn", "adress", "barn"] {
            batch.record(OFFERING, person, field, value_of(field, &person));
        }
    }
    batch.record(
        "bolagsverket/styrelse",
        company(),
        "ledamöter, alla",
        json!(["A", "B"]),
    );
    batch
}

/// Starts the reference backend over [`sample`] in memory on a free port; returns its base URL.
pub async fn reference_backend() -> String {
    let store = RegisterStore::open_in_memory().await.unwrap();
    store.insert(&sample()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(backend::serve(listener, Arc::new(store)));
    format!("http://{address}")
}
