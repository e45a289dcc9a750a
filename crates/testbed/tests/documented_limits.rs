//! End to end: what the local API's OpenAPI document states about its parameters is what the
//! node enforces — a client generated from the document (and `scripts/api-fuzz`, which tests
//! every listener against its document) finds no value the document admits refused, and none it
//! excludes taken.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;

const MALMO_FK: [&str; 2] = ["forsakringskassan", "malmo-stad"];

/// The list filters take exactly what the local OpenAPI document says, as a client generated
/// from it would send: `limit` 1 to 500 (a refusal naming the field), `after` a cursor the
/// node issued (in a `Link` header, which a client follows page by page), an officer of
/// printable text whose length in bytes is checked as a case request's is; and the document
/// states these bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_take_what_the_document_says() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let document = call(malmo, "GET", "/openapi.json", &[], None).await.body;
    let parameter = |path: &str, method: &str, name: &str| {
        document["paths"][path][method]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
    };
    let officer = parameter("/v1/requests", "get", "officer");
    assert_eq!(
        officer["maxLength"],
        json!(utbyte_rules::request::MAX_TEXT),
        "{officer}"
    );
    assert_eq!(officer["minLength"], 1, "{officer}");
    let key = parameter("/v1/requests", "post", "Idempotency-Key");
    assert_eq!(
        key["maxLength"],
        json!(utbyte_api::requests::MAX_IDEMPOTENCY_KEY),
        "{key}"
    );
    for path in ["/v1/requests", "/v1/reviews", "/v1/callbacks"] {
        let limit = parameter(path, "get", "limit");
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(1), &json!(500)),
            "{path}"
        );
        let after = parameter(path, "get", "after");
        assert_eq!(
            (&after["minLength"], &after["maxLength"]),
            (&json!(32), &json!(32)),
            "{path}"
        );
        assert_eq!(after["pattern"], "^[0-9a-f]{32}$", "{path}");

        for limit in ["0", "501"] {
            let listed = call(malmo, "GET", &format!("{path}?limit={limit}"), &[], None).await;
            assert_problem(&listed, 422, "invalid-request");
            assert_eq!(listed.body["field"], "limit", "{path}: {:#}", listed.body);
        }
        // Every text the pattern admits is taken, however far it points.
        for cursor in ["0".repeat(32), "f".repeat(32), "7".repeat(32)] {
            let listed = call(malmo, "GET", &format!("{path}?after={cursor}"), &[], None).await;
            assert_eq!(listed.status, 200, "{path}: {:#}", listed.body);
        }
        let short = "0".repeat(31);
        for beyond in [&short, &"0".repeat(33), &"F".repeat(32), "1.2"] {
            let listed = call(malmo, "GET", &format!("{path}?after={beyond}"), &[], None).await;
            assert_problem(&listed, 400, "invalid-query");
            assert_eq!(listed.body["field"], "after", "{path}: {:#}", listed.body);
        }
    }

    // A client follows the `Link` header page by page and sees every request once, newest
    // first, even when one is made between two pages.
    let (open, _) = fk_subjects();
    for key in ["first", "second", "third"] {
        let made = submit(malmo, key, &luffa_case(&open[0], &["forman"])).await;
        assert_eq!(made.status, 200, "{:#}", made.body);
    }
    let mut listed = Vec::new();
    let mut next = Some("/v1/requests?limit=2".to_owned());
    while let Some(path) = next {
        let page = call(malmo, "GET", &path, &[], None).await;
        assert_eq!(page.status, 200, "{:#}", page.body);
        for request in page.body.as_array().unwrap() {
            listed.push(request["idempotency_key"].as_str().unwrap().to_owned());
        }
        if listed.len() == 2 {
            let made = submit(malmo, "fourth", &luffa_case(&open[0], &["forman"])).await;
            assert_eq!(made.status, 200, "{:#}", made.body);
        }
        next = page.link.map(|link| {
            let target = link.strip_prefix('<').unwrap().split_once('>').unwrap();
            assert_eq!(target.1, "; rel=\"next\"");
            assert!(
                target.0.starts_with("/v1/requests?limit=2&after="),
                "{link}"
            );
            target.0.to_owned()
        });
    }
    assert_eq!(listed, ["third", "second", "first"]);

    // 256 bytes are an officer id; 256 characters of two bytes each, which the document's
    // `maxLength` admits, are refused with 422 naming the field — never 500 from the store.
    let longest = "x".repeat(utbyte_rules::request::MAX_TEXT);
    let listed = call(
        malmo,
        "GET",
        &format!("/v1/requests?officer={longest}"),
        &[],
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let wide = "å".repeat(utbyte_rules::request::MAX_TEXT);
    let refused = call(
        malmo,
        "GET",
        &format!("/v1/requests?officer={}", encoded(&wide)),
        &[],
        None,
    )
    .await;
    assert_problem(&refused, 422, "invalid-request");
    assert_eq!(refused.body["field"], "officer", "{:#}", refused.body);
    for blank in ["%20%20", "a%07b"] {
        let refused = call(
            malmo,
            "GET",
            &format!("/v1/requests?officer={blank}"),
            &[],
            None,
        )
        .await;
        assert_problem(&refused, 400, "invalid-query");
        assert_eq!(refused.body["field"], "officer", "{:#}", refused.body);
    }
    federation.stop().await;
}

/// `text` percent-encoded for a query string.
fn encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Ledger indices are int64s, as the documents say, on both listeners: a larger `after` is
/// refused naming the field, not answered with an empty page. A whole number written `5.0` —
/// an `integer` in JSON Schema — is taken as 5 in every body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_indices_and_whole_numbers_are_as_documented() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let (open, _) = fk_subjects();
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let largest = i64::MAX;
    let beyond = largest as u64 + 1;

    let listed = as_malmo(
        &federation,
        http::Method::GET,
        &format!("/federation/v1/reconciliation?after={largest}"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    let refused = as_malmo(
        &federation,
        http::Method::GET,
        &format!("/federation/v1/reconciliation?after={beyond}"),
        None,
    )
    .await;
    let problem: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(refused.status, 400, "{problem:#}");
    assert_eq!(problem["type"], "urn:utbyte:problem:invalid-query");
    assert_eq!(problem["field"], "after", "{problem:#}");

    let subject = |body: serde_json::Value| async move {
        call(
            fk,
            "POST",
            "/v1/audit/subject",
            &[],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await
    };
    let found = subject(json!({"subject": open[0], "limit": 10.0, "after": 0.0})).await;
    assert_eq!(found.status, 200, "{:#}", found.body);
    let refused = subject(json!({"subject": open[0], "after": beyond})).await;
    assert_problem(&refused, 422, "invalid-request");
    assert_eq!(refused.body["field"], "after", "{:#}", refused.body);
    let fraction = subject(json!({"subject": open[0], "limit": 10.5})).await;
    assert_problem(&fraction, 400, "malformed-body");

    // The federation listener's bodies too: a notice about index 5.0 is about index 5.
    let notice = as_malmo(
        &federation,
        http::Method::POST,
        "/federation/v1/reconciliation/undelivered",
        Some(br#"{"index": 5.0}"#.to_vec()),
    )
    .await;
    assert_ne!(
        notice.status,
        400,
        "{}",
        String::from_utf8_lossy(&notice.body)
    );
    federation.stop().await;
}
