//! Cost of a `/metrics` scrape: render time and body size at 100, 1,000 and 10,000 series.
//!
//! - `scrape/histograms/N`: `telemetry::render_metrics()` itself (process metrics refreshed, the
//!   real global recorder from `telemetry::init`, and the HTTP layer's own families), with requests
//!   sent through `telemetry::HttpLayer` until the exposition holds about N series in total: each
//!   new (route, method, status) adds an `http_server_request_duration_seconds` label set (a
//!   series per bucket, `+Inf`, `_sum`, `_count`), each new (route, method) an
//!   `http_server_active_requests` series; the shape a service's /metrics has;
//! - `scrape/counters/N`: a recorder built the same way holding N counter series (one label set each);
//! - `scrape/openmetrics/N`, `scrape/protobuf/N`: the same filled service's whole `/metrics` body in
//!   the other two formats it negotiates (`telemetry::render_exposition`): OpenMetrics text, and the
//!   Prometheus protobuf format Prometheus 3 asks for with `scrape_native_histograms`, where each
//!   duration label set carries its native histogram (schema 3) beside the classic buckets. No span
//!   is sampled here (`OTEL_SDK_DISABLED`), so neither carries exemplars.
//!
//! "Series" = sample lines in the exposition (what Prometheus stores). With `BENCH_OUT_DIR` set,
//! the exact series count and body size of each case go to `scrape-sizes.json` there.

use axum::body::Body;
use axum::extract::Path;
use criterion::{BenchmarkId, Criterion};
use http::{Request, StatusCode};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::hint::black_box;
use std::time::Duration;
use telemetry::ExpositionFormat;
use tower::ServiceExt;

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUSES: [&str; 3] = ["200", "404", "503"];

fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// Route templates of the filled service: `/api/v1/resource{r}/{status}`, each answering any
/// method with the status in its path. 12 label sets each (4 methods, 3 statuses).
const ROUTES: usize = 1_000;

fn service() -> axum::Router {
    let mut router = axum::Router::new();
    for r in 0..ROUTES {
        router = router.route(
            &format!("/api/v1/resource{r}/{{status}}"),
            axum::routing::any(|Path(status): Path<u16>| async move {
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
            }),
        );
    }
    router.layer(telemetry::HttpLayer::new())
}

/// Sends requests through the layer until `render_metrics` shows at least `target` series;
/// request `i` is of a distinct (route, method, status).
fn fill_global(
    rt: &tokio::runtime::Runtime,
    service: &axum::Router,
    target: usize,
    next: &mut usize,
) {
    loop {
        let current = series(&telemetry::render_metrics().unwrap_or_default());
        if current + 18 > target {
            return;
        }
        let i = *next;
        *next += 1;
        let request = Request::builder()
            .method(METHODS[i % METHODS.len()])
            .uri(format!(
                "/api/v1/resource{}/{}",
                i / 12,
                STATUSES[(i / METHODS.len()) % STATUSES.len()]
            ))
            .body(Body::empty())
            .expect("request");
        let response = rt
            .block_on(service.clone().oneshot(request))
            .expect("infallible");
        black_box(response);
    }
}

fn counters(n: usize) -> PrometheusHandle {
    let recorder = PrometheusBuilder::new()
        .set_buckets(&telemetry::HTTP_DURATION_BUCKETS)
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..n {
            metrics::counter!("bench_events_total", "kind" => format!("kind-{i}"))
                .increment(i as u64);
        }
    });
    // The handle keeps the recorder's registry alive.
    drop(recorder);
    handle
}

fn main() {
    let out_dir = std::env::var_os("BENCH_OUT_DIR").map(std::path::PathBuf::from);
    let mut config = telemetry::TelemetryConfig::from_lookup("bench-scrape", "0.0.0", |key| {
        (key == "OTEL_SDK_DISABLED").then(|| "true".to_owned())
    })
    .expect("config");
    config.log_writer = telemetry::LogWriter::memory().0;
    let _guard = telemetry::init(config).expect("telemetry::init");

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let mut sizes = Vec::new();

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let service = service();
    let mut next = 0;
    for n in SIZES {
        fill_global(&rt, &service, n, &mut next);
        let body = telemetry::render_metrics().unwrap_or_default();
        let label_sets = body
            .lines()
            .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
            .count();
        sizes.push(serde_json::json!({
            "case": format!("histograms/{n}"), "series": series(&body), "bytes": body.len(),
            "duration_label_sets": label_sets,
        }));
        let mut group = criterion.benchmark_group("scrape/histograms");
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(telemetry::render_metrics()));
        });
        group.finish();
        for (name, format) in [
            ("openmetrics", ExpositionFormat::OpenMetrics),
            ("protobuf", ExpositionFormat::Protobuf),
        ] {
            let body = telemetry::render_exposition(format, &|_| {}).unwrap_or_default();
            sizes.push(serde_json::json!({
                "case": format!("{name}/{n}"), "bytes": body.len(),
                "duration_label_sets": label_sets,
            }));
            let mut group = criterion.benchmark_group(format!("scrape/{name}"));
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| black_box(telemetry::render_exposition(format, &|_| {})));
            });
            group.finish();
        }
    }

    let mut group = criterion.benchmark_group("scrape/counters");
    for n in SIZES {
        let handle = counters(n);
        let body = handle.render();
        sizes.push(serde_json::json!({
            "case": format!("counters/{n}"), "series": series(&body), "bytes": body.len(),
        }));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(handle.render()));
        });
    }
    group.finish();
    criterion.final_summary();

    let sizes = serde_json::Value::Array(sizes);
    eprintln!("scrape sizes: {sizes}");
    if let Some(dir) = out_dir {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("scrape-sizes.json"), sizes.to_string());
    }
}
