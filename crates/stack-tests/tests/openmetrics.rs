//! Every service's `/metrics` through Prometheus's own OpenMetrics parser (the pinned 3.13, which
//! asks for OpenMetrics first): each target is up with no scrape error, OpenMetrics was used (the
//! `# UNIT` metadata exists only in that format, exemplars only there), every service's sampled
//! requests left exemplars whose traces reached the OTLP receiver, the seed's
//! `hello_world_counter` query still works, and each process is its own `service.instance.id`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use testkit::unix_now;
use testkit::{
    OtlpHttpReceiver, Prometheus, RedisServer, ServiceProcess, eventually, workspace_binary,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_parses_every_service_as_openmetrics_with_exemplars() {
    let started = unix_now();
    let redis = RedisServer::start();
    let receiver = OtlpHttpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let otel = |extra: &[(&'static str, String)]| {
        let mut env: Vec<(&'static str, String)> = vec![
            ("OTEL_SDK_DISABLED", "false".to_owned()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        ];
        env.extend(extra.iter().cloned());
        env
    };
    let start = |name: &'static str, args: Vec<&'static str>, env: Vec<(&'static str, String)>| async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        ServiceProcess::start_with_args(&workspace_binary(name), &args, &env).await
    };
    let web = start("web-flask-equivalent", vec![], otel(&[])).await;
    let web_replica = start("web-flask-equivalent", vec![], otel(&[])).await;
    let counter = start("redis-counter", vec![], otel(&[("REDIS_URL", redis.url())])).await;
    let robot = start(
        "robot-control",
        vec![],
        otel(&[("ROBOT_DRIVER", "sim".to_owned())]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let prober_config = dir.path().join("prober.yml");
    std::fs::write(
        &prober_config,
        format!("urls: ['{}/']\nquery_interval_in_seconds: 1\n", web.url()),
    )
    .unwrap();
    let prober = start(
        "url-prober",
        vec![],
        otel(&[("PROBER_CONFIG", prober_config.to_str().unwrap().to_owned())]),
    )
    .await;
    let loadgen = start(
        "loadgen",
        vec!["--rate", "2", "--duration", "0", "--quiet"],
        otel(&[
            ("LOADGEN_WEB_URL", web.url()),
            ("LOADGEN_REDIS_URL", counter.url()),
            ("LOADGEN_ROBOT_URL", robot.url()),
            ("LOADGEN_PROBER_URL", prober.url()),
        ]),
    )
    .await;
    let services: BTreeMap<&str, &ServiceProcess> = [
        ("web-flask-equivalent", &web),
        ("web-replica", &web_replica),
        ("redis-counter", &counter),
        ("robot-control", &robot),
        ("url-prober", &prober),
        ("loadgen", &loadgen),
    ]
    .into_iter()
    .collect();

    // One sampled request per service, with a trace id of ours, on a measured route.
    let client = reqwest::Client::new();
    let mut sent = BTreeMap::new();
    for (i, (job, path)) in [
        ("web-flask-equivalent", "/"),
        ("web-replica", "/"),
        ("redis-counter", "/"),
        ("robot-control", "/status"),
        ("url-prober", "/queryurl"),
        ("loadgen", "/summary"),
    ]
    .into_iter()
    .enumerate()
    {
        let trace = format!("{:032x}", 0xfeed_0000_u64 + i as u64);
        let response = client
            .get(format!("{}{path}", services[job].url()))
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{job}{path}: {}",
            response.status()
        );
        sent.insert(job, trace);
    }

    let mut config =
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n".to_owned();
    for (job, service) in &services {
        config.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{}']\n",
            service.addr()
        ));
    }
    let prometheus = Prometheus::start(&config, &[]).await;
    let p = &prometheus;

    // Every target up, scraped without error.
    eventually(
        "every target scraped cleanly",
        Duration::from_secs(30),
        || async move {
            let targets = p.api("targets", &[]).await;
            let active = targets["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let clean = active.len() == 6
                && active.iter().all(|t| {
                    t["health"] == "up"
                        && t["lastError"] == ""
                        && t["lastScrape"]
                            .as_str()
                            .is_some_and(|s| !s.starts_with("0001"))
                });
            assert!(
                active.iter().all(|t| t["lastError"] == ""),
                "a scrape failed: {active:#?}\n{}",
                p.logs()
            );
            clean.then_some(())
        },
    )
    .await;

    // OpenMetrics was used: `# UNIT` reached the metadata, for every target.
    for job in services.keys() {
        let target = format!("{{job=\"{job}\"}}");
        let metadata = p
            .api(
                "targets/metadata",
                &[
                    ("match_target", &target),
                    ("metric", "process_resident_memory_bytes"),
                ],
            )
            .await;
        assert_eq!(
            metadata[0]["unit"], "bytes",
            "{job}: no UNIT metadata, so not parsed as OpenMetrics: {metadata}"
        );
    }

    // Every service's sampled request left its exemplar.
    let job_count = services.len();
    let exemplars: BTreeMap<String, BTreeSet<String>> = eventually(
        "an exemplar from every service",
        Duration::from_secs(30),
        || async move {
            let stored = p
                .exemplars("http_server_request_duration_seconds_bucket", started)
                .await;
            let mut by_job: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for series in stored {
                let job = series["seriesLabels"]["job"].as_str().unwrap().to_owned();
                for exemplar in series["exemplars"].as_array().cloned().unwrap_or_default() {
                    let trace = exemplar["labels"]["trace_id"].as_str().unwrap().to_owned();
                    by_job.entry(job.clone()).or_default().insert(trace);
                }
            }
            (by_job.len() == job_count).then_some(by_job)
        },
    )
    .await;
    // Loadgen's own sampled requests replace ours in the services it drives (one exemplar per
    // bucket, the latest): ours must stay where loadgen sends nothing.
    for job in ["web-replica", "loadgen"] {
        assert!(
            exemplars[job].contains(&sent[job]),
            "{job}: exemplars {:?} lack the sampled request's trace {}",
            exemplars[job],
            sent[job]
        );
    }

    // The seed's query on the counter that keeps its name.
    let visits = prometheus
        .query(r#"hello_world_counter{job="web-flask-equivalent"}"#)
        .await;
    let value: f64 = visits[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(value >= 1.0, "{visits:?}");

    // The exemplars' traces were exported, and each process is its own instance.
    let spans = receiver
        .spans_until(Duration::from_secs(15), |spans| {
            sent.values()
                .all(|t| spans.iter().any(|s| &s.trace_id == t))
        })
        .await;
    let mut instances: BTreeMap<&str, String> = BTreeMap::new();
    for (job, trace) in &sent {
        let span = spans
            .iter()
            .find(|s| &s.trace_id == trace && s.kind == "SPAN_KIND_SERVER")
            .unwrap_or_else(|| panic!("{job}: no server span of trace {trace}"));
        let value = |key: &str| span.resource.get(key).map(ToString::to_string);
        assert!(value("host.name").is_some(), "{job}: {:?}", span.resource);
        instances.insert(job, value("service.instance.id").unwrap());
    }
    let distinct: BTreeSet<&String> = instances.values().collect();
    assert_eq!(
        distinct.len(),
        instances.len(),
        "one service.instance.id per process, the two web replicas included: {instances:?}"
    );
}
