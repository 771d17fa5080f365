//! One probe of one URL: a traced HTTP client request bounded in time and size.
//!
//! Seed 003 reported a timed-out URL as up and let an exception turn `/queryurl` into a 500.
//! Here a probe always ends with an [`Outcome`]: "up" only for an expected status whose whole
//! response (headers and body, read up to [`MAX_BODY_BYTES`]) arrived within the timeout.
//! Every probe is a root client span carrying `traceparent`, so probing one of our own services
//! shows up in Jaeger as one trace across both.
//!
//! Redirects are followed here rather than by reqwest: reqwest forwards every header except a
//! few standard credentials (and sends the previous URL, query included, as `Referer`) to
//! whatever host a redirect names, while a configured header is often an API key. The
//! configured headers and the URL's credentials go to the configured origin only; once a
//! redirect leaves it, the rest of the chain gets neither, and no hop gets a `Referer`.

use crate::config::Target;
use reqwest::{StatusCode, Url};
use std::error::Error as _;
use std::time::{Duration, Instant, SystemTime};
use telemetry::InjectContext;

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
/// like the seed's `requests.get`), redirects left to [`probe`], and a recognisable user agent.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(concat!("url-prober/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Probes `target` once. Never fails: every problem is an [`Outcome`] that is not up.
pub async fn probe(client: &reqwest::Client, target: &Target) -> Outcome {
    // The HTTP client span of the semantic conventions; `url.full` is the URL requested, redacted
    // by the rules of everything the prober shows (no userinfo, every query value redacted).
    let span = telemetry::HttpClientSpan::new_trace(
        &target.method,
        target.request_url.as_str(),
        telemetry::SensitiveQuery::All,
    );
    let checked_at = SystemTime::now();
    let started = Instant::now();
    let outcome = span
        .instrument(async {
            match tokio::time::timeout(target.timeout, exchange(client, target, &span)).await {
                Err(_) => (
                    ResultKind::Timeout,
                    None,
                    Some(format!(
                        "no complete response within {}s",
                        target.timeout.as_secs_f64()
                    )),
                ),
                Ok(Err(Failure::Http(error))) => (classify(&error), None, Some(describe(error))),
                Ok(Err(Failure::TooManyRedirects)) => (
                    ResultKind::Error,
                    None,
                    Some(format!("more than {MAX_REDIRECTS} redirects")),
                ),
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
        })
        .await;
    let (result, status, error) = outcome;
    let elapsed = started.elapsed();
    if result != ResultKind::Up {
        let error_type = match (result, status) {
            (ResultKind::UnexpectedStatus, Some(status)) => status.to_string(),
            _ => result.as_str().to_owned(),
        };
        span.set_error(&error_type);
    }
    tracing::debug!(parent: span.span(), url = %target.url, result = result.as_str(), ?status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, error, "probed");
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

/// Why an exchange got no final response.
enum Failure {
    Http(reqwest::Error),
    TooManyRedirects,
}

impl From<reqwest::Error> for Failure {
    fn from(error: reqwest::Error) -> Self {
        Failure::Http(error)
    }
}

/// Sends the request, follows redirects (at most [`MAX_REDIRECTS`]), and reads (discarding) the
/// final body up to the cap.
async fn exchange(
    client: &reqwest::Client,
    target: &Target,
    span: &telemetry::HttpClientSpan,
) -> Result<Response, Failure> {
    let configured = &target.request_url;
    let mut url = configured.clone();
    let mut on_configured_origin = true;
    let mut redirects = 0;
    let mut response = loop {
        let mut request = client.request(target.method.clone(), url.clone());
        if on_configured_origin {
            request = request.headers(target.headers.clone());
        }
        let response = request.inject_context().send().await?;
        let Some(next) = redirect_target(&response) else {
            break response;
        };
        if redirects == MAX_REDIRECTS {
            return Err(Failure::TooManyRedirects);
        }
        redirects += 1;
        on_configured_origin &= next.origin() == configured.origin();
        url = next;
        if on_configured_origin && url.username().is_empty() {
            // The URL's credentials go along to its own origin, as the first request sent them.
            let _ = url.set_username(configured.username());
            let _ = url.set_password(configured.password());
        }
    };
    span.record_response(&response);
    if redirects > 0 {
        // The conventions count redirects as resends.
        span.record_resend_count(redirects);
    }
    let status = response.status().as_u16();
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

/// Where a redirect response points, resolved against the URL it answered: `None` when the
/// response is not a redirect reqwest would follow or names no usable http(s) URL (then the
/// 3xx is the final response, and up only if it is expected).
fn redirect_target(response: &reqwest::Response) -> Option<Url> {
    let redirects = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    if !redirects {
        return None;
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()?;
    let next = response.url().join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}
