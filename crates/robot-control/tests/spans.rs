//! Every eye change is a span named `linus-eye` / `torvalds-eye` with `robot.name` and
//! `robot.eye.on`, a child of the request's server span, as Jaeger receives it: exported over
//! OTLP to a real receiver. A driver failure (the pigpio daemon gone, or hung) marks it failed as
//! the conventions record errors. Every span received carries only what our semantic-convention
//! registry (docs/semconv/registry.yaml) lists for it.

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use robot_control::{AppState, Config, DriverKind};
use std::collections::HashMap;
use std::time::Duration;
use testkit::semconv::{EXCEPTION_EVENT, registry};
use testkit::{AttributeValue, ExportedSpan, FakePigpio, OtlpGrpcReceiver, span_attribute};

/// The router over two pigpio daemons (test servers), with a short pigpio timeout.
fn pigpio_app(linus: std::net::SocketAddr, torvalds: std::net::SocketAddr) -> axum::Router {
    let config = Config {
        driver: DriverKind::Pigpio,
        linus_pigpio_addr: linus.to_string(),
        torvalds_pigpio_addr: torvalds.to_string(),
        deadman_timeout: Duration::from_secs(30),
        pigpio_timeout: Duration::from_millis(300),
        ..Config::defaults()
    };
    robot_control::router(AppState::new(&with_test_access(config)))
}

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
    let _guard = telemetry::init(config).unwrap();

    let (app, _, _) = sim_app(Duration::from_secs(30));
    assert_eq!(get(&app, "/linuson").await.0, StatusCode::OK);
    assert_eq!(
        post_json(&app, "/api/robots/torvalds/eye", json!({"on": false}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);
    telemetry::flush_spans().await;

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
    assert_eq!(
        linus.attribute("robot.name"),
        Some(&AttributeValue::String("linus".into()))
    );
    assert_eq!(
        linus.attribute("robot.eye.on"),
        Some(&AttributeValue::Bool(true))
    );
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
        span_attribute(torvalds, "robot.name").as_deref(),
        Some("torvalds")
    );
    assert_eq!(
        torvalds.attribute("robot.eye.on"),
        Some(&AttributeValue::Bool(false))
    );
    assert_eq!(
        torvalds.parent_span_id, request.span_id,
        "child of the request span"
    );
    assert_eq!(
        linus
            .status
            .as_ref()
            .map_or("STATUS_CODE_UNSET", |s| s.code.as_str()),
        "STATUS_CODE_UNSET",
        "a change the driver applied is not an error"
    );

    // The driver fails: Linus's daemon is gone (nothing listens any more), Torvalds's hangs.
    let gone = FakePigpio::start().await;
    let gone_addr = gone.addr;
    gone.stop().await;
    let hung = FakePigpio::start_silent().await;
    let app = pigpio_app(gone_addr, hung.addr);
    assert_eq!(
        get(&app, "/linuson").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        post_json(&app, "/api/robots/torvalds/eye", json!({"on": true}))
            .await
            .0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    telemetry::flush_spans().await;
    let failed = |spans: &[ExportedSpan]| -> Vec<ExportedSpan> {
        spans
            .iter()
            .filter(|s| {
                s.name.ends_with("-eye")
                    && s.status
                        .as_ref()
                        .is_some_and(|st| st.code == "STATUS_CODE_ERROR")
            })
            .cloned()
            .collect()
    };
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| failed(spans).len() == 2)
        .await;
    let failed = failed(&spans);
    assert_eq!(failed.len(), 2, "both failed eye changes: {spans:#?}");
    for (name, error_type, message) in [
        ("linus-eye", "connect_error", "cannot connect to pigpio"),
        ("torvalds-eye", "io_error", "did not answer"),
    ] {
        let span = failed
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no failed {name} span in {failed:#?}"));
        assert_eq!(
            span_attribute(span, "error.type").as_deref(),
            Some(error_type)
        );
        let status = span.status.as_ref().unwrap();
        assert!(
            status.message.contains(message),
            "{name}: the status says why: {status:?}"
        );
        let [exception] = span.events.as_slice() else {
            panic!("{name}: one exception event: {:#?}", span.events);
        };
        assert_eq!(exception.name, "exception");
        EXCEPTION_EVENT.assert_followed(
            &exception.attributes,
            &[(
                "exception.stacktrace",
                "a Rust error carries no stack trace",
            )],
        );
        assert_eq!(
            span_attribute_of(&exception.attributes, "exception.message"),
            Some(status.message.clone())
        );
        assert_eq!(
            span_attribute_of(&exception.attributes, "exception.type").as_deref(),
            Some("robot_control::driver::DriverError")
        );
        let parent = spans
            .iter()
            .find(|s| s.span_id == span.parent_span_id)
            .unwrap_or_else(|| panic!("{name}: no parent span"));
        assert_eq!(
            span_attribute(parent, "http.response.status_code").as_deref(),
            Some("503")
        );
    }

    // Every span, the failed ones too: only what the registry lists for it.
    for span in &spans {
        let group = match span.kind.as_str() {
            "SPAN_KIND_SERVER" => "span.http.server",
            _ if span.name.ends_with("-eye") => "span.robot.eye.internal",
            _ => panic!("a span the registry has no group for: {span:#?}"),
        };
        registry().assert_span(group, span);
    }
    registry().assert_resource(&spans[0].resource);
}

fn span_attribute_of(
    attributes: &std::collections::BTreeMap<String, AttributeValue>,
    key: &str,
) -> Option<String> {
    attributes.get(key).map(ToString::to_string)
}
