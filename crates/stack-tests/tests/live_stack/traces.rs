//! What Jaeger's UI shows, read through the HTTP API the UI calls (`/api/services`,
//! `/api/operations`, `/api/traces`, `/api/metrics/*`): the services and their operations, one
//! request as one trace, the trace ids our responses and Prometheus's exemplars hand out, and the
//! Monitor tab's RED metrics.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::{Jaeger, Prometheus, wait_until};

/// Our services as Jaeger lists them (service.name), each with a server operation it must show.
pub const TRACED_SERVICES: [(&str, &str); 5] = [
    ("web-flask-equivalent", "GET /"),
    ("redis-counter", "GET /"),
    ("robot-control", "GET /status"),
    ("url-prober", "GET /queryurl"),
    ("loadgen", "GET"),
];

/// Every service of ours is listed, with the operations a user picks in the search form: its
/// server operations (client ones for loadgen and for Redis commands).
pub async fn every_service_is_listed_with_its_operations(jaeger: &Jaeger) {
    for (service, operation) in TRACED_SERVICES {
        let kind = if service == "loadgen" {
            "client"
        } else {
            "server"
        };
        let operations = wait_until(
            &format!("{service}'s {kind} operations in Jaeger"),
            Duration::from_secs(60),
            || async {
                let (_, body) = jaeger
                    .api("operations", &[("service", service), ("spanKind", kind)])
                    .await;
                let names: Vec<String> = body["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o["name"].as_str().map(str::to_owned))
                    .collect();
                names
                    .iter()
                    .any(|n| n == operation)
                    .then(|| names.clone())
                    .ok_or(format!("{operation:?} not among {names:?}"))
            },
        )
        .await;
        println!("jaeger: {service} {kind} operations {operations:?}");
    }
    let (_, services) = jaeger.api("services", &[]).await;
    for (service, _) in TRACED_SERVICES {
        assert!(
            services["data"]
                .as_array()
                .is_some_and(|s| s.iter().any(|v| v == service)),
            "{service} not in Jaeger's service list: {services}"
        );
    }
}

/// One of loadgen's requests to redis-counter comes back as one trace: loadgen's client span is
/// the root, redis-counter's server span its child, the Redis INCR client span the server span's
/// child; each span carries its kind and attributes, and each process its resource
/// (`service.name`, `prometheus.job` = the scrape job, a `service.instance.id`).
pub async fn a_request_through_a_service_to_redis_is_one_trace(jaeger: &Jaeger) {
    let trace = wait_until(
        "a trace loadgen -> redis-counter -> Redis in Jaeger",
        Duration::from_secs(60),
        || async {
            let (_, body) = jaeger
                .api(
                    "traces",
                    &[
                        ("service", "redis-counter"),
                        ("operation", "INCR"),
                        ("lookback", "1h"),
                        ("limit", "50"),
                    ],
                )
                .await;
            body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| {
                    let services = services_of(t);
                    services.values().any(|s| s == "loadgen")
                        && services.values().any(|s| s == "redis-counter")
                })
                .cloned()
                .ok_or("no trace with loadgen's span and redis-counter's INCR yet".to_owned())
        },
    )
    .await;
    let trace = SpanTree::new(&trace);
    let root = trace.only("loadgen", "GET");
    assert!(
        root["references"].as_array().is_none_or(Vec::is_empty),
        "loadgen's span is the root"
    );
    assert_eq!(tag(root, "span.kind"), "client");
    assert_eq!(tag(root, "http.request.method"), "GET");
    assert_eq!(tag(root, "http.response.status_code").as_i64(), Some(200));
    let server = trace.only("redis-counter", "GET /");
    assert_eq!(
        trace.parent_of(server),
        Some(span_id(root)),
        "server span's parent"
    );
    assert_eq!(tag(server, "span.kind"), "server");
    assert_eq!(tag(server, "http.route"), "/");
    let incr = trace.only("redis-counter", "INCR");
    assert_eq!(
        trace.parent_of(incr),
        Some(span_id(server)),
        "INCR's parent"
    );
    assert_eq!(tag(incr, "span.kind"), "client");
    assert_eq!(tag(incr, "db.system.name"), "redis");
    for (service, resource) in trace.resources() {
        assert_eq!(
            resource.get("prometheus.job").map(String::as_str),
            Some(service.as_str()),
            "{service}'s resource: {resource:?}"
        );
        assert!(
            resource
                .get("service.instance.id")
                .is_some_and(|id| id.len() == 36),
            "{service}'s resource has no service.instance.id: {resource:?}"
        );
    }
}

/// The trace id in a response's `traceresponse` header, and one from an exemplar Prometheus
/// stored, each open their trace in Jaeger (what Grafana's exemplar link and a user pasting the
/// header's id do).
pub async fn handed_out_trace_ids_resolve(
    jaeger: &Jaeger,
    prometheus: &Prometheus,
    service_url: &str,
    since: f64,
) {
    let response = reqwest::get(format!("{service_url}/")).await.unwrap();
    let header = response
        .headers()
        .get("traceresponse")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no traceresponse from {service_url}/"))
        .to_owned();
    let trace_id = header.split('-').nth(1).unwrap().to_owned();
    let_trace_resolve(jaeger, &trace_id, "traceresponse").await;

    let exemplars = prometheus
        .exemplars("http_server_request_duration_seconds_bucket", since)
        .await;
    let exemplar_ids = crate::exemplar_trace_ids(&exemplars);
    assert!(
        !exemplar_ids.is_empty(),
        "Prometheus stored no exemplars since {since}"
    );
    // The newest exemplar's trace may still wait for the tail-sampling decision: the oldest is
    // long decided.
    let_trace_resolve(jaeger, &exemplar_ids[0], "an exemplar's trace_id").await;
}

