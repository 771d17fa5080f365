//! gRPC export to a real OTLP receiver: the server span joins the caller's trace, carries the
//! semconv attributes, follows the handler's status, and log lines carry its trace id; client
//! spans (made without the SDK over gRPC) are its children.

mod common;

use std::time::Duration;
use testkit::{ExportedSpan, OtlpGrpcReceiver, span_attribute, spawn_router};

const INCOMING_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INCOMING_PARENT: &str = "00f067aa0ba902b7";

fn find<'a>(spans: &'a [ExportedSpan], name: &str) -> Option<&'a ExportedSpan> {
    spans.iter().find(|s| s.name == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_join_the_callers_trace_with_semconv_attributes() {
    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let (writer, logs) = telemetry::LogWriter::memory();
    let mut config = common::config(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("LOG_FORMAT", "json"),
    ]);
    config.log_writer = writer;
    let _guard = telemetry::init(config).expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{base}/items/17?color=red"))
        .header(
            "traceparent",
            format!("00-{INCOMING_TRACE}-{INCOMING_PARENT}-01"),
        )
        .header("user-agent", "telemetry-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        traceresponse.starts_with(&format!("00-{INCOMING_TRACE}-")),
        "traceresponse names the trace: {traceresponse}"
    );
    assert_eq!(
        common::status(client.get(format!("{base}/fail"))).await,
        500
    );
    assert_eq!(
        common::status(client.post(format!("{base}/teapot"))).await,
        418
    );
    assert_eq!(
        common::status(client.get(format!("{base}/no/such/page"))).await,
        404
    );
    assert_eq!(
        common::status(client.get(format!("{base}/metrics"))).await,
        200
    );
    assert_eq!(
        common::status(client.get(format!("{base}/healthz"))).await,
        200
    );
    assert_eq!(
        common::status(client.get(format!("{base}/lookup"))).await,
        200
    );
    telemetry::flush_spans().await;

    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            [
                "GET /items/{id}",
                "GET /fail",
                "POST /teapot",
                "GET",
                "GET-ITEM",
                "LOOKUP",
            ]
            .iter()
            .all(|name| find(spans, name).is_some())
        })
        .await;
    common::assert_lookup_spans(&spans);
    let item =
        find(&spans, "GET /items/{id}").unwrap_or_else(|| panic!("no item span in {spans:#?}"));
    assert_eq!(item.trace_id, INCOMING_TRACE, "same trace as the caller");
    assert_eq!(
        item.parent_span_id, INCOMING_PARENT,
        "child of the caller's span"
    );
    assert_eq!(item.kind, "SPAN_KIND_SERVER");
    let attr = span_attribute;
    assert_eq!(attr(item, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(item, "http.route").as_deref(), Some("/items/{id}"));
    assert_eq!(attr(item, "url.path").as_deref(), Some("/items/17"));
    assert_eq!(attr(item, "url.query").as_deref(), Some("color=red"));
    assert_eq!(
        attr(item, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attr(item, "network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(
        attr(item, "user_agent.original").as_deref(),
        Some("telemetry-test/1.0")
    );
    assert!(
        traceresponse.contains(&item.span_id),
        "traceresponse names the server span"
    );

    let status_code = |span: &ExportedSpan| span.status.as_ref().map(|s| s.code.clone());
    let fail = find(&spans, "GET /fail").unwrap();
    assert_eq!(
        attr(fail, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(
        status_code(fail).as_deref(),
        Some("STATUS_CODE_ERROR"),
        "5xx is an error: {fail:#?}"
    );
    let teapot = find(&spans, "POST /teapot").unwrap();
    assert_eq!(
        attr(teapot, "http.response.status_code").as_deref(),
        Some("418")
    );
    assert_ne!(
        status_code(teapot).as_deref(),
        Some("STATUS_CODE_ERROR"),
        "4xx is not a server error"
    );
    let unmatched = find(&spans, "GET").unwrap();
    assert_eq!(
        attr(unmatched, "http.route"),
        None,
        "no route for an unmatched path"
    );
    assert_ne!(
        unmatched.trace_id, INCOMING_TRACE,
        "requests without traceparent start new traces"
    );
    assert!(
        !spans
            .iter()
            .any(|s| s.name.contains("/metrics") || s.name.contains("/healthz")),
        "scrapes and probes are not traced"
    );

    // The metrics follow the same statuses and routes.
    let metrics = common::scrape(&base).await;
    for series in [
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/items/{id}",http_response_status_code="200"} 1"#,
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/fail",http_response_status_code="500"} 1"#,
        r#"http_server_request_duration_seconds_count{http_request_method="POST",http_route="/teapot",http_response_status_code="418"} 1"#,
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404"} 1"#,
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }
    assert!(
        !metrics.contains(r#"http_route="/metrics""#),
        "scrapes are not measured"
    );
    assert!(metrics.contains(r#"service_info{service="telemetry-test",version="9.9.9"} 1"#));

    // The log line written inside the request carries its trace and span ids.
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "looking up the item")
        .unwrap_or_else(|| panic!("no JSON log line from the handler in:\n{logs}"));
    assert_eq!(line["trace_id"], INCOMING_TRACE, "{line}");
    assert_eq!(line["span_id"], item.span_id.as_str(), "{line}");
    assert_eq!(line["answer"], 42);
    assert_eq!(line["level"], "INFO");
}
