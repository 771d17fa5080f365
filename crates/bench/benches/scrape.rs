//! Cost of a `/metrics` scrape: render time and body size at 100, 1,000 and 10,000 series.
//!
//! - `scrape/histograms/N`: `telemetry::render_metrics()` itself (process metrics refreshed, the
//!   real global recorder from `telemetry::init`), filled with `http_server_request_duration_seconds`
//!   label sets (17 series each: 14 buckets, `+Inf`, `_sum`, `_count`) until the exposition holds
//!   about N series in total, the shape a service's /metrics has;
//! - `scrape/counters/N`: a recorder built the same way holding N counter series (one label set each).
//!
//! "Series" = sample lines in the exposition (what Prometheus stores). With `BENCH_OUT_DIR` set,
//! the exact series count and body size of each case go to `scrape-sizes.json` there.

use criterion::{BenchmarkId, Criterion};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUSES: [&str; 3] = ["200", "404", "503"];

fn series(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// Adds HTTP-duration label sets (17 series each) to the global recorder until `render_metrics`
/// shows at least `target` series; label set `i` is a distinct (route, method, status).
fn fill_global(target: usize, next: &mut usize) {
    loop {
        let current = series(&telemetry::render_metrics().unwrap_or_default());
        if current + 17 > target {
            return;
        }
        let i = *next;
        *next += 1;
        metrics::histogram!(
            "http_server_request_duration_seconds",
            "http_request_method" => METHODS[i % METHODS.len()],
            "http_route" => format!("/api/v1/resource{}/{{id}}", i / 12),
            "http_response_status_code" => STATUSES[(i / METHODS.len()) % STATUSES.len()],
        )
        .record(0.003 * (i % 50) as f64);
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

    let mut group = criterion.benchmark_group("scrape/histograms");
    let mut next = 0;
    for n in SIZES {
        fill_global(n, &mut next);
        let body = telemetry::render_metrics().unwrap_or_default();
        sizes.push(serde_json::json!({
            "case": format!("histograms/{n}"), "series": series(&body), "bytes": body.len(),
        }));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(telemetry::render_metrics()));
        });
    }
    group.finish();

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
