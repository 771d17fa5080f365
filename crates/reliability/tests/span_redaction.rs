//! Secrets and oversized values in requests never reach the exported spans: the real binary,
//! tracing on to a real OTLP receiver, gets requests whose query carries the values the semantic
//! conventions call sensitive (`sig`, `Signature`, `AWSAccessKeyId`, `X-Goog-Signature`,
//! `X-Amz-*`), names configured in `OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS`, and
//! 60 KiB queries and 64 KiB user agents. Every server span arrives, none carries a secret, and no
//! attribute value is longer than the limit (4096 characters by default).
#![allow(clippy::unwrap_used)]

use reliability::{Record, binary, scaled};
use std::time::Duration;
use testkit::{AttributeValue, ExportedSpan, OtlpGrpcReceiver, ServiceProcess};

/// Every secret sent contains this; none may appear in a span.
const MARK: &str = "s3cr3t";
/// The default `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
const LIMIT: usize = 4096;

/// The query of request `i`: one or more sensitive values among ordinary ones, sometimes huge.
fn query(i: u64) -> String {
    let secret = format!("{MARK}-{i}"); // secrets-check: allow (a marker the test looks for, not a secret)
    let sensitive = [
        "sig",
        "Signature",
        "AWSAccessKeyId",
        "X-Goog-Signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "token",   // configured
        "api_key", // configured
    ];
    let key = sensitive[(i as usize) % sensitive.len()];
    let mut query = format!("q=rust&{key}={secret}&page={i}");
    if i.is_multiple_of(7) {
        // Percent-encoded key: decoded before it is matched.
        query.push_str(&format!("&%73ig={secret}"));
    }
    if i.is_multiple_of(25) {
        query.push_str(&format!("&pad={}", "y".repeat(60 * 1024)));
    }
    query
}

fn values(value: &AttributeValue) -> Vec<String> {
    match value {
        AttributeValue::String(s) | AttributeValue::Other(s) => vec![s.clone()],
        AttributeValue::Array(items) => items.iter().flat_map(values).collect(),
        other => vec![format!("{other:?}")],
    }
}

/// What is wrong with one span: a secret shown, or a value over the limit.
fn problems(span: &ExportedSpan) -> Vec<String> {
    let mut found = Vec::new();
    for (key, value) in &span.attributes {
        for text in values(value) {
            if text.contains(MARK) {
                found.push(format!("{}: {key} shows a secret", span.name));
            }
            if text.chars().count() > LIMIT {
                found.push(format!(
                    "{}: {key} is {} characters",
                    span.name,
                    text.chars().count()
                ));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_oversized_value_reaches_a_span() {
    let count = scaled(300, 5000);
    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::start(
        &binary("web-flask-equivalent"),
        &[
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            (
                "OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS",
                "token,api_key",
            ),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let huge_agent = format!("agent-{}", "z".repeat(64 * 1024));
    for i in 0..count {
        // Matched (/) and unmatched (/nowhere) routes: both spans carry the query.
        let path = if i.is_multiple_of(3) { "/nowhere" } else { "/" };
        let mut request = client.get(format!("{}{path}?{}", service.url(), query(i)));
        if i.is_multiple_of(10) {
            request = request.header("user-agent", &huge_agent);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert!(status == 200 || status == 404, "request {i}: {status}");
    }
    let spans = receiver
        .spans_until(Duration::from_secs(30), |spans| {
            spans
                .iter()
                .filter(|s| s.kind == "SPAN_KIND_SERVER")
                .count()
                >= count as usize
        })
        .await;
    let server: Vec<&ExportedSpan> = spans
        .iter()
        .filter(|s| s.kind == "SPAN_KIND_SERVER")
        .collect();
    assert_eq!(server.len() as u64, count, "every request's span arrived");
    let shown: Vec<String> = server.iter().flat_map(|s| problems(s)).collect();
    let longest = spans
        .iter()
        .flat_map(|s| s.attributes.values().flat_map(values))
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    Record {
        scenario: "span-redaction",
        service: "web-flask-equivalent",
        tried: count,
        lost: shown.len() as u64,
        figure: longest as f64,
        unit: "characters, longest attribute value (limit 4096)",
        notes: format!(
            "{count} requests with sensitive query values (semconv list + 2 configured names, \
             percent-encoded keys), 60 KiB queries and 64 KiB user agents: {} spans received, \
             {} secrets shown or values over the limit",
            server.len(),
            shown.len()
        ),
    }
    .write();
    assert!(
        shown.is_empty(),
        "{} problems, first: {:?}",
        shown.len(),
        shown.iter().take(5).collect::<Vec<_>>()
    );
}
