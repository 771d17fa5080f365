//! The live stack test: what `just up` runs, natively on loopback.
//!
//! Starts every service of ours, a real redis-server, redis_exporter, node-exporter, Alertmanager
//! and a real Prometheus using deploy/prometheus/prometheus.yml (targets rewritten to loopback) and
//! the real rule files; drives traffic with loadgen; then runs every PromQL expression of every
//! Grafana dashboard panel through Prometheus's HTTP API and fails on any that errors or returns no
//! data. Only panels fed by what cannot run here are exempt, and they are listed with the reason:
//! cAdvisor (Docker only) and Jaeger's spanmetrics connector (no Jaeger binary here; the "RED from
//! spans" dashboard). Prometheus runs with exemplar storage, as in Compose.
//! Every rule must evaluate without error. Finally it stops Redis and expects RedisDown to fire and
//! reach Alertmanager, and redis-counter's 503s to fire its SLO availability page, routed to the
//! pager and held back by RedisDown.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::{
    Prometheus, RedisServer, ServiceProcess, free_port, require_binary, workspace_binary,
};

/// Compose services that have no binary here; the scrape jobs that target them are dropped.
const NOT_RUNNABLE_HERE: [&str; 3] = ["cadvisor", "jaeger", "grafana"];
/// A panel whose queries use these metric prefixes needs something that cannot run here: the
/// prefix, and why.
const NOT_RUNNABLE_METRICS: [(&str, &str); 2] = [
    ("container_", "cAdvisor: Docker only"),
    (
        "traces_span_metrics_",
        "Jaeger's spanmetrics connector: no Jaeger binary here (deploy/check.sh checks the chain)",
    ),
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
    // --- the real parts --------------------------------------------------------------------
    let mut redis = RedisServer::start();
    let web = ServiceProcess::start(&workspace_binary("web-flask-equivalent"), &[]).await;
    let counter = ServiceProcess::start(
        &workspace_binary("redis-counter"),
        &[("REDIS_URL", &redis.url())],
    )
    .await;
    let robot = ServiceProcess::start(
        &workspace_binary("robot-control"),
        &[("ROBOT_DRIVER", "sim")],
    )
    .await;
    let prober_dir = tempfile::tempdir().unwrap();
    let prober_config = prober_dir.path().join("prober.yml");
    std::fs::write(
        &prober_config,
        format!(
            "urls:\n  - {}/\n  - {}/\n  - {}/status\nrequest_timeout_in_seconds: 1\nquery_interval_in_seconds: 1\nlog_level: info\n",
            web.url(),
            counter.url(),
            robot.url()
        ),
    )
    .unwrap();
    let prober = ServiceProcess::start(
        &workspace_binary("url-prober"),
        &[("PROBER_CONFIG", prober_config.to_str().unwrap())],
    )
    .await;
    let loadgen = ServiceProcess::start_with_args(
        &workspace_binary("loadgen"),
        &["--rate", "40", "--duration", "90s", "--quiet"],
        &[
            ("LOADGEN_WEB_URL", &web.url()),
            ("LOADGEN_REDIS_URL", &counter.url()),
            ("LOADGEN_ROBOT_URL", &robot.url()),
            ("LOADGEN_PROBER_URL", &prober.url()),
        ],
    )
    .await;

    let redis_exporter_addr = loopback(free_port());
    let mut command = Command::new(require_binary(
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    ));
    command.args([
        format!("--web.listen-address={redis_exporter_addr}"),
        format!("--redis.addr={}", redis.url()),
    ]);
    let redis_exporter =
        ServiceProcess::start_daemon(command, redis_exporter_addr, "/metrics").await;

    let node_exporter_addr = loopback(free_port());
    let mut command = Command::new(require_binary(
        "prometheus-node-exporter",
        "prometheus-node-exporter",
    ));
    command.arg(format!("--web.listen-address={node_exporter_addr}"));
    let node_exporter = ServiceProcess::start_daemon(command, node_exporter_addr, "/metrics").await;

    let alertmanager_addr = loopback(free_port());
    let alertmanager_dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(require_binary(
        "prometheus-alertmanager",
        "prometheus-alertmanager",
    ));
    command.args([
        format!(
            "--config.file={}",
            repo("deploy/alertmanager/alertmanager.yml").display()
        ),
        format!("--storage.path={}", alertmanager_dir.path().display()),
        format!("--web.listen-address={alertmanager_addr}"),
        "--cluster.listen-address=".to_owned(),
    ]);
    let alertmanager = ServiceProcess::start_daemon(command, alertmanager_addr, "/-/ready").await;

    // --- Prometheus with the real config, targets on loopback -------------------------------
    let prometheus_port = free_port();
    let hosts: BTreeMap<&str, SocketAddr> = [
        ("web-flask-equivalent", web.addr()),
        ("redis-counter", counter.addr()),
        ("robot-control", robot.addr()),
        ("url-prober", prober.addr()),
        ("loadgen", loadgen.addr()),
        ("redis-exporter", redis_exporter.addr()),
        ("node-exporter", node_exporter.addr()),
        ("alertmanager", alertmanager.addr()),
        ("prometheus", loopback(prometheus_port)),
    ]
    .into_iter()
    .collect();
    let (config, scraped_jobs) = native_prometheus_config(&hosts);
    let rule_files = rule_files_with_short_redis_down();
    let files: Vec<(&str, &str)> = rule_files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    let prometheus = Prometheus::start_on(prometheus_port, &config, &files).await;

    // Every of our services is scraped, and every target comes up.
    for service in [
        "web-flask-equivalent",
        "redis-counter",
        "robot-control",
        "url-prober",
        "loadgen",
    ] {
        assert!(
            scraped_jobs.contains(service),
            "prometheus.yml does not scrape {service}"
        );
    }
    let (p, jobs) = (&prometheus, &scraped_jobs);
    wait_for(
        "every scrape target up",
        Duration::from_secs(60),
        move || async move {
            let targets = p.api("targets", &[]).await;
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

    // The rules loaded: as many as the files define.
    let expected_rules: usize = rule_files
        .iter()
        .map(|(_, content)| count_rules(content))
        .sum();
    let groups = prometheus.api("rules", &[]).await;
    let loaded: usize = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(expected_rules > 0, "no rules in deploy/prometheus/rules");
    assert_eq!(
        loaded, expected_rules,
        "every rule in deploy/prometheus/rules is loaded"
    );

    // --- every dashboard panel returns data -------------------------------------------------
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
    assert_all_have_data(&prometheus, &panels, Duration::from_secs(90)).await;
    // loadgen drives the robots with no token, with the UI's key: none of its commands refused.
    let summary = get_json(
        &reqwest::Client::new(),
        &format!("{}/summary", loadgen.url()),
    )
    .await;
    let robot_answers = &summary["by_target"]["robot-control"];
    assert!(
        robot_answers["200"].as_u64().unwrap_or(0) > 0
            && robot_answers.get("401").is_none()
            && robot_answers.get("403").is_none(),
        "loadgen's robot commands: {robot_answers}"
    );
    assert_rules_healthy(&prometheus).await;

    // --- Grafana's trace -> metrics queries, as Grafana loads and fills them for a span ---------
    let trace_to_metrics = trace_to_metrics_queries();
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
    // A span of web-flask-equivalent (which loadgen drives): its "Related metrics" return data...
    let spans: Vec<PanelQuery> = span_of_web.values().cloned().collect();
    assert_all_have_data(&prometheus, &spans, Duration::from_secs(30)).await;
    // ...and they are that service's own: the same result as the query with its job written in, at one
    // instant 3 s back (every 1 s scrape up to it is stored), once that instant has data. With every
    // service in them the request rate would differ: the other services serve loadgen's requests too.
    for (name, span) in &span_of_web {
        let wanted = &job_selected[name];
        let deadline = Instant::now() + Duration::from_secs(30);
        let (got, want) = loop {
            let instant = (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                - Duration::from_secs(3))
            .as_secs_f64()
            .to_string();
            let want = query_at(&prometheus, &wanted.expr, &instant).await;
            if want.as_array().is_some_and(|r| !r.is_empty()) {
                break (query_at(&prometheus, &span.expr, &instant).await, want);
            }
            assert!(
                Instant::now() < deadline,
                "{name}: no data for {}",
                wanted.expr
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(
            got, want,
            "{name}: Grafana's query for a span of web-flask-equivalent\n  {}\ndoes not select that \
             service's metrics, as\n  {}\ndoes",
            span.expr, wanted.expr
        );
    }
    // A span of a service that is not ours (no prometheus.job: Grafana's $__tags is ""): still valid PromQL.
    for query in foreign_span.values() {
        let data = prometheus.api("query", &[("query", &query.expr)]).await;
        assert!(data["result"].is_array(), "{}: {}", query.title, query.expr);
    }

    // --- Redis goes away: RedisDown fires and reaches Alertmanager --------------------------
    redis.kill();
    wait_for(
        "RedisDown firing",
        Duration::from_secs(60),
        move || async move {
            let alerts = p.api("alerts", &[]).await;
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
        },
    )
    .await;
    let client = reqwest::Client::new();
    let am_alerts = format!("http://{}/api/v2/alerts", alertmanager.addr());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let alerts = get_json(&client, &am_alerts).await;
        if alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == "RedisDown")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "RedisDown never reached Alertmanager: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_all_have_data(&prometheus, &alert_panels, Duration::from_secs(30)).await;

    // redis-counter answers 503 JSON while Redis is down (the dashboards' error panels fill).
    let response = client
        .get(format!("{}/", counter.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    // --- the 503s burn redis-counter's availability budget: the SLO page fires, reaches the
    // pager receiver and is held back by RedisDown (its cause) -------------------------------
    for _ in 0..200 {
        let status = client
            .get(format!("{}/", counter.url()))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 503);
    }
    let (client, am_alerts) = (&client, &am_alerts);
    wait_for(
        "redis-counter's availability page in Alertmanager, to the pager, held back by RedisDown",
        Duration::from_secs(60),
        move || async move {
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
    drop((loadgen, prober, robot, counter, web));
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// Every loaded rule has evaluated without error: promtool's checks cannot see runtime failures
/// such as a join that matches many-to-many on real series.
async fn assert_rules_healthy(prometheus: &Prometheus) {
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

/// One Prometheus query of one panel, with template variables already substituted.
#[derive(Debug, Clone)]
struct PanelQuery {
    dashboard: String,
    title: String,
    expr: String,
}

/// Every Prometheus expression of every panel in dashboards/*.json. Template variables become
/// one query per value (so each service's panel is checked), resolved against Prometheus later.
fn dashboard_queries() -> Vec<PanelQuery> {
    let mut queries = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("dashboards"))
        .expect("dashboards/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let mut panels = Vec::new();
        collect_panels(&dashboard["panels"], &mut panels);
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            for target in panel["targets"].as_array().into_iter().flatten() {
                let uid = target["datasource"]["uid"]
                    .as_str()
                    .or(panel["datasource"]["uid"].as_str());
                if uid.is_some_and(|u| u != "prometheus") || target["hide"] == true {
                    continue;
                }
                if let Some(expr) = target["expr"].as_str().filter(|e| !e.trim().is_empty()) {
                    queries.push(PanelQuery {
                        dashboard: name.clone(),
                        title: format!("{name} / {title}"),
                        expr: with_builtin_intervals(expr),
                    });
                }
            }
        }
        // Expand template variables into concrete values later (they need Prometheus).
        let variables = dashboard["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for query in queries.iter_mut().filter(|q| q.dashboard == name) {
            for variable in &variables {
                let var = variable["name"].as_str().unwrap_or_default();
                if !var.is_empty() && mentions(&query.expr, var) {
                    query.expr = format!(
                        "{}\u{0}{}",
                        query.expr,
                        serde_json::to_string(variable).unwrap()
                    );
                }
            }
        }
    }
    queries
}

/// The Jaeger datasource's trace-to-metrics queries exactly as Grafana would run them: interpolated
/// by deploy/tests/check_static.py (Grafana's provisioning expansion, then its $__tags for a span of
/// web-flask-equivalent as Jaeger's v1 API hands it to Grafana, and for a span of a service that is
/// not ours), plus each query with web-flask-equivalent's job written in; one implementation for
/// check.sh and here.
fn trace_to_metrics_queries() -> Vec<PanelQuery> {
    let output = Command::new("python3")
        .arg(repo("deploy/tests/check_static.py"))
        .arg("dashboard-promql")
        .output()
        .expect("python3 (apt-get install -y python3 python3-yaml)");
    assert!(
        output.status.success(),
        "check_static.py dashboard-promql failed (needs PyYAML: apt-get install -y python3-yaml):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rules: Yaml = serde_yaml::from_slice(&output.stdout).unwrap();
    rules["groups"][0]["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|rule| {
            let record = rule["record"].as_str()?;
            record
                .starts_with("datasource:traces_to_metrics:")
                .then(|| PanelQuery {
                    dashboard: "datasources.yml".to_owned(),
                    title: record.to_owned(),
                    expr: rule["expr"].as_str().unwrap().to_owned(),
                })
        })
        .collect()
}

fn collect_panels(panels: &Value, out: &mut Vec<Value>) {
    for panel in panels.as_array().into_iter().flatten() {
        if panel["type"] == "row" {
            collect_panels(&panel["panels"], out);
        } else {
            out.push(panel.clone());
        }
    }
}

fn mentions(expr: &str, var: &str) -> bool {
    expr.contains(&format!("${var}"))
        || expr.contains(&format!("${{{var}}}"))
        || expr.contains(&format!("[[{var}]]"))
}

/// Grafana's built-in interval variables, at values that suit a 1 s scrape and a short test.
fn with_builtin_intervals(expr: &str) -> String {
    expr.replace("$__rate_interval", "15s")
        .replace("${__rate_interval}", "15s")
        .replace("$__interval_ms", "5000")
        .replace("$__interval", "5s")
        .replace("$__range_s", "60")
        .replace("$__range", "1m")
}

/// Resolves the variables attached to `query` (see `dashboard_queries`) into one expression per value.
async fn expand(prometheus: &Prometheus, query: &PanelQuery) -> Vec<(String, String)> {
    let mut parts = query.expr.split('\u{0}');
    let base = parts.next().unwrap().to_owned();
    let mut expanded = vec![(query.title.clone(), base)];
    for variable in parts {
        let variable: Value = serde_json::from_str(variable).unwrap();
        let name = variable["name"].as_str().unwrap();
        let values = variable_values(prometheus, &variable).await;
        assert!(
            !values.is_empty(),
            "{}: variable ${name} has no values",
            query.title
        );
        let all = variable["multi"] == true || variable["includeAll"] == true;
        let choices: Vec<String> = if all {
            vec![format!("({})", values.join("|"))]
        } else {
            values
        };
        expanded = expanded
            .into_iter()
            .flat_map(|(title, expr)| {
                choices.iter().map(move |value| {
                    let replaced = expr
                        .replace(&format!("${{{name}}}"), value)
                        .replace(&format!("[[{name}]]"), value)
                        .replace(&format!("${name}"), value);
                    (format!("{title} [{name}={value}]"), replaced)
                })
            })
            .collect();
    }
    expanded
}

async fn variable_values(prometheus: &Prometheus, variable: &Value) -> Vec<String> {
    let query = match &variable["query"] {
        Value::String(q) => q.clone(),
        other => other["query"].as_str().unwrap_or_default().to_owned(),
    };
    match variable["type"].as_str() {
        Some("custom") => query.split(',').map(|v| v.trim().to_owned()).collect(),
        Some("constant" | "textbox") => vec![query],
        _ => {
            // label_values(metric, label) or label_values(label)
            let inner = query
                .trim()
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap_or_else(|| panic!("unsupported variable query {query:?}"));
            let (matcher, label) = match inner.rsplit_once(',') {
                Some((metric, label)) => (Some(metric.trim()), label.trim()),
                None => (None, inner.trim()),
            };
            let params: Vec<(&str, &str)> =
                matcher.map(|m| vec![("match[]", m)]).unwrap_or_default();
            let values = prometheus
                .api(&format!("label/{label}/values"), &params)
                .await;
            values
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        }
    }
}

/// Polls until every query returns at least one sample; fails naming the empty or broken ones.
/// An instant query's result vector at `time` (Unix seconds).
async fn query_at(prometheus: &Prometheus, expr: &str, time: &str) -> Value {
    prometheus
        .api("query", &[("query", expr), ("time", time)])
        .await["result"]
        .clone()
}

async fn assert_all_have_data(prometheus: &Prometheus, queries: &[PanelQuery], timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let mut failing = Vec::new();
        let mut checked = 0;
        for query in queries {
            for (title, expr) in expand(prometheus, query).await {
                checked += 1;
                assert!(
                    !expr.contains('$'),
                    "{title}: unresolved variable in {expr}"
                );
                let url = reqwest::Url::parse_with_params(
                    &format!("{}/api/v1/query", prometheus.url()),
                    [("query", expr.as_str())],
                )
                .unwrap();
                let body: Value = reqwest::Client::new()
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if body["status"] != "success" {
                    panic!("{title}: query error {} for {expr}", body["error"]);
                }
                if body["data"]["result"].as_array().is_none_or(Vec::is_empty) {
                    failing.push(format!("{title}: {expr}"));
                }
            }
        }
        if failing.is_empty() {
            println!("{checked} panel queries returned data");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {checked} panel queries returned no data:\n{}",
            failing.len(),
            failing.join("\n")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(()) => return,
            Err(state) => assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {state}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// deploy/prometheus/prometheus.yml with a 1 s scrape, every Compose host replaced by the loopback
/// address of the process playing it, and the jobs of what cannot run here removed.
/// Returns the YAML and the job names kept.
fn native_prometheus_config(hosts: &BTreeMap<&str, SocketAddr>) -> (String, BTreeSet<String>) {
    let text = std::fs::read_to_string(repo("deploy/prometheus/prometheus.yml")).unwrap();
    let mut config: Yaml = serde_yaml::from_str(&text).unwrap();
    config["global"]["scrape_interval"] = Yaml::from("1s");
    config["global"]["scrape_timeout"] = Yaml::from("1s");
    config["global"]["evaluation_interval"] = Yaml::from("1s");
    let rewrite = |targets: &mut Yaml, job: &str| {
        for target in targets.as_sequence_mut().into_iter().flatten() {
            let host = target
                .as_str()
                .unwrap()
                .rsplit_once(':')
                .unwrap()
                .0
                .to_owned();
            let addr = hosts.get(host.as_str()).unwrap_or_else(|| {
                panic!(
                    "prometheus.yml job {job} scrapes {host}, which the stack test does not start"
                )
            });
            *target = Yaml::from(addr.to_string());
        }
    };
    let mut kept = BTreeSet::new();
    let scrape_configs = config["scrape_configs"].as_sequence_mut().unwrap();
    // By target, not job name: jaeger-spanmetrics scrapes jaeger too.
    let runnable = |job: &Yaml| {
        job["static_configs"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|c| c["targets"].as_sequence().into_iter().flatten())
            .filter_map(Yaml::as_str)
            .all(|t| !NOT_RUNNABLE_HERE.contains(&t.rsplit_once(':').map_or(t, |(h, _)| h)))
    };
    scrape_configs.retain(runnable);
    for job in scrape_configs.iter_mut() {
        let name = job["job_name"].as_str().unwrap().to_owned();
        job.as_mapping_mut().unwrap().remove("scrape_interval");
        job.as_mapping_mut().unwrap().remove("scrape_timeout");
        for static_config in job["static_configs"].as_sequence_mut().unwrap() {
            rewrite(&mut static_config["targets"], &name);
        }
        kept.insert(name);
    }
    for manager in config["alerting"]["alertmanagers"]
        .as_sequence_mut()
        .unwrap()
    {
        for static_config in manager["static_configs"].as_sequence_mut().unwrap() {
            rewrite(&mut static_config["targets"], "alerting");
        }
    }
    (serde_yaml::to_string(&config).unwrap(), kept)
}

/// The real rule files, as `rules/<name>` (the path prometheus.yml loads), with RedisDown's
/// `for` shortened in the copy so the test sees it fire within seconds, and group intervals
/// (the SLO groups' 30s) removed so every group runs at the test's 1 s evaluation interval.
fn rule_files_with_short_redis_down() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo("deploy/prometheus/rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let mut rules: Yaml =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for group in rules["groups"].as_sequence_mut().unwrap() {
            group.as_mapping_mut().unwrap().remove("interval");
            for rule in group["rules"].as_sequence_mut().unwrap() {
                if rule["alert"] == "RedisDown" {
                    rule["for"] = Yaml::from("1s");
                }
            }
        }
        let name = format!("rules/{}", path.file_name().unwrap().to_string_lossy());
        files.push((name, serde_yaml::to_string(&rules).unwrap()));
    }
    files
}

fn count_rules(yaml: &str) -> usize {
    let rules: Yaml = serde_yaml::from_str(yaml).unwrap();
    rules["groups"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| g["rules"].as_sequence().map_or(0, Vec::len))
        .sum()
}
