//! The queries Grafana would run: every panel target of dashboards/*.json (template variables
//! expanded per value against Prometheus), and the Jaeger datasource's trace -> metrics queries as
//! Grafana interpolates them; and the check that each returns data.

use crate::repo;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::Prometheus;

/// One Prometheus query of one panel, with template variables already substituted.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub title: String,
    pub expr: String,
    /// The panel shows this query's exemplars (Grafana's `exemplar: true`).
    pub exemplar: bool,
}

/// Every Prometheus expression of every panel in dashboards/*.json. Template variables become
/// one query per value (so each service's panel is checked), resolved against Prometheus later.
pub fn dashboard_queries() -> Vec<PanelQuery> {
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
                        exemplar: target["exemplar"] == true,
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
/// by deploy/tests/check_static.py (Grafana's provisioning expansion, then its $__tags for
/// `web_span`, a span of web-flask-equivalent as the real Jaeger's v1 API handed it out, and for a
/// span of a service that is not ours), plus each query with web-flask-equivalent's job written in;
/// one implementation for check.sh and here.
pub fn trace_to_metrics_queries(web_span: &Value) -> Vec<PanelQuery> {
    let span_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(span_file.path(), web_span.to_string()).unwrap();
    let output = Command::new("python3")
        .arg(repo("deploy/tests/check_static.py"))
        .arg("dashboard-promql")
        .arg(span_file.path())
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
                    exemplar: false,
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
pub async fn expand(prometheus: &Prometheus, query: &PanelQuery) -> Vec<(String, String)> {
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

/// An instant query's result vector at `time` (Unix seconds).
pub async fn query_at(prometheus: &Prometheus, expr: &str, time: &str) -> Value {
    prometheus
        .api("query", &[("query", expr), ("time", time)])
        .await["result"]
        .clone()
}

/// Polls until every query returns at least one sample; fails naming the empty or broken ones.
pub async fn assert_all_have_data(
    prometheus: &Prometheus,
    queries: &[PanelQuery],
    timeout: Duration,
) {
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
                    // Prometheus says why a query that parses has no result (mixed float and
                    // histogram samples, say) in its warnings and infos.
                    let notes: Vec<&Value> = ["warnings", "infos"]
                        .iter()
                        .filter_map(|k| body.get(*k))
                        .collect();
                    failing.push(format!("{title}: {expr} {notes:?}"));
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
