//! A real Jaeger v2 (the release deploy/tools/stack.tsv pins, built by scripts/stack-programs.sh)
//! running deploy/jaeger/config.yml with only its addresses moved to free loopback ports, and a
//! client for the HTTP API its UI calls (`/api/services`, `/api/traces`, `/api/metrics/*`).
//!
//! The one rewrite ([`loopback_jaeger_config`]): every `HOST:PORT` endpoint in the file becomes
//! `127.0.0.1:<free port>`, the internal metrics reader's `host`/`port` likewise, and the
//! Prometheus URL Compose names (`http://prometheus:9090`) becomes the test's Prometheus. Nothing
//! else changes; an address the rewrite does not know is a panic, so a new listener in the file
//! cannot silently bind a fixed port in a test.

use crate::metric_sum;
use crate::process::{ServiceProcess, free_port, workspace_file};
use crate::stack_programs::stack_program;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;
use std::process::Command;

/// The ports deploy/jaeger/config.yml listens on (as in the Jaeger image), each given a free
/// loopback port in tests.
pub const JAEGER_PORTS: [(u16, &str); 7] = [
    (4317, "OTLP gRPC receiver"),
    (4318, "OTLP HTTP receiver"),
    (16686, "query: HTTP API and UI"),
    (16685, "query: gRPC API"),
    (8888, "Jaeger's own metrics"),
    (8889, "spanmetrics connector's Prometheus exporter"),
    (13133, "healthcheckv2"),
];

/// deploy/jaeger/config.yml with every listening address moved to the port `ports` maps it to
/// (Compose's port -> loopback port) on 127.0.0.1, and `http://prometheus:9090` replaced by
/// `prometheus_url`. Panics on an address it has no mapping for.
pub fn loopback_jaeger_config(
    text: &str,
    ports: &BTreeMap<u16, u16>,
    prometheus_url: &str,
) -> String {
    let mut config: Yaml = serde_yaml::from_str(text).expect("deploy/jaeger/config.yml is YAML");
    rewrite(&mut config, ports, prometheus_url, "");
    serde_yaml::to_string(&config).expect("YAML")
}

fn rewrite(node: &mut Yaml, ports: &BTreeMap<u16, u16>, prometheus_url: &str, path: &str) {
    let mapped = |port: u16, path: &str| -> u16 {
        *ports.get(&port).unwrap_or_else(|| {
            panic!("deploy/jaeger/config.yml listens on port {port} at {path}, which the test rewrite does not map (testkit::JAEGER_PORTS)")
        })
    };
    match node {
        Yaml::Mapping(map) => {
            // The collector's internal metrics reader: `host: 0.0.0.0` and `port: 8888` siblings.
            if map.get("host").is_some() && map.get("port").is_some_and(Yaml::is_number) {
                let port = map["port"].as_u64().expect("port") as u16;
                map.insert("host".into(), "127.0.0.1".into());
                map.insert("port".into(), u64::from(mapped(port, path)).into());
            }
            for (key, value) in map.iter_mut() {
                let key = key.as_str().unwrap_or_default();
                rewrite(value, ports, prometheus_url, &format!("{path}.{key}"));
            }
        }
        Yaml::Sequence(items) => {
            for item in items {
                rewrite(item, ports, prometheus_url, path);
            }
        }
        Yaml::String(text) => {
            if text == "http://prometheus:9090" {
                *text = prometheus_url.to_owned();
            } else if let Ok(authority) = text.parse::<axum::http::uri::Authority>()
                && ["0.0.0.0", "127.0.0.1", "localhost"].contains(&authority.host())
                && let Some(port) = authority.port_u16()
            {
                *text = format!("127.0.0.1:{}", mapped(port, path));
            } else {
                assert!(
                    !text.contains("://"),
                    "deploy/jaeger/config.yml names {text} at {path}, which the test rewrite does not map"
                );
            }
        }
        _ => {}
    }
}

