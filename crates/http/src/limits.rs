//! The limits every endpoint is held to: body size and time, and problem answers for paths and
//! methods that do not exist; and the request log with its request ids (`trace`).

use crate::problem::types;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::time::Duration;

/// Size and time limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// Longest a request may take from its head arriving to its response being ready.
    pub request_timeout: Duration,
    /// Paths (by prefix) whose requests stream a body of any size and take as long as it
    /// takes: their handlers read the body themselves and bound the wait for each part.
    pub untimed: &'static [&'static str],
}

impl Default for Limits {
    /// 256 KiB and 30 s: a disclosure request is a few hundred bytes, and an answer that has
    /// not come in 30 s is better retried than waited for.
    fn default() -> Self {
        Self {
            body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(30),
            untimed: &[],
        }
    }
}

/// `router` with `limits` applied, and problem answers for unknown paths and methods.
pub fn with_limits(router: Router, limits: Limits) -> Router {
    let (timeout, untimed) = (limits.request_timeout, limits.untimed);
    router
        .fallback(|| async { types::NOT_FOUND.with("no resource at this path") })
        .method_not_allowed_fallback(|| async {
            types::METHOD_NOT_ALLOWED.with("this resource does not take that method")
        })
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let streamed = untimed
                .iter()
                .any(|prefix| request.uri().path().starts_with(prefix));
            time_limited(request, next, (!streamed).then_some(timeout))
        }))
        .layer(middleware::from_fn(crate::trace::traced))
}

async fn time_limited(request: Request, next: Next, timeout: Option<Duration>) -> Response {
    let Some(timeout) = timeout else {
        return next.run(request).await;
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => types::TIMEOUT
            .with(format!("no answer within {} ms", timeout.as_millis()))
            .into_response(),
    }
}
