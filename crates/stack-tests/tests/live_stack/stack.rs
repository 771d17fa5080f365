//! The stack of `just up`, natively on loopback: our services (tracing on, to a real OTLP
//! receiver standing in for Jaeger), redis-server, redis_exporter, node-exporter, Alertmanager, and
//! Prometheus with the real config and rules; loadgen driving traffic as in Compose.

use crate::config::{native_prometheus_config, rule_files_with_short_redis_down};
use crate::{loopback, repo};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use testkit::{
    OtlpGrpcReceiver, Prometheus, RedisServer, ServiceProcess, free_port, require_binary,
    workspace_binary,
};

pub struct LiveStack {
    /// Dropped first: traffic stops before what it hits.
    pub loadgen: ServiceProcess,
    pub redis: RedisServer,
    pub counter: ServiceProcess,
    /// web-flask-equivalent, robot-control, url-prober.
    _services: [ServiceProcess; 3],
    pub alertmanager: ServiceProcess,
    pub prometheus: Prometheus,
    /// The scrape jobs of the native prometheus.yml.
    pub scraped_jobs: BTreeSet<String>,
    /// The rule files Prometheus loaded, as (path, content).
    pub rule_files: Vec<(String, String)>,
    _exporters: [ServiceProcess; 2],
    _receiver: OtlpGrpcReceiver,
    _dirs: [tempfile::TempDir; 2],
}

impl LiveStack {
    pub async fn start() -> Self {
        let redis = RedisServer::start();
        let receiver = OtlpGrpcReceiver::start().await;
        let endpoint = receiver.endpoint();
        let traced = |env: &[(&'static str, String)]| -> Vec<(&'static str, String)> {
            let mut all = vec![
                ("OTEL_SDK_DISABLED", "false".to_owned()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ];
            all.extend(env.iter().cloned());
            all
        };
        let start = |binary: &'static str,
                     args: &'static [&'static str],
                     env: Vec<(&'static str, String)>| async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ServiceProcess::start_with_args(&workspace_binary(binary), args, &env).await
        };
        let web = start("web-flask-equivalent", &[], traced(&[])).await;
        let counter = start("redis-counter", &[], traced(&[("REDIS_URL", redis.url())])).await;
        let robot = start(
            "robot-control",
            &[],
            traced(&[("ROBOT_DRIVER", "sim".into())]),
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
        let prober_env = [("PROBER_CONFIG", prober_config.display().to_string())];
        let prober = start("url-prober", &[], traced(&prober_env)).await;
        let loadgen_env = [
            ("LOADGEN_WEB_URL", web.url()),
            ("LOADGEN_REDIS_URL", counter.url()),
            ("LOADGEN_ROBOT_URL", robot.url()),
            ("LOADGEN_PROBER_URL", prober.url()),
        ];
        let loadgen_args = &["--rate", "40", "--duration", "90s", "--quiet"];
        let loadgen = start("loadgen", loadgen_args, traced(&loadgen_env)).await;
        let redis_exporter = redis_exporter(&redis).await;
        let node_exporter = node_exporter().await;
        let alertmanager_dir = tempfile::tempdir().unwrap();
        let alertmanager = alertmanager(&alertmanager_dir).await;

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
        Self {
            loadgen,
            redis,
            counter,
            _services: [web, robot, prober],
            alertmanager,
            prometheus,
            scraped_jobs,
            rule_files,
            _exporters: [redis_exporter, node_exporter],
            _receiver: receiver,
            _dirs: [prober_dir, alertmanager_dir],
        }
    }
}

async fn redis_exporter(redis: &RedisServer) -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(require_binary(
        "prometheus-redis-exporter",
        "prometheus-redis-exporter",
    ));
    command.args([
        format!("--web.listen-address={addr}"),
        format!("--redis.addr={}", redis.url()),
    ]);
    ServiceProcess::start_daemon(command, addr, "/metrics").await
}

async fn node_exporter() -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(require_binary(
        "prometheus-node-exporter",
        "prometheus-node-exporter",
    ));
    command.arg(format!("--web.listen-address={addr}"));
    ServiceProcess::start_daemon(command, addr, "/metrics").await
}

async fn alertmanager(storage: &tempfile::TempDir) -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(require_binary(
        "prometheus-alertmanager",
        "prometheus-alertmanager",
    ));
    command.args([
        format!(
            "--config.file={}",
            repo("deploy/alertmanager/alertmanager.yml").display()
        ),
        format!("--storage.path={}", storage.path().display()),
        format!("--web.listen-address={addr}"),
        "--cluster.listen-address=".to_owned(),
    ]);
    ServiceProcess::start_daemon(command, addr, "/-/ready").await
}