/// deploy/jaeger/config.yml's text, as Compose mounts it.
pub fn deployed_jaeger_config() -> String {
    let path = workspace_file("deploy/jaeger/config.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A Jaeger v2 process on free loopback ports.
pub struct Jaeger {
    process: ServiceProcess,
    /// Compose's port -> this process's loopback port.
    ports: BTreeMap<u16, u16>,
    env: Vec<(String, String)>,
    /// Holds the rewritten config.yml.
    dir: tempfile::TempDir,
    client: reqwest::Client,
}

impl Jaeger {
    /// Starts the pinned Jaeger with `config_text` (deploy/jaeger/config.yml's text, or a variant
    /// of it) rewritten by [`loopback_jaeger_config`], reading span metrics back from
    /// `prometheus_url`, with `env` (the variables the config reads), and waits until it is healthy.
    pub async fn start(config_text: &str, prometheus_url: &str, env: &[(&str, &str)]) -> Self {
        let ports: BTreeMap<u16, u16> = JAEGER_PORTS
            .iter()
            .map(|(port, _)| (*port, free_port()))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("config.yml"),
            loopback_jaeger_config(config_text, &ports, prometheus_url),
        )
        .expect("write config");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let process = Self::spawn(&dir, &ports, &env).await;
        Self {
            process,
            ports,
            env,
            dir,
            client: reqwest::Client::new(),
        }
    }

    /// Starts deploy/jaeger/config.yml itself (see [`start`](Self::start)).
    pub async fn start_deployed(prometheus_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start(&deployed_jaeger_config(), prometheus_url, env).await
    }

    /// The process, ready once healthcheckv2 reports it healthy: every extension (the query API
    /// among them) and pipeline has started.
    async fn spawn(
        dir: &tempfile::TempDir,
        ports: &BTreeMap<u16, u16>,
        env: &[(String, String)],
    ) -> ServiceProcess {
        let mut command = Command::new(stack_program("jaeger"));
        command
            .arg("--config")
            .arg(dir.path().join("config.yml"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let health = ([127, 0, 0, 1], ports[&13133]).into();
        ServiceProcess::start_daemon(command, health, "/status").await
    }

    /// This process's loopback port for the port Compose exposes (4317, 16686, 8888, ...).
    pub fn port(&self, compose_port: u16) -> u16 {
        self.ports[&compose_port]
    }

    /// The OTLP/gRPC endpoint our services export to (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn otlp_grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port(4317))
    }

    /// The query service: the HTTP API the UI calls.
    pub fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port(16686))
    }

    /// GET `/api/<path>` with `query`; the JSON body (panics on a non-JSON answer).
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/api/{path}", self.query_url()), query)
                .expect("a valid URL");
        let response = self
            .client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("jaeger /api/{path}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("jaeger /api/{path} ({status}): not JSON ({e}): {body}"));
        (status, json)
    }

    /// The trace with this id as the UI gets it, or `None` when Jaeger has no such trace.
    pub async fn trace(&self, trace_id: &str) -> Option<Value> {
        let (status, body) = self.api(&format!("traces/{trace_id}"), &[]).await;
        (status.is_success())
            .then(|| body["data"][0].clone())
            .filter(|t| !t.is_null())
    }

    /// The sum of every series of `name` among Jaeger's own Prometheus metrics (port 8888).
    pub async fn own_metric(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.port(8888));
        let text = self
            .client
            .get(url)
            .send()
            .await
            .expect("jaeger /metrics")
            .text()
            .await
            .expect("text");
        metric_sum(&text, name)
    }

    /// Kills the process (SIGKILL: what it held in memory is gone) and starts it again on the
    /// same ports with the same config.
    pub async fn restart(&mut self) {
        self.process.kill();
        self.process = Self::spawn(&self.dir, &self.ports, &self.env).await;
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn logs(&self) -> String {
        self.process.logs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports() -> BTreeMap<u16, u16> {
        JAEGER_PORTS
            .iter()
            .enumerate()
            .map(|(i, (port, _))| (*port, 40000 + i as u16))
            .collect()
    }

    /// The rewrite moves every address of the deployed file to loopback and changes nothing else.
    #[test]
    fn the_rewrite_changes_only_addresses() {
        let original: Yaml = serde_yaml::from_str(&deployed_jaeger_config()).unwrap();
        let rewritten =
            loopback_jaeger_config(&deployed_jaeger_config(), &ports(), "http://127.0.0.1:9");
        assert!(!rewritten.contains("0.0.0.0"), "{rewritten}");
        assert!(!rewritten.contains("prometheus:9090"), "{rewritten}");
        let rewritten: Yaml = serde_yaml::from_str(&rewritten).unwrap();
        let mut differences = Vec::new();
        diff(&original, &rewritten, "", &mut differences);
        assert!(!differences.is_empty());
        for (path, before, after) in &differences {
            let address_like = |v: &Yaml| match v {
                Yaml::String(s) => s.contains(':') || s == "0.0.0.0" || s == "127.0.0.1",
                Yaml::Number(_) => path.ends_with(".port"),
                _ => false,
            };
            assert!(
                address_like(before) && address_like(after),
                "the rewrite changed {path}: {before:?} -> {after:?}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "does not map")]
    fn an_unknown_listener_fails_loudly() {
        let text = "receivers:\n  zipkin:\n    endpoint: 0.0.0.0:9411\n";
        loopback_jaeger_config(text, &ports(), "http://127.0.0.1:9");
    }

    fn diff(a: &Yaml, b: &Yaml, path: &str, out: &mut Vec<(String, Yaml, Yaml)>) {
        match (a, b) {
            (Yaml::Mapping(x), Yaml::Mapping(y)) => {
                assert_eq!(
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>(),
                    "keys differ at {path}"
                );
                for (k, v) in x {
                    diff(
                        v,
                        &y[k],
                        &format!("{path}.{}", k.as_str().unwrap_or("?")),
                        out,
                    );
                }
            }
            (Yaml::Sequence(x), Yaml::Sequence(y)) => {
                assert_eq!(x.len(), y.len(), "lengths differ at {path}");
                for (i, (v, w)) in x.iter().zip(y).enumerate() {
                    diff(v, w, &format!("{path}[{i}]"), out);
                }
            }
            _ if a != b => out.push((path.to_owned(), a.clone(), b.clone())),
            _ => {}
        }
    }
}
