//! The live stack test: what `just up` runs, natively on loopback.
//!
//! Starts every service of ours, tracing to the real Jaeger (deploy/jaeger/config.yml, addresses
//! moved to loopback), a real redis-server, redis_exporter, node-exporter, Alertmanager and a real
//! Prometheus using deploy/prometheus/prometheus.yml (targets rewritten to loopback) with exemplar
//! storage and the real rule files; every upstream program is the release Compose pins
//! (deploy/tools/stack.tsv). Drives traffic with loadgen; then:
//! - Jaeger, through the API its UI calls: every service and its operations; one request as one
//!   trace across loadgen, a service and Redis; a `traceresponse` id and an exemplar's trace id
//!   open their trace; the Monitor tab's calls, latencies and errors have data.
//! - Prometheus 3: every service of ours scraped in the protobuf format (native histograms on, as
//!   prometheus.yml asks) with no error, its request durations stored as native histograms beside
//!   the classic buckets; every rule loaded and
//!   evaluating without error; every PromQL expression of every Grafana dashboard panel returns
//!   data. Only panels fed by what cannot run here are exempt, listed with the reason: cAdvisor
//!   (Docker only). Panels that show exemplars must have exemplars to show. Grafana's
//!   trace-to-metrics queries, filled from a span the real Jaeger returns, select its service.
//! - Alertmanager: Redis stops, RedisDown fires and reaches Alertmanager, and redis-counter's 503s
//!   fire its SLO availability page, routed to the pager and held back by RedisDown.
//!
//! Modules: `stack` (starting the parts), `config` (the real configuration adapted to loopback),
//! `panels` (the queries Grafana would run, and the "has data" check), `traces` (Jaeger's API).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod config;
mod panels;
mod stack;
mod traces;

use config::count_rules;
use panels::{
    PanelQuery, assert_all_have_data, dashboard_queries, expand, query_at, trace_to_metrics_queries,
};
use serde_json::Value;
use stack::LiveStack;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use testkit::unix_now;
use testkit::{Prometheus, wait_until};

/// A panel whose queries use these metric prefixes needs something that cannot run here: the
/// prefix, and why.
const NOT_RUNNABLE_METRICS: [(&str, &str); 1] = [("container_", "cAdvisor: Docker only")];

