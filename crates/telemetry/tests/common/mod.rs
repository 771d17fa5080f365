//! Shared by the telemetry integration tests: a small service wired exactly as the crate docs say.
//! Each test file is its own process, because telemetry installs process-wide state once.

#![allow(dead_code)]

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use std::collections::HashMap;

/// Config as a service would read it, from these variables only (not the test's environment).
pub fn config(vars: &[(&str, &str)]) -> telemetry::TelemetryConfig {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    telemetry::TelemetryConfig::from_lookup("telemetry-test", "9.9.9", |k| map.get(k).cloned())
        .expect("valid config")
}

/// `telemetry::init` exporting spans over OTLP/HTTP to `receiver` within 50 ms, plus `extra`.
pub fn init_exporting_to(
    receiver: &testkit::OtlpHttpReceiver,
    extra: &[(&str, &str)],
) -> telemetry::TelemetryGuard {
    let endpoint = receiver.endpoint();
    let mut vars = vec![
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    vars.extend_from_slice(extra);
    telemetry::init(config(&vars)).expect("init")
}

/// Routes with a template, an error, a client error, and a log line inside the request.
pub fn app() -> Router {
    Router::new()
        .route(
            "/items/{id}",
            get(|| async {
                tracing::info!(answer = 42, "looking up the item");
                "item\n"
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom\n") }),
        )
        .route(
            "/teapot",
            post(|| async { (StatusCode::IM_A_TEAPOT, "short and stout\n") }),
        )
        .merge(telemetry::ops_router(telemetry::always_ready))
        .layer(telemetry::HttpLayer::new())
}

pub async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics body")
}
