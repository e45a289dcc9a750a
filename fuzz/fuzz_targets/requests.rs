//! What callers send a node or the directory: request bodies and search queries, taken the
//! way the listeners take them.
//!
//! Selector (first byte, modulo 7):
//! - 0: a case system's `POST /v1/requests` body, through the edge's JSON extractor
//!   (`utbyte_http::Json<CaseRequest>`), then checked into a `CheckedRequest` as the node's
//!   consumer does, then decided by the example rulebook.
//! - 1: a peer's `POST /federation/v1/requests` body (`Json<ExchangeRequest>`), its `sent_at`,
//!   the check into a `CheckedRequest` as the provider does, the decision.
//! - 2: a rulebook request as `utbyte rules explain` reads one (`DisclosureRequest` JSON),
//!   validated, decided and explained; or a notice (`Notice` JSON), decided at its sender.
//! - 3: a reviewer's decision body (`Json<ReviewDecisionInput>`).
//! - 4: a catalog search (`q`, `page`, `per_page`) against the example catalog.
//! - 5: like 0, with the `Content-Type` header taken from the input's first line.
//! - 6: a provider's problem answer (`Problem` JSON), as the recipient reads a refusal.
//! - 7: a callback URL against the `[callbacks] allow` list (`AllowedTargets::check`).
//!
//! Properties: a body that is taken survives a serde round trip; a body that is refused is
//! answered 4xx naming no Rust type; a checked request's subject is canonical and checks again
//! to the same; a refusal never quotes the subject; a decision has one verdict per field; a
//! callback URL the allow-list admits names, to the URL parser the delivery client uses, the
//! allowed host and port.

#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{header, Request};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::OnceLock;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_api::requests::CaseRequest;
use utbyte_api::reviews::ReviewDecisionInput;
use utbyte_catalog::{Catalog, CatalogData, SearchIndex};
use utbyte_fuzz::{example_rulebook, repo, runtime, split, NOW};
use utbyte_http::{Json, Problem};
use utbyte_node::callback::target::AllowedTargets;
use utbyte_node::exchange::{CheckedRequest, ExchangeError};
use utbyte_node::protocol::ExchangeRequest;
use utbyte_rules::{DisclosureRequest, Notice, RequestError};

/// Rust type names the edge must never show a client.
const TYPE_NAMES: [&str; 9] = [
    "CaseRequest",
    "ExchangeRequest",
    "ReviewDecisionInput",
    "FieldReview",
    "Reviewer",
    "VouchedBy",
    "Vouch",
    "Outcome",
    "utbyte",
];

fuzz_target!(
    init: {
        // The example rulebook and the catalog's index are built before fuzzing starts, so
        // that the first input is not timed with them.
        example_rulebook();
        index();
    },
    |data: &[u8]| run(data)
);

fn run(data: &[u8]) {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    match selector % 8 {
        0 => case_request("application/json", rest),
        1 => exchange_request(rest),
        2 => disclosure_request(rest),
        3 => {
            if let Some(input) = body::<ReviewDecisionInput>("application/json", rest) {
                let json = serde_json::to_string(&input).unwrap_or_else(|e| panic!("{e}"));
                let again: ReviewDecisionInput =
                    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
                assert_eq!(format!("{again:?}"), format!("{input:?}"));
            }
        }
        4 => search(rest),
        5 => {
            let (line, body) = match rest.iter().position(|b| *b == b'\n') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &[][..]),
            };
            if let Ok(content_type) = std::str::from_utf8(line) {
                case_request(content_type, body);
            }
        }
        7 => {
            if let Ok(url) = std::str::from_utf8(rest) {
                callback(url);
            }
        }
        _ => {
            if let Ok(problem) = serde_json::from_slice::<Problem>(rest) {
                round_trip(&problem);
                let _ = problem.to_string();
            }
        }
    }
}

/// Takes `bytes` as a request body the way a handler's `Json<T>` does; refusals are checked.
fn body<T: DeserializeOwned>(content_type: &str, bytes: &[u8]) -> Option<T> {
    let Ok(request) = Request::builder()
        .method("POST")
        .uri("/")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes.to_vec()))
    else {
        return None; // not a header value a client can send
    };
    match runtime().block_on(Json::<T>::from_request(request, &())) {
        Ok(Json(value)) => Some(value),
        Err(problem) => {
            assert!(
                (400..500).contains(&problem.status),
                "a body answered {}: {}",
                problem.status,
                problem.detail
            );
            let text = String::from_utf8_lossy(bytes);
            for name in TYPE_NAMES {
                assert!(
                    !problem.detail.contains(name) || text.contains(name),
                    "a Rust type in a problem: {}",
                    problem.detail
                );
            }
            None
        }
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap_or_else(|e| panic!("serialises: {e}"));
    let again: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&again, value);
}

fn case_request(content_type: &str, bytes: &[u8]) {
    let Some(case) = body::<CaseRequest>(content_type, bytes) else {
        return;
    };
    round_trip(&case);
    if let Some(url) = &case.callback {
        callback(url);
    }
    // What the node's consumer makes of it (`exchange::ask::check_case`).
    let checked = CheckedRequest::from_case("malmo-stad", &case, NOW);
    check_and_decide(&case.subject, &case, checked);
}

fn exchange_request(bytes: &[u8]) {
    let Some(incoming) = body::<ExchangeRequest>("application/json", bytes) else {
        return;
    };
    round_trip(&incoming);
    // What the provider does before the replay claim (`exchange::answer::answer`).
    if OffsetDateTime::parse(&incoming.sent_at, &Rfc3339).is_err() {
        return;
    }
    let checked = CheckedRequest::from_peer("malmo-stad", &incoming, NOW);
    check_and_decide(&incoming.subject, &incoming, checked);
}

