//! What happened: counts by status and request, latency percentiles, and the summary.
//!
//! Latencies go into an HDR histogram (3 significant digits, bounded memory), so a Compose run
//! that lasts for days uses the same few kB as a ten-second benchmark. The summary is printed
//! for people, or as one JSON line (`--json`) for the stack test and the benchmarks.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
// parking_lot's Mutex does not poison: a panicking request task never hides the summary.
use parking_lot::Mutex;
use std::time::Duration;

/// The `status` of a request that got no HTTP response (connect error, timeout, ...).
pub const TRANSPORT_ERROR: &str = "error";

#[derive(Debug)]
struct Inner {
    requests: u64,
    by_status: BTreeMap<String, u64>,
    by_target: BTreeMap<String, BTreeMap<String, u64>>,
    by_request: BTreeMap<String, u64>,
    /// Microseconds; `None` only if the histogram could not be allocated.
    latency: Option<Histogram<u64>>,
}

/// Shared by every in-flight request and the progress printer.
#[derive(Debug)]
pub struct Stats {
    inner: Mutex<Inner>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        // 1 µs .. 1 h at 3 significant digits: a few kB (valid constant bounds).
        let latency = Histogram::new_with_bounds(1, 3_600_000_000, 3).ok();
        Self {
            inner: Mutex::new(Inner {
                requests: 0,
                by_status: BTreeMap::new(),
                by_target: BTreeMap::new(),
                by_request: BTreeMap::new(),
                latency,
            }),
        }
    }

    /// Records one finished request; `status` is the HTTP code or [`TRANSPORT_ERROR`].
    pub fn record(&self, target: &str, key: &str, status: &str, latency: Duration) {
        let mut inner = self.inner.lock();
        inner.requests += 1;
        *inner.by_status.entry(status.to_owned()).or_default() += 1;
        *inner
            .by_target
            .entry(target.to_owned())
            .or_default()
            .entry(status.to_owned())
            .or_default() += 1;
        *inner.by_request.entry(key.to_owned()).or_default() += 1;
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        if let Some(latency) = inner.latency.as_mut() {
            latency.saturating_record(micros);
        }
    }

    /// Everything so far, for the progress line and the final summary.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let inner = self.inner.lock();
        let errors = inner
            .by_status
            .iter()
            .filter(|(status, _)| is_error(status))
            .map(|(status, n)| (status.clone(), *n))
            .collect::<BTreeMap<_, _>>();
        let histogram = inner.latency.as_ref().filter(|h| !h.is_empty());
        let ms = |q: f64| histogram.map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0);
        let seconds = elapsed.as_secs_f64();
        Summary {
            requests: inner.requests,
            errors: errors.values().sum(),
            errors_by_status: errors,
            by_status: inner.by_status.clone(),
            by_target: inner.by_target.clone(),
            by_request: inner.by_request.clone(),
            duration_seconds: seconds,
            achieved_rate: if seconds > 0.0 {
                inner.requests as f64 / seconds
            } else {
                0.0
            },
            latency_ms: Latency {
                p50: ms(0.5),
                p90: ms(0.9),
                p99: ms(0.99),
                max: histogram.map_or(0.0, |h| h.max() as f64 / 1000.0),
            },
        }
    }
}

/// 4xx, 5xx and transport errors.
fn is_error(status: &str) -> bool {
    status == TRANSPORT_ERROR || status.parse::<u16>().is_ok_and(|code| code >= 400)
}

/// The final report (`--json` prints exactly this, on one line).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Summary {
    /// Requests finished (answered or failed).
    pub requests: u64,
    /// Of those, 4xx, 5xx and transport errors (`error`).
    pub errors: u64,
    pub errors_by_status: BTreeMap<String, u64>,
    /// Every status: `"200": n`, `"404": n`, `"error": n`.
    pub by_status: BTreeMap<String, u64>,
    /// Per service: status → count.
    pub by_target: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per request (`GET robot-control /status`) → count.
    pub by_request: BTreeMap<String, u64>,
    pub duration_seconds: f64,
    /// Requests finished per second over the run.
    pub achieved_rate: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// The human summary for stdout.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "requests: {} in {:.1}s ({:.1}/s)\nerrors: {}",
            self.requests, self.duration_seconds, self.achieved_rate, self.errors
        );
        for (status, n) in &self.errors_by_status {
            out.push_str(&format!("\n  {status}: {n}"));
        }
        out.push_str("\nby status:");
        for (status, n) in &self.by_status {
            out.push_str(&format!("\n  {status}: {n}"));
        }
        out.push_str("\nby request:");
        for (request, n) in &self.by_request {
            out.push_str(&format!("\n  {request}: {n}"));
        }
        out.push_str(&format!(
            "\nlatency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\n",
            self.latency_ms.p50, self.latency_ms.p90, self.latency_ms.p99, self.latency_ms.max
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_error_counts() {
        let stats = Stats::new();
        for ms in 1..=100 {
            stats.record("web", "GET web /", "200", Duration::from_millis(ms));
        }
        stats.record("web", "GET web /x", "404", Duration::from_millis(1));
        stats.record(
            "redis",
            "GET redis /",
            TRANSPORT_ERROR,
            Duration::from_millis(1),
        );
        let summary = stats.summary(Duration::from_secs(2));
        assert_eq!(summary.requests, 102);
        assert_eq!(summary.errors, 2);
        assert_eq!(summary.errors_by_status["404"], 1);
        assert_eq!(summary.errors_by_status["error"], 1);
        assert_eq!(summary.by_target["web"]["200"], 100);
        assert!(
            (summary.latency_ms.p50 - 49.0).abs() < 1.0,
            "{:?}",
            summary.latency_ms
        );
        assert!(
            (summary.latency_ms.p99 - 99.0).abs() < 1.0,
            "{:?}",
            summary.latency_ms
        );
        assert!((summary.latency_ms.max - 100.0).abs() < 0.1);
        assert!((summary.achieved_rate - 51.0).abs() < 0.01);
        assert!(summary.render_text().contains("errors: 2"));
    }
}
