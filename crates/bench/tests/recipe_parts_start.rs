//! `just bench` is not run in CI (it measures), but its parts must keep starting: the bare-hello
//! baseline and the two peers answer like the service, the assembled peer really exports its spans
//! (a filter without `otel::tracing=trace` would export none), the OTLP sink accepts spans over
//! gRPC and HTTP and counts them per service, and the recipe finds its tools
//! (`scripts/bench.sh --check`, which fails naming the `apt-get install` line when one is missing).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use testkit::{ServiceProcess, free_port};

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A whole span as exporters send it (the sink decodes only what it counts: every other field
/// must still be read past), from a resource whose other attributes are not strings.
fn export_request(service: &str, spans: usize) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        parent_span_id: vec![3; 8],
        trace_state: "vendor=x".into(),
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes: vec![
            string("http.request.method", "GET"),
            int("http.response.status_code", 200),
            KeyValue {
                key: "flag".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                }),
                ..Default::default()
            },
        ],
        events: vec![span::Event {
            name: "exception".into(),
            attributes: vec![string("exception.message", "boom")],
            ..Default::default()
        }],
        links: vec![span::Link {
            trace_id: vec![4; 16],
            span_id: vec![5; 8],
            ..Default::default()
        }],
        status: Some(Status {
            code: 2,
            message: "failed".into(),
        }),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    int("process.pid", 42),
                    string("service.name", service),
                    string("service.version", "1.0.0"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "telemetry".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans: vec![span; spans],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// `GET /` `count` times, checking each answer is web-flask-equivalent's; returns the responses'
/// `traceparent` headers (absent ones as `None`).
async fn visit(service: &ServiceProcess, count: u64) -> Vec<Option<String>> {
    let client = reqwest::Client::new();
    let mut traceparents = Vec::new();
    for n in 1..=count {
        let response = client.get(service.url()).send().await.expect("GET /");
        traceparents.push(
            response
                .headers()
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
        assert_eq!(
            response.text().await.expect("body"),
            format!("Visit number {n}\n")
        );
    }
    traceparents
}

async fn get_text(url: String) -> String {
    reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .expect("body")
}

async fn start_sink() -> (ServiceProcess, String) {
    let grpc = format!("127.0.0.1:{}", free_port());
    let http: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut command = Command::new(env!("CARGO_BIN_EXE_otlp-sink"));
    command.args(["--grpc-addr", &grpc, "--http-addr", &http.to_string()]);
    (
        ServiceProcess::start_daemon(command, http, "/healthz").await,
        grpc,
    )
}

async fn sink_stats(sink: &ServiceProcess) -> serde_json::Value {
    serde_json::from_str(&get_text(format!("{}/stats", sink.url())).await).expect("stats JSON")
}

#[tokio::test]
async fn bare_hello_answers_like_the_service() {
    let service = ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_bare-hello")), &[]).await;
    visit(&service, 3).await;
}

#[tokio::test]
async fn axum_prometheus_peer_answers_like_the_service_and_counts_requests() {
    let service =
        ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_peer-axum-prometheus")), &[]).await;
    visit(&service, 3).await;
    let metrics = get_text(format!("{}/metrics", service.url())).await;
    assert!(
        metrics.contains("hello_world_counter 3"),
        "the handler's counter: {metrics}"
    );
    let requests = metrics
        .lines()
        .find(|l| l.starts_with("axum_http_requests_total{") && l.contains(r#"endpoint="/""#))
        .unwrap_or_else(|| panic!("axum-prometheus's request counter for /: {metrics}"));
    assert!(requests.ends_with(" 3"), "{requests}");
}

/// The assembled peer (axum-tracing-opentelemetry + tracing-opentelemetry + OTLP batch exporter)
/// exports one span per request to the sink, and flushes them when stopped with SIGTERM, as
/// `just bench` stops it before counting the spans delivered. Without `otel::tracing=trace` in its
/// filter the layer's spans would not exist and the sink would count none.
#[tokio::test]
async fn assembled_peer_exports_a_span_per_request_to_the_sink() {
    let (sink, grpc) = start_sink().await;
    let endpoint = format!("http://{grpc}");
    let mut service = ServiceProcess::start(
        Path::new(env!("CARGO_BIN_EXE_peer-assembled-otel")),
        &[
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_SERVICE_NAME", "peer-under-test"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
            // Longer than the test: only the flush at shutdown can deliver the spans in time.
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ],
    )
    .await;
    let traceparents = visit(&service, 5).await;
    assert!(
        traceparents.iter().all(Option::is_some),
        "OtelInResponseLayer puts the trace context in every response: {traceparents:?}"
    );
    let status = service
        .terminate(Duration::from_secs(20))
        .expect("the peer exits on SIGTERM");
    assert!(status.success(), "{status}:\n{}", service.logs());

    let stats = sink_stats(&sink).await;
    assert_eq!(
        stats["services"]["peer-under-test"]["GET /"],
        5,
        "spans of GET / delivered to the sink: {stats}\npeer output:\n{}",
        service.logs()
    );
}

#[tokio::test]
async fn otlp_sink_accepts_grpc_and_http_exports_and_counts_per_service() {
    let (sink, grpc) = start_sink().await;

    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .expect("gRPC connect");
    client
        .export(export_request("one", 3))
        .await
        .expect("gRPC export");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", sink.url()))
        .header("content-type", "application/x-protobuf")
        .body(export_request("two", 2).encode_to_vec())
        .send()
        .await
        .expect("HTTP export");
    assert!(response.status().is_success(), "{}", response.status());

    // Not OTLP: refused (400), and counted nowhere.
    let mut garbage = export_request("three", 1).encode_to_vec();
    garbage.truncate(garbage.len() - 3);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", sink.url()))
        .header("content-type", "application/x-protobuf")
        .body(garbage)
        .send()
        .await
        .expect("HTTP export");
    assert_eq!(response.status(), 400);

    let stats = sink_stats(&sink).await;
    assert_eq!(stats["spans"], 5, "{stats}");
    assert_eq!(stats["requests"], 2, "{stats}");
    assert_eq!(stats["services"]["one"]["GET /"], 3, "{stats}");
    assert_eq!(stats["services"]["two"]["GET /"], 2, "{stats}");
}

#[test]
fn bench_recipe_finds_its_tools() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("bash")
        .arg(root.join("scripts/bench.sh"))
        .arg("--check")
        .current_dir(&root)
        .output()
        .expect("run bash scripts/bench.sh --check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/bench.sh --check failed (install what it names):\n{stderr}"
    );
    // The Flask baselines the recipe serves are committed next to the benches.
    for app in ["app000.py", "app001.py"] {
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("flask")
                .join(app)
                .is_file(),
            "crates/bench/flask/{app} is missing"
        );
    }
}

#[test]
fn bench_recipe_names_the_install_command_when_a_tool_is_missing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A PATH with bash and the coreutils the script needs, but without wrk and redis.
    let dir = tempfile_dir();
    for tool in ["bash", "cargo", "python3", "dirname", "sed"] {
        if let Some(path) = which(tool) {
            let _ = std::os::unix::fs::symlink(path, dir.join(tool));
        }
    }
    let output = Command::new(which("bash").expect("bash"))
        .arg(root.join("scripts/bench.sh"))
        .arg("--check")
        .current_dir(&root)
        .env("PATH", &dir)
        .output()
        .expect("run bench.sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "expected a failure: {stderr}");
    assert!(
        stderr.contains("apt-get install -y") && stderr.contains("wrk"),
        "the failure must name the install command: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bench-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
