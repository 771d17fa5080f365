//! Observability for axum services: one `init` call and one tower layer.
//!
//! Every service gets OTLP traces (gRPC or http/protobuf, the standard `OTEL_*` variables), RED
//! metrics labelled by the matched route template, process metrics, JSON logs that carry
//! `trace_id`/`span_id`, and `/metrics` + `/healthz` + `/readyz`. What each name means is in
//! docs/METRICS.md; why it is built this way in docs/ARCHITECTURE.md.
//!
//! Modules, in layers: each uses only those before it, never one after (the test
//! `tests/layering.rs` checks it).
//! - [`config`](TelemetryConfig): the `OTEL_*`, `RUST_LOG`, `LOG_FORMAT` settings, each bad value
//!   a one-line error naming the variable ([`TelemetryError`]).
//! - `trace/`: the tracer provider and our bounded batch processor (drops counted), the OTLP/gRPC
//!   exporter (`trace/otlp/`), spans made without the SDK, [`ClientSpan`], redaction,
//!   propagation ([`InjectContext`]), [`record_error`], and the log lines that carry trace ids.
//! - `metrics/`: the Prometheus recorder, the HTTP layer's metric families and their exemplars,
//!   and `/metrics` as OpenMetrics, Prometheus text or the Prometheus protobuf format.
//! - `http/`: the layer ([`HttpLayer`]: one server span and one set of RED metrics per request),
//!   what it keeps per route, the server span and its attributes, the ops routes
//!   ([`ops_router`], [`ops_router_with`]) and the `/metrics` body.
//! - this file: [`init`], which installs them in that order, and [`TelemetryGuard`].
//!
//! Starting it, serving and exiting are the `server` crate's job.

mod config;
mod http;
mod metrics;
mod trace;

pub use crate::config::{
    DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT, LogFormat, LogWriter, OtlpProtocol, SamplerConfig,
    TelemetryConfig, TelemetryError,
};
pub use crate::http::{
    Exposition, HttpLayer, HttpService, Readiness, UNMATCHED_ROUTE, always_ready, ops_router,
    ops_router_with, render_exposition, render_metrics,
};
pub use crate::metrics::{
    ExpositionFormat, HTTP_DURATION_BUCKETS, escape_label_value, metrics_handle, write_family,
};
pub use crate::trace::{
    ClientSpan, ClientSpanTemplate, InjectContext, REDACTED, SENSITIVE_QUERY_PARAMETERS,
    current_trace_id, flush_spans, in_trace, inject_context, record_error, record_response,
    redact_query, redact_url, server_address,
};
pub use crate::trace::{HttpClientSpan, SensitiveQuery, redact_url_with};
/// The attribute names of the OpenTelemetry semantic conventions, at the version matching the
/// SDK: services name their span fields with these (`{ semconv::attribute::URL_FULL } = ..`).
pub use opentelemetry_semantic_conventions as semconv;

use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;

/// Keeps the tracer provider alive; dropping it flushes buffered spans (bounded in time) and
/// shuts the exporter down. Hold it in `main` for the life of the process.
#[must_use = "dropping the guard immediately shuts tracing down"]
pub struct TelemetryGuard {
    tracer_provider: Option<SdkTracerProvider>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("tracing_enabled", &self.tracer_provider.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// Exports every finished span now (bounded by the exporter's timeout).
    pub fn flush(&self) {
        if let Some(provider) = &self.tracer_provider {
            let _ = provider.force_flush();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer_provider.take() {
            // Bounded: a dead collector must not keep a stopping service alive.
            let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
        }
    }
}

/// Installs logging, tracing, propagators and the Prometheus recorder for this process.
///
/// Call once, early in `main` (inside or outside a tokio runtime: the exporter has its own thread).
/// Calling it again in the same process returns [`TelemetryError::AlreadyInitialized`].
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    crate::trace::redact::install(crate::trace::redact::AttributePolicy {
        value_length_limit: config.attribute_value_length_limit,
        extra_sensitive: config.sensitive_query_parameters.clone(),
    });
    crate::metrics::recorder::install(&config)?;
    let tracer_provider = crate::trace::tracer::install(&config)?;
    crate::trace::logs::install(&config, tracer_provider.as_ref())?;
    Ok(TelemetryGuard { tracer_provider })
}
