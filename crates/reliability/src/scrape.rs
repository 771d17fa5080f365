//! Reading a service's answers and /metrics under the hang guard.

use crate::HANG_GUARD;
use std::collections::BTreeSet;

/// GET `url` (a hang guard applies) and return the body text.
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client
        .get(url)
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url} body: {e}"))
}

/// The set of series (name and labels, no value) of a Prometheus exposition.
pub fn series_set(exposition: &str) -> BTreeSet<String> {
    testkit::parse_metrics(exposition)
        .into_iter()
        .map(|(series, _)| series)
        .collect()
}

/// Sum of every series of metric `name` (any labels); 0 when absent (shared with other crates'
/// tests, so it lives in testkit).
pub use testkit::metric_sum;

/// What a service counts of the spans it ended (crates/telemetry's processor): exported, export
/// failed, dropped because the queue was full. Each ended span is in exactly one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpanCounts {
    pub exported: f64,
    pub failed: f64,
    pub dropped: f64,
}

impl SpanCounts {
    /// The counts in a service's `/metrics` text.
    pub fn of(exposition: &str) -> Self {
        Self {
            exported: metric_sum(exposition, "otel_spans_exported_total"),
            failed: metric_sum(exposition, "otel_spans_export_failed_total"),
            dropped: metric_sum(exposition, "otel_spans_dropped_total"),
        }
    }

    pub fn total(&self) -> f64 {
        self.exported + self.failed + self.dropped
    }
}

impl std::ops::Add for SpanCounts {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            exported: self.exported + other.exported,
            failed: self.failed + other.failed,
            dropped: self.dropped + other.dropped,
        }
    }
}

impl std::ops::Sub for SpanCounts {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self {
            exported: self.exported - other.exported,
            failed: self.failed - other.failed,
            dropped: self.dropped - other.dropped,
        }
    }
}
