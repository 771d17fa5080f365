//! The service in-process on a free port (exact counting under concurrency, metrics), and the
//! real binary where a process is the point (bad configuration ends it).

use futures::future::join_all;
use std::collections::HashSet;
use testkit::{InProcessService, metric_value, promtool_check_metrics};
use web_flask_equivalent::Config;

const BIN: &str = env!("CARGO_BIN_EXE_web-flask-equivalent");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_visits_get_distinct_numbers_and_are_all_counted() {
    let telemetry =
        telemetry::TelemetryConfig::from_lookup("web-flask-equivalent", "test", |key| {
            (key == "OTEL_SDK_DISABLED").then(|| "true".to_owned())
        })
        .expect("telemetry config");
    let _guard = telemetry::init(telemetry).expect("telemetry");
    let config = Config {
        listen_addr: ([127, 0, 0, 1], 0).into(),
    };
    let service = InProcessService::start(config, web_flask_equivalent::run).await;
    let client = reqwest::Client::new();
    let answers = join_all((0..1000).map(|_| {
        let client = client.clone();
        let url = format!("{}/", service.url());
        tokio::spawn(async move {
            let response = client.get(url).send().await.expect("request");
            assert_eq!(response.status(), 200);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain"),
                "text/plain"
            );
            response.text().await.expect("body")
        })
    }))
    .await;
    let numbers: Vec<u64> = answers
        .into_iter()
        .map(|answer| {
            let body = answer.expect("task");
            let n = body
                .strip_prefix("Visit number ")
                .and_then(|rest| rest.strip_suffix('\n'))
                .unwrap_or_else(|| panic!("unexpected body {body:?}"));
            n.parse().expect("N is a number")
        })
        .collect();
    let distinct: HashSet<u64> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), 1000, "every N is distinct");
    assert_eq!(numbers.iter().max(), Some(&1000));
    assert_eq!(numbers.iter().min(), Some(&1));

    let metrics = client
        .get(format!("{}/metrics", service.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(metric_value(&metrics, "hello_world_counter"), Some(1000.0));
    assert_eq!(
        metric_value(
            &metrics,
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/",http_response_status_code="200"}"#
        ),
        Some(1000.0),
        "RED metrics count every visit"
    );
    let problems = promtool_check_metrics(&metrics);
    // The seed's own name is kept on purpose (its dashboard query uses it); nothing else may complain.
    let unexpected: Vec<_> = problems
        .iter()
        .filter(|p| !p.starts_with("hello_world_counter "))
        .collect();
    service.stop().await.expect("stops cleanly on shutdown");
    assert!(
        unexpected.is_empty(),
        "promtool check metrics: {problems:#?}"
    );
}

#[test]
fn a_bad_listen_address_exits_with_one_line() {
    let stderr = testkit::assert_config_error(
        std::process::Command::new(BIN).env("LISTEN_ADDR", "not-an-address"),
        "LISTEN_ADDR",
    );
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn a_bad_telemetry_variable_exits_with_one_line() {
    testkit::assert_config_error(
        std::process::Command::new(BIN)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    );
}
