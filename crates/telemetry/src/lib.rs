//! Observability for axum services: one `init` call and one tower layer.
//!
//! Every service gets OTLP traces (gRPC or http/protobuf, the standard `OTEL_*` variables), RED
//! metrics labelled by the matched route template, process metrics, JSON logs that carry
//! `trace_id`/`span_id`, and `/metrics` + `/healthz` + `/readyz`. What each name means is in
//! docs/METRICS.md; why it is built this way in docs/ARCHITECTURE.md.
//!
//! Modules:
//! - [`config`](TelemetryConfig): the `OTEL_*`, `RUST_LOG`, `LOG_FORMAT` settings, each bad value
//!   a one-line error naming the variable.
//! - `tracer` + `processor`: the tracer provider and our bounded batch processor (drops counted);
//!   `otlp_grpc` + `otlp_encode`: the OTLP/gRPC exporter, writing each span's protobuf once;
//!   `direct_span`: with gRPC, the per-request spans made without the SDK and encoded as they end.
//! - `layer` ([`HttpLayer`]): one server span and one set of RED metrics per request;
//!   `server_span`: the server span started with the sampling decision taken first;
//!   `span_attributes`: the server span's semantic-convention attributes, built only when recorded;
//!   `instruments`: what is cached per route; `http_metrics`: the layer's two metric families,
//!   sharded per thread and rendered by this crate; `exemplars`: the duration buckets' exemplars.
//! - `metrics_setup` + `ops` ([`ops_router`], [`ops_router_with`]) + `exposition`: the Prometheus
//!   recorder, the ops routes, and `/metrics` as OpenMetrics (with exemplars) or Prometheus text.
//! - `redact`: sensitive query values redacted, attribute values cut to the length limit.
//! - `client_span`: [`ClientSpan`], a per-request client span made without a `tracing` span (and,
//!   with gRPC, without the SDK); the attributes HTTP client spans record from a response.
//! - `span_errors`: [`record_error`], a failure on a `tracing` span as the conventions record it.
//! - `logs`: JSON or pretty log lines with the current trace and span ids.
//! - `propagation`: W3C `traceparent`/`baggage` in and out ([`InjectContext`] for reqwest).
//!
//! Starting it, serving and exiting are the `server` crate's job.

mod client_span;
mod config;
mod direct_span;
mod error;
mod exemplars;
mod exposition;
mod http_metrics;
mod instruments;
mod layer;
mod logs;
mod metrics_setup;
mod ops;
mod otlp_encode;
mod otlp_grpc;
mod processor;
mod propagation;
mod protobuf;
mod redact;
mod server_span;
mod span_attributes;
mod span_errors;
mod tracer;

pub use client_span::{ClientSpan, ClientSpanTemplate, record_response, server_address};
pub use config::{LogFormat, OtlpProtocol, SamplerConfig, TelemetryConfig};
pub use error::TelemetryError;
pub use exposition::{ExpositionFormat, render_exposition};
pub use layer::{HttpLayer, HttpService, UNMATCHED_ROUTE};
pub use logs::LogWriter;
pub use metrics_setup::{HTTP_DURATION_BUCKETS, metrics_handle, render_metrics};
/// The attribute names of the OpenTelemetry semantic conventions, at the version matching the
/// SDK: services name their span fields with these (`{ semconv::attribute::URL_FULL } = ..`).
pub use opentelemetry_semantic_conventions as semconv;
pub use ops::{
    Exposition, Readiness, always_ready, escape_label_value, ops_router, ops_router_with,
    write_family,
};
pub use propagation::{InjectContext, current_trace_id, in_trace, inject_context};
pub use redact::{
    DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT, REDACTED, SENSITIVE_QUERY_PARAMETERS, redact_query,
    redact_url,
};
pub use span_errors::record_error;
pub use tracer::flush_spans;

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
    redact::install(redact::AttributePolicy {
        value_length_limit: config.attribute_value_length_limit,
        extra_sensitive: config.sensitive_query_parameters.clone(),
    });
    metrics_setup::install(&config)?;
    let tracer_provider = tracer::install(&config)?;
    logs::install(&config, tracer_provider.as_ref())?;
    Ok(TelemetryGuard { tracer_provider })
}
