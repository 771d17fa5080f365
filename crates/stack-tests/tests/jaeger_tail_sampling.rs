//! Tail sampling in deploy/jaeger/config.yml, on the pinned Jaeger: a known mix of traces goes in
//! over OTLP; every trace with an error and every trace slower than the 250 ms latency objective
//! is kept, the rest is kept near the configured share (`JAEGER_KEPT_PERCENT`), each kept trace
//! whole; and the spanmetrics connector, which sits before the sampling, counts every span sent,
//! so RED from spans stays exact whatever is dropped.
#![allow(clippy::unwrap_used)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use testkit::{Jaeger, wait_until};

const SERVICE: &str = "tail-sampling-check";
const ORDINARY: usize = 1000;
const ERRORS: usize = 40;
const SLOW: usize = 40;
const KEPT_PERCENT: f64 = 20.0;
const SPANS_PER_TRACE: usize = 2;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Ordinary,
    Error,
    Slow,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_slow_traces_are_kept_the_rest_at_the_share_and_spanmetrics_sees_all() {
    let percent = KEPT_PERCENT.to_string();
    // No Prometheus: this check reads the connector's exporter directly.
    let jaeger =
        Jaeger::start_deployed("http://127.0.0.1:9", &[("JAEGER_KEPT_PERCENT", &percent)]).await;
    let mut traces: Vec<(Kind, [u8; 16])> = Vec::new();
    traces.extend((0..ORDINARY).map(|_| (Kind::Ordinary, rand::random())));
    traces.extend((0..ERRORS).map(|_| (Kind::Error, rand::random())));
    traces.extend((0..SLOW).map(|_| (Kind::Slow, rand::random())));
    // Interleaved, so every kind is decided in the same ticks.
    traces.sort_by_key(|(_, id)| *id);
    let client = reqwest::Client::new();
    for batch in traces.chunks(100) {
        let request = export_request(batch);
        let response = client
            .post(format!("http://127.0.0.1:{}/v1/traces", jaeger.port(4318)))
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "OTLP export: {}",
            response.status()
        );
    }

    // Every error and slow trace is kept, whole.
    for (kind, id) in traces.iter().filter(|(k, _)| *k != Kind::Ordinary) {
        let id = hex(id);
        let trace = wait_until(
            &format!("{kind:?} trace {id} kept"),
            Duration::from_secs(60),
            || async { jaeger.trace(&id).await.ok_or("not (yet) in Jaeger") },
        )
        .await;
        assert_eq!(
            trace["spans"].as_array().unwrap().len(),
            SPANS_PER_TRACE,
            "{kind:?} {id}: whole"
        );
    }
    // The ordinary ones were decided in the same ticks: a share of them is kept, whole.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut kept = 0;
    for (_, id) in traces.iter().filter(|(k, _)| *k == Kind::Ordinary) {
        if let Some(trace) = jaeger.trace(&hex(id)).await {
            assert_eq!(trace["spans"].as_array().unwrap().len(), SPANS_PER_TRACE);
            kept += 1;
        }
    }
    // A binomial count: mean n·p, five standard deviations either side.
    let (n, p) = (ORDINARY as f64, KEPT_PERCENT / 100.0);
    let (mean, sd) = (n * p, (n * p * (1.0 - p)).sqrt());
    println!("ordinary traces kept: {kept} of {ORDINARY} (expected {mean:.0} ± {sd:.1})");
    assert!(
        (f64::from(kept) - mean).abs() <= 5.0 * sd,
        "{kept} of {ORDINARY} ordinary traces kept, expected about {mean:.0} ({KEPT_PERCENT} %)"
    );

    // The connector counted every span sent, kept or not.
    let sent = (traces.len() * SPANS_PER_TRACE) as f64;
    let url = format!("http://127.0.0.1:{}/metrics", jaeger.port(8889));
    let counted = wait_until(
        "the spanmetrics connector counts every span",
        Duration::from_secs(60),
        || async {
            let text = client.get(&url).send().await.unwrap().text().await.unwrap();
            let counted: f64 = testkit::parse_metrics(&text)
                .into_iter()
                .filter(|(series, _)| {
                    series.starts_with("traces_span_metrics_calls_total{")
                        && series.contains(&format!("service_name=\"{SERVICE}\""))
                })
                .map(|(_, value)| value)
                .sum();
            (counted == sent)
                .then_some(counted)
                .ok_or(format!("{counted} of {sent} spans counted"))
        },
    )
    .await;
    println!("spanmetrics counted {counted} spans of {sent} sent");
}

/// One OTLP request with each trace as a server span and its client child; error traces end
/// with status Error, slow ones last 300 ms (beyond the 250 ms objective).
fn export_request(traces: &[(Kind, [u8; 16])]) -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let spans = traces
        .iter()
        .flat_map(|(kind, trace_id)| {
            let duration: u64 = if *kind == Kind::Slow {
                300_000_000
            } else {
                2_000_000
            };
            let root_id: [u8; 8] = rand::random();
            let root = Span {
                trace_id: trace_id.to_vec(),
                span_id: root_id.to_vec(),
                name: "GET /".into(),
                kind: span::SpanKind::Server as i32,
                start_time_unix_nano: now - duration,
                end_time_unix_nano: now,
                status: Some(Status {
                    code: if *kind == Kind::Error {
                        status::StatusCode::Error as i32
                    } else {
                        status::StatusCode::Unset as i32
                    },
                    message: String::new(),
                }),
                ..Default::default()
            };
            let child = Span {
                trace_id: trace_id.to_vec(),
                span_id: rand::random::<[u8; 8]>().to_vec(),
                parent_span_id: root_id.to_vec(),
                name: "INCR".into(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: now - duration + 100_000,
                end_time_unix_nano: now - duration + 1_000_000,
                ..Default::default()
            };
            [root, child]
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(SERVICE.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
