//! The real binary against local stand-ins for the four services: the configured count and mix
//! arrive exactly, the summary matches what the servers counted, requests carry traceparent,
//! its own /metrics counts, and SIGTERM ends a `--duration 0` run. Every client span, failed ones
//! (4xx, a target nobody listens on) included, carries what our registry lists for it. The pacing itself (rate,
//! concurrency, catch-up) is tested in paused time in `src/driver.rs`, not here with a clock.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telemetry::semconv::attribute as a;
use testkit::semconv::{HTTP_CLIENT, registry};
use testkit::{ExportedSpan, OtlpGrpcReceiver, free_port, metric_value};

const BIN: &str = env!("CARGO_BIN_EXE_loadgen");

/// Requests seen by the stand-in servers: "METHOD target path" → count, and how many lacked
/// a traceparent header.
#[derive(Clone, Default)]
struct Seen {
    requests: Arc<Mutex<BTreeMap<String, u64>>>,
    without_traceparent: Arc<Mutex<u64>>,
}

impl Seen {
    fn counts(&self) -> BTreeMap<String, u64> {
        self.requests.lock().expect("lock").clone()
    }
}

/// A server answering every path: 404 for `/does-not-exist`, 422 for a servo angle out of
/// range, 200 otherwise, counting each request under `target`.
async fn stand_in(target: &'static str, seen: Seen) -> String {
    let router = Router::new()
        .fallback(
            move |State(seen): State<Seen>,
                  method: Method,
                  uri: Uri,
                  headers: HeaderMap,
                  body: String| async move {
                let key = format!("{method} {target} {}", uri.path());
                *seen.requests.lock().expect("lock").entry(key).or_default() += 1;
                if !headers.contains_key("traceparent") {
                    *seen.without_traceparent.lock().expect("lock") += 1;
                }
                match uri.path() {
                    "/does-not-exist" => StatusCode::NOT_FOUND,
                    "/servoarm" if body.contains("500") => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::OK,
                }
            },
        )
        .with_state(seen);
    format!("http://{}", testkit::spawn_router(router).await)
}

async fn stand_ins(seen: &Seen) -> Vec<(&'static str, String)> {
    vec![
        (
            "LOADGEN_WEB_URL",
            stand_in("web-flask-equivalent", seen.clone()).await,
        ),
        (
            "LOADGEN_REDIS_URL",
            stand_in("redis-counter", seen.clone()).await,
        ),
        (
            "LOADGEN_ROBOT_URL",
            stand_in("robot-control", seen.clone()).await,
        ),
        (
            "LOADGEN_PROBER_URL",
            stand_in("url-prober", seen.clone()).await,
        ),
        // The stand-in has no UI page to read a key from (tests/robot_control.rs runs loadgen
        // against the real robot-control, with and without a token).
        ("ROBOT_TOKEN", "stand-in-robot-token".to_owned()),
    ]
}

