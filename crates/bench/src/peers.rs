//! The peers of BENCHMARKS.md: what a user would assemble from crates.io instead of our telemetry
//! crate, so the benchmark says what the crate is worth against the alternatives, not only against
//! no telemetry at all.
//!
//! - [`prometheus_router`]: axum + axum-prometheus 0.10, as its README shows (the metrics peer);
//! - [`assembled_router`] + [`init_assembled_tracing`]: axum-tracing-opentelemetry 0.42 +
//!   tracing-opentelemetry 0.34 + the opentelemetry-otlp 0.33 batch exporter over gRPC, plus
//!   axum-prometheus (the full-telemetry peer).
//!
//! Every peer serves web-flask-equivalent's `GET /` handler ([`visit`]: an atomic count, the seed's
//! `hello_world_counter`, a formatted line), so the rows differ only in the telemetry around it.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use axum_tracing_opentelemetry::middleware::{OtelAxumLayer, OtelInResponseLayer};
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The counter web-flask-equivalent's handler increments (seed 000's name, kept as it is there).
pub const VISITS_METRIC: &str = "hello_world_counter";

/// The directive axum-tracing-opentelemetry's spans need: they are created on target
/// `otel::tracing` at TRACE level (tracing-opentelemetry-instrumentation-sdk's `TRACING_LEVEL`), so
/// under a plain `RUST_LOG=info` no span exists and nothing is exported. init-tracing-opentelemetry
/// (which the crate's README points to for set-up) adds exactly this directive to every filter.
pub const OTEL_TRACING_DIRECTIVE: &str = "otel::tracing=trace";

/// web-flask-equivalent's `GET /`, line for line.
pub async fn visit(State(visits): State<Arc<AtomicU64>>) -> String {
    let n = visits.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::counter!(VISITS_METRIC).increment(1);
    format!("Visit number {n}\n")
}

/// axum + axum-prometheus, as in axum-prometheus's README: `PrometheusMetricLayer::pair()`, the
/// layer on the router, `/metrics` rendering the handle. Installs the global metrics recorder, so
/// call it once per process.
pub fn prometheus_router() -> Router {
    let (prometheus_layer, metric_handle) = PrometheusMetricLayer::pair();
    Router::new()
        .route("/", get(visit))
        .with_state(Arc::new(AtomicU64::new(0)))
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || std::future::ready(metric_handle.render())),
        )
        .layer(prometheus_layer)
}

/// The full stack users assemble, routed as axum-tracing-opentelemetry's README and its
/// `examples/axum-otlp` do: `OtelInResponseLayer` (the trace context back in the response) under
/// `OtelAxumLayer` (a span per request, parent from `traceparent`) on the traced routes, `/healthz`
/// added after them (untraced, like the example's `/health`), and axum-prometheus around it all.
/// Installs the global metrics recorder, so call it once per process.
pub fn assembled_router() -> Router {
    let (prometheus_layer, metric_handle) = PrometheusMetricLayer::pair();
    Router::new()
        .route("/", get(visit))
        .with_state(Arc::new(AtomicU64::new(0)))
        .layer(OtelInResponseLayer)
        .layer(OtelAxumLayer::default())
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || std::future::ready(metric_handle.render())),
        )
        .layer(prometheus_layer)
}

/// The tracing set-up of the assembled stack, by hand as axum-tracing-opentelemetry's README
/// suggests ("very opinionated init of tracing, look at its source to make your own"): what
/// init-tracing-opentelemetry 0.42's `TracingConfig::production()` installs —
/// `otlp::traces::init_tracerprovider` (an OTLP `SpanExporter` configured from the
/// `OTEL_EXPORTER_OTLP_*` variables, behind the SDK's batch processor, `OTEL_BSP_*` and
/// `OTEL_TRACES_SAMPLER*` read by the SDK), the W3C trace-context + baggage propagators
/// (`init_propagator`), and a subscriber of the tracing-opentelemetry layer, a JSON log layer on
/// stdout and an `EnvFilter` from `RUST_LOG` (default `info`) plus [`OTEL_TRACING_DIRECTIVE`]
/// (`TracingConfig::build_filter_layer`). The exporter speaks gRPC (tonic), as our services do in
/// the bench. Must run inside a tokio runtime. Returns the provider: shut it down to flush.
pub fn init_assembled_tracing() -> Result<SdkTracerProvider, Box<dyn std::error::Error>> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().build())
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    opentelemetry::global::set_tracer_provider(provider.clone());
    let directives = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("OTEL_LOG_LEVEL"))
        .unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(directives)
        .add_directive(OTEL_TRACING_DIRECTIVE.parse()?);
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("peer-assembled-otel")))
        .with(tracing_subscriber::fmt::layer().json())
        .with(filter)
        .try_init()?;
    Ok(provider)
}
