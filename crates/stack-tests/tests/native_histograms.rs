//! Native histograms on the real Prometheus (the pinned 3.13.1): redis-counter, its requests
//! held 0–300 ms at random (`SIMULATED_LATENCY_MAX`), scraped with `scrape_native_histograms`
//! and `always_scrape_classic_histograms` on, as deploy/prometheus/prometheus.yml does. Prometheus
//! then asks for the protobuf format first, and:
//! - stores `http_server_request_duration_seconds` as a native histogram (a query returns a
//!   `histogram` sample counting every request) and `histogram_quantile` reads it;
//! - stores the exemplars of sampled requests on that native series, with their 32-hex trace ids
//!   (and none of an unsampled request);
//! - still stores the classic `_bucket`, `_sum` and `_count` series every query uses;
//! - while a scraper asking for text gets the Prometheus text with exactly those classic values.
//!
//! The p50/p90/p99 of the client's own timings against both estimates are written to
//! `target/native-histogram-accuracy.md`: the native estimate is within its bucket's width of the
//! truth; the classic one is as far off as its bounds allow (0.25 → 0.5 s around the p90 here).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use testkit::{
    OtlpHttpReceiver, Prometheus, RedisServer, ServiceProcess, eventually, metric_value,
    target_dir, unix_now, workspace_binary,
};

const REQUESTS: usize = 600;
const CONCURRENCY: usize = 24;
const JOB: &str = "redis-counter";

fn number(value: &Value) -> f64 {
    value.as_str().unwrap().parse().unwrap()
}

