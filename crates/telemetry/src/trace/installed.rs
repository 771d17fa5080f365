//! Everything [`crate::init`] installs, in one place: one [`Installed`] in one `OnceLock`, set
//! once, never changed, read through the accessors below. The flush and the shutdown of the
//! spans are here too, because they act on what is installed: [`flush_spans`] is the one way to
//! export the finished spans now, and the guard's drop (`shutdown`) the last.
//!
//! **Before `init`** (or in a process that never calls it) nothing is installed, and telemetry
//! is off: no span is started (the layer passes the caller's trace context on, [`ClientSpan`]s
//! are no-ops), nothing is counted (the layer's series are not registered, `/metrics` answers
//! 503), flushing does nothing, and the attribute rules are the defaults `init` would install
//! without `OTEL_*` settings (so `redact_url` works the same everywhere). Every reader below
//! follows that one rule.
//!
//! It sits in `trace/`, the lowest room whose types it holds (the tracer, the direct spans'
//! queue); the metrics part is the Prometheus exporter's own types, so `metrics/` and `http/`
//! reach it by importing downwards. Installed state of others that stays where it is: the
//! globals of the crates we build on (the `tracing` subscriber, the OpenTelemetry propagator and
//! tracer provider, the `metrics` recorder), which `init` sets through their own APIs; and state
//! that is not installed but grows with use (the per-route caches of `http::route_cache`, the
//! per-thread id hand-over of `sampling`, each thread's shard index of `metrics::http_metrics`).
//!
//! Cost: each accessor is one acquire load of the `OnceLock`, as each of the singletons it
//! replaced was; none takes a lock.
//!
//! [`ClientSpan`]: crate::ClientSpan

use crate::config::{DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT, TelemetryError};
use crate::trace::direct_span::DirectSpans;
use crate::trace::sampling::ServerTracer;
use metrics_exporter_prometheus::PrometheusHandle;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use std::time::Duration;

/// What `init` installed.
pub(crate) struct Installed {
    /// How span attributes are redacted and cut.
    pub(crate) attributes: AttributePolicy,
    /// The metrics side: always installed by `init`.
    pub(crate) metrics: Metrics,
    /// The trace side: `None` when traces are off (`OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER=none`).
    pub(crate) traces: Option<Traces>,
}

/// The process-wide attribute rules.
#[derive(Debug, Clone)]
pub(crate) struct AttributePolicy {
    /// `OTEL_(SPAN_)ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub(crate) value_length_limit: usize,
    /// `OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS`: names redacted in addition to the
    /// conventions' list (`redact`).
    pub(crate) extra_sensitive: Vec<String>,
}

/// The attribute rules before `init`: those of a configuration without `OTEL_*` settings.
static DEFAULT_ATTRIBUTES: AttributePolicy = AttributePolicy {
    value_length_limit: DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    extra_sensitive: Vec::new(),
};

/// The Prometheus recorder's handle (what `/metrics` renders) and the process metrics collector
/// (refreshed at each scrape).
pub(crate) struct Metrics {
    pub(crate) handle: PrometheusHandle,
    pub(crate) process: metrics_process::Collector,
}

/// The tracer provider (what the guard shuts down, what [`flush_spans`] flushes), the server
/// spans' tracer and sampler, and, with OTLP/gRPC, where direct spans go.
pub(crate) struct Traces {
    pub(crate) provider: SdkTracerProvider,
    pub(crate) server: ServerTracer,
    pub(crate) direct: Option<DirectSpans>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs `installed` for the life of the process; a second call fails.
pub(crate) fn install(installed: Installed) -> Result<(), TelemetryError> {
    INSTALLED
        .set(installed)
        .map_err(|_| TelemetryError::AlreadyInitialized)
}

/// What `init` installed, once it has.
pub(crate) fn installed() -> Option<&'static Installed> {
    INSTALLED.get()
}

/// The attribute rules: the configured ones, or the defaults before `init`.
pub(crate) fn attribute_policy() -> &'static AttributePolicy {
    installed().map_or(&DEFAULT_ATTRIBUTES, |installed| &installed.attributes)
}

/// The metrics side, once `init` has run.
pub(crate) fn metrics() -> Option<&'static Metrics> {
    installed().map(|installed| &installed.metrics)
}

/// The server spans' tracer and sampler, once tracing is on.
pub(crate) fn server_tracer() -> Option<&'static ServerTracer> {
    Some(&installed()?.traces.as_ref()?.server)
}

/// Where direct spans go, when they are on (OTLP/gRPC).
pub(crate) fn direct_spans() -> Option<&'static DirectSpans> {
    installed()?.traces.as_ref()?.direct.as_ref()
}

/// Exports every finished span now, without blocking the runtime (waiting at most 5 s for the
/// exporter). For a process that prints a result after its work and wants the spans out first,
/// and for tests that read what a collector received. Nothing to do before `init` or with
/// traces off. Must be called inside a tokio runtime.
pub async fn flush_spans() {
    let _ = tokio::task::spawn_blocking(|| {
        if let Some(traces) = installed().and_then(|installed| installed.traces.as_ref()) {
            let _ = traces.provider.force_flush();
        }
    })
    .await;
}

/// Exports the last spans and shuts the exporter down, waiting at most `timeout`: a dead
/// collector must not keep a stopping service alive. The guard's drop.
pub(crate) fn shutdown(timeout: Duration) {
    if let Some(traces) = installed().and_then(|installed| installed.traces.as_ref()) {
        let _ = traces.provider.shutdown_with_timeout(timeout);
    }
}
