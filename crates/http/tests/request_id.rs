//! Every problem answer names the request it answers: its `request_id` member equals the
//! `X-Request-Id` header, whichever layer produced the problem (a handler, a body extractor,
//! the unknown-path and wrong-method fallbacks, the time limit).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use utbyte_http::{problem::types, with_limits, Json, Limits, Problem};

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route(
            "/refused",
            get(|| async { Err::<(), Problem>(types::INTERNAL.with("it went wrong")) }),
        )
        .route(
            "/echo",
            post(|Json(value): Json<Value>| async move { Json(value) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/fine",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        );
    let app = with_limits(
        app,
        Limits {
            body_bytes: 64,
            request_timeout: Duration::from_millis(200),
            untimed: &[],
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(utbyte_http::serve_plain(
        listener,
        app,
        std::future::pending(),
    ));
    addr
}

struct Answer {
    status: u16,
    request_id: String,
    content_type: String,
    body: Value,
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_owned())))
                .unwrap(),
        )
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (status, request_id, content_type) = (
        response.status().as_u16(),
        header("x-request-id"),
        header("content-type"),
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        request_id,
        content_type,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Method, path, headers, body, and the status and problem type expected.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    u16,
    &'a str,
);

#[tokio::test]
async fn every_problem_carries_the_request_id_of_its_header() {
    let addr = serve().await;
    let json = [("content-type", "application/json")];
    let too_large = format!("{{\"a\": \"{}\"}}", "x".repeat(200));
    let cases: [Case; 6] = [
        ("GET", "/refused", &[], "", 500, "internal"),
        ("POST", "/echo", &json, "{not json", 400, "malformed-body"),
        (
            "POST",
            "/echo",
            &json,
            too_large.as_str(),
            413,
            "body-too-large",
        ),
        ("GET", "/nowhere", &[], "", 404, "not-found"),
        ("DELETE", "/fine", &[], "", 405, "method-not-allowed"),
        ("GET", "/slow", &[], "", 503, "timeout"),
    ];
    let mut seen = std::collections::HashSet::new();
    for (method, path, headers, body, status, slug) in cases {
        let answer = call(addr, method, path, headers, body).await;
        assert_eq!(answer.status, status, "{method} {path}: {:#}", answer.body);
        assert_eq!(
            answer.content_type, "application/problem+json",
            "{method} {path}"
        );
        assert_eq!(
            answer.body["type"],
            format!("urn:utbyte:problem:{slug}"),
            "{method} {path}"
        );
        assert!(
            !answer.request_id.is_empty(),
            "{method} {path}: no X-Request-Id"
        );
        assert_eq!(
            answer.body["request_id"], answer.request_id,
            "{method} {path}: {:#}",
            answer.body
        );
        // The members the problem had before are all still there.
        assert!(answer.body["title"].is_string() && answer.body["detail"].is_string());
        assert!(seen.insert(answer.request_id), "request ids repeat");
    }
}

#[tokio::test]
async fn a_callers_request_id_is_kept_and_other_answers_are_untouched() {
    let addr = serve().await;
    let answer = call(
        addr,
        "GET",
        "/nowhere",
        &[("x-request-id", "case-4711.a")],
        "",
    )
    .await;
    assert_eq!(answer.request_id, "case-4711.a");
    assert_eq!(answer.body["request_id"], "case-4711.a");
    // An id that could smuggle anything into a log line is replaced.
    let odd = call(addr, "GET", "/nowhere", &[("x-request-id", "a b")], "").await;
    assert_ne!(odd.request_id, "a b");
    assert_eq!(odd.body["request_id"], odd.request_id);

    let fine = call(addr, "GET", "/fine", &[], "").await;
    assert_eq!(fine.status, 200);
    assert!(!fine.request_id.is_empty());
    assert_eq!(fine.body, serde_json::json!({"ok": true}));
}
