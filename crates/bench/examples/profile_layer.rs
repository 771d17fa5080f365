//! A fixed number of requests through the telemetry layer, for `valgrind --tool=callgrind`
//! (instruction counts are deterministic where wall-clock timings on this shared machine are not).
//!
//! `PROFILE_MODE` = `bare` | `metrics` (OTEL_SDK_DISABLED) | `full` (100 % sampled) | `unsampled`
//! (ratio 1e-9); `PROFILE_REQUESTS` (default 20000); `PROFILE_ENDPOINT` = an OTLP/gRPC sink
//! (run `otlp-sink` beside it, so the sink's work is not counted); the span queue holds every
//! span, so none is dropped. The requests carry the
//! `ConnectInfo` a served request has. Instructions per request: run twice with different counts
//! and divide the difference. Ends with a flush, so the export of every span is counted.

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::routing::get;
use http::Request;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tower::ServiceExt;

async fn visit(State(visits): State<Arc<AtomicU64>>) -> String {
    let n = visits.fetch_add(1, Ordering::Relaxed) + 1;
    metrics::counter!("hello_world_counter").increment(1);
    format!("Visit number {n}\n")
}

fn main() {
    let mode = std::env::var("PROFILE_MODE").unwrap_or_else(|_| "full".into());
    let requests: u64 = std::env::var("PROFILE_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let endpoint =
        std::env::var("PROFILE_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4317".into());
    let background = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let guard = (mode != "bare").then(|| {
        let _entered = background.enter();
        let (writer, _logs) = telemetry::LogWriter::memory();
        let mut config =
            telemetry::TelemetryConfig::from_lookup("profile-layer", "0.0.0", |key| match key {
                "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
                "RUST_LOG" => Some("info".to_owned()),
                "OTEL_SDK_DISABLED" if mode == "metrics" => Some("true".to_owned()),
                "OTEL_TRACES_SAMPLER" if mode == "unsampled" => {
                    Some("parentbased_traceidratio".to_owned())
                }
                "OTEL_TRACES_SAMPLER_ARG" if mode == "unsampled" => Some("1e-9".to_owned()),
                // Valgrind runs one thread at a time: a queue that holds every span, so none is
                // dropped (a dropped span would not be counted as exported work).
                "OTEL_BSP_MAX_QUEUE_SIZE" => Some("1000000".to_owned()),
                _ => None,
            })
            .expect("config");
        config.log_writer = writer;
        telemetry::init(config).expect("telemetry::init")
    });
    let router = Router::new()
        .route("/", get(visit))
        .with_state(Arc::new(AtomicU64::new(0)));
    let router = if mode == "bare" {
        router
    } else {
        router.layer(telemetry::HttpLayer::new())
    };
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for _ in 0..requests {
            let mut request = Request::get("/")
                .header("host", "127.0.0.1:5000")
                .body(Body::empty())
                .expect("request");
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().oneshot(request).await.expect("infallible");
            black_box(response);
        }
    });
    if let Some(_guard) = guard {
        rt.block_on(telemetry::flush_spans());
        let text = telemetry::render_metrics().unwrap_or_default();
        for line in text.lines().filter(|l| l.starts_with("otel_spans")) {
            eprintln!("{line}");
        }
    }
}
