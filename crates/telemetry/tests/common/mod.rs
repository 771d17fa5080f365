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
        .route("/lookup", get(lookup))
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

/// Two client spans, as a service makes them on every request: one from a template (constant
/// attributes given once) that fails, one from a closure.
async fn lookup() -> &'static str {
    static TEMPLATE: std::sync::LazyLock<telemetry::ClientSpanTemplate> =
        std::sync::LazyLock::new(|| {
            telemetry::ClientSpanTemplate::new(
                "GET-ITEM",
                vec![
                    opentelemetry::KeyValue::new("db.system.name", "redis"),
                    opentelemetry::KeyValue::new("server.port", 6379_i64),
                ],
            )
        });
    {
        let mut span = telemetry::ClientSpan::start_from(&TEMPLATE);
        span.set_attribute(opentelemetry::KeyValue::new(
            "db.response.status_code",
            "ERR",
        ));
        span.set_error("ERR");
    }
    let _plain = telemetry::ClientSpan::start("LOOKUP", |attributes| {
        attributes.push(opentelemetry::KeyValue::new("db.operation.name", "LOOKUP"));
    });
    "found\n"
}

/// The spans of one `/lookup` request, as a receiver got them: both client spans are children of
/// the request's server span, in its trace, with their attributes, kind, scope and status.
pub fn assert_lookup_spans(spans: &[testkit::ExportedSpan]) {
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
    };
    let server = find("GET /lookup");
    let attribute = testkit::span_attribute;
    for client in [find("GET-ITEM"), find("LOOKUP")] {
        assert_eq!(client.kind, "SPAN_KIND_CLIENT", "{client:#?}");
        assert_eq!(client.trace_id, server.trace_id, "{client:#?}");
        assert_eq!(client.parent_span_id, server.span_id, "{client:#?}");
        assert_eq!(client.scope, server.scope, "{client:#?}");
        assert_eq!(client.resource, server.resource, "{client:#?}");
        assert!(
            client.start_time_unix_nano > 0
                && client.start_time_unix_nano <= client.end_time_unix_nano,
            "{client:#?}"
        );
    }
    let item = find("GET-ITEM");
    assert_eq!(attribute(item, "db.system.name").as_deref(), Some("redis"));
    assert_eq!(attribute(item, "server.port").as_deref(), Some("6379"));
    assert_eq!(
        attribute(item, "db.response.status_code").as_deref(),
        Some("ERR")
    );
    assert_eq!(attribute(item, "error.type").as_deref(), Some("ERR"));
    assert_eq!(
        item.status.as_ref().map(|s| s.code.as_str()),
        Some("STATUS_CODE_ERROR")
    );
    let lookup = find("LOOKUP");
    assert_eq!(
        attribute(lookup, "db.operation.name").as_deref(),
        Some("LOOKUP")
    );
    assert!(
        lookup
            .status
            .as_ref()
            .is_none_or(|s| s.code == "STATUS_CODE_UNSET"),
        "{lookup:#?}"
    );
}

/// The status code of the response to `request`.
pub async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("a response").status().as_u16()
}
