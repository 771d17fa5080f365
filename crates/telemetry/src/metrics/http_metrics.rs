//! The HTTP layer's two metric families, `http_server_request_duration_seconds` and
//! `http_server_active_requests`: kept in our own sharded atomics and rendered here, after the
//! exporter's text, rather than recorded through metrics-exporter-prometheus.
//!
//! Under load the exporter's histogram cost about 0.6 µs per request (each sample pushed into a
//! shared `AtomicBucket`, then folded by the upkeep thread) and its gauge 0.15 µs (an `f64`
//! compare-and-swap on a line both worker threads write); docs/ARCHITECTURE.md, "Metric handles".
//! Here a request is two relaxed integer adds into its thread's shard of the histogram, and one
//! add in and one out of its thread's shard of the gauge: each shard is its own 128-byte line, so
//! two worker threads never write the same one. A scrape sums the shards.
//!
//! Rendered here in both text formats, straight from the cells: Prometheus text as the exporter
//! wrote these families (names, `# HELP`, label names and order, `le` values, `_sum`, `_count`),
//! and OpenMetrics by the rules `exposition` converts the exporter's families with, each
//! duration bucket line carrying its exemplar (`exemplars`), found by its index rather than by
//! parsing the line back. The protobuf format builds them from the same cells (`protobuf`).
//!
//! Each duration series also keeps a native (exponential) histogram, exposed only in the
//! Prometheus protobuf format (`protobuf`), the one format that can carry it: schema 3, 8 buckets
//! per power of two, each 2^(1/8) ≈ 1.09 times as wide as the one below, so a quantile read from
//! it is within about ±4.3 % ((2^(1/8) − 1) / (2^(1/8) + 1)) of the true one wherever it falls,
//! where the classic buckets leave it anywhere between two bounds (0.1 and 0.25 s apart at
//! the p95 of a slow service). The span is fixed, so memory is too: a zero bucket for durations
//! up to [`NATIVE_ZERO_THRESHOLD`] (2^-20 s ≈ 0.95 µs) and the [`NATIVE_BUCKETS`] = 232 buckets
//! from there to 2^9 = 512 s; longer requests are counted in the top bucket (the classic `+Inf`
//! bucket and `_sum` still count them exactly). One more relaxed add per request, into the same
//! shard as the classic bucket.

use crate::metrics::exemplars::{ExemplarSnapshot, TimedExemplar};
use crate::metrics::exposition::write_openmetrics_header;
use crate::metrics::recorder::HTTP_DURATION_BUCKETS;
use crate::metrics::text::{escape_label_value, write_family};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

pub(crate) const HTTP_DURATION: &str = "http_server_request_duration_seconds";
pub(crate) const HTTP_ACTIVE: &str = "http_server_active_requests";
pub(crate) const HTTP_DURATION_HELP: &str =
    "Duration of HTTP server requests, by method, route template and status.";
pub(crate) const HTTP_ACTIVE_HELP: &str =
    "HTTP server requests in flight, by method and route template.";

/// The buckets of a duration series: one per bound of [`HTTP_DURATION_BUCKETS`], then `+Inf`.
pub(crate) const BUCKETS: usize = HTTP_DURATION_BUCKETS.len() + 1;

/// The bounds in nanoseconds: a request's bucket is found by integer comparisons.
const BOUNDS_NANOS: [u64; HTTP_DURATION_BUCKETS.len()] = {
    let mut nanos = [0; HTTP_DURATION_BUCKETS.len()];
    let mut i = 0;
    while i < nanos.len() {
        nanos[i] = (HTTP_DURATION_BUCKETS[i] * 1e9 + 0.5) as u64;
        i += 1;
    }
    nanos
};

/// Shards per instrument: a power of two, at least the worker threads of a small service, so
/// that each worker thread has a shard of its own (threads take them in turn).
const SHARDS: usize = 8;

/// This thread's shard.
fn shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// A duration in whole nanoseconds (584 years fit).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The bucket of a duration: the first whose bound (`le`, inclusive) holds it, else `+Inf`.
pub(crate) fn bucket(nanos: u64) -> usize {
    BOUNDS_NANOS.partition_point(|bound| *bound < nanos)
}

