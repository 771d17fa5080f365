//! The latest result per URL and the per-URL metric series, kept together in one registry.
//!
//! The per-URL families (`sample_external_url_up`, `sample_external_url_response_ms`,
//! `probe_duration_seconds`, `probe_results_total`, `probe_skipped_total`) are rendered here
//! rather than through the global `metrics` recorder because that recorder cannot forget a
//! series: when a config reload removes a URL, its series must disappear from `/metrics` (an
//! `up` gauge frozen at its last value would keep an alert firing for a URL nobody probes).
//! `/metrics` appends them through the telemetry crate's exposition hook (`ops_router_with`),
//! which also converts them to OpenMetrics when the scraper asks for it.

use crate::config::Target;
use crate::probe::{Outcome, ResultKind};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use telemetry::write_family;
// parking_lot's Mutex does not poison: a panic elsewhere never stops /queryurl or /metrics.
use parking_lot::Mutex;
use std::sync::Arc;

/// `probe_duration_seconds` buckets: the HTTP buckets (`telemetry::HTTP_DURATION_BUCKETS`, with
/// 0.25 for "% under 250 ms") plus room for long timeouts.
pub const PROBE_DURATION_BUCKETS: [f64; HTTP_BUCKETS + LONG_BUCKETS.len()] = {
    let mut all = [0.0; HTTP_BUCKETS + LONG_BUCKETS.len()];
    let mut i = 0;
    while i < all.len() {
        all[i] = if i < HTTP_BUCKETS {
            telemetry::HTTP_DURATION_BUCKETS[i]
        } else {
            LONG_BUCKETS[i - HTTP_BUCKETS]
        };
        i += 1;
    }
    all
};
const HTTP_BUCKETS: usize = telemetry::HTTP_DURATION_BUCKETS.len();
/// Above the last HTTP bucket: a probe may wait as long as its `timeout_in_seconds`.
const LONG_BUCKETS: [f64; 2] = [30.0, 60.0];
const _: () = assert!(telemetry::HTTP_DURATION_BUCKETS[HTTP_BUCKETS - 1] < LONG_BUCKETS[0]);

/// One URL's state: its latest outcome and its cumulative series.
#[derive(Debug, Clone)]
struct UrlState {
    url: String,
    last: Option<Outcome>,
    results: [u64; ResultKind::ALL.len()],
    skipped: u64,
    buckets: [u64; PROBE_DURATION_BUCKETS.len()],
    duration_sum: f64,
    duration_count: u64,
}

impl UrlState {
    fn new(url: String) -> Self {
        Self {
            url,
            last: None,
            results: [0; ResultKind::ALL.len()],
            skipped: 0,
            buckets: [0; PROBE_DURATION_BUCKETS.len()],
            duration_sum: 0.0,
            duration_count: 0,
        }
    }
}

/// Shared between the scheduler (writes) and the HTTP handlers (read).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// In config order.
    urls: Mutex<Vec<UrlState>>,
    /// Set once every URL of the first configuration has a result; never unset.
    ready: AtomicBool,
}