/// Our services: each a Compose service, a scrape job and a `service.name`.
const OUR_SERVICES: [&str; 5] = [
    "web-flask-equivalent",
    "redis-counter",
    "robot-control",
    "url-prober",
    "loadgen",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn loopback(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_panel_has_data_and_redis_down_fires() {
    let started = unix_now();
    let mut stack = LiveStack::start().await;
    every_target_is_up(&stack).await;
    every_target_is_scraped_with_units(&stack).await;
    every_rule_is_loaded(&stack).await;
    traces::every_service_is_listed_with_its_operations(&stack.jaeger).await;
    traces::a_request_through_a_service_to_redis_is_one_trace(&stack.jaeger).await;
    let alert_panels = every_panel_has_data(&stack).await;
    request_durations_are_native_histograms(&stack.prometheus, started).await;
    loadgen_drives_the_robots_without_a_token(&stack).await;
    every_rule_evaluates(&stack.prometheus).await;
    exemplar_panels_have_exemplars(&stack.prometheus, started).await;
    traces::handed_out_trace_ids_resolve(
        &stack.jaeger,
        &stack.prometheus,
        &stack.counter.url(),
        started,
    )
    .await;
    traces::the_monitor_tab_has_red_metrics(
        &stack.jaeger,
        "redis-counter",
        &["calls", "latencies"],
    )
    .await;
    trace_to_metrics_links_select_the_spans_service(&stack).await;
    redis_down_fires_and_reaches_alertmanager(&mut stack).await;
    assert_all_have_data(&stack.prometheus, &alert_panels, Duration::from_secs(30)).await;
    a_burning_budget_pages_held_back_by_its_cause(&stack).await;
    // redis-counter's 503 spans are errors: the Monitor tab's error rate shows them.
    traces::the_monitor_tab_has_red_metrics(&stack.jaeger, "redis-counter", &["errors"]).await;
}

/// Every service of ours is scraped, and every target comes up.
async fn every_target_is_up(stack: &LiveStack) {
    for service in OUR_SERVICES {
        assert!(
            stack.scraped_jobs.contains(service),
            "prometheus.yml does not scrape {service}"
        );
    }
    let (prometheus, jobs) = (&stack.prometheus, &stack.scraped_jobs);
    wait_until(
        "every scrape target up",
        Duration::from_secs(60),
        || async {
            let targets = prometheus.api("targets", &[]).await;
            let active = targets["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let down: Vec<String> = active
                .iter()
                .filter(|t| t["health"] != "up")
                .map(|t| format!("{} ({})", t["labels"]["job"], t["lastError"]))
                .collect();
            (active.len() == jobs.len() && down.is_empty())
                .then_some(())
                .ok_or(format!("{down:?}"))
        },
    )
    .await;
}

/// Prometheus 3 negotiates the protobuf format (native histograms on) with every service of ours:
/// the families' units, which only it and OpenMetrics carry, reach its metadata (Prometheus's text
/// format has no units), and no scrape failed.
async fn every_target_is_scraped_with_units(stack: &LiveStack) {
    for service in OUR_SERVICES {
        let selector = format!("{{job=\"{service}\"}}");
        let metadata = stack
            .prometheus
            .api(
                "targets/metadata",
                &[
                    ("match_target", &selector),
                    ("metric", "process_resident_memory_bytes"),
                ],
            )
            .await;
        let units: Vec<&str> = metadata
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["unit"].as_str())
            .collect();
        assert_eq!(
            units,
            ["bytes"],
            "{service}: process_resident_memory_bytes's unit as Prometheus scraped it: {metadata}"
        );
    }
}

/// Each service loadgen drives has its request durations stored as a native histogram (a query
/// returns `histogram` samples) with exemplars on it (32-hex trace ids: what Grafana's exemplar
/// dots on a native p95 line link from), its classic `_bucket` series beside it.
async fn request_durations_are_native_histograms(prometheus: &Prometheus, since: f64) {
    for service in OUR_SERVICES.into_iter().filter(|s| *s != "loadgen") {
        let selector = format!("{{job=\"{service}\"}}");
        testkit::eventually(
            &format!("{service}: native and classic request durations"),
            Duration::from_secs(30),
            || {
                let selector = selector.clone();
                async move {
                    let native = prometheus
                        .query(&format!("http_server_request_duration_seconds{selector}"))
                        .await;
                    let classic = prometheus
                        .query(&format!(
                            "http_server_request_duration_seconds_bucket{selector}"
                        ))
                        .await;
                    let exemplars = prometheus
                        .exemplars(
                            &format!("http_server_request_duration_seconds{selector}"),
                            since,
                        )
                        .await;
                    let trace_ids = exemplar_trace_ids(&exemplars).len();
                    (!native.is_empty()
                        && native.iter().all(|s| s.get("histogram").is_some())
                        && !classic.is_empty()
                        && trace_ids > 0)
                        .then_some(())
                }
            },
        )
        .await;
    }
}

/// As many rules are loaded as the rule files define.
async fn every_rule_is_loaded(stack: &LiveStack) {
    let expected: usize = stack
        .rule_files
        .iter()
        .map(|(_, content)| count_rules(content))
        .sum();
    let groups = stack.prometheus.api("rules", &[]).await;
    let loaded: usize = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(expected > 0, "no rules in deploy/prometheus/rules");
    assert_eq!(
        loaded, expected,
        "every rule in deploy/prometheus/rules is loaded"
    );
}

/// Every panel query returns data (the exempt ones are listed); returns the panels on `ALERTS`,
/// which have data only once an alert fires.
async fn every_panel_has_data(stack: &LiveStack) -> Vec<PanelQuery> {
    let panels = dashboard_queries();
    assert!(!panels.is_empty(), "no dashboards found in dashboards/");
    let (alert_panels, panels): (Vec<_>, Vec<_>) =
        panels.into_iter().partition(|q| q.expr.contains("ALERTS"));
    let (exempt, panels): (Vec<_>, Vec<_>) = panels
        .into_iter()
        .partition(|q| NOT_RUNNABLE_METRICS.iter().any(|(m, _)| q.expr.contains(m)));
    let exempt_titles: BTreeSet<String> = exempt
        .iter()
        .map(|q| {
            let (_, why) = NOT_RUNNABLE_METRICS
                .iter()
                .find(|(m, _)| q.expr.contains(m))
                .unwrap();
            format!("{} ({why})", q.title)
        })
        .collect();
    println!("exempt: {exempt_titles:#?}");
    assert_all_have_data(&stack.prometheus, &panels, Duration::from_secs(90)).await;
    alert_panels
}

/// loadgen drives the robots with no token, with the UI's key: none of its commands refused.
async fn loadgen_drives_the_robots_without_a_token(stack: &LiveStack) {
    let summary = get_json(
        &reqwest::Client::new(),
        &format!("{}/summary", stack.loadgen.url()),
    )
    .await;
    let robot_answers = &summary["by_target"]["robot-control"];
    assert!(
        robot_answers["200"].as_u64().unwrap_or(0) > 0
            && robot_answers.get("401").is_none()
            && robot_answers.get("403").is_none(),
        "loadgen's robot commands: {robot_answers}"
    );
}

/// Every loaded rule has evaluated without error: promtool's checks cannot see runtime failures
/// such as a join that matches many-to-many on real series.
async fn every_rule_evaluates(prometheus: &Prometheus) {
    let groups = prometheus.api("rules", &[]).await;
    let broken: Vec<String> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["health"] != "ok")
        .map(|r| {
            format!(
                "{} {}: {} {}",
                r["name"], r["labels"], r["health"], r["lastError"]
            )
        })
        .collect();
    assert!(
        broken.is_empty(),
        "rules not evaluating cleanly:\n{}",
        broken.join("\n")
    );
}

/// The panels that show exemplar dots have exemplars to show, for every service they can show:
/// loadgen's requests are sampled traces, so the services' duration buckets carry their trace ids.
async fn exemplar_panels_have_exemplars(prometheus: &Prometheus, since: f64) {
    let panels: Vec<PanelQuery> = dashboard_queries()
        .into_iter()
        .filter(|q| q.exemplar)
        .collect();
    assert!(!panels.is_empty(), "no panel shows exemplars");
    let mut checked = 0;
    for panel in &panels {
        for (title, expr) in expand(prometheus, panel).await {
            checked += 1;
            let (title, expr) = (&title, &expr);
            wait_until(title, Duration::from_secs(30), || async move {
                let found = prometheus.exemplars(expr, since).await;
                let trace_ids = exemplar_trace_ids(&found).len();
                (trace_ids > 0)
                    .then_some(())
                    .ok_or(format!("no exemplars for {expr}"))
            })
            .await;
        }
    }
    println!("{checked} exemplar panel queries have exemplars");
}

/// Grafana's trace -> metrics queries, as Grafana loads and fills them for a span: for a span of
/// web-flask-equivalent (which loadgen drives) they return that service's own data; for a span of
/// a service that is not ours (no `prometheus.job`: `$__tags` is "") they are still valid PromQL.
async fn trace_to_metrics_links_select_the_spans_service(stack: &LiveStack) {
    let prometheus = &stack.prometheus;
    let trace_to_metrics = trace_to_metrics_queries(&traces::web_span(&stack.jaeger).await);
    let variant = |suffix: &str| -> BTreeMap<String, PanelQuery> {
        trace_to_metrics
            .iter()
            .filter_map(|q| {
                let query = q.title.strip_suffix(suffix)?;
                Some((query.to_owned(), q.clone()))
            })
            .collect()
    };
    let span_of_web = variant("_span_of_web_flask_equivalent");
    let job_selected = variant("_job_selected");
    let foreign_span = variant("_foreign_span");
    assert!(
        !span_of_web.is_empty()
            && span_of_web.keys().eq(job_selected.keys())
            && span_of_web.keys().eq(foreign_span.keys()),
        "check_static.py dashboard-promql gave no (or uneven) trace-to-metrics queries: {trace_to_metrics:#?}"
    );
    let spans: Vec<PanelQuery> = span_of_web.values().cloned().collect();
    assert_all_have_data(prometheus, &spans, Duration::from_secs(30)).await;
    // The same result as the query with the job written in, at one instant 3 s back (every 1 s
    // scrape up to it is stored), once that instant has data. With every service in them the
    // request rate would differ: the other services serve loadgen's requests too.
    for (name, span) in &span_of_web {
        let wanted = &job_selected[name];
        let (got, want) = wait_until(name, Duration::from_secs(30), || async {
            let instant = (unix_now() - 3.0).to_string();
            let want = query_at(prometheus, &wanted.expr, &instant).await;
            if want.as_array().is_some_and(|r| !r.is_empty()) {
                Ok((query_at(prometheus, &span.expr, &instant).await, want))
            } else {
                Err(format!("no data for {}", wanted.expr))
            }
        })
        .await;
        assert_eq!(
            got, want,
            "{name}: Grafana's query for a span of web-flask-equivalent\n  {}\ndoes not select that \
             service's metrics, as\n  {}\ndoes",
            span.expr, wanted.expr
        );
    }
    for query in foreign_span.values() {
        let data = prometheus.api("query", &[("query", &query.expr)]).await;
        assert!(data["result"].is_array(), "{}: {}", query.title, query.expr);
    }
}

/// Redis goes away: RedisDown fires and reaches Alertmanager, and redis-counter answers 503 JSON
/// (the dashboards' error panels fill).
async fn redis_down_fires_and_reaches_alertmanager(stack: &mut LiveStack) {
    stack.redis.kill();
    let prometheus = &stack.prometheus;
    wait_until("RedisDown firing", Duration::from_secs(60), || async {
        let alerts = prometheus.api("alerts", &[]).await;
        let states: Vec<String> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "RedisDown")
            .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
            .collect();
        states
            .iter()
            .any(|s| s == "firing")
            .then_some(())
            .ok_or(format!("{states:?}"))
    })
    .await;
    let client = reqwest::Client::new();
    let am_alerts = format!("http://{}/api/v2/alerts", stack.alertmanager.addr());
    let (client, am_alerts) = (&client, &am_alerts);
    wait_until(
        "RedisDown in Alertmanager",
        Duration::from_secs(60),
        || async move {
            let alerts = get_json(client, am_alerts).await;
            alerts
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["labels"]["alertname"] == "RedisDown")
                .then_some(())
                .ok_or(format!("{alerts}"))
        },
    )
    .await;
    let response = client
        .get(format!("{}/", stack.counter.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}

/// redis-counter's 503s burn its availability budget: the SLO page fires, reaches the pager
/// receiver, and is held back by RedisDown (its cause).
async fn a_burning_budget_pages_held_back_by_its_cause(stack: &LiveStack) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let status = client
            .get(format!("{}/", stack.counter.url()))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 503);
    }
    let am_alerts = format!("http://{}/api/v2/alerts", stack.alertmanager.addr());
    let (client, am_alerts) = (&client, &am_alerts);
    wait_until(
        "redis-counter's availability page in Alertmanager, to the pager, held back by RedisDown",
        Duration::from_secs(60),
        || async move {
            let alerts = get_json(client, am_alerts).await;
            let page = alerts.as_array().unwrap().iter().find(|a| {
                a["labels"]["alertname"] == "AvailabilityErrorBudgetBurn"
                    && a["labels"]["job"] == "redis-counter"
                    && a["labels"]["severity"] == "page"
            });
            page.filter(|p| {
                p["receivers"][0]["name"] == "page" && p["status"]["state"] == "suppressed"
            })
            .map(|_| ())
            .ok_or(format!("{alerts}"))
        },
    )
    .await;
}

/// The trace ids (32 hex digits) of the exemplars a `query_exemplars` answer holds, oldest first
/// within each series.
pub fn exemplar_trace_ids(found: &[Value]) -> Vec<String> {
    found
        .iter()
        .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_owned))
        .filter(|id| id.len() == 32)
        .collect()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
