//! One log line per request, and a request id that ties a request's log lines together.
//!
//! Every request gets an id — the caller's `X-Request-Id` when it sends a short, visible one,
//! otherwise a new one — that the response carries back in `X-Request-Id`, that every line
//! logged while handling it carries in its span, and that every problem answer carries as its
//! `request_id` member (an RFC 9457 extension), so an operator can find the lines behind an
//! error a client reports. The line names the route as declared (`/v1/requests/{key}`), never
//! the path as sent: paths hold idempotency keys and tickets a case system chose, and the log
//! must never carry anything personal. A caller's W3C trace context becomes the span's parent
//! when traces are exported (`trace_context`).

use crate::problem::{PROBLEM_BASE, PROBLEM_CONTENT_TYPE};
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest caller-chosen request id kept; a longer or odd one is replaced.
const MAX_REQUEST_ID: usize = 64;

/// Largest problem body the request id is added to. Problems are a few hundred bytes; one
/// carrying a provider's problem inside is a few more. A larger one passes unchanged.
const MAX_PROBLEM_BODY: usize = 256 * 1024;

/// The type slug of the problem a response answered with (`not-found`, `stale-request`, ...),
/// put in the response's extensions so that layers outside this one (a node's metrics) can
/// count problems by type without reading the body again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemAnswered(pub String);

fn next_id() -> String {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // Distinct across restarts (the start time), unique within a process (the counter).
    let prefix = *PREFIX.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or_default()
    });
    format!("{prefix:x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_REQUEST_ID
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(next_id)
}

pub(crate) async fn traced(request: Request, next: Next) -> Response {
    let id = request_id(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "(no route)".to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    crate::trace_context::adopt(&span, request.headers());
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let mut response = with_request_id(response, &id).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let problem = response
        .extensions()
        .get::<ProblemAnswered>()
        .map(|p| p.0.clone());
    span.in_scope(|| match (status, problem) {
        (500.., Some(problem)) => tracing::warn!(status, ms, %problem, "answered"),
        (500.., None) => tracing::warn!(status, ms, "answered"),
        (_, Some(problem)) => tracing::info!(status, ms, %problem, "answered"),
        (_, None) => tracing::info!(status, ms, "answered"),
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// A problem answer with `request_id` added to its body and its type slug noted in the
/// response's extensions; any other answer unchanged.
async fn with_request_id(response: Response, id: &str) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_CONTENT_TYPE));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_PROBLEM_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            // The body is gone; say so rather than send half of it.
            tracing::warn!(%err, "a problem answer could not be read to add its request id");
            parts.headers.remove(header::CONTENT_LENGTH);
            let problem = crate::problem::types::INTERNAL
                .with("the answer could not be completed")
                .with_extension("request_id", id);
            let body = serde_json::to_vec(&problem).unwrap_or_default();
            parts.extensions.insert(ProblemAnswered(
                crate::problem::types::INTERNAL.slug.to_owned(),
            ));
            return Response::from_parts(parts, Body::from(body));
        }
    };
    let Ok(Value::Object(mut members)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(slug) = problem_slug(&members) {
        parts.extensions.insert(ProblemAnswered(slug));
    }
    members.insert("request_id".to_owned(), Value::String(id.to_owned()));
    let body = serde_json::to_vec(&members).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

fn problem_slug(members: &Map<String, Value>) -> Option<String> {
    let kind = members.get("type")?.as_str()?;
    Some(kind.strip_prefix(PROBLEM_BASE).unwrap_or(kind).to_owned())
}
