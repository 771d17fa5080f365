//! Dev-only test kit: real parts on free 127.0.0.1 ports, torn down on drop.
//!
//! Tests in this workspace use real processes wherever one runs here: `redis-server`, the
//! pinned Jaeger, Prometheus, promtool, Alertmanager and exporters ([`stack_program`], built from
//! deploy/tools at the releases Compose runs), our own service binaries, and OTLP receivers (gRPC
//! and HTTP/protobuf, served here, decoding the OTLP protobuf). A missing binary is a test
//! failure that names the command installing it, never a silent skip. The one fake is
//! [`FakePigpio`], standing in for the robots' hardware. [`webdriver`] drives a real headless
//! Chromium.

mod exit;
mod in_process;
mod jaeger;
mod otlp;
mod pigpio;
mod process;
mod prometheus;
mod redis;
pub mod semconv;
mod stack_programs;
pub mod webdriver;

pub use exit::{RunOutcome, assert_config_error, config_error_problems, run_bounded};
pub use in_process::{InProcessService, Shutdown};
pub use jaeger::{JAEGER_PORTS, Jaeger, deployed_jaeger_config, loopback_jaeger_config};
pub use otlp::{
    AttributeValue, ExportedEvent, ExportedSpan, OtlpGrpcReceiver, OtlpHttpReceiver, SpanStatus,
    decode_spans, span_attribute,
};
pub use pigpio::{FakePigpio, PigpioMode};
pub use process::{
    ServiceProcess, Signal, free_port, require_binary, signal, target_dir, workspace_binary,
    workspace_file,
};
pub use prometheus::{Prometheus, promtool_check_metrics, unix_now};
pub use redis::RedisServer;
pub use stack_programs::{
    PinnedProgram, pinned_programs, pinned_release, stack_bin_dir, stack_program,
};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Serves `router` on a free loopback port in this runtime; the task ends with the runtime.
pub async fn spawn_router(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

/// Polls `check` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_until(what, timeout, || {
        let checked = check();
        async move { checked.await.ok_or("not yet") }
    })
    .await
}

/// Polls `check` every 20 ms until it returns `Ok`, or panics with `what` and the last `Err` (the
/// state it was waiting on) after `timeout`.
pub async fn wait_until<T, E, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(state) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}: {state}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Parses Prometheus text exposition into `(series, value)` pairs, series as written
/// (`name{label="v"}`), for assertions on a scraped `/metrics`.
pub fn parse_metrics(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the one series exactly equal to `series` (e.g. `hello_world_counter`).
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    parse_metrics(text)
        .into_iter()
        .find(|(s, _)| s == series)
        .map(|(_, v)| v)
}

/// Sum of every series of metric `name` (any labels); 0 when absent.
pub fn metric_sum(exposition: &str, name: &str) -> f64 {
    parse_metrics(exposition)
        .into_iter()
        .filter(|(series, _)| {
            series == name
                || series
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{'))
        })
        .map(|(_, v)| v)
        .sum()
}

/// A response read whole, for in-process tests of a router with `oneshot`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: bytes::Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or `Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// `GET path` through `app` in-process (no socket), the whole response read.
pub async fn oneshot_get(app: &axum::Router, path: &str) -> Reply {
    let request = axum::http::Request::get(path)
        .body(axum::body::Body::empty())
        .expect("request");
    oneshot(app, request).await
}

/// `request` through `app` in-process (no socket), the whole response read.
pub async fn oneshot(app: &axum::Router, request: axum::http::Request<axum::body::Body>) -> Reply {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        content_type,
        body,
    }
}
