//! A dead or black-holed collector never fails or blocks a request; spans that cannot be
//! queued are dropped and counted.

mod common;

use std::time::Duration;
use testkit::{metric_value, spawn_router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_while_the_collector_black_holes_every_export() {
    // Accepts TCP connections and never answers: the worst case for an exporter.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", black_hole.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        for stream in black_hole.incoming().take(16) {
            connections.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let guard = telemetry::init(common::config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
    ]))
    .expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();
    let mut ok = 0;
    for id in 0..2_000 {
        let response = client
            .get(format!("{base}/items/{id}"))
            .send()
            .await
            .unwrap();
        ok += usize::from(response.status() == 200);
    }
    assert_eq!(ok, 2_000, "every request succeeded");
    let metrics = common::scrape(&base).await;
    let dropped = metric_value(&metrics, "otel_spans_dropped_total").unwrap_or(0.0);
    assert!(
        dropped > 0.0,
        "drops are counted while the collector hangs:\n{metrics}"
    );
    let exported = metric_value(&metrics, "otel_spans_exported_total").unwrap_or(0.0);
    assert_eq!(
        exported, 0.0,
        "nothing reached a collector that never answers"
    );

    // Shutting down with a hung collector is bounded too (the guard gives up after a few seconds).
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "shutdown hung: {:?}",
        started.elapsed()
    );
    drop(held);
}