/// Runs loadgen to completion (killed and failed after `limit`).
/// The variables that make loadgen export its spans to `receiver` over OTLP/gRPC, in batches
/// every 100 ms.
fn exporting_to(receiver: &OtlpGrpcReceiver) -> [(&'static str, String); 4] {
    [
        ("OTEL_SDK_DISABLED", "false".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]
}

async fn run_loadgen(args: &[&str], env: &[(&str, String)], limit: Duration) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("OTEL_SDK_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("start loadgen");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("loadgen still running after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait_with_output().expect("output")
}

fn summary_of(output: &Output) -> loadgen::Summary {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "last stdout line is not the JSON summary ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_run_sends_the_exact_mix_and_its_summary_matches_the_servers() {
    let seen = Seen::default();
    let mut env = stand_ins(&seen).await;
    let mut receiver = OtlpGrpcReceiver::start().await;
    env.extend(exporting_to(&receiver));
    let output = run_loadgen(
        &[
            "--requests",
            "48",
            "--rate",
            "400",
            "--concurrency",
            "8",
            "--mix",
            "web=5,redis=3,robot=2,prober=1,errors=1",
            "--json",
            "--quiet",
        ],
        &env,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = summary_of(&output);

    // 48 requests = 4 rounds of the 12-weight mix.
    let expected: BTreeMap<String, u64> = [
        ("GET web-flask-equivalent /", 20),
        ("GET redis-counter /", 12),
        ("GET robot-control /status", 1),
        ("GET robot-control /forward", 1),
        ("GET robot-control /stop", 1),
        ("GET robot-control /linuson", 1),
        ("GET robot-control /linusoff", 1),
        ("GET robot-control /servomid", 1),
        ("GET robot-control /north", 1),
        ("GET robot-control /stoptwo", 1),
        ("GET url-prober /queryurl", 4),
        ("GET web-flask-equivalent /does-not-exist", 2),
        ("POST robot-control /servoarm", 2),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(seen.counts(), expected, "what the servers received");
    assert_eq!(summary.by_request, expected, "what the summary reports");
    assert_eq!(summary.requests, 48);
    assert_eq!(summary.by_status.get("200"), Some(&44));
    assert_eq!(summary.errors, 4);
    assert_eq!(summary.errors_by_status.get("404"), Some(&2));
    assert_eq!(summary.errors_by_status.get("422"), Some(&2));
    assert_eq!(summary.by_target["web-flask-equivalent"]["404"], 2);
    assert!(summary.latency_ms.p50 > 0.0 && summary.latency_ms.p50 <= summary.latency_ms.p99);
    assert!(summary.latency_ms.p99 <= summary.latency_ms.max);
    assert_eq!(
        *seen.without_traceparent.lock().unwrap(),
        0,
        "every request carries traceparent"
    );

    let client_spans = |spans: &[ExportedSpan]| {
        spans
            .iter()
            .filter(|s| s.kind == "SPAN_KIND_CLIENT")
            .count()
    };
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| client_spans(spans) >= 48)
        .await;
    assert_eq!(client_spans(&spans), 48, "one client span per request");
    assert!(spans.iter().any(|s| s.name == "POST"));
    // Every client span follows the HTTP client conventions; failures carry error.type.
    for span in spans.iter().filter(|s| s.kind == "SPAN_KIND_CLIENT") {
        let failed = span
            .attribute(a::HTTP_RESPONSE_STATUS_CODE)
            .and_then(testkit::AttributeValue::as_int)
            .is_some_and(|code| code >= 400);
        let mut exempt = vec![
            (
                a::HTTP_REQUEST_METHOD_ORIGINAL,
                "GET and POST are known methods",
            ),
            (a::HTTP_REQUEST_RESEND_COUNT, "loadgen never resends"),
        ];
        if !failed {
            exempt.push((a::ERROR_TYPE, "the request succeeded"));
        }
        HTTP_CLIENT.assert_followed(&span.attributes, &exempt);
        registry().assert_span("span.loadgen.request.client", span);
    }
    let targets: BTreeMap<String, usize> =
        spans.iter().fold(BTreeMap::new(), |mut targets, span| {
            let target = testkit::span_attribute(span, "loadgen.target").unwrap_or_default();
            *targets.entry(target).or_default() += 1;
            targets
        });
    let expected: BTreeMap<String, usize> = [
        ("web-flask-equivalent", 22),
        ("redis-counter", 12),
        ("robot-control", 10),
        ("url-prober", 4),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(
        targets, expected,
        "loadgen.target names each span's service"
    );
    registry().assert_resource(&spans[0].resource);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_nobody_listens_on_is_a_failed_client_span() {
    let seen = Seen::default();
    let mut env = stand_ins(&seen).await;
    let closed = format!("http://127.0.0.1:{}", free_port());
    for (key, value) in &mut env {
        if *key == "LOADGEN_WEB_URL" {
            value.clone_from(&closed);
        }
    }
    let mut receiver = OtlpGrpcReceiver::start().await;
    env.extend(exporting_to(&receiver));
    let output = run_loadgen(
        &["--requests", "2", "--mix", "web=1", "--json", "--quiet"],
        &env,
        Duration::from_secs(30),
    )
    .await;
    let summary = summary_of(&output);
    assert_eq!(summary.errors, 2, "both requests failed");

    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| spans.len() >= 2)
        .await;
    assert_eq!(spans.len(), 2, "one span per request: {spans:#?}");
    for span in &spans {
        assert_eq!(
            testkit::span_attribute(span, a::ERROR_TYPE).as_deref(),
            Some("connect_error"),
            "{span:#?}"
        );
        assert_eq!(
            span.status.as_ref().map(|s| s.code.as_str()),
            Some("STATUS_CODE_ERROR")
        );
        assert_eq!(span.attribute(a::HTTP_RESPONSE_STATUS_CODE), None);
        HTTP_CLIENT.assert_followed(
            &span.attributes,
            &[
                (a::HTTP_REQUEST_METHOD_ORIGINAL, "GET is a known method"),
                (a::HTTP_REQUEST_RESEND_COUNT, "loadgen never resends"),
                (a::HTTP_RESPONSE_STATUS_CODE, "no response"),
                (a::NETWORK_PROTOCOL_VERSION, "no response"),
                (a::NETWORK_PEER_ADDRESS, "no connection"),
                (a::NETWORK_PEER_PORT, "no connection"),
            ],
        );
        registry().assert_span("span.loadgen.request.client", span);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_run_reports_progress_and_exports_its_metrics() {
    let seen = Seen::default();
    let mut env = stand_ins(&seen).await;
    let port = free_port();
    env.push(("LISTEN_ADDR", format!("127.0.0.1:{port}")));
    let metrics = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("scrape loadgen")
            .text()
            .await
            .expect("metrics text")
    });
    let output = run_loadgen(
        &["--duration", "2.5s", "--rate", "20", "--mix", "web=1"],
        &env,
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sent = seen.counts()["GET web-flask-equivalent /"];
    assert!(sent > 0, "2.5 s at 20/s sent nothing");
    assert!(stdout.contains(&format!("requests: {sent} in")), "{stdout}");
    assert!(stdout.contains("latency ms: p50"), "{stdout}");
    assert!(
        stderr.lines().filter(|l| l.starts_with("loadgen ")).count() >= 2,
        "progress: {stderr}"
    );

    let metrics = metrics.await.unwrap();
    let ok = metric_value(
        &metrics,
        r#"loadgen_requests_total{target="web-flask-equivalent",status="200"}"#,
    )
    .unwrap_or_else(|| panic!("{metrics}"));
    assert!(ok >= 1.0, "{ok}");
    assert!(
        metrics.contains("# TYPE loadgen_request_duration_seconds histogram"),
        "{metrics}"
    );
    let problems = testkit::promtool_check_metrics(&metrics);
    assert!(problems.is_empty(), "promtool check metrics: {problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duration_zero_runs_until_sigterm_then_prints_its_summary() {
    let seen = Seen::default();
    let env = stand_ins(&seen).await;
    let mut command = Command::new(BIN);
    command
        .args(["--duration", "0", "--rate", "50", "--json", "--quiet"])
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("OTEL_SDK_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in &env {
        command.env(key, value);
    }
    let child = command.spawn().expect("start loadgen");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    testkit::signal(child.id(), testkit::Signal::TERM).expect("send SIGTERM");
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .expect("output");
    assert_eq!(output.status.code(), Some(0));
    let summary = summary_of(&output);
    let received: u64 = seen.counts().values().sum();
    assert!(summary.requests > 0, "{summary:?}");
    assert_eq!(summary.requests, received);
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    for (args, env, setting) in [
        (vec!["--mix", "db=1"], None, "unknown group \"db\""),
        (vec!["--rate", "0"], None, "--rate"),
        (vec!["--duration", "soon"], None, "--duration"),
        (vec!["--requests", "0"], None, "--requests"),
        (vec![], Some(("LOADGEN_WEB_URL", "ftp://nope")), "--web-url"),
    ] {
        let mut command = Command::new(BIN);
        command.args(&args).env("LISTEN_ADDR", "127.0.0.1:0");
        command.envs(env);
        testkit::assert_config_error(&mut command, setting);
    }
}
