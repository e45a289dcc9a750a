//! OpenTelemetry: with an OTLP/HTTP exporter installed, one exchange between two nodes is one
//! trace — the consumer's request span and the provider's request span, exported to an
//! in-process OTLP receiver, share a trace id, the provider's span a child of the consumer's
//! through the `traceparent` header the federation client sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Bytes;
use common::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const MALMO_FK: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

/// An OTLP/HTTP receiver: keeps every export request's JSON body.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&received);
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let kept = Arc::clone(&kept);
        async move {
            kept.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            ([("content-type", "application/json")], "{}")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1/traces"), received)
}

/// A span as exported: (trace id, span id, parent span id, `route` attribute).
fn spans(exports: &[Value]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for export in exports {
        for resource in export["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let route = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|a| a["key"] == "route")
                        .and_then(|a| a["value"]["stringValue"].as_str())
                        .unwrap_or_default();
                    let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
                    out.push((
                        text("traceId"),
                        text("spanId"),
                        text("parentSpanId"),
                        route.to_owned(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_exchange_is_one_trace_across_both_nodes() {
    let (endpoint, received) = receiver().await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("warn,utbyte_http=info"))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("utbyte")))
        .init();

    let (_dir, federation) = federation(&MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let answer = submit(malmo, "otel-1", &luffa_case(&open[0], &["forman"])).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    federation.stop().await;
    // The batch is sent from the exporter's own thread, with a blocking client.
    tokio::task::spawn_blocking(move || provider.force_flush())
        .await
        .unwrap()
        .unwrap();

    let exports = received.lock().unwrap().clone();
    let spans = spans(&exports);
    let consumer = spans
        .iter()
        .find(|s| s.3 == "/v1/requests")
        .unwrap_or_else(|| panic!("no consumer span in {exports:#?}"));
    let provider = spans
        .iter()
        .find(|s| s.3 == "/federation/v1/requests")
        .unwrap_or_else(|| panic!("no provider span in {spans:#?}"));
    assert_eq!(consumer.0.len(), 32, "{consumer:?}");
    assert_eq!(provider.0, consumer.0, "the nodes' spans are in two traces");
    assert_eq!(
        provider.2, consumer.1,
        "the provider's span is not the consumer's child"
    );
    assert!(spans.iter().filter(|s| s.0 == consumer.0).count() >= 2);
}
