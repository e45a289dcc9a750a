//! The reference backend over raw HTTP/1.1, for what the adapter never sends: other written forms
//! of a subject and malformed requests, each answered with a problem that does not echo input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use utbyte_adapters::MAX_FIELDS;

use common::{other_person, reference_backend, value_of};

/// One raw HTTP/1.1 GET, for what the adapter cannot send: status line, content type, body.
async fn raw_get(base: &str, path: &str) -> (u16, String, Value) {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_owned();
    (status, content_type, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn a_subject_is_taken_in_any_form_that_needs_no_reference_date() {
    let base = reference_backend().await;
    // The 12-digit form without separator ...
    let (status, _, body) = raw_get(
        &base,
        "/offerings/skv-folkbokforing/subjects/198112289874?fields=namn",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "fields": { "namn": value_of("namn", &other_person()) } })
    );

    let (status, _, body) = raw_get(&base, "/subjects/165560160680/protected-identity").await;
    assert_eq!(
        (status, body),
        (200, json!({ "protected_identity": false }))
    );

    // ... but not a 10-digit one, whose century it cannot know; the problem does not echo it.
    let (status, content_type, problem) = raw_get(
        &base,
        "/offerings/skv-folkbokforing/subjects/811228-9874?fields=namn",
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (400, "application/problem+json")
    );
    assert_eq!(problem["type"], "urn:utbyte:problem:malformed-subject");
    assert_eq!(problem["status"], 400);
    assert!(problem["title"].is_string());
    assert!(
        !problem["detail"].as_str().unwrap().contains("9874"),
        "{problem}"
    );
}

#[tokio::test]
async fn the_reference_backend_answers_problems_for_malformed_requests() {
    let base = reference_backend().await;
    let subject = "/offerings/skv-folkbokforing/subjects/19121212-1212";
    let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
    for (path, status, kind) in [
        (subject.to_owned(), 400, "malformed-fields"),
        (
            format!("{subject}?fields={}", many.join(",")),
            400,
            "too-many-fields",
        ),
        (
            format!("{subject}?fields=namn&x=1"),
            400,
            "malformed-fields",
        ),
        (
            "/subjects/abc/protected-identity".to_owned(),
            400,
            "malformed-subject",
        ),
        (format!("{subject}/more"), 404, "not-found"),
        (
            "/offerings/skv-folkbokforing/subjects/19701063-2391?fields=namn".to_owned(),
            404,
            "subject-not-held",
        ),
        (
            "/changes?after=1&limit=0".to_owned(),
            400,
            "malformed-position",
        ),
        ("/changes?from=1".to_owned(), 400, "malformed-position"),
    ] {
        let (got, content_type, problem) = raw_get(&base, &path).await;
        assert_eq!(
            (got, content_type.as_str()),
            (status, "application/problem+json"),
            "{path}"
        );
        assert_eq!(
            problem["type"],
            format!("urn:utbyte:problem:{kind}"),
            "{path}"
        );
    }
}
