//! The http/protobuf exporter path against a real OTLP/HTTP receiver. The SDK's default batch
//! processor runs outside tokio, where an async HTTP client would panic; this proves ours works.

mod common;

use std::time::Duration;
use testkit::{OtlpHttpReceiver, spawn_router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_over_otlp_http() {
    let receiver = OtlpHttpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let guard = telemetry::init(common::config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]))
    .expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();
    for id in 0..20 {
        assert_eq!(
            common::status(client.get(format!("{base}/items/{id}"))).await,
            200
        );
    }
    assert_eq!(
        common::status(client.get(format!("{base}/lookup"))).await,
        200
    );
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| spans.len() >= 23)
        .await;
    common::assert_lookup_spans(&spans);
    assert_eq!(
        spans.iter().filter(|s| s.name == "GET /items/{id}").count(),
        20,
        "every request's span arrived: {spans:#?}"
    );
    // Shutdown flushes what is left and returns promptly.
    drop(guard);
    let metrics = common::scrape(&base).await;
    assert!(
        testkit::metric_value(&metrics, "otel_spans_exported_total").unwrap_or(0.0) >= 20.0,
        "exports are counted:\n{metrics}"
    );
}
