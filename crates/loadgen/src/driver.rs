//! How requests are sent: open-loop pacing at a target rate, bounded concurrency, one client
//! span per request.
//!
//! Open loop: the schedule says how many requests are due by now (`elapsed × rate`), whatever
//! the servers' latency, so a slow service sees the load a real population of users would send
//! instead of a politely slowing generator. Concurrency is still bounded (a semaphore): when
//! every slot is busy the generator waits, and the missed ticks are skipped, never burst. The
//! run ends at the duration, the request count, or SIGINT/SIGTERM, whichever comes first; the
//! requests in flight then get at most their timeout to finish.

use crate::plan::{Plan, PlannedRequest};
use crate::stats::{Stats, Summary, TRANSPORT_ERROR};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use telemetry::InjectContext;
use telemetry::semconv::attribute as semconv;
use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use tracing::Instrument;

/// `loadgen_requests_total{target,status}`.
pub const REQUESTS_METRIC: &str = "loadgen_requests_total";
/// `loadgen_request_duration_seconds{target}`.
pub const DURATION_METRIC: &str = "loadgen_request_duration_seconds";

/// Everything a run needs besides the client.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub plan: Plan,
    /// Requests per second (> 0).
    pub rate: f64,
    /// `None`: until the count is reached or the stop signal.
    pub duration: Option<Duration>,
    /// `None`: until the duration ends or the stop signal.
    pub requests: Option<u64>,
    pub concurrency: u32,
    /// Per request, headers and body.
    pub timeout: Duration,
    /// Print a progress line to stderr every second.
    pub progress: bool,
}

/// Runs the load until it is done or `stop` completes; the requests' outcomes go into `stats`.
pub async fn generate(
    settings: LoadSettings,
    client: reqwest::Client,
    stats: Arc<Stats>,
    stop: impl Future<Output = ()>,
) -> Summary {
    let LoadSettings {
        mut plan,
        rate,
        duration,
        requests,
        concurrency,
        timeout,
        progress,
    } = settings;
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let semaphore = Arc::new(Semaphore::new(concurrency as usize));
    let printer = progress.then(|| {
        tokio::spawn(print_progress(
            stats.clone(),
            sent.clone(),
            semaphore.clone(),
            concurrency,
            started,
        ))
    });

    // At most 1000 ticks a second; higher rates send several requests per tick.
    let mut ticker = tokio::time::interval(Duration::from_secs_f64((1.0 / rate).max(0.001)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let deadline = duration.map(|d| tokio::time::Instant::from_std(started + d));
    let ended = async move {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    tokio::pin!(ended);
    let limit = requests.unwrap_or(u64::MAX);
    let mut issued = 0u64;
    'run: while issued < limit {
        tokio::select! {
            () = &mut stop => break 'run,
            () = &mut ended => break 'run,
            _ = ticker.tick() => {}
        }
        let due_by_now = (started.elapsed().as_secs_f64() * rate).floor() as u64 + 1;
        // Never catch up more than one concurrency's worth at once (no burst after a stall).
        let due = due_by_now.min(limit).min(issued + u64::from(concurrency));
        while issued < due {
            let permit = tokio::select! {
                () = &mut stop => break 'run,
                () = &mut ended => break 'run,
                permit = semaphore.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break 'run,
                },
            };
            let request = plan.next_request();
            let (client, stats) = (client.clone(), stats.clone());
            tokio::spawn(async move {
                send(&client, &request, timeout, &stats).await;
                drop(permit);
            });
            issued += 1;
            sent.store(issued, Ordering::Relaxed);
        }
    }
    // Drain: every permit back means every request finished (each is bounded by `timeout`).
    let drained = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        semaphore.acquire_many(concurrency),
    )
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after their timeout; summarising without them");
    }
    if let Some(printer) = printer {
        printer.abort();
    }
    stats.summary(started.elapsed())
}

/// Sends one request in its own client span and records the outcome.
async fn send(
    client: &reqwest::Client,
    request: &PlannedRequest,
    timeout: Duration,
    stats: &Stats,
) {
    let url = reqwest::Url::parse(&request.url).ok();
    // The HTTP client span of the semantic conventions.
    let span = tracing::info_span!(
        parent: None,
        "request",
        otel.name = request.method.as_str(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        { semconv::HTTP_REQUEST_METHOD } = request.method.as_str(),
        { semconv::URL_FULL } = telemetry::redact_url(&request.url),
        { semconv::SERVER_ADDRESS } = url.as_ref().map(telemetry::server_address).unwrap_or_default(),
        { semconv::SERVER_PORT } = url.as_ref().and_then(reqwest::Url::port_or_known_default).map(i64::from),
        { semconv::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
        { semconv::NETWORK_PROTOCOL_VERSION } = tracing::field::Empty,
        { semconv::NETWORK_PEER_ADDRESS } = tracing::field::Empty,
        { semconv::NETWORK_PEER_PORT } = tracing::field::Empty,
        { semconv::ERROR_TYPE } = tracing::field::Empty,
        loadgen.target = request.target,
    );
    let started = Instant::now();
    let status = async {
        let mut builder = client
            .request(request.method.clone(), &request.url)
            .timeout(timeout);
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        match builder.inject_context().send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                telemetry::record_response(&tracing::Span::current(), &response);
                // Read the body: the latency is the whole exchange, like a browser's.
                match response.bytes().await {
                    Ok(_) => Ok(status),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }
    .instrument(span.clone())
    .await;
    let elapsed = started.elapsed();
    let label = match &status {
        Ok(code) => {
            if *code >= 400 {
                span.record(semconv::ERROR_TYPE, code.to_string());
                span.record("otel.status_code", "ERROR");
            }
            code.to_string()
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect_error"
            } else {
                "error"
            };
            span.record(semconv::ERROR_TYPE, kind);
            span.record("otel.status_code", "ERROR");
            tracing::debug!(parent: &span, url = %request.url, %error, "request failed");
            TRANSPORT_ERROR.to_owned()
        }
    };
    metrics::counter!(REQUESTS_METRIC, "target" => request.target, "status" => label.clone())
        .increment(1);
    metrics::histogram!(DURATION_METRIC, "target" => request.target).record(elapsed.as_secs_f64());
    stats.record(request.target, &request.key(), &label, elapsed);
}

async fn print_progress(
    stats: Arc<Stats>,
    sent: Arc<AtomicU64>,
    semaphore: Arc<Semaphore>,
    concurrency: u32,
    started: Instant,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let summary = stats.summary(started.elapsed());
        let in_flight = (concurrency as usize).saturating_sub(semaphore.available_permits());
        eprintln!(
            "loadgen {:>6.1}s  sent {}  done {}  errors {}  in flight {}  {:.1} req/s  p50 {:.1} ms  p99 {:.1} ms",
            summary.duration_seconds,
            sent.load(Ordering::Relaxed),
            summary.requests,
            summary.errors,
            in_flight,
            summary.achieved_rate,
            summary.latency_ms.p50,
            summary.latency_ms.p99,
        );
    }
}
