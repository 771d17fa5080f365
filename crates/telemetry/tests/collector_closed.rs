//! A collector address where nothing listens: every request still succeeds and failed exports
//! are counted.

mod common;

use std::time::Duration;
use testkit::{eventually, free_port, metric_value, spawn_router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_when_nothing_listens_at_the_collector_address() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let _guard = telemetry::init(common::config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
    ]))
    .expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();
    for id in 0..1_000 {
        let response = client
            .get(format!("{base}/items/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    eventually(
        "failed exports to be counted",
        Duration::from_secs(20),
        || async {
            let metrics = common::scrape(&base).await;
            (metric_value(&metrics, "otel_spans_export_failed_total").unwrap_or(0.0) > 0.0)
                .then_some(())
        },
    )
    .await;
}