/// The q-quantile of sorted values (nearest rank).
fn true_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_stores_native_and_classic_histograms_with_exemplars() {
    let started = unix_now();
    let redis = RedisServer::start();
    let receiver = OtlpHttpReceiver::start().await;
    let env = [
        ("REDIS_URL", redis.url()),
        ("SIMULATED_LATENCY_MAX", "300ms".to_owned()),
        ("OTEL_SDK_DISABLED", "false".to_owned()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let service = ServiceProcess::start(&workspace_binary(JOB), &env).await;

    // Half the requests sampled by their caller, half not; the client's own timing of each.
    let client = reqwest::Client::new();
    let url = format!("{}/", service.url());
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let (client, url, semaphore) = (client.clone(), url.clone(), semaphore.clone());
        tasks.spawn(async move {
            let _permit = semaphore.acquire().await.unwrap();
            let sampled = i % 2 == 0;
            let trace = format!(
                "{:08x}{:024x}",
                if sampled { 0x5a_u32 } else { 0x0b_u32 },
                i
            );
            let flags = if sampled { "01" } else { "00" };
            let start = Instant::now();
            let response = client
                .get(&url)
                .header(
                    "traceparent",
                    format!("00-{trace}-00f067aa0ba902b7-{flags}"),
                )
                .send()
                .await
                .unwrap();
            let status = response.status();
            response.bytes().await.unwrap();
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(status, 200);
            (trace, sampled, seconds)
        });
    }
    let mut timings = Vec::new();
    let (mut sampled, mut unsampled) = (BTreeSet::new(), BTreeSet::new());
    while let Some(done) = tasks.join_next().await {
        let (trace, is_sampled, seconds) = done.unwrap();
        timings.push(seconds);
        if is_sampled {
            sampled.insert(trace);
        } else {
            unsampled.insert(trace);
        }
    }
    timings.sort_by(f64::total_cmp);

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: {JOB}\n    \
         scrape_native_histograms: true\n    always_scrape_classic_histograms: true\n    \
         static_configs:\n      - targets: ['{}']\n",
        service.addr()
    );
    let prometheus = Prometheus::start(&config, &[]).await;
    let p = &prometheus;
    let selector = format!("{{job=\"{JOB}\",http_route=\"/\",http_response_status_code=\"200\"}}");

    // A native histogram counting every request.
    let native = eventually(
        "a native histogram of every request",
        Duration::from_secs(30),
        || {
            let selector = selector.clone();
            async move {
                let targets = p.api("targets", &[]).await;
                let error = &targets["activeTargets"][0]["lastError"];
                assert!(
                    error.is_null() || error == "",
                    "scrape failed: {error}\n{}",
                    p.logs()
                );
                let result = p
                    .query(&format!("http_server_request_duration_seconds{selector}"))
                    .await;
                let histogram = result.first()?.get("histogram")?.get(1)?.clone();
                (number(&histogram["count"]) == REQUESTS as f64).then_some(histogram)
            }
        },
    )
    .await;
    assert!(
        native["buckets"].as_array().unwrap().len() > 14,
        "finer than the classic buckets: {native}"
    );

    // The classic series are stored too, with the same count.
    let buckets = p
        .query(&format!(
            "http_server_request_duration_seconds_bucket{selector}"
        ))
        .await;
    assert_eq!(buckets.len(), 15, "14 bounds and +Inf: {buckets:?}");
    let classic_count = p
        .query(&format!(
            "http_server_request_duration_seconds_count{selector}"
        ))
        .await;
    assert_eq!(number(&classic_count[0]["value"][1]), REQUESTS as f64);

    // Exemplars on the native series (no `le`), each a sampled request's 32-hex trace id.
    let exemplars: Vec<String> = eventually(
        "exemplars on the native series",
        Duration::from_secs(30),
        || {
            let selector = selector.clone();
            async move {
                let stored = p
                    .exemplars(
                        &format!("http_server_request_duration_seconds{selector}"),
                        started,
                    )
                    .await;
                let traces: Vec<String> = stored
                    .iter()
                    .inspect(|series| {
                        assert_eq!(
                            series["seriesLabels"]["__name__"],
                            "http_server_request_duration_seconds",
                            "{series}"
                        );
                        assert!(series["seriesLabels"].get("le").is_none(), "{series}");
                    })
                    .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
                    .map(|e| e["labels"]["trace_id"].as_str().unwrap().to_owned())
                    .collect();
                (!traces.is_empty()).then_some(traces)
            }
        },
    )
    .await;
    for trace in &exemplars {
        assert!(
            trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
            "{trace}"
        );
        assert!(
            sampled.contains(trace) && !unsampled.contains(trace),
            "exemplar {trace} is not one of the sampled requests"
        );
    }

    // Quantiles: the client's own timings, the native estimate, the classic one.
    let mut table = String::from(
        "| quantile | true (client timings) | native (schema 3) | error | classic buckets | error |\n|---|---|---|---|---|---|\n",
    );
    for q in [0.5, 0.9, 0.99] {
        let truth = true_quantile(&timings, q);
        let estimate = |expr: String| async move {
            let result = p.query(&expr).await;
            number(&result[0]["value"][1])
        };
        let native = estimate(format!(
            "histogram_quantile({q}, http_server_request_duration_seconds{selector})"
        ))
        .await;
        let classic = estimate(format!(
            "histogram_quantile({q}, http_server_request_duration_seconds_bucket{selector})"
        ))
        .await;
        let (native_error, classic_error) = (native / truth - 1.0, classic / truth - 1.0);
        let _ = writeln!(
            table,
            "| p{} | {:.1} ms | {:.1} ms | {:+.1} % | {:.1} ms | {:+.1} % |",
            q * 100.0,
            truth * 1e3,
            native * 1e3,
            native_error * 100.0,
            classic * 1e3,
            classic_error * 100.0
        );
        // A bucket is 2^(1/8) ≈ 1.09 times as wide as the one below; the estimate and the truth
        // share it (the client's timing adds well under a millisecond to the server's).
        assert!(
            native_error.abs() < 0.09,
            "native p{q}: {native} s against {truth} s\n{table}"
        );
    }
    let record = format!(
        "# Native vs classic quantiles\n\n{REQUESTS} requests to redis-counter, each held 0–300 ms at \
         random (SIMULATED_LATENCY_MAX), scraped by Prometheus {} with native histograms.\n\n{table}",
        testkit::pinned_release("prometheus")
    );
    std::fs::write(target_dir().join("native-histogram-accuracy.md"), &record).unwrap();
    println!("{record}");

    // Text for a scraper that asks for it: the classic family exactly as Prometheus stored it.
    for accept in [None, Some("text/plain;version=0.0.4")] {
        let mut request = client.get(format!("{}/metrics", service.url()));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = response.text().await.unwrap();
        let labels = r#"http_request_method="GET",http_route="/",http_response_status_code="200""#;
        for bucket in &buckets {
            let le = bucket["metric"]["le"].as_str().unwrap();
            let le = if le == "+Inf" {
                le.to_owned()
            } else {
                // Prometheus normalises `le` (`0.1` stays, `1` becomes `1.0`): the text keeps the
                // exporter's spelling.
                let bound: f64 = le.parse().unwrap();
                format!("{bound}")
            };
            assert_eq!(
                metric_value(
                    &text,
                    &format!("http_server_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}")
                ),
                Some(number(&bucket["value"][1])),
                "le={le}:\n{text}"
            );
        }
        assert!(
            !text.contains("# EOF") && !text.contains("trace_id"),
            "{text}"
        );
        let problems = testkit::promtool_check_metrics(&text);
        assert!(problems.is_empty(), "promtool check metrics: {problems:#?}");
    }
}
