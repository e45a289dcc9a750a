//! A JSON body extractor whose rejections are problems, not axum's plain-text messages.

use crate::problem::{types, Problem};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// `axum::Json`, answering a body it cannot take with a precise problem: 413 when it is over
/// the limit, 415 when it is not declared JSON or declared in a character set other than UTF-8,
/// 400 when it does not parse into `T` (saying where, and what was expected, in JSON's words).
/// A whole number is taken however it is written: `5`, `5.0` and `5e0` are one number in JSON
/// (and in JSON Schema, where `5.0` is an `integer`), so a field of whole numbers takes each.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !utf8_or_unstated(req.headers()) {
            return Err(types::UNSUPPORTED_MEDIA_TYPE
                .with("JSON is taken only in UTF-8: declare no charset, or `charset=utf-8`"));
        }
        match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => serde_path_to_error::deserialize(whole_numbers(value))
                .map(Json)
                .map_err(|e| {
                    types::MALFORMED_BODY.with(reworded(&format!("{}: {}", e.path(), e.inner())))
                }),
            Err(rejection) => Err(problem_of(&rejection)),
        }
    }
}

/// `value` with every number that is whole but written with a fraction or an exponent (`5.0`,
/// `1e3`) made the integer it is, so that serde reads it into an integer field; a number with a
/// fraction, or beyond 64 bits, stays as it was (and is refused by such a field).
fn whole_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^64 and -2^63, exactly representable; `as` saturates, so the bounds are checked.
            if f.fract() != 0.0 || !f.is_finite() {
                Value::Number(n)
            } else if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                Value::from(f as u64)
            } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                Value::from(f as i64)
            } else {
                Value::Number(n)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(name, v)| (name, whole_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether the body's declared character set, if any, is UTF-8. axum looks only at the media
/// type and reads every body as UTF-8, so a body declared `charset=utf-16` would be misread
/// rather than refused (RFC 8259 §8.1: JSON exchanged between systems is UTF-8). Reading one
/// parameter by hand is simpler than a media-type parser for it.
fn utf8_or_unstated(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return true; // not a JSON media type either: axum refuses it as such
    };
    value
        .split(';')
        .skip(1)
        .all(|parameter| match parameter.split_once('=') {
            Some((name, charset)) if name.trim().eq_ignore_ascii_case("charset") => {
                let charset = charset.trim().trim_matches('"');
                charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
            }
            _ => true,
        })
}

fn problem_of(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => types::UNSUPPORTED_MEDIA_TYPE
            .with("send the body with `Content-Type: application/json`"),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            types::BODY_TOO_LARGE.with(rejection.body_text())
        }
        _ => types::MALFORMED_BODY.with(reworded(&rejection.body_text())),
    }
}

/// What axum's extractors prefix their messages with; it speaks of Rust's "target type".
const PREFIXES: [&str; 5] = [
    "Failed to deserialize the JSON body into the target type: ",
    "Failed to parse the request body as JSON: ",
    "Failed to deserialize query string: ",
    "Failed to deserialize path parameters: ",
    "Failed to deserialize path parameter: ",
];

/// What serde calls the Rust types it expected, and what a client sends for them. serde's
/// messages name the struct, enum or integer type a value was to become (`expected struct
/// CaseRequest`, `expected u32`), which tells a client nothing and shows the node's internals.
const EXPECTED: [(&str, &str); 16] = [
    ("expected struct variant ", "expected a JSON object"),
    ("expected tuple struct ", "expected a JSON array"),
    ("expected unit struct ", "expected null"),
    ("expected struct ", "expected a JSON object"),
    (
        "expected enum ",
        "expected one of the names this field takes",
    ),
    ("expected a map", "expected a JSON object"),
    ("expected a sequence", "expected a JSON array"),
    ("expected u8", "expected a whole number from 0"),
    ("expected u16", "expected a whole number from 0"),
    ("expected u32", "expected a whole number from 0"),
    ("expected u64", "expected a whole number from 0"),
    ("expected usize", "expected a whole number from 0"),
    ("expected i32", "expected a whole number"),
    ("expected i64", "expected a whole number"),
    ("expected f64", "expected a number"),
    ("expected f32", "expected a number"),
];

