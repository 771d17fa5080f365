//! Server spans and the resource against the semantic conventions' tables and our registry
//! (testkit::semconv, docs/semconv/registry.yaml), read from a real OTLP receiver; span names of
//! methods the conventions do not know; plus what no span may carry: attributes of the `tracing`
//! bridge's own (`target`), sensitive query values, and attribute values longer than the
//! configured limit (a 64 KiB URL or user agent).

mod common;

use axum::Router;
use axum::routing::{any, get};
use std::time::Duration;
use telemetry::semconv::attribute as a;
use testkit::semconv::{HTTP_SERVER, RESOURCE, registry};
use testkit::{AttributeValue, ExportedSpan, OtlpHttpReceiver, spawn_router};

const LIMIT: usize = 1000;

fn app() -> Router {
    Router::new()
        .route(
            "/echo",
            get(|| async {
                // A span a handler makes with a long field: the limit applies to it too.
                let long = "x".repeat(64 * 1024);
                tracing::info_span!("inner", payload = %long).in_scope(|| "ok\n")
            }),
        )
        .route(
            "/items/{id}",
            get(|| async { "item\n" }).post(|| async { "posted\n" }),
        )
        .route("/search", any(|| async { "found\n" }))
        .route(
            "/fail",
            get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom\n") }),
        )
        .layer(telemetry::HttpLayer::new())
}

