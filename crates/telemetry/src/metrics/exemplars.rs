//! Exemplars of `http_server_request_duration_seconds`: for each bucket of each series, the
//! trace id, duration and time of the latest sampled request that fell into it.
//!
//! The Prometheus exporter cannot carry exemplars, so they are kept here, next to the histogram
//! of each (method, route, status) series (`http_metrics`), and written into the OpenMetrics
//! exposition at scrape time (see `exposition`), or the protobuf one (`protobuf`), where they
//! carry a timestamp and so also reach the native histogram in Prometheus. Memory is fixed per series: one slot per bucket.
//! Recording never waits: a slot whose series is being written by another request or read by a
//! scrape at that instant is simply not updated (an exemplar is a sample, not a count).
//! Why this design: docs/ARCHITECTURE.md, "Exemplars and OpenMetrics".

use crate::metrics::http_metrics::BUCKETS;
use crate::metrics::recorder::HTTP_DURATION_BUCKETS;
use opentelemetry::trace::TraceId;
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One slot per bucket, `+Inf` last.
pub(crate) const SLOTS: usize = BUCKETS;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Exemplar {
    trace_id: TraceId,
    value: f64,
    /// Monotonic, converted to wall-clock time at scrape time: no clock read per request.
    at: Instant,
}

/// The exemplar slots of one histogram series.
#[derive(Debug, Default)]
pub(crate) struct ExemplarSlots {
    slots: Mutex<[Option<Exemplar>; SLOTS]>,
}

impl ExemplarSlots {
    /// Keeps `value` (seconds) observed at `at` by the sampled trace `trace_id` in `bucket` (the
    /// one the histogram counted it in, `http_metrics::bucket`).
    pub(crate) fn record(&self, bucket: usize, trace_id: TraceId, value: f64, at: Instant) {
        if let Some(mut slots) = self.slots.try_lock() {
            slots[bucket] = Some(Exemplar {
                trace_id,
                value,
                at,
            });
        }
    }

    pub(crate) fn snapshot(&self) -> [Option<Exemplar>; SLOTS] {
        *self.slots.lock()
    }
}

/// (method, route template, status code) and that series' slots.
pub(crate) type SeriesExemplars = ((&'static str, &'static str, u16), [Option<Exemplar>; SLOTS]);

/// Every series' exemplars, taken once per scrape (before the histograms are rendered, so each
/// exemplar's request is already counted in the buckets that are exposed).
#[derive(Debug)]
pub(crate) struct ExemplarSnapshot {
    series: Vec<SeriesExemplars>,
    taken_system: SystemTime,
    taken_instant: Instant,
}

impl ExemplarSnapshot {
    pub(crate) fn new(series: Vec<SeriesExemplars>) -> Self {
        Self {
            series,
            taken_system: SystemTime::now(),
            taken_instant: Instant::now(),
        }
    }

    /// A snapshot taken at a given wall-clock time and instant: the same exposition every run.
    #[cfg(test)]
    pub(crate) fn taken_at(
        series: Vec<SeriesExemplars>,
        taken_system: SystemTime,
        taken_instant: Instant,
    ) -> Self {
        Self {
            series,
            taken_system,
            taken_instant,
        }
    }

    /// The exemplars of the series with these labels, one per bucket (`+Inf` last), with the
    /// wall-clock time each was recorded.
    pub(crate) fn of(
        &self,
        method: &str,
        route: &str,
        status: u16,
    ) -> [Option<TimedExemplar>; SLOTS] {
        let Some((_, slots)) = self
            .series
            .iter()
            .find(|((m, r, s), _)| *m == method && *r == route && *s == status)
        else {
            return [None; SLOTS];
        };
        slots.map(|slot| {
            slot.map(|exemplar| {
                let age = self.taken_instant.saturating_duration_since(exemplar.at);
                TimedExemplar {
                    trace_id: exemplar.trace_id,
                    value: exemplar.value,
                    unix: (self.taken_system - age)
                        .duration_since(UNIX_EPOCH)
                        .unwrap_or_default(),
                }
            })
        })
    }

    /// Appends ` # {trace_id="..."} value timestamp` for the bucket `le` of the series with these
    /// label values, if it has an exemplar.
    pub(crate) fn write_suffix(
        &self,
        out: &mut String,
        method: &str,
        route: &str,
        status: &str,
        le: &str,
    ) {
        let Some(index) = bucket_index(le) else {
            return;
        };
        let Ok(status) = status.parse::<u16>() else {
            return;
        };
        if let Some(exemplar) = self.of(method, route, status)[index] {
            let when = exemplar.unix;
            // OpenMetrics timestamps are seconds; milliseconds are what Prometheus keeps.
            let _ = write!(
                out,
                " # {{trace_id=\"{}\"}} {} {}.{:03}",
                exemplar.trace_id,
                exemplar.value,
                when.as_secs(),
                when.subsec_millis()
            );
        }
    }
}

/// An exemplar as exposed: its trace, value (seconds) and time since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedExemplar {
    pub trace_id: TraceId,
    pub value: f64,
    pub unix: std::time::Duration,
}

/// The slot of an `le` label value as the exporter writes it (`0.005`, `1`, `+Inf`).
fn bucket_index(le: &str) -> Option<usize> {
    if le == "+Inf" {
        return Some(SLOTS - 1);
    }
    let bound: f64 = le.parse().ok()?;
    HTTP_DURATION_BUCKETS.iter().position(|b| *b == bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exemplar_is_written_on_the_line_of_its_bucket() {
        use crate::metrics::http_metrics::bucket;
        let slots = ExemplarSlots::default();
        let trace = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let now = Instant::now();
        // Exactly on the 0.05 bound (inclusive), and above the last bound.
        slots.record(bucket(50_000_000), trace, 0.05, now);
        slots.record(bucket(11_000_000_000), trace, 11.0, now);
        let taken = slots.snapshot();
        assert_eq!(
            taken
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_some())
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            vec![3, SLOTS - 1]
        );
        let snapshot = ExemplarSnapshot::new(vec![(("GET", "/x", 200), taken)]);
        let mut line = String::new();
        snapshot.write_suffix(&mut line, "GET", "/x", "200", "0.05");
        assert!(
            line.starts_with(" # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 0.05 "),
            "{line}"
        );
        let mut none = String::new();
        snapshot.write_suffix(&mut none, "GET", "/x", "200", "0.1");
        snapshot.write_suffix(&mut none, "GET", "/x", "500", "0.05");
        assert_eq!(none, "");
    }
}
