//! Exemplars of `http_server_request_duration_seconds`: for each bucket of each series, the
//! trace id, duration and time of the latest sampled request that fell into it.
//!
//! The Prometheus exporter cannot carry exemplars, so they are kept here, next to the histogram
//! of each (method, route, status) series (`http_metrics`), and written at scrape time straight
//! onto the bucket lines of the OpenMetrics exposition (`http_metrics`), or into the protobuf one
//! (`protobuf`), where they carry a timestamp and so also reach the native histogram in
//! Prometheus. Memory is fixed per series: one slot per bucket.
//! Recording never waits: a slot whose series is being written by another request or read by a
//! scrape at that instant is simply not updated (an exemplar is a sample, not a count).
//! Why this design: docs/ARCHITECTURE.md, "Exemplars and OpenMetrics".

use crate::metrics::recorder::HTTP_DURATION_BUCKETS;
use opentelemetry::trace::TraceId;
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One slot per bucket (`http_metrics::BUCKETS`), `+Inf` last.
pub(crate) const SLOTS: usize = HTTP_DURATION_BUCKETS.len() + 1;

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
    /// wall-clock time each was recorded. `index` is the series' place in the scrape: the series
    /// are listed in the order they were first recorded, in the snapshot as in the scrape, so that
    /// is where it is looked for first (a scrape of n series then makes n lookups, not n²/2).
    pub(crate) fn of(
        &self,
        index: usize,
        method: &str,
        route: &str,
        status: u16,
    ) -> [Option<TimedExemplar>; SLOTS] {
        let is = |((m, r, s), _): &&SeriesExemplars| *m == method && *r == route && *s == status;
        let Some((_, slots)) = self
            .series
            .get(index)
            .filter(is)
            .or_else(|| self.series.iter().find(is))
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
}

/// An exemplar as exposed: its trace, value (seconds) and time since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedExemplar {
    pub trace_id: TraceId,
    pub value: f64,
    pub unix: std::time::Duration,
}

impl TimedExemplar {
    /// Appends it as OpenMetrics writes an exemplar after a bucket's value:
    /// ` # {trace_id="..."} value timestamp`.
    pub(crate) fn write_openmetrics(&self, out: &mut String) {
        // OpenMetrics timestamps are seconds; milliseconds are what Prometheus keeps.
        let _ = write!(
            out,
            " # {{trace_id=\"{}\"}} {} {}.{:03}",
            self.trace_id,
            self.value,
            self.unix.as_secs(),
            self.unix.subsec_millis()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exemplar_is_kept_in_the_slot_of_its_bucket_and_written_as_openmetrics() {
        let slots = ExemplarSlots::default();
        let trace = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap();
        let now = Instant::now();
        // The bucket of 0.05 s (the fourth bound), and `+Inf`.
        slots.record(3, trace, 0.05, now - std::time::Duration::from_millis(10));
        slots.record(SLOTS - 1, trace, 11.0, now);
        let taken = slots.snapshot();
        let system = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_060);
        let snapshot = ExemplarSnapshot::taken_at(vec![(("GET", "/x", 200), taken)], system, now);
        let of = snapshot.of(0, "GET", "/x", 200);
        assert_eq!(
            of.iter()
                .enumerate()
                .filter(|(_, e)| e.is_some())
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            vec![3, SLOTS - 1]
        );
        let mut line = String::new();
        of[3].unwrap().write_openmetrics(&mut line);
        assert_eq!(
            line, " # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 0.05 1700000000.050",
            "milliseconds with three digits"
        );
        assert!(snapshot.of(0, "GET", "/x", 500).iter().all(Option::is_none));
        assert!(
            snapshot
                .of(usize::MAX, "POST", "/x", 200)
                .iter()
                .all(Option::is_none)
        );
    }
}
