//! One log line per request, and a request id that ties a request's log lines together.
//!
//! Every request gets an id — the caller's `X-Request-Id` when it sends a short, visible one,
//! otherwise a new one — that the response carries back in `X-Request-Id` and that every line
//! logged while handling it carries in its span. The line names the route as declared
//! (`/v1/requests/{key}`), never the path as sent: paths hold idempotency keys and tickets a
//! case system chose, and the log must never carry anything personal.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest caller-chosen request id kept; a longer or odd one is replaced.
const MAX_REQUEST_ID: usize = 64;

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
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, ms, "answered");
        } else {
            tracing::info!(status, ms, "answered");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