/// The native histogram's schema: 2^3 = 8 buckets per power of two.
pub(crate) const NATIVE_SCHEMA: i32 = 3;
/// Durations up to this many seconds (2^-20 s ≈ 0.95 µs, 0 included) go to the zero bucket.
pub(crate) const NATIVE_ZERO_THRESHOLD: f64 = 1.0 / (1u64 << 20) as f64;
/// The lowest native bucket index: (2^-20, 2^(-20 + 1/8)] s.
pub(crate) const NATIVE_MIN_INDEX: i32 = -20 * 8 + 1;
/// The highest: (2^(9 - 1/8), 2^9] s, which also counts anything longer.
pub(crate) const NATIVE_MAX_INDEX: i32 = 9 * 8;
/// Native buckets per series shard, besides the zero bucket.
pub(crate) const NATIVE_BUCKETS: usize = (NATIVE_MAX_INDEX - NATIVE_MIN_INDEX + 1) as usize;

/// 2^(j/8) for j = 1..7: the inner bounds of one power of two at schema 3 (the values
/// client_golang uses), compared with a duration's mantissa.
const SCHEMA3_BOUNDS: [f64; 7] = [
    1.090_507_732_665_257_7,
    1.189_207_115_002_721,
    1.296_839_554_651_009_6,
    std::f64::consts::SQRT_2,
    1.542_210_825_407_940_7,
    1.681_792_830_507_429,
    1.834_008_086_409_342_5,
];

