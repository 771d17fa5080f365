//! Per-request cost of the telemetry layer, in-process (no sockets on the request path).
//!
//! One trivial axum handler (`GET /` → a static string), driven with `tower::ServiceExt::oneshot`
//! on a current-thread runtime, in these configurations:
//!
//! - `bare`: the router without `telemetry::HttpLayer`;
//! - `metrics_no_subscriber`: the layer with no tracing subscriber at all (the metrics alone);
//! - `metrics_only`: the layer under what `telemetry::init` installs with `OTEL_SDK_DISABLED=true`
//!   (the log layer still sees the request span, since logs inside a request name it). A process
//!   has one global recorder and subscriber, so this case runs in a second process of this bench
//!   (`BENCH_TELEMETRY=sdk-disabled`), as the group `layer_sdk_disabled` with its own `bare`;
//! - `full`: what `telemetry::init` installs with traces on (sampler `parentbased_always_on`, so
//!   every root request is sampled), the real bounded batch processor and the real OTLP/gRPC
//!   exporter, exporting on its own thread to an in-process sink that decodes and discards;
//! - `full_traceparent`: the same with an incoming W3C `traceparent` (a child of the caller's trace);
//! - `full_unsampled`: full telemetry whose sampler drops the request (`parentbased_traceidratio`
//!   with a ratio of 1e-9: the ratio sampler's own decision path, as for the 90 % of requests that
//!   ratio 0.1 drops, with practically no sampled request mixed in). A third process
//!   (`BENCH_TELEMETRY=unsampled`), group `layer_unsampled` with its own `bare`; the spans it
//!   exported are written too (`layer-spans-unsampled.json`) and should be none.
//!
//! The metrics recorder is the real global one from `telemetry::init`. Subtract `bare` to get the
//! layer's cost; `scripts/bench.sh` does that and writes BENCHMARKS.md. With `BENCH_OUT_DIR` set,
//! the span counters after the run (exported, dropped) are written to `layer-spans.json` there:
//! a span dropped because the queue was full would be cheaper than one exported, so they are shown.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::Criterion;
use http::Request;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;
use tracing::Dispatch;

fn app(with_layer: bool) -> Router {
    let router = Router::new()
        .route("/", get(|| async { "Hello, World!\n" }))
        .merge(telemetry::ops_router(telemetry::always_ready));
    if with_layer {
        router.layer(telemetry::HttpLayer::new())
    } else {
        router
    }
}

fn request(traceparent: bool) -> Request<Body> {
    let mut builder = Request::get("/")
        .header("host", "127.0.0.1:5000")
        .header("user-agent", "wrk/4.2.0");
    if traceparent {
        builder = builder.header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        );
    }
    builder.body(Body::empty()).expect("request")
}

/// The ratio of the `full_unsampled` case: the ratio sampler runs its decision on every request
/// and keeps (practically) none.
const UNSAMPLED_RATIO: &str = "1e-9";

struct Case {
    name: &'static str,
    layer: bool,
    traceparent: bool,
    dispatch: Option<Dispatch>,
}

fn main() {
    let out_dir = std::env::var_os("BENCH_OUT_DIR").map(std::path::PathBuf::from);
    let mode = std::env::var("BENCH_TELEMETRY").unwrap_or_default();
    let sdk_disabled = mode == "sdk-disabled";
    let unsampled = mode == "unsampled";

    // The exporter's runtime and the sink live on their own threads, as in a service.
    let background = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let stats = Arc::new(bench::SinkStats::default());
    let endpoint = background.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind sink");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(bench::serve_grpc(listener, stats.clone()));
        format!("http://{addr}")
    });
    let guard = {
        let _entered = background.enter();
        let (writer, _logs) = telemetry::LogWriter::memory();
        let mut config =
            telemetry::TelemetryConfig::from_lookup("bench-layer", "0.0.0", |key| match key {
                "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
                "RUST_LOG" => Some("info".to_owned()),
                "OTEL_SDK_DISABLED" if sdk_disabled => Some("true".to_owned()),
                "OTEL_TRACES_SAMPLER" if unsampled => Some("parentbased_traceidratio".to_owned()),
                "OTEL_TRACES_SAMPLER_ARG" if unsampled => Some(UNSAMPLED_RATIO.to_owned()),
                _ => None,
            })
            .expect("config");
        config.log_writer = writer;
        telemetry::init(config).expect("telemetry::init")
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let case = |name, layer, traceparent, dispatch| Case {
        name,
        layer,
        traceparent,
        dispatch,
    };
    let (group_name, cases) = if sdk_disabled {
        (
            "layer_sdk_disabled",
            vec![
                case("bare", false, false, None),
                case("metrics_only", true, false, None),
            ],
        )
    } else if unsampled {
        (
            "layer_unsampled",
            vec![
                case("bare", false, false, None),
                case("full_unsampled", true, false, None),
            ],
        )
    } else {
        (
            "layer",
            vec![
                case("bare", false, false, None),
                case("full", true, false, None),
                case("full_traceparent", true, true, None),
                // Last, and a registered dispatcher: tracing caches each callsite's interest when
                // it is first hit; first hit under `Dispatch::none()` it would stay disabled for
                // the global subscriber too, and `full` would silently measure no tracing.
                case(
                    "metrics_no_subscriber",
                    true,
                    false,
                    Some(Dispatch::new(tracing::subscriber::NoSubscriber::default())),
                ),
            ],
        )
    };

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut group = criterion.benchmark_group(group_name);
        for case in &cases {
            let router = app(case.layer);
            let run = |iters: u64| -> Duration {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let response = router
                            .clone()
                            .oneshot(request(case.traceparent))
                            .await
                            .expect("infallible");
                        black_box(response);
                    }
                    start.elapsed()
                })
            };
            group.bench_function(case.name, |b| {
                b.iter_custom(|iters| match &case.dispatch {
                    Some(dispatch) => tracing::dispatcher::with_default(dispatch, || run(iters)),
                    None => run(iters),
                });
            });
        }
        group.finish();
    }
    criterion.final_summary();

    rt.block_on(telemetry::flush_spans());
    let text = telemetry::render_metrics().unwrap_or_default();
    let value = |name: &str| testkit::metric_value(&text, name).unwrap_or(0.0);
    let spans = serde_json::json!({
        "otel_spans_exported_total": value("otel_spans_exported_total"),
        "otel_spans_dropped_total": value("otel_spans_dropped_total"),
        "otel_spans_export_failed_total": value("otel_spans_export_failed_total"),
        "sink": stats.json(),
    });
    eprintln!("layer bench spans: {spans}");
    let spans_seen = value("otel_spans_exported_total") + value("otel_spans_dropped_total");
    if mode.is_empty() && spans_seen == 0.0 {
        eprintln!("WARNING: no span was exported or dropped: the `full` cases measured no tracing");
    }
    if unsampled && spans_seen > 0.0 {
        eprintln!("WARNING: {spans_seen} spans sampled: `full_unsampled` was not all unsampled");
    }
    let file = match mode.as_str() {
        "" => Some("layer-spans.json"),
        "unsampled" => Some("layer-spans-unsampled.json"),
        _ => None,
    };
    if let (Some(dir), Some(file)) = (out_dir, file) {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(file), spans.to_string());
    }
    drop(guard);
}
