//! Exemplars end to end: a real Prometheus (exemplar storage on, scraping over OpenMetrics as it
//! does by default) scrapes a service that received requests with known `traceparent` headers;
//! the exemplars it stores carry the trace ids of the sampled requests, which are also the traces
//! whose spans reached the OTLP receiver, each in the bucket that holds its duration. Requests
//! whose caller did not sample them (`traceparent` flags `00`) leave none, and get no
//! `traceresponse`.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use testkit::unix_now;
use testkit::{OtlpHttpReceiver, Prometheus, eventually, spawn_router};

fn trace_id(i: u32, salt: u32) -> String {
    format!("{salt:08x}{i:024x}")
}

fn traceparent(trace: &str, sampled: bool) -> String {
    format!(
        "00-{trace}-00f067aa0ba902b7-{}",
        if sampled { "01" } else { "00" }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_stores_exemplars_of_sampled_requests_only() {
    let receiver = OtlpHttpReceiver::start().await;
    let _guard = common::init_exporting_to(&receiver, &[]);
    let addr = spawn_router(common::app()).await;
    let base = format!("http://{addr}");
    let started = unix_now();

    // Sampled and unsampled requests to the same route, and unsampled ones alone on another.
    let client = reqwest::Client::new();
    let mut sampled = BTreeSet::new();
    let mut unsampled = BTreeSet::new();
    for i in 0..20 {
        for (is_sampled, set) in [(true, &mut sampled), (false, &mut unsampled)] {
            let trace = trace_id(i, if is_sampled { 0xa11ce } else { 0xb0b });
            let response = client
                .get(format!("{base}/items/{i}"))
                .header("traceparent", traceparent(&trace, is_sampled))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            // Only a sampled request has a trace to jump to.
            let traceresponse = response.headers().get("traceresponse");
            if is_sampled {
                let value = traceresponse.expect("traceresponse").to_str().unwrap();
                assert!(value.starts_with(&format!("00-{trace}-")), "{value}");
                assert!(value.ends_with("-01"), "{value}");
            } else {
                assert_eq!(
                    traceresponse, None,
                    "no traceresponse for an unsampled request"
                );
            }
            set.insert(trace);
        }
        let trace = trace_id(i, 0xc0de);
        let response = client
            .post(format!("{base}/teapot"))
            .header("traceparent", traceparent(&trace, false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 418);
        unsampled.insert(trace);
    }

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: svc\n    static_configs:\n      - targets: ['{addr}']\n"
    );
    let prometheus = Prometheus::start(&config, &[]).await;
    let p = &prometheus;
    let stored: Vec<Value> = eventually(
        "exemplars in Prometheus",
        Duration::from_secs(30),
        || async move {
            let series = p
                .exemplars("http_server_request_duration_seconds_bucket", started)
                .await;
            (!series.is_empty()).then_some(series)
        },
    )
    .await;

    let targets = prometheus.api("targets", &[]).await;
    let target = &targets["activeTargets"][0];
    assert_eq!(target["health"], "up", "{target}");
    assert_eq!(target["lastError"], "", "{target}");

    let mut exemplar_traces = BTreeSet::new();
    for series in &stored {
        let labels = &series["seriesLabels"];
        assert_eq!(
            labels["http_route"], "/items/{id}",
            "only the route with sampled requests has exemplars: {series}"
        );
        let le: f64 = labels["le"]
            .as_str()
            .unwrap()
            .replace("+Inf", "inf")
            .parse()
            .unwrap();
        let lower = telemetry::HTTP_DURATION_BUCKETS
            .iter()
            .copied()
            .filter(|b| *b < le)
            .fold(0.0, f64::max);
        for exemplar in series["exemplars"].as_array().unwrap() {
            let trace = exemplar["labels"]["trace_id"].as_str().unwrap().to_owned();
            let value: f64 = exemplar["value"].as_str().unwrap().parse().unwrap();
            assert!(
                value > lower && value <= le,
                "exemplar {value} lies in its bucket ({lower}, {le}]"
            );
            let at = exemplar["timestamp"].as_f64().unwrap();
            assert!(
                at >= started - 1.0 && at <= unix_now() + 1.0,
                "exemplar timestamp {at} is the request's time in seconds (test began at {started})"
            );
            exemplar_traces.insert(trace);
        }
    }
    assert!(!exemplar_traces.is_empty());
    assert!(
        exemplar_traces.is_subset(&sampled),
        "exemplars come from sampled requests only: {exemplar_traces:?} not within {sampled:?}"
    );
    assert!(exemplar_traces.is_disjoint(&unsampled));

    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            exemplar_traces
                .iter()
                .all(|t| spans.iter().any(|s| &s.trace_id == t))
        })
        .await;
    let exported: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    for trace in &exemplar_traces {
        assert!(
            exported.contains(trace.as_str()),
            "the exemplar's trace {trace} reached the OTLP receiver"
        );
    }
    assert!(
        unsampled.iter().all(|t| !exported.contains(t.as_str())),
        "unsampled requests export no spans"
    );
    // The unsampled-only series was scraped (it has counts) yet has no exemplar.
    let teapots = prometheus
        .query(r#"http_server_request_duration_seconds_count{http_route="/teapot"}"#)
        .await;
    assert_eq!(teapots.len(), 1, "{teapots:?}");
}
