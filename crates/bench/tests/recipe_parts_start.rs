//! `just bench` is not run in CI (it measures), but its parts must keep starting: the bare-hello
//! baseline answers, the OTLP sink accepts spans over gRPC and HTTP, and the recipe finds its tools
//! (`scripts/bench.sh --check`, which fails naming the `apt-get install` line when one is missing).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::path::Path;
use std::process::Command;
use testkit::{ServiceProcess, free_port};

fn export_request(spans: usize) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "GET /".into(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span; spans],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test]
async fn bare_hello_answers_like_the_service() {
    let service = ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_bare-hello")), &[]).await;
    let client = reqwest::Client::new();
    for n in 1..=3 {
        let body = client
            .get(service.url())
            .send()
            .await
            .expect("GET /")
            .text()
            .await
            .expect("body");
        assert_eq!(body, format!("Visit number {n}\n"));
    }
}

#[tokio::test]
async fn otlp_sink_accepts_grpc_and_http_exports() {
    let grpc = format!("127.0.0.1:{}", free_port());
    let http: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut command = Command::new(env!("CARGO_BIN_EXE_otlp-sink"));
    command.args(["--grpc-addr", &grpc, "--http-addr", &http.to_string()]);
    let sink = ServiceProcess::start_daemon(command, http, "/healthz").await;

    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .expect("gRPC connect");
    client.export(export_request(3)).await.expect("gRPC export");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/traces", sink.url()))
        .header("content-type", "application/x-protobuf")
        .body(export_request(2).encode_to_vec())
        .send()
        .await
        .expect("HTTP export");
    assert!(response.status().is_success(), "{}", response.status());

    let stats: serde_json::Value = reqwest::get(format!("{}/stats", sink.url()))
        .await
        .expect("GET /stats")
        .json()
        .await
        .expect("stats JSON");
    assert_eq!(stats["spans"], 5, "{stats}");
    assert_eq!(stats["requests"], 2, "{stats}");
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
