//! Every eye change is a span named `linus-eye` / `torvalds-eye` with `robot` and `eye.on`, a child
//! of the request's server span, as Jaeger receives it: exported over OTLP to a real receiver.

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::HashMap;
use std::time::Duration;
use testkit::{ExportedSpan, OtlpGrpcReceiver, span_attribute};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eye_changes_are_child_spans_of_the_request() {
    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let vars: HashMap<&str, &str> = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ]
    .into_iter()
    .collect();
    let config = telemetry::TelemetryConfig::from_lookup("robot-control", "test", |k| {
        vars.get(k).map(|v| (*v).to_owned())
    })
    .unwrap();
    let guard = telemetry::init(config).unwrap();

    let (app, _, _) = sim_app(Duration::from_secs(30));
    assert_eq!(get(&app, "/linuson").await.0, StatusCode::OK);
    assert_eq!(
        post_json(&app, "/api/robots/torvalds/eye", json!({"on": false}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);
    guard.flush();

    let names = [
        "GET /linuson",
        "POST /api/robots/{robot}/eye",
        "GET /forward",
        "linus-eye",
        "torvalds-eye",
    ];
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            names.iter().all(|n| spans.iter().any(|s| s.name == *n))
        })
        .await;
    let find = |name: &str| -> &ExportedSpan {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {spans:#?}"))
    };
    let eyes: Vec<&ExportedSpan> = spans.iter().filter(|s| s.name.ends_with("-eye")).collect();
    assert_eq!(
        eyes.len(),
        2,
        "one span per eye change, none for driving: {spans:#?}"
    );

    let (linus, request) = (find("linus-eye"), find("GET /linuson"));
    assert_eq!(span_attribute(linus, "robot").as_deref(), Some("linus"));
    assert_eq!(span_attribute(linus, "eye.on").as_deref(), Some("true"));
    assert_eq!(
        linus.trace_id, request.trace_id,
        "same trace as its request"
    );
    assert_eq!(
        linus.parent_span_id, request.span_id,
        "child of the request span"
    );

    let (torvalds, request) = (find("torvalds-eye"), find("POST /api/robots/{robot}/eye"));
    assert_eq!(
        span_attribute(torvalds, "robot").as_deref(),
        Some("torvalds")
    );
    assert_eq!(span_attribute(torvalds, "eye.on").as_deref(), Some("false"));
    assert_eq!(
        torvalds.parent_span_id, request.span_id,
        "child of the request span"
    );
}
