//! How requests are sent: open-loop pacing at a target rate, bounded concurrency, one client
//! span per request.
//!
//! Open loop: the schedule says how many requests are due by now (`elapsed × rate`), whatever
//! the servers' latency, so a slow service sees the load a real population of users would send
//! instead of a politely slowing generator. Concurrency is still bounded (a semaphore): when
//! every slot is busy the generator waits, and the missed ticks are skipped, never burst. The
//! run ends at the duration, the request count, or SIGINT/SIGTERM, whichever comes first; the
//! requests in flight then get at most their timeout to finish. The tests below check the
//! schedule in paused time, to the millisecond.

use crate::plan::{Plan, PlannedRequest};
use crate::robot_auth::{Credential, UI_KEY_HEADER, UiKey};
use crate::stats::{Stats, Summary, TRANSPORT_ERROR};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use telemetry::InjectContext;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};

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

/// When requests go out: the open-loop schedule and what ends it.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    /// Requests per second (> 0).
    rate: f64,
    duration: Option<Duration>,
    requests: Option<u64>,
    concurrency: u32,
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
    let pacing = Pacing {
        rate,
        duration,
        requests,
        concurrency,
    };
    let started = Instant::now();
    let sent = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(concurrency as usize));
    let printer = progress.then(|| {
        tokio::spawn(print_progress(
            stats.clone(),
            sent.clone(),
            slots.clone(),
            concurrency,
            started,
        ))
    });
    pace(pacing, &slots, stop, |slot| {
        let request = plan.next_request();
        let (client, stats) = (client.clone(), stats.clone());
        tokio::spawn(async move {
            send(&client, &request, timeout, &stats).await;
            drop(slot);
        });
        sent.fetch_add(1, Ordering::Relaxed);
    })
    .await;
    // Drain: every slot back means every request finished (each is bounded by `timeout`).
    let drained = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        slots.acquire_many(concurrency),
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

/// Calls `issue` once per request on the open-loop schedule until the duration, the request
/// count or `stop` ends the run. `issue` gets the request's concurrency slot and must hold it
/// until the request ends; when no slot is free the schedule waits, then catches up by at most
/// one concurrency's worth (no burst after a stall). Returns how many were issued.
async fn pace(
    pacing: Pacing,
    slots: &Arc<Semaphore>,
    stop: impl Future<Output = ()>,
    mut issue: impl FnMut(OwnedSemaphorePermit),
) -> u64 {
    let started = Instant::now();
    // One request per `spacing`; at most 1000 ticks a second, so higher rates send several
    // requests per tick.
    let spacing = Duration::from_secs_f64(1.0 / pacing.rate);
    let mut ticker = tokio::time::interval(spacing.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let deadline = pacing.duration.map(|d| started + d);
    let ended = async move {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    tokio::pin!(ended);
    let limit = pacing.requests.unwrap_or(u64::MAX);
    let mut issued = 0u64;
    // `biased`: the end of the run wins over a tick due at the same instant, so a run of D
    // seconds at R/s sends D×R requests, not sometimes one more.
    'run: while issued < limit {
        tokio::select! {
            biased;
            () = &mut stop => break 'run,
            () = &mut ended => break 'run,
            _ = ticker.tick() => {}
        }
        let due = due_by(started.elapsed(), spacing)
            .min(limit)
            .min(issued + u64::from(pacing.concurrency));
        while issued < due {
            let slot = tokio::select! {
                biased;
                () = &mut stop => break 'run,
                () = &mut ended => break 'run,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break 'run,
                },
            };
            issue(slot);
            issued += 1;
        }
    }
    issued
}

/// Requests due by `elapsed`: one at the start, then one every `spacing`. In whole nanoseconds,
/// the ticker's own unit: in floating point, `0.29 s × 100/s` is 28.999… and the request due
/// on that tick would wait for the next one.
fn due_by(elapsed: Duration, spacing: Duration) -> u64 {
    let due = elapsed.as_nanos() / spacing.as_nanos().max(1) + 1;
    u64::try_from(due).unwrap_or(u64::MAX)
}

