//! One probe of one URL: a traced HTTP client request bounded in time and size.
//!
//! Seed 003 reported a timed-out URL as up and let an exception turn `/queryurl` into a 500.
//! Here a probe always ends with an [`Outcome`]: "up" only for an expected status whose whole
//! response (headers and body, read up to [`MAX_BODY_BYTES`]) arrived within the timeout.
//! Every probe is a root client span carrying `traceparent`, so probing one of our own services
//! shows up in Jaeger as one trace across both.

use crate::config::Target;
use std::error::Error as _;
use std::time::{Duration, Instant, SystemTime};
use telemetry::InjectContext;
use telemetry::semconv::attribute as semconv;
use tracing::Instrument;

/// The body is read and discarded (so a slow body counts against the timeout); a body longer
/// than this is not a complete answer: the probe fails with `result="error"` rather than
/// reading an endless stream until the timeout.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Redirects followed before the probe fails (a redirect loop is an error, not a hang).
pub const MAX_REDIRECTS: usize = 5;

/// The fixed set of `result` label values of `probe_results_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    Up,
    Timeout,
    ConnectError,
    DnsError,
    UnexpectedStatus,
    Error,
}

impl ResultKind {
    pub const ALL: [ResultKind; 6] = [
        ResultKind::Up,
        ResultKind::Timeout,
        ResultKind::ConnectError,
        ResultKind::DnsError,
        ResultKind::UnexpectedStatus,
        ResultKind::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Up => "up",
            ResultKind::Timeout => "timeout",
            ResultKind::ConnectError => "connect_error",
            ResultKind::DnsError => "dns_error",
            ResultKind::UnexpectedStatus => "unexpected_status",
            ResultKind::Error => "error",
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub result: ResultKind,
    /// The final status code, when a response arrived in time.
    pub status: Option<u16>,
    /// From sending the request to the end of the body read (or the timeout, or the failure).
    pub elapsed: Duration,
    /// When the probe started.
    pub checked_at: SystemTime,
    /// Why the URL is not up.
    pub error: Option<String>,
}

impl Outcome {
    pub fn up(&self) -> bool {
        self.result == ResultKind::Up
    }
}

/// The HTTP client every probe uses: no connection reuse (each probe measures a fresh connect,
/// like the seed's `requests.get`), a bounded redirect chain, and a recognisable user agent.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .pool_max_idle_per_host(0)
        .user_agent(concat!("url-prober/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Probes `target` once. Never fails: every problem is an [`Outcome`] that is not up.
pub async fn probe(client: &reqwest::Client, target: &Target) -> Outcome {
    let url = &target.parsed;
    // The HTTP client span of the semantic conventions; `url.full` without userinfo or
    // sensitive query values.
    let span = tracing::info_span!(
        parent: None,
        "probe",
        otel.name = target.method.as_str(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        { semconv::HTTP_REQUEST_METHOD } = target.method.as_str(),
        { semconv::URL_FULL } = telemetry::redact_url(url.as_str()),
        { semconv::SERVER_ADDRESS } = telemetry::server_address(url),
        { semconv::SERVER_PORT } = url.port_or_known_default().map(i64::from),
        { semconv::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
        { semconv::NETWORK_PROTOCOL_VERSION } = tracing::field::Empty,
        { semconv::NETWORK_PEER_ADDRESS } = tracing::field::Empty,
        { semconv::NETWORK_PEER_PORT } = tracing::field::Empty,
        { semconv::ERROR_TYPE } = tracing::field::Empty,
    );
    let checked_at = SystemTime::now();
    let started = Instant::now();
    let outcome = async {
        let request = client
            .request(target.method.clone(), url.clone())
            .headers(target.headers.clone())
            .inject_context();
        match tokio::time::timeout(target.timeout, exchange(request)).await {
            Err(_) => (
                ResultKind::Timeout,
                None,
                Some(format!(
                    "no complete response within {}s",
                    target.timeout.as_secs_f64()
                )),
            ),
            Ok(Err(error)) => (classify(&error), None, Some(describe(error))),
            Ok(Ok(Response {
                status,
                complete: false,
            })) => (
                ResultKind::Error,
                Some(status),
                Some(format!(
                    "response body longer than {} MiB",
                    MAX_BODY_BYTES >> 20
                )),
            ),
            Ok(Ok(Response { status, .. })) if target.expected.matches(status) => {
                (ResultKind::Up, Some(status), None)
            }
            Ok(Ok(Response { status, .. })) => (
                ResultKind::UnexpectedStatus,
                Some(status),
                Some(format!("unexpected status {status}")),
            ),
        }
    }
    .instrument(span.clone())
    .await;
    let (result, status, error) = outcome;
    let elapsed = started.elapsed();
    if result != ResultKind::Up {
        let error_type = match (result, status) {
            (ResultKind::UnexpectedStatus, Some(status)) => status.to_string(),
            _ => result.as_str().to_owned(),
        };
        span.record(semconv::ERROR_TYPE, error_type);
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(parent: &span, url = %target.url, result = result.as_str(), ?status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, error, "probed");
    Outcome {
        result,
        status,
        elapsed,
        checked_at,
        error,
    }
}

/// The final response's status, and whether its whole body arrived within the size cap.
struct Response {
    status: u16,
    complete: bool,
}

/// Sends the request and reads (discarding) the body up to the cap.
async fn exchange(request: reqwest::RequestBuilder) -> reqwest::Result<Response> {
    let mut response = request.send().await?;
    let status = response.status().as_u16();
    telemetry::record_response(&tracing::Span::current(), &response);
    let mut read = 0usize;
    while let Some(chunk) = response.chunk().await? {
        read += chunk.len();
        if read > MAX_BODY_BYTES {
            return Ok(Response {
                status,
                complete: false,
            });
        }
    }
    Ok(Response {
        status,
        complete: true,
    })
}

fn classify(error: &reqwest::Error) -> ResultKind {
    if error.is_timeout() {
        ResultKind::Timeout
    } else if is_dns_error(error) {
        ResultKind::DnsError
    } else if error.is_connect() {
        ResultKind::ConnectError
    } else {
        ResultKind::Error
    }
}

/// hyper-util reports resolver failures as a connect error whose cause reads "dns error".
fn is_dns_error(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = source {
        if cause.to_string().contains("dns error") {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The error and its causes on one line (reqwest's own message alone says little).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