/// Checks what the edge made of a request whose subject is `subject` and whose other texts are
/// in `asked`.
fn check_and_decide(
    subject: &str,
    asked: &impl Serialize,
    checked: Result<CheckedRequest, RequestError>,
) {
    let checked = match checked {
        Ok(checked) => checked,
        Err(err) => {
            let problem = Problem::from(ExchangeError::from(err));
            assert!((400..500).contains(&problem.status), "{problem}");
            // The other texts, one of which an error may rightly quote.
            let mut elsewhere = vec!["malmo-stad".to_owned()];
            let asked = serde_json::to_value(asked).unwrap_or_else(|e| panic!("{e}"));
            texts(&asked, &mut elsewhere);
            let elsewhere = elsewhere.join("\n");
            assert!(
                subject.trim().len() < 6
                    || elsewhere.contains(subject)
                    || !problem.detail.contains(subject),
                "the subject quoted in a refusal: {}",
                problem.detail
            );
            return;
        }
    };
    assert_eq!(checked.request().subject.id, checked.subject().as_str());
    assert!(!checked.request().subject.protected_identity);
    let again = CheckedRequest::check(checked.request().clone())
        .unwrap_or_else(|e| panic!("a checked request fails its check again: {e}"));
    assert_eq!(again, checked);
    decide(checked.request());
}

/// Every string in `value` but the one under `subject`.
fn texts(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| texts(item, out)),
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(key, _)| key.as_str() != "subject")
            .for_each(|(_, item)| texts(item, out)),
        _ => {}
    }
}

fn decide(request: &DisclosureRequest) {
    let rulebook = example_rulebook();
    if let Ok(decision) = rulebook.decide(request) {
        assert_eq!(decision.fields.len(), request.fields.len());
        for (decided, asked) in decision.fields.iter().zip(&request.fields) {
            assert_eq!(&decided.field, asked);
        }
        let _ = utbyte_rules::explain::render(rulebook, request, &decision);
    }
}

fn disclosure_request(bytes: &[u8]) {
    if let Ok(notice) = serde_json::from_slice::<Notice>(bytes) {
        return own_initiative_notice(&notice);
    }
    let Ok(request) = serde_json::from_slice::<DisclosureRequest>(bytes) else {
        return;
    };
    round_trip(&request);
    if request.validate().is_ok() {
        decide(&request);
    }
}

/// A notice as `utbyte rules explain --notice` reads one: decided at its sender or rejected
/// with an error, whatever its time, never a panic.
fn own_initiative_notice(notice: &Notice) {
    round_trip(notice);
    let rulebook = example_rulebook();
    match rulebook.decide_notice(notice) {
        Ok(decision) => {
            assert_eq!(decision.fields.len(), notice.fields.len());
            let _ = utbyte_rules::explain::render_notice(rulebook, notice, &decision);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}

fn search(rest: &[u8]) {
    if rest.len() < 8 {
        return;
    }
    let (numbers, query) = rest.split_at(8);
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let page = u32::from_le_bytes([numbers[0], numbers[1], numbers[2], numbers[3]]);
    let per_page = u32::from_le_bytes([numbers[4], numbers[5], numbers[6], numbers[7]]);
    let parsed = utbyte_catalog::query::parse(query);
    match index().search(query, page, per_page) {
        Ok(results) => {
            assert!(parsed.is_ok(), "a query that does not parse was searched");
            assert!(results.hits.len() <= per_page as usize);
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}

/// The allow-list of the callbacks: what a node's `[callbacks] allow` could say.
const ALLOWED: [(&str, &str, u16); 2] = [
    (
        "https://arende.malmo.example/utbyte/",
        "arende.malmo.example",
        443,
    ),
    ("http://127.0.0.1:8080/cb", "127.0.0.1", 8080),
];

fn callback(url: &str) {
    static TARGETS: OnceLock<AllowedTargets> = OnceLock::new();
    let targets = TARGETS.get_or_init(|| {
        let prefixes: Vec<String> = ALLOWED.iter().map(|(p, _, _)| (*p).to_owned()).collect();
        AllowedTargets::parse(&prefixes).unwrap_or_else(|e| panic!("the allow-list: {e}"))
    });
    if targets.check(url).is_err() {
        return;
    }
    // Delivery parses the URL again (reqwest, with the `url` crate): it must reach the host and
    // port that were allowed, not another one the two parsers disagree about.
    let Ok(parsed) = url::Url::parse(url) else {
        return; // not deliverable at all
    };
    let host = parsed
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    let port = parsed.port_or_known_default();
    assert!(
        ALLOWED
            .iter()
            .any(|(_, h, p)| host.as_deref() == Some(*h) && port == Some(*p)),
        "allowed, but delivered to {host:?}:{port:?}: {url}"
    );
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "{url}"
    );
}

/// The example catalog's search index, built once.
fn index() -> &'static SearchIndex {
    static INDEX: OnceLock<SearchIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let data = CatalogData::load_dir(&repo().join("catalog"))
            .unwrap_or_else(|e| panic!("the example catalog does not read: {e}"));
        let catalog = Catalog::build(example_rulebook(), &data)
            .unwrap_or_else(|e| panic!("the example catalog does not build: {e}"));
        SearchIndex::build(&catalog.entries, &catalog.scheme, &catalog.mappings)
            .unwrap_or_else(|e| panic!("the example catalog does not index: {e}"))
    })
}