/// The native-histogram slot of a duration: 0 for the zero bucket, else 1 + (its bucket index −
/// [`NATIVE_MIN_INDEX`]). Bucket i holds (2^((i−1)/8), 2^(i/8)] seconds, upper bound inclusive
/// as in Prometheus. From the bits of the `f64`: the exponent e gives the power of two, the
/// mantissa m ∈ [1, 2) the eighth within it (m = 1 exactly is the bound 2^e, the top of the
/// bucket below); no logarithm, seven comparisons, no branch on the data but the two ends.
pub(crate) fn native_slot(nanos: u64) -> usize {
    // Divided, not multiplied by 1e-9 (which is inexact): a power of two of seconds (125 ms)
    // then stays the top of its bucket.
    #[allow(clippy::cast_precision_loss)] // exact below 2^53 ns (104 days)
    let seconds = nanos as f64 / 1e9;
    if seconds <= NATIVE_ZERO_THRESHOLD {
        return 0;
    }
    let bits = seconds.to_bits();
    // Normal (above the threshold), positive: the biased exponent is 1..2046.
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mantissa = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    let eighth = if mantissa == 1.0 {
        0
    } else {
        1 + SCHEMA3_BOUNDS
            .iter()
            .filter(|bound| **bound < mantissa)
            .count()
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let index = (exponent * 8 + eighth as i32).min(NATIVE_MAX_INDEX);
    #[allow(clippy::cast_sign_loss)] // index > NATIVE_MIN_INDEX - 1 above the zero threshold
    let slot = (index - NATIVE_MIN_INDEX + 1) as usize;
    slot
}

/// One thread's cells of a duration series: the classic buckets and the sum on the first 128-byte
/// line (as before the native buckets existed), the native buckets on the next 15: 2 KiB, so
/// 16 KiB per series with its 8 shards.
#[repr(align(128))]
struct HistogramShard {
    /// Requests per bucket, not cumulative (one add per request); the count is their total.
    buckets: [AtomicU64; BUCKETS],
    sum_nanos: AtomicU64,
    /// Requests per native bucket: the zero bucket, then indexes NATIVE_MIN_INDEX..=MAX.
    native: [AtomicU64; NATIVE_BUCKETS + 1],
}

/// The native buckets of a series at one read: the zero bucket's count, then per index.
pub(crate) struct NativeCounts {
    pub zero: u64,
    /// `buckets[k]` is the count of bucket index `NATIVE_MIN_INDEX + k`.
    pub buckets: [u64; NATIVE_BUCKETS],
}

/// One `http_server_request_duration_seconds` series.
pub(crate) struct DurationHistogram {
    shards: [HistogramShard; SHARDS],
}

impl DurationHistogram {
    pub(crate) const fn new() -> Self {
        Self {
            shards: [const {
                HistogramShard {
                    buckets: [const { AtomicU64::new(0) }; BUCKETS],
                    sum_nanos: AtomicU64::new(0),
                    native: [const { AtomicU64::new(0) }; NATIVE_BUCKETS + 1],
                }
            }; SHARDS],
        }
    }

    /// Counts a request of `nanos` in `bucket` (see [`bucket`]) and in its native bucket.
    pub(crate) fn record(&self, bucket: usize, nanos: u64) {
        let shard = &self.shards[shard()];
        shard.native[native_slot(nanos)].fetch_add(1, Relaxed);
        shard.buckets[bucket].fetch_add(1, Relaxed);
        shard.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// Half of [`record`](Self::record): what a scrape can see while a request is being recorded.
    #[cfg(test)]
    pub(crate) fn record_classic_only(&self, bucket: usize, nanos: u64) {
        let shard = &self.shards[shard()];
        shard.buckets[bucket].fetch_add(1, Relaxed);
        shard.sum_nanos.fetch_add(nanos, Relaxed);
    }

    /// The shards' native buckets.
    pub(crate) fn read_native(&self) -> NativeCounts {
        let mut counts = NativeCounts {
            zero: 0,
            buckets: [0; NATIVE_BUCKETS],
        };
        for shard in &self.shards {
            counts.zero += shard.native[0].load(Relaxed);
            for (total, cell) in counts.buckets.iter_mut().zip(&shard.native[1..]) {
                *total += cell.load(Relaxed);
            }
        }
        counts
    }

    /// The shards' totals: requests per bucket (not cumulative) and the sum in nanoseconds.
    pub(crate) fn read(&self) -> ([u64; BUCKETS], u64) {
        let mut buckets = [0u64; BUCKETS];
        let mut sum = 0u64;
        for shard in &self.shards {
            for (total, cell) in buckets.iter_mut().zip(&shard.buckets) {
                *total += cell.load(Relaxed);
            }
            sum = sum.wrapping_add(shard.sum_nanos.load(Relaxed));
        }
        (buckets, sum)
    }
}

/// A cell on a 128-byte line of its own (two lines on x86, where the prefetcher pulls pairs).
#[repr(align(128))]
struct Padded<T>(T);

/// One `http_server_active_requests` series.
pub(crate) struct ActiveRequests {
    shards: [Padded<AtomicI64>; SHARDS],
}

impl ActiveRequests {
    pub(crate) const fn new() -> Self {
        Self {
            shards: [const { Padded(AtomicI64::new(0)) }; SHARDS],
        }
    }

    /// Counts a request in until the guard is dropped.
    pub(crate) fn enter(&'static self) -> ActiveRequest {
        let cell = &self.shards[shard()].0;
        cell.fetch_add(1, Relaxed);
        ActiveRequest { cell }
    }

    /// Every shard's count is at least 0 (a guard leaves the cell it entered, after entering),
    /// so the total read shard by shard is never negative either.
    pub(crate) fn value(&self) -> i64 {
        self.shards.iter().map(|cell| cell.0.load(Relaxed)).sum()
    }
}

/// Counts a request in `http_server_active_requests` until dropped, also when the client goes
/// away mid-request and the future is cancelled.
pub(crate) struct ActiveRequest {
    cell: &'static AtomicI64,
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.cell.fetch_sub(1, Relaxed);
    }
}

/// The labels of a duration series: method, route template, status code.
pub(crate) type DurationLabels = (&'static str, &'static str, u16);

/// The labels of an active-requests series: method, route template.
pub(crate) type ActiveLabels<'a> = (&'a str, &'a str);

/// Appends both families in Prometheus text 0.0.4, each only if it has a series, in the order the
/// series were first recorded.
pub(crate) fn render(
    out: &mut String,
    durations: &[(DurationLabels, &DurationHistogram)],
    active: &[(ActiveLabels<'_>, &ActiveRequests)],
) {
    if !durations.is_empty() {
        write_family(out, HTTP_DURATION, "histogram", HTTP_DURATION_HELP);
        write_durations(out, durations, None);
        out.push('\n');
    }
    if !active.is_empty() {
        write_family(out, HTTP_ACTIVE, "gauge", HTTP_ACTIVE_HELP);
        write_active(out, active);
        out.push('\n');
    }
}

/// Appends both families as OpenMetrics 1.0 text (`# TYPE`, `# UNIT`, `# HELP`, no blank lines),
/// each only if it has a series, with the duration buckets' `exemplars` (taken before the cells
/// are read, so that each exemplar's request is counted in its bucket).
pub(crate) fn render_openmetrics(
    out: &mut String,
    durations: &[(DurationLabels, &DurationHistogram)],
    active: &[(ActiveLabels<'_>, &ActiveRequests)],
    exemplars: &ExemplarSnapshot,
) {
    if !durations.is_empty() {
        write_openmetrics_header(out, HTTP_DURATION, "histogram", Some(HTTP_DURATION_HELP));
        write_durations(out, durations, Some(exemplars));
    }
    if !active.is_empty() {
        write_openmetrics_header(out, HTTP_ACTIVE, "gauge", Some(HTTP_ACTIVE_HELP));
        write_active(out, active);
    }
}

/// The sample lines of the duration series, with their exemplars if given (OpenMetrics).
fn write_durations(
    out: &mut String,
    durations: &[(DurationLabels, &DurationHistogram)],
    exemplars: Option<&ExemplarSnapshot>,
) {
    let mut labels = String::with_capacity(96);
    for (index, ((method, route, status), histogram)) in durations.iter().enumerate() {
        labels.clear();
        write_method_and_route(&mut labels, method, route);
        let _ = write!(labels, ",http_response_status_code=\"{status}\"");
        let exemplars = exemplars.map(|snapshot| snapshot.of(index, method, route, *status));
        write_histogram(out, &labels, histogram, exemplars.as_ref());
    }
}

fn write_active(out: &mut String, active: &[(ActiveLabels<'_>, &ActiveRequests)]) {
    for ((method, route), gauge) in active {
        out.push_str(HTTP_ACTIVE);
        write_method_and_route(out, method, route);
        let _ = writeln!(out, "}} {}", gauge.value());
    }
}

/// The label block both families start with, still open: `{http_request_method="..",http_route=".."`.
fn write_method_and_route(out: &mut String, method: &str, route: &str) {
    out.push_str("{http_request_method=\"");
    escape_label_value(out, method);
    out.push_str("\",http_route=\"");
    escape_label_value(out, route);
    out.push('"');
}

/// The lines of one series; `labels` is its label block without the closing brace. With
/// `exemplars` (OpenMetrics), each bucket line that has one ends with it.
fn write_histogram(
    out: &mut String,
    labels: &str,
    histogram: &DurationHistogram,
    exemplars: Option<&[Option<TimedExemplar>; BUCKETS]>,
) {
    let (buckets, sum_nanos) = histogram.read();
    let mut cumulative = 0u64;
    for (i, count) in buckets.iter().enumerate() {
        cumulative += count;
        out.push_str(HTTP_DURATION);
        out.push_str("_bucket");
        out.push_str(labels);
        out.push_str(",le=\"");
        match HTTP_DURATION_BUCKETS.get(i) {
            // As the exporter writes them: `0.005`, `1`, `2.5`.
            Some(bound) => {
                let _ = write!(out, "{bound}");
            }
            None => out.push_str("+Inf"),
        }
        let _ = write!(out, "\"}} {cumulative}");
        if let Some(exemplar) = exemplars.and_then(|exemplars| exemplars[i].as_ref()) {
            exemplar.write_openmetrics(out);
        }
        out.push('\n');
    }
    out.push_str(HTTP_DURATION);
    out.push_str("_sum");
    out.push_str(labels);
    out.push_str("} ");
    write_seconds(out, sum_nanos);
    out.push('\n');
    out.push_str(HTTP_DURATION);
    out.push_str("_count");
    out.push_str(labels);
    let _ = writeln!(out, "}} {cumulative}");
}

/// Nanoseconds as exact decimal seconds: `0.000123`, `2`, `3.5`.
fn write_seconds(out: &mut String, nanos: u64) {
    let (seconds, fraction) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
    let _ = write!(out, "{seconds}");
    if fraction != 0 {
        let digits = format!("{fraction:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn bounds_are_the_buckets_in_nanoseconds_and_inclusive() {
        assert_eq!(BOUNDS_NANOS[0], 5 * MS);
        assert_eq!(BOUNDS_NANOS[6], 250 * MS);
        assert_eq!(BOUNDS_NANOS[13], 10_000 * MS);
        for (i, bound) in BOUNDS_NANOS.iter().enumerate() {
            assert_eq!(bucket(*bound), i, "a value on a bound is in that bucket");
            assert_eq!(bucket(bound + 1), i + 1, "just above it is in the next");
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(10_000 * MS + 1), BUCKETS - 1, "+Inf");
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(nanos(Duration::from_micros(1500)), 1_500_000);
    }

    /// Bucket index i at schema 3 holds (2^((i-1)/8), 2^(i/8)]: the slot of a duration is checked
    /// against that definition with `log2`, away from the bounds, and on both sides of every bound.
    #[test]
    fn native_slots_are_the_schema_3_buckets() {
        let index_of = |nanos: u64| NATIVE_MIN_INDEX - 1 + native_slot(nanos) as i32;
        // Every duration from 1 µs to 600 s on a geometric grid that is never on a bound.
        let mut nanos = 1_000.0_f64;
        while nanos < 600e9 {
            let seconds = (nanos as u64) as f64 / 1e9;
            let expected = ((seconds.log2() * 8.0).ceil() as i32).min(NATIVE_MAX_INDEX);
            assert_eq!(index_of(nanos as u64), expected, "{seconds} s");
            nanos *= 1.013;
        }
        for i in NATIVE_MIN_INDEX..=NATIVE_MAX_INDEX {
            let bound = 2f64.powf(f64::from(i) / 8.0) * 1e9;
            let below = (bound * (1.0 - 1e-6)) as u64;
            let above = (bound * (1.0 + 1e-6)) as u64 + 1;
            assert_eq!(index_of(below), i, "just under 2^({i}/8) s");
            if i < NATIVE_MAX_INDEX {
                assert_eq!(index_of(above), i + 1, "just over 2^({i}/8) s");
            }
        }
        // Powers of two are the upper bound of their bucket (inclusive): 2^-3 s = 125 ms.
        assert_eq!(index_of(125_000_000), -24);
        assert_eq!(index_of(1_000_000_000), 0, "1 s is the top of bucket 0");
        assert_eq!(native_slot(0), 0, "zero bucket");
        assert_eq!(native_slot(953), 0, "≤ 2^-20 s: zero bucket");
        assert_eq!(index_of(954), NATIVE_MIN_INDEX);
        assert_eq!(
            index_of(u64::MAX),
            NATIVE_MAX_INDEX,
            "longer: the top bucket"
        );
        assert_eq!(NATIVE_BUCKETS, 232);
        assert_eq!(std::mem::size_of::<HistogramShard>(), 2048);
    }

    #[test]
    fn records_from_eight_threads_are_all_counted() {
        static HISTOGRAM: DurationHistogram = DurationHistogram::new();
        const PER_THREAD: u64 = 20_000;
        // Thread t records PER_THREAD requests of (t + 1) ms and PER_THREAD of 20 s.
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                scope.spawn(move || {
                    for _ in 0..PER_THREAD {
                        let short = (t + 1) * MS;
                        HISTOGRAM.record(bucket(short), short);
                        HISTOGRAM.record(bucket(20_000 * MS), 20_000 * MS);
                    }
                });
            }
        });
        let (buckets, sum) = HISTOGRAM.read();
        // 1–5 ms in `le=0.005`, 6–8 ms in `le=0.01`, 20 s in `+Inf`.
        let mut expected = [0; BUCKETS];
        expected[0] = 5 * PER_THREAD;
        expected[1] = 3 * PER_THREAD;
        expected[BUCKETS - 1] = 8 * PER_THREAD;
        assert_eq!(buckets, expected);
        assert_eq!(
            sum,
            PER_THREAD * ((1..=8).sum::<u64>() * MS + 8 * 20_000 * MS)
        );
        let native = HISTOGRAM.read_native();
        assert_eq!(native.zero, 0);
        assert_eq!(native.buckets.iter().sum::<u64>(), 16 * PER_THREAD);
        let twenty_seconds = native_slot(20_000 * MS) - 1;
        assert_eq!(native.buckets[twenty_seconds], 8 * PER_THREAD);
    }

    #[test]
    fn series_render_cumulatively_as_the_exporter_did() {
        static GET: DurationHistogram = DurationHistogram::new();
        static POST: DurationHistogram = DurationHistogram::new();
        static ACTIVE: ActiveRequests = ActiveRequests::new();
        for nanos in [5 * MS, 7 * MS, 250 * MS, 11_000 * MS] {
            GET.record(bucket(nanos), nanos);
        }
        POST.record(bucket(1), 1);
        let guard = ACTIVE.enter();
        let mut out = String::new();
        render(
            &mut out,
            &[
                (("GET", "/items/{id}", 200), &GET),
                (("POST", "/a\"b\\", 418), &POST),
            ],
            &[(("GET", "/items/{id}"), &ACTIVE)],
        );
        let get = r#"{http_request_method="GET",http_route="/items/{id}",http_response_status_code="200""#;
        let mut expected = String::from(
            "# HELP http_server_request_duration_seconds Duration of HTTP server requests, by method, route template and status.\n\
             # TYPE http_server_request_duration_seconds histogram\n",
        );
        let cumulative = [1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3];
        for (le, count) in HTTP_DURATION_BUCKETS.iter().zip(cumulative) {
            expected += &format!(
                "http_server_request_duration_seconds_bucket{get},le=\"{le}\"}} {count}\n"
            );
        }
        expected += &format!(
            "http_server_request_duration_seconds_bucket{get},le=\"+Inf\"}} 4\n\
             http_server_request_duration_seconds_sum{get}}} 11.262\n\
             http_server_request_duration_seconds_count{get}}} 4\n"
        );
        assert!(out.starts_with(&expected), "{out}");
        assert!(out.contains("le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("le=\"1\"} 3\n"), "{out}");
        assert!(out.contains(
            "http_server_request_duration_seconds_sum{http_request_method=\"POST\",http_route=\"/a\\\"b\\\\\",http_response_status_code=\"418\"} 0.000000001\n"
        ), "{out}");
        assert!(out.ends_with(
            "\n\n# HELP http_server_active_requests HTTP server requests in flight, by method and route template.\n\
             # TYPE http_server_active_requests gauge\n\
             http_server_active_requests{http_request_method=\"GET\",http_route=\"/items/{id}\"} 1\n\n"
        ), "{out}");
        drop(guard);

        let mut empty = String::new();
        render(&mut empty, &[], &[]);
        assert_eq!(empty, "", "no series, no family");
    }

    /// The text metrics-exporter-prometheus wrote for the same requests, line for line.
    #[test]
    fn the_text_is_what_the_exporter_wrote() {
        use metrics_exporter_prometheus::PrometheusBuilder;
        static HISTOGRAM: DurationHistogram = DurationHistogram::new();
        static ACTIVE: ActiveRequests = ActiveRequests::new();
        let recorder = PrometheusBuilder::new()
            .set_buckets(&HTTP_DURATION_BUCKETS)
            .unwrap()
            .build_recorder();
        // Durations exact in binary and in nanoseconds, so both sums are exact: 2^-7 s, ...
        let seconds = [0.007_812_5, 0.25, 0.5, 0.5, 12.0];
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, HTTP_DURATION_HELP);
            metrics::describe_gauge!(HTTP_ACTIVE, HTTP_ACTIVE_HELP);
            let labels = [
                ("http_request_method", "PUT"),
                ("http_route", "/robots/{robot}"),
                ("http_response_status_code", "201"),
            ];
            for value in seconds {
                metrics::histogram!(HTTP_DURATION, &labels).record(value);
            }
            let gauge = metrics::gauge!(HTTP_ACTIVE, &labels[..2]);
            gauge.increment(3.0);
            gauge.decrement(1.0);
        });
        for value in seconds {
            let nanos = nanos(Duration::from_secs_f64(value));
            HISTOGRAM.record(bucket(nanos), nanos);
        }
        let _held = [ACTIVE.enter(), ACTIVE.enter()];
        let mut ours = String::new();
        render(
            &mut ours,
            &[(("PUT", "/robots/{robot}", 201), &HISTOGRAM)],
            &[(("PUT", "/robots/{robot}"), &ACTIVE)],
        );

        let exporter = recorder.handle().render();
        // The exporter writes its families in no fixed order, each followed by a blank line.
        let family = |text: &str, name: &str| -> Vec<String> {
            text.split("\n\n")
                .find(|block| block.starts_with(&format!("# HELP {name} ")))
                .unwrap_or_else(|| panic!("{name} in\n{text}"))
                .lines()
                .map(str::to_owned)
                .collect()
        };
        for name in [HTTP_DURATION, HTTP_ACTIVE] {
            assert_eq!(family(&ours, name), family(&exporter, name), "{name}");
        }
    }

    #[test]
    fn the_active_gauge_returns_to_zero_when_the_guards_drop() {
        static ACTIVE: ActiveRequests = ActiveRequests::new();
        let mut guards: Vec<Vec<ActiveRequest>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| (0..100).map(|_| ACTIVE.enter()).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(ACTIVE.value(), 800);
        // Dropped on other threads than the ones that entered them.
        guards.rotate_left(1);
        std::thread::scope(|scope| {
            for chunk in guards {
                scope.spawn(move || drop(chunk));
            }
        });
        assert_eq!(ACTIVE.value(), 0);
    }
}