/// Sends one request in its own client span and records the outcome. A robot command refused
/// with 403 while carrying the UI key has the key read again (bounded: [`crate::robot_auth`]).
async fn send(
    client: &reqwest::Client,
    request: &PlannedRequest,
    timeout: Duration,
    stats: &Stats,
) {
    // Before the clock starts: reading the UI page is not part of the command's latency.
    let ui_key = match &request.credential {
        Some(Credential::UiKey(source)) => Some((source, source.key(client, timeout).await)),
        _ => None,
    };
    let span = request_span(request);
    let started = Instant::now();
    let key = ui_key.as_ref().and_then(|(_, key)| key.as_ref());
    let result = span
        .instrument(exchange(client, request, key, timeout, &span))
        .await;
    let elapsed = started.elapsed();
    if let (Ok(403), Some((source, used))) = (&result, &ui_key) {
        source.refused(client, timeout, used.as_ref()).await;
    }
    let label = status_label(&span, request, result);
    metrics::counter!(REQUESTS_METRIC, "target" => request.target, "status" => label.clone())
        .increment(1);
    metrics::histogram!(DURATION_METRIC, "target" => request.target).record(elapsed.as_secs_f64());
    stats.record(request.target, &request.key(), &label, elapsed);
}

/// A root client span with the HTTP semantic conventions' request attributes and the target.
pub(crate) fn request_span(request: &PlannedRequest) -> telemetry::HttpClientSpan {
    let span = telemetry::HttpClientSpan::new_trace(
        &request.method,
        &request.url,
        telemetry::SensitiveQuery::Listed,
    );
    span.set_attribute("loadgen.target", request.target);
    span
}

/// The request with `traceparent` and its robot credential, if any, and its whole body read:
/// the latency is the whole exchange, like a browser's. The status code, or why there is none.
async fn exchange(
    client: &reqwest::Client,
    request: &PlannedRequest,
    ui_key: Option<&UiKey>,
    timeout: Duration,
    span: &telemetry::HttpClientSpan,
) -> reqwest::Result<u16> {
    let mut builder = client
        .request(request.method.clone(), &request.url)
        .timeout(timeout);
    if let Some(Credential::Bearer(bearer)) = &request.credential {
        builder = builder.bearer_auth(bearer.token());
    }
    if let Some(mut key) =
        ui_key.and_then(|k| reqwest::header::HeaderValue::from_str(k.as_str()).ok())
    {
        key.set_sensitive(true);
        builder = builder.header(UI_KEY_HEADER, key);
    }
    if let Some(body) = request.body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
    }
    let response = builder.inject_context().send().await?;
    span.record_response(&response);
    let status = response.status().as_u16();
    response.bytes().await?;
    Ok(status)
}

