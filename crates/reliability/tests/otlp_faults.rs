//! The OTLP collector up, down (nothing listens) and black-holed (accepts TCP, never answers),
//! for web-flask-equivalent and redis-counter: every request still succeeds, throughput stays
//! near the collector-up figure (recorded, not asserted: the machine is shared), memory stays
//! bounded, and the spans that could not be delivered are counted in a metric.
#![allow(clippy::unwrap_used)]

use reliability::{BlackHole, MIB, Record, RssSampler, SpanCounts, binary, get_text, load, scaled};
use std::time::Duration;
use testkit::{OtlpGrpcReceiver, OtlpHttpReceiver, RedisServer, ServiceProcess};

/// A generous bound on a small service's memory: a growing export queue would pass it.
const RSS_BOUND: u64 = 256 * 1024 * 1024;
const QUEUE: &str = "512";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Collector {
    Up,
    Down,
    BlackHoled,
}

struct Run {
    per_second: f64,
    peak_rss: u64,
    spans: SpanCounts,
    requests: u64,
}

async fn run(
    service: &str,
    extra_env: &[(&str, String)],
    collector: Collector,
    protocol: &str,
) -> Run {
    let count = scaled(3000, 30000);
    let http_up = OtlpHttpReceiver::start().await;
    let grpc_up = OtlpGrpcReceiver::start().await;
    let hole = BlackHole::start().await;
    let endpoint = match (collector, protocol) {
        (Collector::Up, "grpc") => grpc_up.endpoint(),
        (Collector::Up, _) => http_up.endpoint(),
        (Collector::Down, _) => format!("http://127.0.0.1:{}", testkit::free_port()),
        (Collector::BlackHoled, _) => hole.url(),
    };
    let mut env: Vec<(&str, String)> = vec![
        ("OTEL_SDK_DISABLED", "false".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()),
        ("OTEL_BSP_MAX_QUEUE_SIZE", QUEUE.into()),
        ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
        ("RUST_LOG", "warn".into()),
    ];
    env.extend(extra_env.iter().cloned());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let process = ServiceProcess::start(&binary(service), &env).await;
    let pid = process.pid().unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/", process.url());
    // Warm up (connections, allocator), then measure.
    let warm = load(&client, &url, 200, 8).await;
    assert_eq!(
        warm.ok(),
        200,
        "{service} warm-up with collector {collector:?}: {warm:?}"
    );
    let rss = RssSampler::start(pid);
    let tally = load(&client, &url, count, 8).await;
    assert_eq!(
        tally.ok(),
        count,
        "{service}, collector {collector:?} ({protocol}): every request succeeds; got {tally:?}\n{}",
        process.logs()
    );
    if collector == Collector::BlackHoled {
        assert!(hole.accepted() > 0, "the exporter reached the black hole");
    }
    // Let the exporter thread work through what it can, then read the span accounting.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let metrics = get_text(&client, &format!("{}/metrics", process.url())).await;
    let peak_rss = rss.peak().max(reliability::rss_bytes(pid).unwrap_or(0));
    assert!(
        peak_rss < RSS_BOUND,
        "{service} with collector {collector:?}: RSS {:.1} MiB",
        peak_rss as f64 / MIB
    );
    Run {
        per_second: tally.per_second(),
        peak_rss,
        spans: SpanCounts::of(&metrics),
        requests: count + 200,
    }
}

async fn scenario(service: &'static str, extra_env: &[(&str, String)]) {
    let up = run(service, extra_env, Collector::Up, "http/protobuf").await;
    assert!(
        up.spans.exported >= up.requests as f64 * 0.5,
        "{service}: with the collector up spans are exported ({} of {} requests)",
        up.spans.exported,
        up.requests
    );
    for (collector, protocol, scenario) in [
        (Collector::Down, "http/protobuf", "otlp-down"),
        (
            Collector::BlackHoled,
            "http/protobuf",
            "otlp-blackholed-http",
        ),
        (Collector::BlackHoled, "grpc", "otlp-blackholed-grpc"),
    ] {
        let faulty = run(service, extra_env, collector, protocol).await;
        assert_eq!(
            faulty.spans.exported, 0.0,
            "{service}: nothing can be exported"
        );
        let undelivered = faulty.spans.failed + faulty.spans.dropped;
        assert!(
            undelivered > 0.0,
            "{service}, collector {collector:?}: undelivered spans are counted \
             (otel_spans_export_failed_total + otel_spans_dropped_total = {undelivered})"
        );
        if collector == Collector::BlackHoled {
            assert!(
                faulty.spans.dropped > 0.0,
                "{service}: a black-holed collector fills the {QUEUE}-span queue; drops are counted"
            );
        }
        let ratio = faulty.per_second / up.per_second * 100.0;
        Record {
            scenario,
            service,
            tried: faulty.requests,
            lost: 0,
            figure: ratio,
            unit: "% of collector-up throughput",
            notes: format!(
                "{protocol}; all {} requests 200; {:.0} req/s vs {:.0} req/s collector up; \
                 peak RSS {:.1} MiB (collector up {:.1} MiB); spans export-failed {} + dropped {} \
                 (queue {QUEUE})",
                faulty.requests,
                faulty.per_second,
                up.per_second,
                faulty.peak_rss as f64 / MIB,
                up.peak_rss as f64 / MIB,
                faulty.spans.failed,
                faulty.spans.dropped
            ),
        }
        .write();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_flask_equivalent_serves_every_request_with_the_collector_down_or_black_holed() {
    scenario("web-flask-equivalent", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counter_serves_every_request_with_the_collector_down_or_black_holed() {
    let redis = RedisServer::start();
    scenario("redis-counter", &[("REDIS_URL", redis.url())]).await;
}
