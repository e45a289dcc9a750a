//! `HttpRegister` against the reference backend over a SQLite register, and against backends
//! that break the contract: hanging, sending unrequested fields, oversized or malformed answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use utbyte_adapters::{backend, AdapterError, HttpRegister, MAX_FIELDS, MAX_RESPONSE_BYTES};
use utbyte_domain::{CalendarDate, SubjectId};
use utbyte_store::{Register, RegisterStore, StoreError};

use common::{
    company, other_person, reference_backend, sample, subject, tolvan, value_of, OFFERING,
};

const TIMEOUT: Duration = Duration::from_secs(5);

async fn adapter() -> HttpRegister {
    HttpRegister::new(&reference_backend().await, TIMEOUT).unwrap()
}

/// Serves `app` (a backend that breaks the contract) and returns an adapter for it.
async fn rogue(app: Router, timeout: Duration) -> HttpRegister {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    HttpRegister::new(&format!("http://{address}"), timeout).unwrap()
}

fn backend_reason(error: StoreError) -> String {
    match error {
        StoreError::Backend { reason, .. } => reason,
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_returns_exactly_the_requested_fields_that_exist() {
    let register = adapter().await;
    let record = register
        .fetch(OFFERING, &tolvan(), &["namn", "barn", "saknas", "namn"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.field_ids().collect::<Vec<_>>(), ["barn", "namn"]);
    assert_eq!(record.get("namn"), Some(&value_of("namn", &tolvan())));
    assert_eq!(record.get("adress"), None);

    let record = register.fetch(OFFERING, &tolvan(), &[]).await.unwrap();
    assert!(record.unwrap().is_empty(), "held, but nothing asked for");
}

#[tokio::test]
async fn ids_that_need_encoding_travel_intact() {
    let register = adapter().await;
    let record = register
        .fetch(
            "bolagsverket/styrelse",
            &company(),
            &["ledamöter, alla", "x+y"],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.get("ledamöter, alla"), Some(&json!(["A", "B"])));
    assert_eq!(record.len(), 1);
}

#[tokio::test]
async fn nothing_held_is_none() {
    let register = adapter().await;
    let stranger = subject("19701063-2391");
    assert!(register
        .fetch(OFFERING, &stranger, &["namn"])
        .await
        .unwrap()
        .is_none());
    assert!(register
        .fetch("skv-inkomst", &tolvan(), &["namn"])
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn protected_identity_is_read_from_the_backend() {
    let register = adapter().await;
    assert!(register.protected_identity(&tolvan()).await.unwrap());
    assert!(!register.protected_identity(&other_person()).await.unwrap());
    assert!(!register.protected_identity(&company()).await.unwrap());
    assert!(!register
        .protected_identity(&subject("19701063-2391"))
        .await
        .unwrap());
}

#[tokio::test]
async fn any_written_form_finds_the_record_because_the_canonical_one_travels() {
    let base = reference_backend().await;
    let register = HttpRegister::new(&base, TIMEOUT).unwrap();
    let decided_on = CalendarDate::new(2024, 6, 15).unwrap();
    let ten_digits = SubjectId::parse_at("811228-9874", decided_on).unwrap();
    let record = register
        .fetch(OFFERING, &ten_digits, &["namn"])
        .await
        .unwrap();
    assert_eq!(
        record.unwrap().get("namn"),
        Some(&value_of("namn", &other_person()))
    );
}

#[tokio::test]
async fn a_backend_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            held.push(stream); // accepted, never answered
        }
    });
    let timeout = Duration::from_millis(300);
    let register = HttpRegister::new(&format!("http://{address}"), timeout).unwrap();
    let started = Instant::now();
    let error = register
        .fetch(OFFERING, &tolvan(), &["namn"])
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(
        error,
        StoreError::BackendTimeout { operation: "fetching a record", timeout: t } if t == timeout
    ));
    assert_eq!(
        error.to_string(),
        "the register backend did not answer within 300 ms while fetching a record"
    );
    let error = register.protected_identity(&tolvan()).await.unwrap_err();
    assert!(
        matches!(error, StoreError::BackendTimeout { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unrequested_field_fails_the_whole_fetch() {
    let app = Router::new().route(
        "/offerings/{offering}/subjects/{subject}",
        get(|| async { axum::Json(json!({ "fields": { "namn": "T", "inkomst": 1 } })) }),
    );
    let register = rogue(app, TIMEOUT).await;
    let error = register
        .fetch(OFFERING, &tolvan(), &["namn"])
        .await
        .unwrap_err();
    let message = error.to_string();
    assert_eq!(
        backend_reason(error),
        "its answer holds 1 field(s) that were not requested; the whole answer was discarded"
    );
    assert!(message.starts_with("the register backend failed while fetching a record: "));
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let app = Router::new().route(
        "/offerings/{offering}/subjects/{subject}",
        get(|| async {
            axum::Json(json!({ "fields": { "namn": "x".repeat(MAX_RESPONSE_BYTES) } }))
        }),
    );
    let register = rogue(app, TIMEOUT).await;
    let error = register
        .fetch(OFFERING, &tolvan(), &["namn"])
        .await
        .unwrap_err();
    assert_eq!(
        backend_reason(error),
        "its answer is larger than 1048576 bytes"
    );
}

#[tokio::test]
async fn malformed_answers_and_other_statuses_are_errors() {
    let app = Router::new()
        .route(
            "/offerings/{offering}/subjects/{subject}",
            get(|| async { "{\"fields\": {\"namn\": 19121212" }),
        )
        .route(
            "/subjects/{subject}/protected-identity",
            get(|| async {
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "subject 19121212-1212 is broken",
                )
            }),
        );
    let register = rogue(app, TIMEOUT).await;
    let error = register
        .fetch(OFFERING, &tolvan(), &["namn"])
        .await
        .unwrap_err();
    assert!(backend_reason(error).starts_with("its answer ends before its JSON does"));
    let error = register.protected_identity(&tolvan()).await.unwrap_err();
    assert_eq!(
        backend_reason(error),
        "it answered with status 500 Internal Server Error"
    );
}

#[tokio::test]
async fn an_unreachable_backend_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let register = HttpRegister::new(&format!("http://{address}"), TIMEOUT).unwrap();
    let error = register.protected_identity(&tolvan()).await.unwrap_err();
    assert!(backend_reason(error).starts_with("cannot reach it: "));
}

#[tokio::test]
async fn connections_are_kept_alive_and_reused() {
    struct Counting(TcpListener, Arc<AtomicUsize>);
    impl axum::serve::Listener for Counting {
        type Io = TcpStream;
        type Addr = SocketAddr;
        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            let accepted = self.0.accept().await.unwrap();
            self.1.fetch_add(1, Ordering::SeqCst);
            accepted
        }
        fn local_addr(&self) -> std::io::Result<Self::Addr> {
            self.0.local_addr()
        }
    }
    let store = RegisterStore::open_in_memory().await.unwrap();
    store.insert(&sample()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counting = Counting(listener, Arc::clone(&accepted));
    tokio::spawn(async move { axum::serve(counting, backend::router(Arc::new(store))).await });
    let register = HttpRegister::new(&format!("http://{address}"), TIMEOUT).unwrap();
    for _ in 0..20 {
        register
            .fetch(OFFERING, &tolvan(), &["namn"])
            .await
            .unwrap()
            .unwrap();
        register
            .fetch("skv-inkomst", &tolvan(), &["namn"])
            .await
            .unwrap(); // a 404
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn requests_outside_the_contract_are_refused_before_sending() {
    let register = HttpRegister::new("http://127.0.0.1:9", TIMEOUT).unwrap();
    let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let error = register
        .fetch(OFFERING, &tolvan(), &many)
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        StoreError::TooManyFields {
            requested: 257,
            limit: 256
        }
    ));
    let error = register.fetch("", &tolvan(), &["namn"]).await.unwrap_err();
    assert!(matches!(
        error,
        StoreError::InvalidName {
            what: "offering",
            ..
        }
    ));
}

#[tokio::test]
async fn the_backend_is_read_only() {
    let register = adapter().await;
    let error = register.insert(&sample()).await.unwrap_err();
    assert!(matches!(error, StoreError::ReadOnly));
}

/// `https://` needs an agency CA to verify the backend with; a client without one refuses it at
/// construction rather than failing every call.
#[test]
fn https_needs_an_agency_ca_and_other_schemes_are_refused() {
    for url in [
        "https://backend.local",
        "ftp://backend.local",
        "backend.local:80",
        "http//x",
    ] {
        let error = HttpRegister::new(url, TIMEOUT).unwrap_err();
        assert!(
            matches!(error, AdapterError::InvalidBaseUrl { .. }),
            "{url}: {error:?}"
        );
    }
    assert_eq!(
        HttpRegister::new("https://backend.local", TIMEOUT)
            .unwrap_err()
            .to_string(),
        "the register backend URL `https://backend.local` cannot be used: its scheme is `https`, \
         but no agency CA bundle is configured to verify the backend's certificate with (set \
         `agency_ca_bundle`, or use http://)"
    );
    assert!(HttpRegister::new("http://backend.local:8080/register/", TIMEOUT).is_ok());
}

/// The backend's change feed read through the adapter is the register's own, page by page, and
/// what the node reports handled is forgotten.
#[tokio::test]
async fn the_change_feed_is_the_registers_own_and_handled_changes_are_forgotten() {
    let store = Arc::new(RegisterStore::open_in_memory().await.unwrap());
    store.insert(&sample()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(backend::serve(listener, store.clone()));
    let plain = HttpRegister::new(&format!("http://{address}"), TIMEOUT).unwrap();
    assert!(plain.change_feed().is_none(), "only when configured");
    let register = plain.with_change_feed();
    let feed = register.change_feed().unwrap();

    let own = store
        .change_feed()
        .unwrap()
        .changes_after(0, 100)
        .await
        .unwrap();
    assert_eq!(own.len(), 3);
    let first = feed.changes_after(0, 2).await.unwrap();
    let rest = feed.changes_after(first[1].seq, 100).await.unwrap();
    // Times travel in RFC 3339 to the nanosecond, so the changes compare equal.
    assert_eq!([first.clone(), rest].concat(), own);
    let company_change = own.iter().find(|c| c.subject == company()).unwrap();
    // Tolvan has protected identity in the sample; the flag travels with the change.
    let tolvans = own.iter().find(|c| c.subject == tolvan()).unwrap();
    assert!(tolvans.protected_identity);
    assert!(!company_change.protected_identity);
    assert_eq!(company_change.offering, "bolagsverket/styrelse");
    assert_eq!(company_change.fields, ["ledamöter, alla"]);

    assert_eq!(feed.forget_changes(first[1].seq).await.unwrap(), 2);
    assert_eq!(feed.changes_after(0, 100).await.unwrap(), own[2..]);
    assert_eq!(feed.forget_changes(first[1].seq).await.unwrap(), 0);
}

#[tokio::test]
async fn a_change_feed_outside_the_contract_is_refused() {
    let change = |seq: u64, subject: &str| {
        json!({"seq": seq, "offering": OFFERING, "subject": subject, "fields": ["namn"],
               "at": "2026-12-06T09:00:00Z", "protected_identity": false})
    };
    let answers = [
        (
            json!({"changes": [change(5, "19121212-1212"), change(4, "19121212-1212")]}),
            "its changes are not in increasing order after the one asked for",
        ),
        (
            json!({"changes": [change(1, "19121212-1212")]}),
            "its changes are not in increasing order after the one asked for",
        ),
        (
            json!({"changes": [change(3, "121212-1212")]}),
            "a change's subject is not valid",
        ),
        (
            json!({"changes": [change(3, "19121212-1212"), change(4, "19121212-1212"), change(5, "19121212-1212")]}),
            "it sent 3 changes; 2 were asked for",
        ),
        (
            json!({"changes": [{"seq": 3, "offering": OFFERING, "subject": "19121212-1212",
                             "fields": [], "at": "2026-12-06T09:00:00Z", "protected_identity": false}]}),
            "a change names no field",
        ),
    ];
    for (answer, reason) in answers {
        let body = answer.to_string();
        let app = Router::new().route("/changes", get(move || async move { body }));
        let register = rogue(app, TIMEOUT).await.with_change_feed();
        let error = register
            .change_feed()
            .unwrap()
            .changes_after(2, 2)
            .await
            .unwrap_err();
        let got = backend_reason(error);
        assert_eq!(got, reason);
        assert!(!got.contains("1212"), "{got}");
    }
}
