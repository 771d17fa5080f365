//! A real Prometheus server (the release Compose runs, built from deploy/tools; exemplar storage
//! on as in Compose) and `promtool` from the same build.

use crate::process::{free_port, stop_child};
use crate::stack_programs::stack_program;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts prometheus with `config` (YAML text) written to `prometheus.yml` in a temp dir,
    /// next to `files` (relative path, contents), e.g. rule files the config refers to.
    pub async fn start(config: &str, files: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), config, files).await
    }

    /// Like [`start`](Self::start) on a given port (for configs that scrape Prometheus itself).
    pub async fn start_on(port: u16, config: &str, files: &[(&str, &str)]) -> Self {
        let binary = stack_program("prometheus");
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            let path = dir.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create dir");
            }
            std::fs::write(path, contents).expect("write file");
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            // As docker-compose.yml runs it: exemplars link histogram buckets to trace ids.
            .arg("--enable-feature=exemplar-storage")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let prometheus = Self {
            child: Some(child),
            port,
            dir,
        };
        prometheus.wait_ready(Duration::from_secs(30)).await;
        prometheus
    }

    async fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// GET `/api/v1/{path}` with query parameters; returns the `data` field, panicking on an API error.
    pub async fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/{path}", self.url()), params)
            .expect("url");
        let body: Value = reqwest::get(url)
            .await
            .expect("prometheus api")
            .json()
            .await
            .expect("prometheus json");
        assert_eq!(
            body["status"], "success",
            "prometheus api {path} {params:?}: {body}"
        );
        body["data"].clone()
    }

    /// The stored exemplars of the series `selector` selects, from `since_unix` seconds to now:
    /// the `query_exemplars` result (one entry per series, `seriesLabels` and `exemplars`).
    pub async fn exemplars(&self, selector: &str, since_unix: f64) -> Vec<Value> {
        let now = unix_now();
        let data = self
            .api(
                "query_exemplars",
                &[
                    ("query", selector),
                    ("start", &format!("{}", since_unix - 60.0)),
                    ("end", &format!("{}", now + 60.0)),
                ],
            )
            .await;
        data.as_array().cloned().unwrap_or_default()
    }

    /// An instant query; returns the result vector.
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        let data = self.api("query", &[("query", expr)]).await;
        data["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }
}

/// Runs `promtool check metrics` on a scraped exposition; returns its complaints (empty = clean).
pub fn promtool_check_metrics(exposition: &str) -> Vec<String> {
    use std::io::Write;
    let binary = stack_program("promtool");
    let mut child = Command::new(binary)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(exposition.as_bytes())
        .expect("write to promtool");
    let output = child.wait_with_output().expect("promtool output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Now, in Unix seconds: the time Prometheus's HTTP API takes and returns.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs_f64()
}
