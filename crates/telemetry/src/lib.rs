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
    ExpositionFormat, HTTP_DURATION_BUCKETS, escape_label_value, write_family,
};
pub use crate::trace::{
    ClientSpan, ClientSpanTemplate, InjectContext, REDACTED, SENSITIVE_QUERY_PARAMETERS,
    current_trace_id, flush_spans, in_trace, inject_context, record_error, record_response,
    redact_query, redact_url, server_address,
};
/// The attribute names of the OpenTelemetry semantic conventions, at the version matching the
/// SDK: services name their span fields with these (`{ semconv::attribute::URL_FULL } = ..`).
pub use opentelemetry_semantic_conventions as semconv;

use crate::trace::installed::{self, AttributePolicy, Installed};
use std::time::Duration;

/// How long dropping the guard waits for the last spans to be exported.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Stands for what [`init`] installed; dropping it exports the last spans (bounded in time) and
/// shuts the exporter down. Hold it in `main` for the life of the process.
#[must_use = "dropping the guard immediately shuts tracing down"]
pub struct TelemetryGuard {
    _private: (),
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tracing_enabled = installed::installed().is_some_and(|i| i.traces.is_some());
        f.debug_struct("TelemetryGuard")
            .field("tracing_enabled", &tracing_enabled)
            .finish()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Bounded: a dead collector must not keep a stopping service alive.
        installed::shutdown(SHUTDOWN_TIMEOUT);
    }
}

/// Installs logging, tracing, propagators and the Prometheus recorder for this process.
///
/// Call once, early in `main` (inside or outside a tokio runtime: the exporter has its own thread).
/// Calling it again in the same process returns [`TelemetryError::AlreadyInitialized`].
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    // The recorder first: it is what a second `init` fails on, before anything else is started.
    let metrics = crate::metrics::recorder::install(&config)?;
    let traces = crate::trace::tracer::install(&config)?;
    let provider = traces.as_ref().map(|traces| traces.provider.clone());
    installed::install(Installed {
        attributes: AttributePolicy {
            value_length_limit: config.attribute_value_length_limit,
            extra_sensitive: config.sensitive_query_parameters.clone(),
        },
        metrics,
        traces,
    })?;
    crate::trace::logs::install(&config, provider.as_ref())?;
    Ok(TelemetryGuard { _private: () })
}
