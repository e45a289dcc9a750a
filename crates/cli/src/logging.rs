//! Where log lines go — standard error, as text or as one JSON object per line — and, when
//! configured, where spans are exported (OpenTelemetry).
//!
//! `UTBYTE_LOG` chooses what is logged (the `tracing` filter syntax, e.g. `info` or
//! `utbyte_node=debug,warn`); `UTBYTE_LOG_FORMAT` is `text` (the default) or `json`. The libraries
//! never log a personal identifier, a disclosed value or a secret, so neither does any level.
//!
//! Traces are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names an OTLP/HTTP receiver: every span the filter lets
//! through (a request's span on every listener) is batched and sent, as protobuf or, with
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, as JSON; `OTEL_SERVICE_NAME` names the process
//! (default `utbyte`). The W3C trace context then travels with every request a node sends to
//! another, so one trace holds both nodes' spans of an exchange. A span carries what the log
//! line does — route, method, status, request id — and nothing personal.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Keeps the trace exporter for as long as the process runs; dropping it sends the spans
/// still batched.
#[derive(Debug)]
pub struct Telemetry(Option<SdkTracerProvider>);

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Installs the subscriber; `default` is the filter when `UTBYTE_LOG` is unset (a node logs
/// every exchange at `info`, the directory every version it serves; the demo only what goes
/// wrong, so its own output stays readable).
pub fn init(default: &str) -> anyhow::Result<Telemetry> {
    let filter = match std::env::var("UTBYTE_LOG") {
        Ok(text) => EnvFilter::try_new(&text)
            .map_err(|err| anyhow::anyhow!("UTBYTE_LOG=`{text}` is not a log filter: {err}"))?,
        Err(_) => EnvFilter::new(default),
    };
    let exporter = span_exporter()?;
    let traces = exporter
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("utbyte")));
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let installed = match std::env::var("UTBYTE_LOG_FORMAT").as_deref() {
        Ok("json") => registry
            .with(lines.json().with_current_span(true))
            .try_init(),
        Ok("text") | Err(_) => registry.with(lines).try_init(),
        Ok(other) => anyhow::bail!("UTBYTE_LOG_FORMAT=`{other}`: use `text` or `json`"),
    };
    installed.map_err(|err| anyhow::anyhow!("installing the log subscriber: {err}"))?;
    Ok(Telemetry(exporter))
}

/// The OTLP/HTTP span exporter the environment configures, if it configures one.
fn span_exporter() -> anyhow::Result<Option<SdkTracerProvider>> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !configured {
        return Ok(None);
    }
    let protocol = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("http/protobuf") | Err(_) => Protocol::HttpBinary,
        Ok("http/json") => Protocol::HttpJson,
        Ok(other) => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL=`{other}`: use `http/protobuf` or `http/json` (gRPC is not built in)"
        ),
    };
    // The endpoint, headers and timeout are read from the standard variables by the exporter.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|err| anyhow::anyhow!("the OTLP trace exporter: {err}"))?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "utbyte".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(provider))
}