fn text<'a>(span: &'a ExportedSpan, key: &str) -> &'a str {
    span.attribute(key)
        .and_then(AttributeValue::as_str)
        .unwrap_or_else(|| panic!("{} has no string {key}: {:#?}", span.name, span.attributes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_and_resource_follow_the_conventions_and_leak_nothing() {
    let receiver = OtlpHttpReceiver::start().await;
    let _guard = common::init_exporting_to(
        &receiver,
        &[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=staging,service.namespace=shop",
            ),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000"),
            (
                "OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS",
                "token",
            ),
        ],
    );
    let addr = spawn_router(app()).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let send = |request: reqwest::RequestBuilder, trace: &str| {
        request
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .send()
    };

    let ok = "11111111111111111111111111111111";
    let response = send(
        client
            .get(format!(
                "{base}/items/7?q=rust&sig=SIGNATURE&X-Amz-Signature=AMZ&token=T0KEN"
            ))
            .header("user-agent", "semconv-test/1.0"),
        ok,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let failed = "22222222222222222222222222222222";
    assert_eq!(
        send(client.get(format!("{base}/fail")), failed)
            .await
            .unwrap()
            .status(),
        500
    );
    let odd = "33333333333333333333333333333333";
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    send(client.request(purge, format!("{base}/items/1")), odd)
        .await
        .unwrap();
    // QUERY is known (semconv 1.42); PURGE is not, with and without a matching route.
    let query = "55555555555555555555555555555555";
    let method = reqwest::Method::from_bytes(b"QUERY").unwrap();
    assert_eq!(
        send(client.request(method, format!("{base}/search")), query)
            .await
            .unwrap()
            .status(),
        200
    );
    let odd_unmatched = "66666666666666666666666666666666";
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    send(
        client.request(purge, format!("{base}/nowhere")),
        odd_unmatched,
    )
    .await
    .unwrap();
    let long = "44444444444444444444444444444444";
    // 60 KiB: the http crate refuses URIs of 64 KiB and more.
    let big_query = format!("q={}", "y".repeat(60 * 1024));
    let response = send(
        client
            .get(format!("{base}/echo?{big_query}"))
            .header("user-agent", "z".repeat(64 * 1024)),
        long,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);

    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            [ok, failed, odd, query, odd_unmatched, long]
                .iter()
                .all(|t| {
                    spans
                        .iter()
                        .any(|s| s.trace_id == *t && s.kind == "SPAN_KIND_SERVER")
                })
                && spans.iter().any(|s| s.name == "inner")
        })
        .await;
    let server = |trace: &str| {
        spans
            .iter()
            .find(|s| s.trace_id == trace && s.kind == "SPAN_KIND_SERVER")
            .unwrap_or_else(|| panic!("no server span of {trace}: {spans:#?}"))
    };

    // A successful request with a query: everything but the error and the odd-method attributes.
    let span = server(ok);
    HTTP_SERVER.assert_followed(
        &span.attributes,
        &[
            (a::ERROR_TYPE, "200 is not an error"),
            (a::HTTP_REQUEST_METHOD_ORIGINAL, "GET is a known method"),
        ],
    );
    assert_eq!(text(span, a::URL_SCHEME), "http");
    assert_eq!(text(span, a::URL_PATH), "/items/7");
    assert_eq!(
        text(span, a::URL_QUERY),
        "q=rust&sig=REDACTED&X-Amz-Signature=REDACTED&token=REDACTED",
        "the conventions' sensitive keys and the configured ones are redacted"
    );
    assert_eq!(text(span, a::SERVER_ADDRESS), "127.0.0.1");
    assert_eq!(
        span.attribute(a::SERVER_PORT)
            .and_then(AttributeValue::as_int),
        Some(i64::from(addr.port()))
    );
    assert_eq!(text(span, a::CLIENT_ADDRESS), "127.0.0.1");
    assert_eq!(text(span, a::NETWORK_PEER_ADDRESS), "127.0.0.1");
    assert_eq!(text(span, a::USER_AGENT_ORIGINAL), "semconv-test/1.0");
    let serialized = format!("{:?}", span.attributes);
    for secret in ["SIGNATURE", "AMZ", "T0KEN"] {
        assert!(
            !serialized.contains(secret),
            "{secret} leaked: {serialized}"
        );
    }

    // A failure carries error.type (the status code) and the span status.
    let span = server(failed);
    HTTP_SERVER.assert_followed(
        &span.attributes,
        &[
            (a::HTTP_REQUEST_METHOD_ORIGINAL, "GET is a known method"),
            (a::URL_QUERY, "no query"),
            (a::USER_AGENT_ORIGINAL, "reqwest sends none by default"),
        ],
    );
    assert_eq!(text(span, a::ERROR_TYPE), "500");
    assert_eq!(
        span.status.as_ref().map(|s| s.code.as_str()),
        Some("STATUS_CODE_ERROR")
    );

    // A method outside the known set: `_OTHER`, with the original kept, and `HTTP` for the
    // method in the span name (the HTTP spans document's MUST), route or not.
    let span = server(odd);
    assert_eq!(text(span, a::HTTP_REQUEST_METHOD), "_OTHER");
    assert_eq!(text(span, a::HTTP_REQUEST_METHOD_ORIGINAL), "PURGE");
    assert_eq!(span.name, "HTTP /items/{id}");
    let span = server(odd_unmatched);
    assert_eq!(text(span, a::HTTP_REQUEST_METHOD), "_OTHER");
    assert_eq!(span.name, "HTTP");
    // QUERY is one of the conventions' methods: kept, named, no original.
    let span = server(query);
    assert_eq!(text(span, a::HTTP_REQUEST_METHOD), "QUERY");
    assert_eq!(span.attribute(a::HTTP_REQUEST_METHOD_ORIGINAL), None);
    assert_eq!(span.name, "QUERY /search");

    // Every server span carries only what the registry lists for it.
    for span in spans.iter().filter(|s| s.kind == "SPAN_KIND_SERVER") {
        registry().assert_span("span.http.server", span);
    }

    // 64 KiB in the query, the user agent and a handler's span field: cut to the limit.
    let span = server(long);
    assert_eq!(text(span, a::URL_QUERY).chars().count(), LIMIT);
    assert!(text(span, a::URL_QUERY).starts_with("q=yyy"));
    assert_eq!(text(span, a::USER_AGENT_ORIGINAL).chars().count(), LIMIT);
    let inner = spans.iter().find(|s| s.name == "inner").unwrap();
    assert_eq!(text(inner, "payload").chars().count(), LIMIT);
    // A handler's `tracing` span carries its fields and nothing of the bridge's (`target`, the
    // module path, would be on every such span, in no convention's namespace).
    assert_eq!(
        inner.attributes.keys().collect::<Vec<_>>(),
        ["payload"],
        "{inner:#?}"
    );
    let largest = spans
        .iter()
        .flat_map(|s| s.attributes.values())
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(0);
    assert!(
        largest <= LIMIT,
        "an exported attribute holds {largest} bytes"
    );

    // The resource: the conventions' table, plus what OTEL_RESOURCE_ATTRIBUTES adds.
    let resource = &server(ok).resource;
    RESOURCE.assert_followed(resource, &[]);
    registry().assert_resource(resource);
    let value = |key: &str| {
        resource
            .get(key)
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    assert_eq!(value(a::SERVICE_NAME), "telemetry-test");
    assert_eq!(value(a::SERVICE_VERSION), "9.9.9");
    assert_eq!(value(a::TELEMETRY_SDK_LANGUAGE), "rust");
    assert_eq!(value(a::TELEMETRY_SDK_NAME), "opentelemetry");
    assert_eq!(value(a::DEPLOYMENT_ENVIRONMENT_NAME), "staging");
    assert_eq!(value(a::SERVICE_NAMESPACE), "shop");
    let instance = value(a::SERVICE_INSTANCE_ID);
    assert!(
        instance.len() == 36 && instance.as_bytes()[14] == b'4',
        "a UUID v4: {instance}"
    );
}
