//! `/metrics` content negotiation: Prometheus text for promtool and curl (clean by promtool's
//! rules), OpenMetrics for a scraper that asks for it, named by OpenMetrics' rules, the protobuf
//! format for Prometheus scraping native histograms (decoded in the crate's unit tests and by the
//! real Prometheus in crates/stack-tests/tests/native_histograms.rs).

mod common;

use testkit::spawn_router;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_and_openmetrics_get_what_they_ask_for() {
    let _guard = telemetry::init(common::config(&[("OTEL_SDK_DISABLED", "true")])).expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();
    // Several series of both HTTP families: three routes, two methods, three statuses.
    for _ in 0..3 {
        client.get(format!("{base}/items/1")).send().await.unwrap();
        client.get(format!("{base}/fail")).send().await.unwrap();
    }
    client.post(format!("{base}/teapot")).send().await.unwrap();

    let plain = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = plain.text().await.unwrap();
    assert!(!text.contains("# EOF"), "{text}");
    for family in [
        "# TYPE http_server_request_duration_seconds histogram\n",
        "# TYPE http_server_active_requests gauge\n",
    ] {
        assert_eq!(text.matches(family).count(), 1, "{family} once:\n{text}");
    }
    let count = |labels: &str| {
        testkit::metric_value(
            &text,
            &format!("http_server_request_duration_seconds_count{{{labels}}}"),
        )
    };
    let bucket = |labels: &str, le: &str| {
        testkit::metric_value(
            &text,
            &format!("http_server_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}"),
        )
    };
    let items =
        r#"http_request_method="GET",http_route="/items/{id}",http_response_status_code="200""#;
    let teapot =
        r#"http_request_method="POST",http_route="/teapot",http_response_status_code="418""#;
    let fail = r#"http_request_method="GET",http_route="/fail",http_response_status_code="500""#;
    assert_eq!(count(items), Some(3.0), "{text}");
    assert_eq!(bucket(items, "+Inf"), Some(3.0), "{text}");
    assert_eq!(bucket(items, "10"), Some(3.0), "{text}");
    assert_eq!(count(fail), Some(3.0), "{text}");
    assert_eq!(count(teapot), Some(1.0), "{text}");
    assert_eq!(
        testkit::metric_value(
            &text,
            r#"http_server_active_requests{http_request_method="POST",http_route="/teapot"}"#
        ),
        Some(0.0),
        "{text}"
    );
    let problems = testkit::promtool_check_metrics(&text);
    assert!(problems.is_empty(), "promtool check metrics: {problems:#?}");

    let om = client
        .get(format!("{base}/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        om.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = om.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE otel_spans_dropped counter\n")
            && text.contains("\notel_spans_dropped_total 0\n"),
        "counter families lose `_total`, samples keep it:\n{text}"
    );
    assert!(
        text.contains("# UNIT http_server_request_duration_seconds seconds\n"),
        "{text}"
    );
    assert!(
        !text.contains("\n\n"),
        "no blank lines in OpenMetrics:\n{text}"
    );

    // What Prometheus 3.13 sends with `scrape_native_histograms: true`.
    let proto = client
        .get(format!("{base}/metrics"))
        .header(
            "accept",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        proto.headers()["content-type"],
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );
    let body = proto.bytes().await.unwrap();
    let has = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        has("http_server_request_duration_seconds") && has("/teapot") && !has("# TYPE"),
        "a binary exposition of the same families"
    );
}