/// Records the outcome on the span; returns the `status` label (the code, or [`TRANSPORT_ERROR`]).
fn status_label(
    span: &telemetry::HttpClientSpan,
    request: &PlannedRequest,
    result: reqwest::Result<u16>,
) -> String {
    match result {
        Ok(code) => {
            if code >= 400 {
                span.set_error(&code.to_string());
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
            span.set_error(kind);
            tracing::debug!(parent: span.span(), url = %request.url, %error, "request failed");
            TRANSPORT_ERROR.to_owned()
        }
    }
}

async fn print_progress(
    stats: Arc<Stats>,
    sent: Arc<AtomicU64>,
    slots: Arc<Semaphore>,
    concurrency: u32,
    started: Instant,
) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let summary = stats.summary(started.elapsed());
        let in_flight = (concurrency as usize).saturating_sub(slots.available_permits());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What a paced run did: when each request was issued (ms from the start) and the most
    /// requests in flight at once.
    #[derive(Debug, Default)]
    struct Issued {
        at_ms: Vec<u128>,
        in_flight: usize,
        max_in_flight: usize,
    }

    /// Runs `pace` in paused time with requests that each take `latency`.
    async fn paced(
        pacing: Pacing,
        latency: Duration,
        stop: impl Future<Output = ()>,
    ) -> (u64, Issued) {
        let issued = Arc::new(Mutex::new(Issued::default()));
        let slots = Arc::new(Semaphore::new(pacing.concurrency as usize));
        let started = Instant::now();
        let record = issued.clone();
        let count = pace(pacing, &slots, stop, move |slot| {
            let mut issued = record.lock().expect("lock");
            issued.at_ms.push((Instant::now() - started).as_millis());
            issued.in_flight += 1;
            issued.max_in_flight = issued.max_in_flight.max(issued.in_flight);
            let record = record.clone();
            tokio::spawn(async move {
                tokio::time::sleep(latency).await;
                record.lock().expect("lock").in_flight -= 1;
                drop(slot);
            });
        })
        .await;
        let issued = std::mem::take(&mut *issued.lock().expect("lock"));
        (count, issued)
    }

    fn pacing(rate: f64, duration: Option<Duration>, concurrency: u32) -> Pacing {
        Pacing {
            rate,
            duration,
            requests: None,
            concurrency,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_run_sends_rate_times_duration_requests_on_the_rate_grid() {
        let run = pacing(20.0, Some(Duration::from_millis(2_500)), 32);
        let (count, issued) = paced(run, Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(count, 50);
        let grid: Vec<u128> = (0..50).map(|k| k * 50).collect();
        assert_eq!(issued.at_ms, grid);
    }

    #[tokio::test(start_paused = true)]
    async fn every_request_goes_out_on_its_tick_at_any_rate() {
        for rate in [100.0, 3.0, 7.0, 33.0, 250.0] {
            let run = pacing(rate, Some(Duration::from_secs(3)), 32);
            let (count, issued) = paced(run, Duration::ZERO, std::future::pending()).await;
            let expected = (3.0 * rate) as u128;
            assert_eq!(u128::from(count), expected, "{rate}/s");
            // tokio's timers fire on whole milliseconds, rounded up.
            let period = Duration::from_secs_f64(1.0 / rate);
            let grid: Vec<u128> = (0..expected)
                .map(|k| (period * u32::try_from(k).unwrap_or(u32::MAX)).as_nanos())
                .map(|nanos| nanos.div_ceil(1_000_000))
                .collect();
            assert_eq!(issued.at_ms, grid, "{rate}/s");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_responses_do_not_slow_the_schedule() {
        // Open loop: requests taking 1.95 s at 10/s are 20 in flight, each still sent on time.
        let run = pacing(10.0, Some(Duration::from_secs(3)), 32);
        let (count, issued) =
            paced(run, Duration::from_millis(1_950), std::future::pending()).await;
        assert_eq!(count, 30);
        let grid: Vec<u128> = (0..30).map(|k| k * 100).collect();
        assert_eq!(issued.at_ms, grid);
        assert_eq!(issued.max_in_flight, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn busy_slots_hold_the_schedule_back_and_never_exceed_the_concurrency() {
        // 1 s requests, 2 slots: 2 requests a second get out, whatever the 100/s asked for.
        let run = pacing(100.0, Some(Duration::from_millis(4_500)), 2);
        let (count, issued) = paced(run, Duration::from_secs(1), std::future::pending()).await;
        assert_eq!(issued.max_in_flight, 2);
        assert_eq!(count, 10);
        assert_eq!(
            issued.at_ms,
            [0, 10, 1000, 1010, 2000, 2010, 3000, 3010, 4000, 4010]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_stall_it_catches_up_by_at_most_one_concurrency_per_tick() {
        let run = pacing(100.0, Some(Duration::from_secs(2)), 4);
        let pacer = tokio::spawn(paced(
            run,
            Duration::from_millis(1),
            std::future::pending::<()>(),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The pacer is not polled for a second (a starved runtime): 100 more requests fall due.
        tokio::time::advance(Duration::from_secs(1)).await;
        let (count, issued) = pacer.await.expect("pacer");
        // Catching up, at most 4 (the concurrency) per 10 ms tick, never a burst of the backlog.
        let busiest_tick = issued
            .at_ms
            .iter()
            .map(|start| {
                issued
                    .at_ms
                    .iter()
                    .filter(|at| (*start..start + 10).contains(at))
                    .count()
            })
            .max()
            .unwrap_or_default();
        assert_eq!(busiest_tick, 4, "{:?}", issued.at_ms);
        assert!(
            count > 150,
            "the backlog is caught up within the run: {count}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stop_and_the_request_count_end_the_run() {
        let forever = pacing(20.0, None, 32);
        let stop = tokio::time::sleep(Duration::from_secs(1));
        let (count, issued) = paced(forever, Duration::from_millis(10), stop).await;
        assert_eq!(count, 20);
        assert_eq!(issued.at_ms.last(), Some(&950));

        let seven = Pacing {
            requests: Some(7),
            ..pacing(1000.0, None, 32)
        };
        let (count, _) = paced(seven, Duration::from_millis(10), std::future::pending()).await;
        assert_eq!(count, 7);
    }
}