/// `/queryurl`'s view of one URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UrlReport {
    pub url: String,
    /// `up`, `timeout`, `connect_error`, `dns_error`, `unexpected_status`, `error`, or `pending`
    /// before the first probe.
    pub result: String,
    pub up: bool,
    pub status_code: Option<u16>,
    pub response_ms: Option<f64>,
    /// RFC 3339, UTC.
    pub checked_at: Option<String>,
    pub error: Option<String>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the tracked URLs exactly `targets` (in that order): new URLs start pending, URLs
    /// still configured keep their results and counters, removed URLs and their series go.
    pub fn set_targets(&self, targets: &[Target]) {
        let mut urls = self.inner.urls.lock();
        let mut old = std::mem::take(&mut *urls);
        for target in targets {
            let state = match old.iter().position(|s| s.url == target.url) {
                Some(index) => old.swap_remove(index),
                None => UrlState::new(target.url.clone()),
            };
            urls.push(state);
        }
    }

    /// Records a probe of `url`; ignored if `url` was removed meanwhile.
    pub fn record(&self, url: &str, outcome: Outcome) {
        let mut urls = self.inner.urls.lock();
        let Some(state) = urls.iter_mut().find(|s| s.url == url) else {
            return;
        };
        let seconds = outcome.elapsed.as_secs_f64();
        if let Some(index) = ResultKind::ALL.iter().position(|k| *k == outcome.result) {
            state.results[index] += 1;
        }
        for (bucket, bound) in state.buckets.iter_mut().zip(PROBE_DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        state.duration_sum += seconds;
        state.duration_count += 1;
        state.last = Some(outcome);
        if urls.iter().all(|s| s.last.is_some()) {
            self.inner.ready.store(true, Ordering::Relaxed);
        }
    }

    /// Counts a scheduled probe of `url` not started because the previous one still runs.
    pub fn record_skip(&self, url: &str) {
        if let Some(state) = self.inner.urls.lock().iter_mut().find(|s| s.url == url) {
            state.skipped += 1;
        }
    }

    /// True once every URL of the first configuration has been probed.
    pub fn first_round_done(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    /// The latest result per URL, in config order.
    pub fn reports(&self) -> Vec<UrlReport> {
        self.inner
            .urls
            .lock()
            .iter()
            .map(|state| match &state.last {
                None => UrlReport {
                    url: state.url.clone(),
                    result: "pending".to_owned(),
                    up: false,
                    status_code: None,
                    response_ms: None,
                    checked_at: None,
                    error: None,
                },
                Some(outcome) => UrlReport {
                    url: state.url.clone(),
                    result: outcome.result.as_str().to_owned(),
                    up: outcome.up(),
                    status_code: outcome.status,
                    response_ms: Some(millis(outcome)),
                    checked_at: Some(
                        humantime::format_rfc3339_millis(outcome.checked_at).to_string(),
                    ),
                    error: outcome.error.clone(),
                },
            })
            .collect()
    }

    /// The per-URL families in Prometheus text format, with HELP and TYPE.
    pub fn render(&self) -> String {
        let urls = self.inner.urls.lock();
        let mut out = String::new();
        render_up(&mut out, &urls);
        render_response_ms(&mut out, &urls);
        render_duration(&mut out, &urls);
        render_results(&mut out, &urls);
        render_skipped(&mut out, &urls);
        out
    }
}

/// `sample_external_url_up`: seed 003's gauge, for URLs probed at least once.
fn render_up(out: &mut String, urls: &[UrlState]) {
    write_family(
        out,
        "sample_external_url_up",
        "gauge",
        "1 when the last probe of the URL got an expected status within its timeout, else 0 (seed 003).",
    );
    for state in urls {
        if let Some(outcome) = &state.last {
            let up = u8::from(outcome.up());
            let url = escape(&state.url);
            let _ = writeln!(out, "sample_external_url_up{{url=\"{url}\"}} {up}");
        }
    }
}

/// `sample_external_url_response_ms`: seed 003's gauge, for URLs probed at least once.
fn render_response_ms(out: &mut String, urls: &[UrlState]) {
    write_family(
        out,
        "sample_external_url_response_ms",
        "gauge",
        "Duration of the last probe of the URL in milliseconds, up to the timeout (seed 003).",
    );
    for state in urls {
        if let Some(outcome) = &state.last {
            let url = escape(&state.url);
            let ms = millis(outcome);
            let _ = writeln!(out, "sample_external_url_response_ms{{url=\"{url}\"}} {ms}");
        }
    }
}

/// `probe_duration_seconds`: a histogram per URL.
fn render_duration(out: &mut String, urls: &[UrlState]) {
    let name = "probe_duration_seconds";
    write_family(
        out,
        name,
        "histogram",
        "Duration of probes, from sending the request to the end of the body read or the timeout.",
    );
    for state in urls {
        let url = escape(&state.url);
        for (count, bound) in state.buckets.iter().zip(PROBE_DURATION_BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{url=\"{url}\",le=\"{bound}\"}} {count}");
        }
        let (sum, count) = (state.duration_sum, state.duration_count);
        let _ = writeln!(out, "{name}_bucket{{url=\"{url}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{url=\"{url}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{url=\"{url}\"}} {count}");
    }
}

/// `probe_results_total`: one counter per URL and [`ResultKind`], zeros included.
fn render_results(out: &mut String, urls: &[UrlState]) {
    write_family(
        out,
        "probe_results_total",
        "counter",
        "Probes by URL and result (up, timeout, connect_error, dns_error, unexpected_status, error).",
    );
    for state in urls {
        let url = escape(&state.url);
        for (count, kind) in state.results.iter().zip(ResultKind::ALL) {
            let result = kind.as_str();
            let _ = writeln!(
                out,
                "probe_results_total{{url=\"{url}\",result=\"{result}\"}} {count}"
            );
        }
    }
}

/// `probe_skipped_total`: ticks that found the previous probe of the URL still running.
fn render_skipped(out: &mut String, urls: &[UrlState]) {
    write_family(
        out,
        "probe_skipped_total",
        "counter",
        "Scheduled probes not started because the previous probe of the URL was still running.",
    );
    for state in urls {
        let url = escape(&state.url);
        let _ = writeln!(
            out,
            "probe_skipped_total{{url=\"{url}\"}} {}",
            state.skipped
        );
    }
}

fn millis(outcome: &Outcome) -> f64 {
    outcome.elapsed.as_secs_f64() * 1000.0
}

/// Label value escaping of the text format: backslash, double quote, newline.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    telemetry::escape_label_value(&mut escaped, value);
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProberConfig;
    use std::time::{Duration, SystemTime};

    fn outcome(result: ResultKind, ms: u64) -> Outcome {
        Outcome {
            result,
            status: Some(200),
            elapsed: Duration::from_millis(ms),
            checked_at: SystemTime::UNIX_EPOCH,
            error: None,
        }
    }

    #[test]
    fn removed_urls_lose_their_series_and_kept_urls_keep_their_counts() {
        let registry = Registry::new();
        let two = ProberConfig::parse("urls: [http://a/, http://b/]", "t").unwrap();
        registry.set_targets(&two.targets);
        registry.record("http://a/", outcome(ResultKind::Up, 30));
        assert!(!registry.first_round_done());
        registry.record("http://b/", outcome(ResultKind::Timeout, 2000));
        assert!(registry.first_round_done());
        let text = registry.render();
        assert!(
            text.contains("sample_external_url_up{url=\"http://a/\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sample_external_url_up{url=\"http://b/\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("probe_duration_seconds_bucket{url=\"http://a/\",le=\"0.05\"} 1\n"));
        assert!(text.contains("probe_duration_seconds_bucket{url=\"http://b/\",le=\"1\"} 0\n"));
        assert!(text.contains("probe_results_total{url=\"http://b/\",result=\"timeout\"} 1\n"));

        let one = ProberConfig::parse("urls: [http://b/, http://c/]", "t").unwrap();
        registry.set_targets(&one.targets);
        let text = registry.render();
        assert!(!text.contains("http://a/"), "{text}");
        assert!(text.contains("probe_results_total{url=\"http://b/\",result=\"timeout\"} 1\n"));
        assert!(text.contains("probe_results_total{url=\"http://c/\",result=\"up\"} 0\n"));
        let reports = registry.reports();
        assert_eq!(reports[0].result, "timeout");
        assert_eq!(reports[1].result, "pending");
        assert_eq!(
            reports[0].checked_at.as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        registry.record("http://a/", outcome(ResultKind::Up, 1));
        assert!(
            !registry.render().contains("http://a/"),
            "late results of removed URLs are dropped"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
