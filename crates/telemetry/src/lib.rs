//! Observability for axum services: one [`init`] call and one tower layer.
//!
//! Every service gets OTLP traces (gRPC or http/protobuf, configured by the standard `OTEL_*`
//! variables), RED metrics labelled by the matched route template, with the trace ids of sampled
//! requests as exemplars, process metrics, JSON logs that carry `trace_id`/`span_id`, and
//! `/metrics` + `/healthz` + `/readyz`. What each name means is in docs/METRICS.md; why it is built
//! this way in docs/ARCHITECTURE.md.
//!
//! # Example
//!
//! Initialise telemetry, serve a router through [`HttpLayer`] with the [`ops_router`] merged in,
//! and make a [`ClientSpan`] in a handler. Here the request is made in-process and the spans go to
//! a collector that is not there, which costs the requests nothing: lost spans are counted
//! (`otel_spans_export_failed_total`).
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::Request;
//! use opentelemetry::KeyValue;
//! use telemetry::semconv::attribute as semconv;
//! use tower::ServiceExt as _; // `oneshot`
//!
//! /// A handler that calls a dependency: the call is a client span under the request's server
//! /// span, its attributes built only when the sampler records it; it ends when dropped.
//! async fn count() -> &'static str {
//!     let _span = telemetry::ClientSpan::start("INCR", |attributes| {
//!         attributes.push(KeyValue::new(semconv::DB_SYSTEM_NAME, "redis"));
//!         attributes.push(KeyValue::new(semconv::DB_OPERATION_NAME, "INCR"));
//!     });
//!     "counted"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A service reads the `OTEL_*` variables (`TelemetryConfig::from_env`); here they are a list.
//! let config = telemetry::TelemetryConfig::from_lookup("my-service", "1.0.0", |name| match name {
//!     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://127.0.0.1:1".to_owned()), // nobody there
//!     _ => None,
//! })?;
//! // Hold the guard for the life of the process: dropping it exports the last spans.
//! let _guard = telemetry::init(config)?;
//!
//! let app = Router::new()
//!     .route("/counts/{name}", get(count))
//!     .merge(telemetry::ops_router(telemetry::always_ready)) // /metrics /healthz /readyz
//!     .layer(telemetry::HttpLayer::new()); // last: it sees the route template, and 404s
//!
//! // A server span `GET /counts/{name}` with the client span `INCR` under it; sampled (the
//! // default sampler is `parentbased_always_on`), so the response names its trace.
//! let response = app.clone().oneshot(Request::get("/counts/visits").body(Body::empty())?).await?;
//! assert_eq!(response.status(), 200);
//! assert!(response.headers().contains_key("traceresponse"));
//!
//! // The request counted by method, route template and status.
//! let metrics = app.oneshot(Request::get("/metrics").body(Body::empty())?).await?;
//! let text = String::from_utf8(axum::body::to_bytes(metrics.into_body(), usize::MAX).await?.to_vec())?;
//! assert!(text.contains(
//!     r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/counts/{name}",http_response_status_code="200"} 1"#
//! ));
//! # Ok(())
//! # }
//! ```
//!
//! A service made with the `server` crate does not call [`init`] itself: `server::main` reads the
//! configuration, calls it, serves, and drops the guard on the way out.
//!
//! # What is where
//!
//! The public names are re-exported here, grouped by the room (folder) that holds them. The
//! rooms are in layers: each uses only those before it, never one after (the test
//! `tests/layering.rs` checks it).
//! - `config`: the `OTEL_*`, `RUST_LOG`, `LOG_FORMAT` settings ([`TelemetryConfig`]), each bad value
//!   a one-line error naming the variable ([`TelemetryError`]).
//! - `trace/`: what `init` installs, in one place (`trace/installed.rs`, with what happens before
//!   `init`), the tracer provider and our bounded batch processor (drops counted), the OTLP/gRPC
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

#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod config;
mod http;
mod metrics;
mod trace;

// Setting up (config.rs; `init` and `TelemetryGuard` are below).

pub use crate::config::{
    LogFormat, LogWriter, OtlpProtocol, SamplerConfig, TelemetryConfig, TelemetryError,
};

// Traces (trace/): spans of outgoing calls (any client, and HTTP clients with their attributes),
// trace context on outgoing requests, failures on `tracing` spans, URLs without their secrets,
// the flush, and the attribute names of the semantic conventions.

pub use crate::trace::{
    ClientSpan, ClientSpanTemplate, HttpClientSpan, InjectContext, SensitiveQuery, flush_spans,
    record_error, redact_url, redact_url_with,
};
/// The attribute names of the OpenTelemetry semantic conventions, at the version matching the
/// SDK: services name their span fields with these (`{ semconv::attribute::URL_FULL } = ..`).
pub use opentelemetry_semantic_conventions as semconv;

// Metrics (metrics/): the request-duration buckets, and helpers for families a service renders
// itself (`ops_router_with`).

pub use crate::metrics::{
    ExpositionFormat, HTTP_DURATION_BUCKETS, escape_label_value, write_family,
};

// HTTP serving (http/): the layer, its service and response future, the ops routes, and the
// `/metrics` text.

pub use crate::http::{
    Exposition, HttpLayer, HttpService, Readiness, ResponseFuture, always_ready, ops_router,
    ops_router_with, render_exposition, render_metrics,
};

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
