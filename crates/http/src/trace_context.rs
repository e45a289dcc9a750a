//! The W3C trace context (`traceparent`, `tracestate`) across the node-to-node hop.
//!
//! When a node exports traces (OpenTelemetry, configured at the binary), the request span of
//! every answer takes the caller's `traceparent` as its parent, and every request this node
//! sends carries the current span's context; so one trace holds both nodes' spans of an
//! exchange. Without an exporter the global propagator is a no-op and neither side does
//! anything. The trace context names spans, never what they are about.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tracing_opentelemetry::OpenTelemetrySpanExt;

// The header adapters are a few lines here rather than the `opentelemetry-http` crate, which
// would bring an HTTP client abstraction this crate does not need.
struct Incoming<'a>(&'a HeaderMap);

impl Extractor for Incoming<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Outgoing<'a>(&'a mut HeaderMap);

impl Injector for Outgoing<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes the caller's trace context, if `headers` carry a valid one, the parent of `span`.
pub(crate) fn adopt(span: &tracing::Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Incoming(headers)));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed, and then there is nothing to join.
        let _ = span.set_parent(parent);
    }
}

/// Adds the current span's trace context to an outgoing request's `headers`.
pub(crate) fn inject(headers: &mut HeaderMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut Outgoing(headers))
    });
}