/// A serde error message as a client should read it: which field (serde's path, e.g.
/// `nested.at`), and what JSON was expected there — without Rust type names.
pub(crate) fn reworded(message: &str) -> String {
    let mut text = message;
    for prefix in PREFIXES {
        text = text.strip_prefix(prefix).unwrap_or(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (rust, json) in EXPECTED {
            if let Some(after) = rest.strip_prefix(rust) {
                out.push_str(json);
                // A named type (`struct CaseRequest`, `enum utbyte_api::Outcome`) drops its name.
                rest = if rust.ends_with(' ') {
                    after.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
                } else {
                    after
                };
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    // At the top level serde's path is `.`: say "the body" rather than print a lone dot.
    match out.strip_prefix(".: ") {
        Some(body) => format!("the body: {body}"),
        None => out,
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct CaseRequest {
        subject: String,
        limit: u32,
        kind: Kind,
        nested: Nested,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Kind {
        Person,
        Organisation,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        at: u64,
    }

    async fn answer(content_type: &str, body: &str) -> (u16, String, serde_json::Value) {
        let app = Router::new().route("/", post(|Json(_): Json<CaseRequest>| async { "ok" }));
        let response = app
            .oneshot(
                axum::http::Request::post("/")
                    .header("content-type", content_type)
                    .body(Body::from(body.to_owned()))
                    .unwrap_or_default(),
            )
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, kind, body)
    }

    const GOOD: &str = r#"{"subject": "s", "limit": 5, "kind": "person", "nested": {"at": 1}}"#;

    #[tokio::test]
    async fn only_utf8_json_is_taken() {
        for declared in [
            "application/json",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
        ] {
            assert_eq!(answer(declared, GOOD).await.0, 200, "{declared}");
        }
        for declared in [
            "application/json; charset=utf-16",
            "application/json; charset=iso-8859-1",
            "application/json; charset=\"utf-16le\"",
        ] {
            let (status, kind, body) = answer(declared, GOOD).await;
            assert_eq!(status, 415, "{declared}");
            assert_eq!(kind, "application/problem+json", "{declared}");
            assert_eq!(body["type"], "urn:utbyte:problem:unsupported-media-type");
            assert!(
                body["detail"].as_str().is_some_and(|d| d.contains("UTF-8")),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn a_whole_number_is_taken_however_it_is_written() {
        for limit in ["5", "5.0", "5e0", "0.5e1"] {
            let body = format!(
                r#"{{"subject": "s", "limit": {limit}, "kind": "person", "nested": {{"at": 1.0}}}}"#
            );
            let (status, _, problem) = answer("application/json", &body).await;
            assert_eq!(status, 200, "{limit}: {problem}");
        }
        for limit in ["5.5", "-1.0", "1e20", "4294967296.0"] {
            let body = format!(
                r#"{{"subject": "s", "limit": {limit}, "kind": "person", "nested": {{"at": 1}}}}"#
            );
            let (status, _, problem) = answer("application/json", &body).await;
            assert_eq!(status, 400, "{limit}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.starts_with("limit: "), "{limit}: {detail}");
        }
        // Read exactly: a whole number past 2^52 written with a fraction is still that number.
        for at in [
            "3716276713443778.0",
            "9007199254740991.0",
            "4503599627370497.0",
        ] {
            let body = format!(
                r#"{{"subject": "s", "limit": 5, "kind": "person", "nested": {{"at": {at}}}}}"#
            );
            let (status, _, problem) = answer("application/json", &body).await;
            assert_eq!(status, 200, "{at}: {problem}");
        }
        let (status, _, problem) =
            answer("application/json", r#"{"subject": "s", "limit": 1.0}"#).await;
        assert_eq!(status, 400);
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("missing field `kind`"), "{detail}");
    }

    #[tokio::test]
    async fn errors_name_the_field_and_what_was_expected_without_rust_types() {
        for (body, says) in [
            ("[]", "a JSON object"),
            ("\"x\"", "a JSON object"),
            (
                r#"{"subject": "s", "limit": -1, "kind": "person", "nested": {"at": 1}}"#,
                "limit",
            ),
            (
                r#"{"subject": "s", "limit": 5, "kind": {}, "nested": {"at": 1}}"#,
                "kind",
            ),
            (
                r#"{"subject": "s", "limit": 5, "kind": "person", "nested": []}"#,
                "nested",
            ),
            (
                r#"{"subject": "s", "limit": 5, "kind": "person", "nested": {"at": "x"}}"#,
                "nested.at",
            ),
            (r#"{"subject": 1}"#, "subject"),
        ] {
            let (status, _, problem) = answer("application/json", body).await;
            assert_eq!(status, 400, "{body}");
            let detail = problem["detail"].as_str().unwrap_or_default();
            assert!(detail.contains(says), "{body}: {detail}");
            for internal in [
                "CaseRequest",
                "Nested",
                "Kind",
                "struct",
                "enum",
                "u32",
                "u64",
                "::",
                "target type",
            ] {
                assert!(!detail.contains(internal), "{body}: {detail}");
            }
        }
    }
}
