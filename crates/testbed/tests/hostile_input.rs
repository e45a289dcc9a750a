//! End to end: hostile or mistaken input at both listeners is refused with a problem before
//! anything is read or recorded — control characters and NUL in any text, keys and tickets
//! that cannot exist, an empty filter — and what the node keeps on disk and answers is private:
//! files readable by the node's user only, answers marked `Cache-Control: no-store`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use utbyte_http::FederationResponse;
use utbyte_testbed::loopback::LoopbackFederation;

const MALMO_FK: [&str; 2] = ["forsakringskassan", "malmo-stad"];

/// Texts no field may hold: NUL, other C0 controls, DEL and a C1 control.
const CONTROLS: [&str; 5] = ["\u{0}", "\u{7}", "\n", "\u{7f}", "\u{85}"];

fn fk_ledger_size(federation: &LoopbackFederation) -> u64 {
    ledger_size(federation, "forsakringskassan")
}

fn ledger_size(federation: &LoopbackFederation, authority: &str) -> u64 {
    federation.node(authority).unwrap().audit().ledger().size()
}

fn body_of(response: &FederationResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

fn no_store(headers: &http::HeaderMap) -> bool {
    headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim() == "no-store"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_refused_before_anything_is_read_or_recorded() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let (open, protected) = fk_subjects();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;

    // The local API: every text of a case request, each control in turn.
    let (malmo_before, fk_before) = (
        ledger_size(&federation, "malmo-stad"),
        fk_ledger_size(&federation),
    );
    for field in [
        "case_ref",
        "officer",
        "purpose",
        "unit",
        "role",
        "offering",
        "legal_basis",
    ] {
        for control in CONTROLS {
            let mut case = luffa_case(&open[0], &["forman"]);
            case[field] = json!(format!("x{control}y"));
            let answer = submit(malmo, "dirty-key", &case).await;
            assert_problem(&answer, 422, "invalid-request");
            let detail = answer.body["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("`{field}`")), "{field}: {detail}");
            assert_eq!(answer.body["field"], field, "{:#}", answer.body);
        }
    }
    let mut case = luffa_case(&open[0], &["forman"]);
    case["fields"] = json!(["forman", "bel\u{0}opp"]);
    assert_problem(
        &submit(malmo, "dirty-key", &case).await,
        422,
        "invalid-request",
    );
    assert_eq!(ledger_size(&federation, "malmo-stad"), malmo_before);
    assert_eq!(
        fk_ledger_size(&federation),
        fk_before,
        "nothing reached the provider"
    );
    // Swedish letters and spaces are ordinary text; the key was not taken by the refusals.
    let mut clean = luffa_case(&open[0], &["forman"]);
    clean["case_ref"] = json!("Ärende ÅÄÖ 2026/17");
    let answer = submit(malmo, "dirty-key", &clean).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);

    // The federation listener: the request id is not burned by a refused request.
    let fk_before = fk_ledger_size(&federation);
    let id = "0123456789abcdef0123456789abcdef";
    for field in ["case_ref", "officer", "unit", "purpose", "role"] {
        for control in CONTROLS {
            let mut request = exchange_request(id, &open[0]);
            request[field] = json!(format!("x{control}y"));
            let refused = as_malmo(
                &federation,
                Method::POST,
                "/federation/v1/requests",
                Some(serde_json::to_vec(&request).unwrap()),
            )
            .await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
            let body = body_of(&refused);
            assert_eq!(
                body["type"], "urn:utbyte:problem:invalid-request",
                "{body:#}"
            );
            assert_eq!(body["field"], field, "{body:#}");
        }
    }
    assert_eq!(
        fk_ledger_size(&federation),
        fk_before,
        "nothing was recorded"
    );
    let accepted = as_malmo(
        &federation,
        Method::POST,
        "/federation/v1/requests",
        Some(serde_json::to_vec(&exchange_request(id, &open[0])).unwrap()),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{:#}", body_of(&accepted));

    // A reviewer's decision: reasons and reviewer fields.
    let answer = submit(malmo, "review-1", &luffa_case(&protected[0], &["forman"])).await;
    assert_eq!(answer.status, 202, "{:#}", answer.body);
    let ticket = answer.body["ticket"].as_str().unwrap().to_owned();
    let path = format!("/v1/reviews/{ticket}/decision");
    let decision = |reason: &str, officer: &str| {
        serde_json::to_vec(&json!({
            "reviewer": {"officer": officer, "unit": "fk-kontroll", "role": "jurist"},
            "fields": [{"field": "forman", "outcome": "refuse", "reason": reason}]
        }))
        .unwrap()
    };
    let fk_before = fk_ledger_size(&federation);
    for control in CONTROLS {
        let reason = format!("Skyddsintresset väger tyngre{control}.");
        let refused = call(
            fk,
            "POST",
            &path,
            &[],
            Some(decision(&reason, "fk-jurist-1")),
        )
        .await;
        assert_problem(&refused, 422, "invalid-review-decision");
        assert_eq!(
            refused.body["field"], "fields[].reason",
            "{:#}",
            refused.body
        );
        let officer = format!("fk{control}jurist");
        let refused = call(fk, "POST", &path, &[], Some(decision("Skäl.", &officer))).await;
        assert_problem(&refused, 422, "invalid-review-decision");
        assert_eq!(
            refused.body["field"], "reviewer.officer",
            "{:#}",
            refused.body
        );
    }
    assert_eq!(fk_ledger_size(&federation), fk_before);
    let decided = call(
        fk,
        "POST",
        &path,
        &[],
        Some(decision("Skyddsintresset väger tyngre.", "fk-jurist-1")),
    )
    .await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_tickets_that_cannot_exist_and_an_empty_filter_are_client_errors() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let long = "k".repeat(300);

    let request = call(malmo, "GET", &format!("/v1/requests/{long}"), &[], None).await;
    assert_problem(&request, 404, "request-not-found");
    let review = call(fk, "GET", &format!("/v1/reviews/{long}"), &[], None).await;
    assert_problem(&review, 404, "review-not-found");
    let decision = serde_json::to_vec(&json!({
        "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
        "fields": []
    }))
    .unwrap();
    let decide = call(
        fk,
        "POST",
        &format!("/v1/reviews/{long}/decision"),
        &[],
        Some(decision),
    )
    .await;
    assert_problem(&decide, 404, "review-not-found");
    let federated = as_malmo(
        &federation,
        Method::GET,
        &format!("/federation/v1/reviews/{long}"),
        None,
    )
    .await;
    assert_eq!(
        federated.status,
        StatusCode::NOT_FOUND,
        "{:#}",
        body_of(&federated)
    );
    assert_eq!(
        body_of(&federated)["type"],
        "urn:utbyte:problem:review-not-found"
    );
    for query in ["officer=", "officer=%20"] {
        let listed = call(malmo, "GET", &format!("/v1/requests?{query}"), &[], None).await;
        assert_problem(&listed, 400, "invalid-query");
    }
    // The key in a detail is never echoed back whole.
    assert!(!request.body["detail"].as_str().unwrap().contains(&long));
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_never_cached_and_node_files_are_private() {
    let (dir, federation) = federation(&MALMO_FK).await;
    let (open, _) = fk_subjects();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;

    // Local API: an answer with disclosed values, a problem, a list.
    let client: hyper_util::client::legacy::Client<_, http_body_util::Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let body = serde_json::to_vec(&luffa_case(&open[0], &["forman"])).unwrap();
    for (method, path, body) in [
        ("POST", "/v1/requests", Some(body)),
        ("GET", "/v1/requests", None),
        ("GET", "/v1/requests/nope", None),
        ("GET", "/v1/audit/status", None),
    ] {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{malmo}{path}"))
            .header("idempotency-key", "cache-1")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", case_system_token()));
        request = request.header("accept", "application/json");
        let response = client
            .request(
                request
                    .body(http_body_util::Full::new(bytes::Bytes::from(
                        body.unwrap_or_default(),
                    )))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            no_store(response.headers()),
            "{method} {path}: {:?}",
            response.headers()
        );
    }
    // Federation listener: a signed answer and a problem.
    let answered = as_malmo(
        &federation,
        Method::POST,
        "/federation/v1/requests",
        Some(
            serde_json::to_vec(&exchange_request(
                "fedcba9876543210fedcba9876543210",
                &open[0],
            ))
            .unwrap(),
        ),
    )
    .await;
    assert_eq!(answered.status, StatusCode::OK);
    assert!(no_store(&answered.headers), "{:?}", answered.headers);
    let missing = as_malmo(
        &federation,
        Method::GET,
        "/federation/v1/reviews/nope",
        None,
    )
    .await;
    assert!(no_store(&missing.headers), "{:?}", missing.headers);

    // Every file under each node's data directory is its user's alone.
    let nodes = federation.dir.join("nodes");
    federation.stop().await;
    let mut seen = Vec::new();
    walk(&nodes, &mut seen);
    for name in [
        "exchange.sqlite",
        "answer.key",
        "register.sqlite",
        "log.key",
    ] {
        assert!(seen.iter().any(|p| p.ends_with(name)), "{name} in {seen:?}");
    }
    drop(dir);
}

/// Asserts that `dir` and everything under it is private: directories 0700 or stricter, files
/// 0600 or stricter.
fn walk(dir: &Path, seen: &mut Vec<String>) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "{} is {mode:o}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // SQLite's connections close on their own threads after a node has stopped and remove
        // their `-wal` and `-shm` files as they go: a file gone by now cannot be read by anyone.
        let meta = match std::fs::symlink_metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            meta => meta.unwrap(),
        };
        if meta.is_dir() {
            walk(&path, seen);
        } else {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
            seen.push(path.display().to_string());
        }
    }
}