async fn let_trace_resolve(jaeger: &Jaeger, trace_id: &str, source: &str) {
    let trace = wait_until(
        &format!("{source} {trace_id} in Jaeger"),
        Duration::from_secs(30),
        || async { jaeger.trace(trace_id).await.ok_or("not found") },
    )
    .await;
    assert_eq!(trace["traceID"], trace_id);
    assert!(!trace["spans"].as_array().unwrap().is_empty());
}

/// The Monitor tab: Jaeger's metrics API (request rate, latency quantiles, error rate per
/// service and operation) answers from the spanmetrics connector's series in Prometheus.
pub async fn the_monitor_tab_has_red_metrics(jaeger: &Jaeger, service: &str, which: &[&str]) {
    for metric in which {
        let title = format!("Monitor tab: {metric} of {service}");
        wait_until(&title, Duration::from_secs(90), || async {
            let end = ((testkit::unix_now() * 1000.0) as u64).to_string();
            let mut query = vec![
                ("service", service),
                ("groupByOperation", "true"),
                ("endTs", end.as_str()),
                ("lookback", "300000"),
                ("step", "5000"),
                ("ratePer", "60000"),
            ];
            if *metric == "latencies" {
                query.push(("quantile", "0.95"));
            }
            let (status, body) = jaeger.api(&format!("metrics/{metric}"), &query).await;
            let points: Vec<f64> = body["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|m| m["metricPoints"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| p["gaugeValue"]["doubleValue"].as_f64())
                .filter(|v| v.is_finite() && *v > 0.0)
                .collect();
            (status.is_success() && !points.is_empty())
                .then_some(())
                .ok_or(format!("{status}: {body}"))
        })
        .await;
    }
}

/// A server span of web-flask-equivalent exactly as Jaeger's API hands it to Grafana's trace view.
pub async fn web_span(jaeger: &Jaeger) -> Value {
    let (_, body) = jaeger
        .api(
            "traces",
            &[
                ("service", "web-flask-equivalent"),
                ("operation", "GET /"),
                ("lookback", "1h"),
                ("limit", "1"),
            ],
        )
        .await;
    let trace = &body["data"][0];
    let mut span = trace["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["operationName"] == "GET /"))
        .unwrap_or_else(|| panic!("no GET / span of web-flask-equivalent in Jaeger: {body}"))
        .clone();
    // The trace view hands the span its process inline (Grafana's transform does the same).
    span["process"] = trace["processes"][span["processID"].as_str().unwrap()].clone();
    span
}

/// A trace as Jaeger's v1 API returns it, with its spans found by service and name.
struct SpanTree<'a> {
    trace: &'a Value,
    services: BTreeMap<String, String>,
}

impl<'a> SpanTree<'a> {
    fn new(trace: &'a Value) -> Self {
        Self {
            trace,
            services: services_of(trace),
        }
    }

    fn spans(&self) -> impl Iterator<Item = &'a Value> {
        self.trace["spans"].as_array().into_iter().flatten()
    }

    /// The one span of `service` named `name` (panics when there is none or several).
    fn only(&self, service: &str, name: &str) -> &'a Value {
        let found: Vec<&Value> = self
            .spans()
            .filter(|s| {
                s["operationName"] == name
                    && self
                        .services
                        .get(s["processID"].as_str().unwrap_or_default())
                        == Some(&service.to_owned())
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {service} span named {name:?} in {}",
            self.trace
        );
        found[0]
    }

    fn parent_of(&self, span: &Value) -> Option<String> {
        span["references"]
            .as_array()?
            .iter()
            .find(|r| r["refType"] == "CHILD_OF")
            .and_then(|r| r["spanID"].as_str().map(str::to_owned))
    }

    /// Each service's resource attributes (Jaeger's process tags, and its service name).
    fn resources(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let processes = self.trace["processes"].as_object().unwrap();
        processes
            .values()
            .map(|p| {
                let service = p["serviceName"].as_str().unwrap().to_owned();
                let tags = p["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        let value = t["value"]
                            .as_str()
                            .map_or_else(|| t["value"].to_string(), str::to_owned);
                        (t["key"].as_str().unwrap().to_owned(), value)
                    })
                    .collect();
                (service, tags)
            })
            .collect()
    }
}

fn services_of(trace: &Value) -> BTreeMap<String, String> {
    trace["processes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(id, p)| {
            (
                id.clone(),
                p["serviceName"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn span_id(span: &Value) -> String {
    span["spanID"].as_str().unwrap().to_owned()
}

/// A span's tag value (Jaeger's v1 API lists tags as key, type, value).
fn tag<'v>(span: &'v Value, key: &str) -> &'v Value {
    span["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
        .unwrap_or_else(|| panic!("span {} has no tag {key}: {span}", span["operationName"]))
}
