//! `/metrics` in the Prometheus protobuf format (`application/vnd.google.protobuf;
//! proto=io.prometheus.client.MetricFamily; encoding=delimited`): what Prometheus asks for first
//! when it scrapes native histograms, and the one format that can carry them.
//!
//! The HTTP layer's two families are built here from its own cells ([`encode_layer`]):
//! `http_server_request_duration_seconds` with, per series, its classic buckets (and `+Inf`)
//! and their exemplars, so every query of `_bucket`, `_sum` and `_count` keeps working, and in
//! the same message its native histogram (`http_metrics`, schema 3); `http_server_active_requests`
//! as gauges. Every other family is the Prometheus text the other formats start from (the
//! exporter's, a service's own), converted family by family ([`encode_text`]): the exporter
//! renders protobuf only behind its `protobuf` feature, which needs `protoc` at build time, and
//! would leave out the families rendered beside it. Same names as in the text (counters keep
//! `_total`, which in this format belongs to the family name), same HELP, `unit` where the
//! OpenMetrics text writes `# UNIT`.
//!
//! The messages are io.prometheus.client's (Prometheus's prompb/io/prometheus/client/
//! metrics.proto), written out as prost structs: no `protoc` here. Only the fields we send.

use crate::metrics::exemplars::{ExemplarSnapshot, TimedExemplar};
use crate::metrics::exposition::{Family, families, labels, sample_name, series_end, unit_of};
use crate::metrics::http_metrics::{
    ActiveLabels, ActiveRequests, BUCKETS, DurationHistogram, DurationLabels, HTTP_ACTIVE,
    HTTP_ACTIVE_HELP, HTTP_DURATION, HTTP_DURATION_HELP, NATIVE_MIN_INDEX, NATIVE_SCHEMA,
    NATIVE_ZERO_THRESHOLD,
};
use crate::metrics::recorder::HTTP_DURATION_BUCKETS;
use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub(crate) struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Summary = 2,
    Untyped = 3,
    Histogram = 4,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Gauge {
    #[prost(double, tag = "1")]
    pub value: f64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Counter {
    #[prost(double, tag = "1")]
    pub value: f64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Untyped {
    #[prost(double, tag = "1")]
    pub value: f64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Quantile {
    #[prost(double, tag = "1")]
    pub quantile: f64,
    #[prost(double, tag = "2")]
    pub value: f64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Summary {
    #[prost(uint64, tag = "1")]
    pub sample_count: u64,
    #[prost(double, tag = "2")]
    pub sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    pub quantile: Vec<Quantile>,
}

/// google.protobuf.Timestamp.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(message, optional, tag = "3")]
    pub timestamp: Option<Timestamp>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Bucket {
    #[prost(uint64, tag = "1")]
    pub cumulative_count: u64,
    #[prost(double, tag = "2")]
    pub upper_bound: f64,
    #[prost(message, optional, tag = "3")]
    pub exemplar: Option<Exemplar>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Histogram {
    #[prost(uint64, tag = "1")]
    pub sample_count: u64,
    #[prost(double, tag = "2")]
    pub sample_sum: f64,
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    #[prost(sint32, tag = "5")]
    pub schema: i32,
    #[prost(double, tag = "6")]
    pub zero_threshold: f64,
    #[prost(uint64, tag = "7")]
    pub zero_count: u64,
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    /// Each bucket's count minus the previous one's (the first's minus 0), across spans.
    #[prost(sint64, repeated, tag = "13")]
    pub positive_delta: Vec<i64>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Metric {
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Gauge>,
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Counter>,
    #[prost(message, optional, tag = "4")]
    pub summary: Option<Summary>,
    #[prost(message, optional, tag = "5")]
    pub untyped: Option<Untyped>,
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<Histogram>,
    #[prost(int64, tag = "6")]
    pub timestamp_ms: i64,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct MetricFamily {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub help: String,
    #[prost(enumeration = "MetricType", tag = "3")]
    pub r#type: i32,
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The HTTP layer's series as the scrape found them, and the duration exemplars (taken first).
pub(crate) struct LayerScrape<'a> {
    pub durations: &'a [(DurationLabels, &'a DurationHistogram)],
    pub active: &'a [(ActiveLabels<'a>, &'a ActiveRequests)],
    pub exemplars: &'a ExemplarSnapshot,
}

/// Appends each family of `text` (Prometheus text 0.0.4) as one length-delimited `MetricFamily`;
/// a family without samples is left out.
pub(crate) fn encode_text(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len());
    for family in families(text) {
        write_message(out, converted(&family));
    }
}

/// Appends the HTTP layer's two families, each only if it has a series, built from the cells.
pub(crate) fn encode_layer(out: &mut Vec<u8>, layer: &LayerScrape<'_>) {
    write_message(out, duration_family(layer));
    write_message(out, active_family(layer.active));
}

fn write_message(out: &mut Vec<u8>, message: Option<MetricFamily>) {
    if let Some(message) = message.filter(|m| !m.metric.is_empty()) {
        // Writing into a Vec cannot fail.
        let _ = message.encode_length_delimited(out);
    }
}

/// An empty family; `help` as Prometheus text escapes it.
fn family_message(name: &str, help: Option<&str>, kind: MetricType) -> MetricFamily {
    let base = if kind == MetricType::Counter {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    };
    MetricFamily {
        name: name.to_owned(),
        help: help.map(unescape_help).unwrap_or_default(),
        r#type: kind as i32,
        metric: Vec::new(),
        unit: unit_of(base).unwrap_or_default().to_owned(),
    }
}

/// Prometheus text HELP escapes `\\` and `\n`; the protobuf field is the plain text.
fn unescape_help(help: &str) -> String {
    let mut out = String::with_capacity(help.len());
    let mut chars = help.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some('\\')) => {
                chars.next();
                out.push('\\');
            }
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// One sample line: name, labels (unescaped), value, timestamp (ms).
struct Sample<'a> {
    name: &'a str,
    labels: Vec<LabelPair>,
    value: f64,
    timestamp_ms: i64,
}

fn parse_sample(line: &str) -> Option<Sample<'_>> {
    let name = sample_name(line);
    let (series, rest) = line.split_at(series_end(line));
    let mut fields = rest.split_whitespace();
    // Rust's parser reads `+Inf`, `-Inf`, `inf`, `NaN` too.
    let value = fields.next()?.parse().ok()?;
    let timestamp_ms = fields.next().and_then(|t| t.parse().ok()).unwrap_or(0);
    let labels = labels(&series[name.len()..])
        .into_iter()
        .map(|(name, value)| LabelPair {
            name: name.to_owned(),
            value: value.into_owned(),
        })
        .collect();
    Some(Sample {
        name,
        labels,
        value,
        timestamp_ms,
    })
}

/// A family of the text as its message: counters, gauges and untyped samples one metric each;
/// histogram and summary lines gathered into one metric per label set (without `le`/`quantile`),
/// in the order their first line came.
fn converted(family: &Family<'_>) -> Option<MetricFamily> {
    let kind = match family.kind {
        Some("counter") => MetricType::Counter,
        Some("gauge") => MetricType::Gauge,
        Some("histogram") => MetricType::Histogram,
        Some("summary") => MetricType::Summary,
        _ => MetricType::Untyped,
    };
    let mut message = family_message(family.name, family.help, kind);
    for sample in family.samples.iter().filter_map(|line| parse_sample(line)) {
        let Sample {
            name,
            mut labels,
            value,
            timestamp_ms,
        } = sample;
        let simple = |labels| Metric {
            label: labels,
            timestamp_ms,
            ..Metric::default()
        };
        match kind {
            MetricType::Counter => message.metric.push(Metric {
                counter: Some(Counter { value }),
                ..simple(labels)
            }),
            MetricType::Gauge => message.metric.push(Metric {
                gauge: Some(Gauge { value }),
                ..simple(labels)
            }),
            MetricType::Untyped => message.metric.push(Metric {
                untyped: Some(Untyped { value }),
                ..simple(labels)
            }),
            MetricType::Histogram | MetricType::Summary => {
                let special = if kind == MetricType::Histogram {
                    "le"
                } else {
                    "quantile"
                };
                let position = labels.iter().position(|l| l.name == special);
                let bound = position.map(|i| labels.remove(i).value);
                let metric = match message.metric.iter().position(|m| m.label == labels) {
                    Some(i) => &mut message.metric[i],
                    None => {
                        message.metric.push(Metric {
                            histogram: (kind == MetricType::Histogram).then(Histogram::default),
                            summary: (kind == MetricType::Summary).then(Summary::default),
                            ..simple(labels)
                        });
                        message.metric.last_mut()?
                    }
                };
                let suffix = &name[family.name.len().min(name.len())..];
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let count = value as u64;
                if let Some(histogram) = &mut metric.histogram {
                    match (suffix, bound) {
                        ("_bucket", Some(le)) => histogram.bucket.push(Bucket {
                            cumulative_count: count,
                            upper_bound: le.parse().unwrap_or(f64::INFINITY),
                            exemplar: None,
                        }),
                        ("_sum", _) => histogram.sample_sum = value,
                        ("_count", _) => histogram.sample_count = count,
                        _ => {}
                    }
                } else if let Some(summary) = &mut metric.summary {
                    match (suffix, bound) {
                        ("", Some(quantile)) => summary.quantile.push(Quantile {
                            quantile: quantile.parse().unwrap_or(f64::NAN),
                            value,
                        }),
                        ("_sum", _) => summary.sample_sum = value,
                        ("_count", _) => summary.sample_count = count,
                        _ => {}
                    }
                }
            }
        }
    }
    Some(message)
}

fn label(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// `http_server_request_duration_seconds`, each series from its cells.
fn duration_family(layer: &LayerScrape<'_>) -> Option<MetricFamily> {
    let mut message = family_message(
        HTTP_DURATION,
        Some(HTTP_DURATION_HELP),
        MetricType::Histogram,
    );
    for (index, ((method, route, status), histogram)) in layer.durations.iter().enumerate() {
        let exemplars = layer.exemplars.of(index, method, route, *status);
        message.metric.push(Metric {
            label: vec![
                label("http_request_method", method),
                label("http_route", route),
                label("http_response_status_code", &status.to_string()),
            ],
            histogram: Some(duration_histogram(histogram, &exemplars)),
            ..Metric::default()
        });
    }
    Some(message)
}

/// `http_server_active_requests`, a gauge per (method, route).
fn active_family(active: &[(ActiveLabels<'_>, &ActiveRequests)]) -> Option<MetricFamily> {
    let mut message = family_message(HTTP_ACTIVE, Some(HTTP_ACTIVE_HELP), MetricType::Gauge);
    for ((method, route), gauge) in active {
        #[allow(clippy::cast_precision_loss)] // requests in flight, far below 2^53
        let value = gauge.value() as f64;
        message.metric.push(Metric {
            label: vec![
                label("http_request_method", method),
                label("http_route", route),
            ],
            gauge: Some(Gauge { value }),
            ..Metric::default()
        });
    }
    Some(message)
}

/// One series' message: classic buckets with exemplars, and the native buckets.
///
/// A request being recorded while the cells are read may be in its native bucket and not yet in
/// its classic one, or the other way round (relaxed adds, read cell by cell): the count is the
/// native total, which Prometheus requires to equal the native buckets' sum, no classic bucket
/// says more than it and `+Inf` says it, as `_count` does; the next scrape counts that request
/// everywhere.
pub(crate) fn duration_histogram(
    histogram: &DurationHistogram,
    exemplars: &[Option<TimedExemplar>; BUCKETS],
) -> Histogram {
    let (classic, sum_nanos) = histogram.read();
    let native = histogram.read_native();
    let count = native.zero + native.buckets.iter().sum::<u64>();
    let mut cumulative = 0;
    let bucket = classic
        .iter()
        .enumerate()
        .map(|(i, n)| {
            cumulative += n;
            Bucket {
                cumulative_count: if i + 1 == BUCKETS {
                    count
                } else {
                    cumulative.min(count)
                },
                upper_bound: HTTP_DURATION_BUCKETS
                    .get(i)
                    .copied()
                    .unwrap_or(f64::INFINITY),
                exemplar: exemplars[i].map(exemplar),
            }
        })
        .collect();
    let (positive_span, positive_delta) = spans_and_deltas(&native.buckets);
    #[allow(clippy::cast_precision_loss)] // nanoseconds exact below 2^53 (104 days)
    let sample_sum = (sum_nanos / 1_000_000_000) as f64 + (sum_nanos % 1_000_000_000) as f64 / 1e9;
    Histogram {
        sample_count: count,
        sample_sum,
        bucket,
        schema: NATIVE_SCHEMA,
        // Also what marks the histogram native when no request was counted yet (Prometheus
        // tells a native histogram from a classic one by spans, a zero threshold or count).
        zero_threshold: NATIVE_ZERO_THRESHOLD,
        zero_count: native.zero,
        positive_span,
        positive_delta,
    }
}

fn exemplar(exemplar: TimedExemplar) -> Exemplar {
    Exemplar {
        label: vec![LabelPair {
            name: "trace_id".to_owned(),
            value: exemplar.trace_id.to_string(),
        }],
        value: exemplar.value,
        // Prometheus keeps a native histogram's exemplars only when they carry a timestamp.
        timestamp: Some(Timestamp {
            seconds: i64::try_from(exemplar.unix.as_secs()).unwrap_or(i64::MAX),
            #[allow(clippy::cast_possible_wrap)] // below 10^9
            nanos: exemplar.unix.subsec_nanos() as i32,
        }),
    }
}

/// The native buckets as Prometheus's spans and deltas: runs of buckets, a gap of up to two
/// empty buckets kept inside a run as zeros (two zero deltas cost less than a new span, as
/// client_golang does), larger gaps skipped by the next span's offset.
fn spans_and_deltas(buckets: &[u64]) -> (Vec<BucketSpan>, Vec<i64>) {
    let (mut spans, mut deltas) = (Vec::<BucketSpan>::new(), Vec::new());
    let (mut previous_count, mut next_index) = (0u64, 0i32);
    for (k, count) in buckets.iter().enumerate() {
        if *count == 0 {
            continue;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let index = NATIVE_MIN_INDEX + k as i32;
        let gap = index - next_index;
        match spans.last_mut() {
            Some(span) if gap <= 2 => {
                for _ in 0..gap {
                    deltas.push(delta(0, previous_count));
                    previous_count = 0;
                }
                #[allow(clippy::cast_sign_loss)]
                let filled = gap as u32;
                span.length += filled + 1;
            }
            Some(_) => spans.push(BucketSpan {
                offset: gap,
                length: 1,
            }),
            None => spans.push(BucketSpan {
                offset: index,
                length: 1,
            }),
        }
        deltas.push(delta(*count, previous_count));
        previous_count = *count;
        next_index = index + 1;
    }
    (spans, deltas)
}

#[allow(clippy::cast_possible_wrap)] // counts stay far below 2^63
fn delta(count: u64, previous: u64) -> i64 {
    count as i64 - previous as i64
}

#[cfg(test)]
pub(crate) fn decode(mut bytes: &[u8]) -> Vec<MetricFamily> {
    let mut families = Vec::new();
    while !bytes.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut bytes).expect("a MetricFamily"));
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exemplars::ExemplarSlots;
    use crate::metrics::http_metrics::{NATIVE_BUCKETS, bucket, native_slot};
    use opentelemetry::trace::TraceId;
    use std::time::Instant;

    const MS: u64 = 1_000_000;

    /// The native buckets back from spans and deltas: (bucket index, count) of each non-empty one.
    fn expand(histogram: &Histogram) -> Vec<(i32, u64)> {
        let mut out = Vec::new();
        let (mut index, mut count, mut deltas) = (0i32, 0i64, histogram.positive_delta.iter());
        for (n, span) in histogram.positive_span.iter().enumerate() {
            index += span.offset;
            for _ in 0..span.length {
                count += deltas.next().expect("a delta per bucket");
                if count != 0 {
                    out.push((index, u64::try_from(count).expect("no negative count")));
                }
                index += 1;
            }
            let _ = n;
        }
        assert!(deltas.next().is_none(), "a delta per bucket, no more");
        out
    }

    #[test]
    fn spans_and_deltas_give_back_every_bucket() {
        for pattern in [
            vec![],
            vec![(0, 5)],
            vec![(0, 1), (NATIVE_BUCKETS - 1, 7)],
            vec![(3, 2), (4, 9), (6, 1), (9, 4), (13, 3)],
        ] {
            let mut buckets = [0u64; NATIVE_BUCKETS];
            for (k, n) in &pattern {
                buckets[*k] = *n;
            }
            let (positive_span, positive_delta) = spans_and_deltas(&buckets);
            let histogram = Histogram {
                positive_span,
                positive_delta,
                ..Histogram::default()
            };
            let expected: Vec<(i32, u64)> = pattern
                .iter()
                .map(|(k, n)| (NATIVE_MIN_INDEX + *k as i32, *n))
                .collect();
            assert_eq!(expand(&histogram), expected);
        }
        // Gaps of one and two stay inside a span, a gap of three starts a new one.
        let mut buckets = [0u64; NATIVE_BUCKETS];
        for k in [0, 2, 5, 9] {
            buckets[k] = 1;
        }
        let (spans, deltas) = spans_and_deltas(&buckets);
        assert_eq!(
            spans,
            [
                BucketSpan {
                    offset: NATIVE_MIN_INDEX,
                    length: 6
                },
                BucketSpan {
                    offset: 3,
                    length: 1
                }
            ]
        );
        assert_eq!(deltas, [1, -1, 1, -1, 0, 1, 0]);
    }

    /// A scrape between a request's classic and native adds: Prometheus gets a valid native
    /// histogram (count = the native buckets' sum) and classic buckets that never exceed it.
    #[test]
    fn a_half_recorded_request_leaves_the_message_consistent() {
        static HISTOGRAM: DurationHistogram = DurationHistogram::new();
        HISTOGRAM.record(bucket(3 * MS), 3 * MS);
        HISTOGRAM.record_classic_only(bucket(20_000 * MS), 20_000 * MS);
        let h = duration_histogram(&HISTOGRAM, &[None; BUCKETS]);
        assert_eq!(h.sample_count, 1);
        assert_eq!(
            expand(&h).iter().map(|(_, n)| n).sum::<u64>() + h.zero_count,
            1
        );
        assert!(
            h.bucket.iter().all(|b| b.cumulative_count <= 1),
            "{:?}",
            h.bucket
        );
        assert_eq!(
            h.bucket[BUCKETS - 1].cumulative_count,
            1,
            "+Inf is the count"
        );
    }

    /// The whole exposition decoded as Prometheus decodes it: every family of the text, counters
    /// under their sample name with a unit, the exporter's histograms and summaries gathered per
    /// series; the duration series with classic buckets, exemplars and native buckets.
    #[test]
    fn the_exposition_decodes_with_native_and_classic_buckets_and_exemplars() {
        static HISTOGRAM: DurationHistogram = DurationHistogram::new();
        let slots = ExemplarSlots::default();
        let trace = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        let durations = [0, 3 * MS, 3 * MS, 40 * MS, 120 * MS, 20_000 * MS];
        for nanos in durations {
            HISTOGRAM.record(bucket(nanos), nanos);
        }
        slots.record(bucket(40 * MS), trace, 0.04, Instant::now());
        let snapshot = ExemplarSnapshot::new(vec![(("GET", "/items/{id}", 200), slots.snapshot())]);
        let text = String::from(
            "# HELP hits_total Increments \\\\ acknowledged.\\nwith 200.\n# TYPE hits_total counter\nhits_total 7\n\n\
# HELP hello_world_counter Seed.\n# TYPE hello_world_counter counter\nhello_world_counter 3\n\n\
# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1024\n\n\
# TYPE redis_client_command_duration_seconds histogram\n\
redis_client_command_duration_seconds_bucket{command=\"INCR\",le=\"0.005\"} 2\n\
redis_client_command_duration_seconds_bucket{command=\"INCR\",le=\"+Inf\"} 3\n\
redis_client_command_duration_seconds_sum{command=\"INCR\"} 0.5\n\
redis_client_command_duration_seconds_count{command=\"INCR\"} 3\n\n\
# TYPE rpc summary\nrpc{quantile=\"0.5\"} 0.2\nrpc_sum 4\nrpc_count 9\n\n\
# TYPE empty gauge\n\n",
        );
        let series = [(("GET", "/items/{id}", 200), &HISTOGRAM)];
        let mut bytes = Vec::new();
        encode_text(&mut bytes, &text);
        encode_layer(
            &mut bytes,
            &LayerScrape {
                durations: &series,
                active: &[],
                exemplars: &snapshot,
            },
        );
        let families = decode(&bytes);
        let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hits_total",
                "hello_world_counter",
                "process_resident_memory_bytes",
                "redis_client_command_duration_seconds",
                "rpc",
                HTTP_DURATION
            ],
            "a family without samples is left out"
        );
        assert_eq!(families[0].help, "Increments \\ acknowledged.\nwith 200.");
        assert_eq!(families[0].r#type, MetricType::Counter as i32);
        assert_eq!(families[0].metric[0].counter, Some(Counter { value: 7.0 }));
        assert_eq!(families[2].unit, "bytes");
        assert_eq!(families[2].metric[0].gauge, Some(Gauge { value: 1024.0 }));
        let redis = families[3].metric[0].clone();
        assert_eq!(
            redis.label,
            [LabelPair {
                name: "command".into(),
                value: "INCR".into()
            }]
        );
        let redis = redis.histogram.unwrap();
        assert_eq!((redis.sample_count, redis.sample_sum), (3, 0.5));
        assert_eq!(
            redis
                .bucket
                .iter()
                .map(|b| (b.upper_bound, b.cumulative_count))
                .collect::<Vec<_>>(),
            [(0.005, 2), (f64::INFINITY, 3)]
        );
        let rpc = families[4].metric[0].summary.clone().unwrap();
        assert_eq!((rpc.sample_count, rpc.sample_sum), (9, 4.0));
        assert_eq!(
            rpc.quantile,
            [Quantile {
                quantile: 0.5,
                value: 0.2
            }]
        );

        let duration = &families[5];
        assert_eq!(duration.unit, "seconds");
        assert_eq!(duration.r#type, MetricType::Histogram as i32);
        let metric = &duration.metric[0];
        assert_eq!(
            metric
                .label
                .iter()
                .map(|l| (l.name.as_str(), l.value.as_str()))
                .collect::<Vec<_>>(),
            [
                ("http_request_method", "GET"),
                ("http_route", "/items/{id}"),
                ("http_response_status_code", "200")
            ]
        );
        let h = metric.histogram.clone().unwrap();
        assert_eq!(h.sample_count, 6);
        assert!((h.sample_sum - 20.166).abs() < 1e-9, "{}", h.sample_sum);
        // Classic: the text's cumulative counts, `+Inf` included.
        let classic: Vec<u64> = h.bucket.iter().map(|b| b.cumulative_count).collect();
        assert_eq!(classic, [3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 6]);
        assert_eq!(h.bucket[14].upper_bound, f64::INFINITY);
        // The exemplar on its classic bucket (le=0.05), with a timestamp.
        let with_exemplar: Vec<usize> = (0..h.bucket.len())
            .filter(|i| h.bucket[*i].exemplar.is_some())
            .collect();
        assert_eq!(with_exemplar, [3]);
        let exemplar = h.bucket[3].exemplar.clone().unwrap();
        assert_eq!(exemplar.label[0].value, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(exemplar.value, 0.04);
        assert!(exemplar.timestamp.unwrap().seconds > 1_700_000_000);
        // Native: schema 3, 0 in the zero bucket, the rest in their buckets.
        assert_eq!((h.schema, h.zero_count), (3, 1));
        assert_eq!(h.zero_threshold, 2f64.powi(-20));
        let index = |nanos: u64| NATIVE_MIN_INDEX - 1 + native_slot(nanos) as i32;
        // 3 ms: log2(0.003) * 8 = -67.0..., so bucket -67; 20 s: 34.57... → 35.
        assert_eq!(index(3 * MS), -67);
        assert_eq!(
            expand(&h),
            [
                (index(3 * MS), 2),
                (index(40 * MS), 1),
                (index(120 * MS), 1),
                (35, 1)
            ]
        );
    }
}
