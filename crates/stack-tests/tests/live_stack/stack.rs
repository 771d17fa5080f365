//! The stack of `just up`, natively on loopback: our services (tracing on, exporting to the real
//! Jaeger running deploy/jaeger/config.yml), redis-server, redis_exporter, node-exporter,
//! Alertmanager, and Prometheus with the real config and rules; loadgen driving traffic as in
//! Compose. Jaeger, Prometheus, Alertmanager and the exporters are the releases Compose pins
//! (deploy/tools/stack.tsv), built by scripts/stack-programs.sh.

use crate::config::{native_prometheus_config, rule_files_with_short_redis_down};
use crate::{loopback, repo};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::Command;
use testkit::{
    Jaeger, Prometheus, RedisServer, ServiceProcess, free_port, stack_program, workspace_binary,
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
    pub jaeger: Jaeger,
    _dirs: [tempfile::TempDir; 2],
}

impl LiveStack {
    pub async fn start() -> Self {
        let redis = RedisServer::start();
        // Jaeger reads span metrics back from this Prometheus (the Monitor tab), which scrapes
        // Jaeger: the port is chosen first, Prometheus starts last.
        let prometheus_port = free_port();
        let jaeger =
            Jaeger::start_deployed(&format!("http://{}", loopback(prometheus_port)), &[]).await;
        let endpoint = jaeger.otlp_grpc_endpoint();
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

        // Compose's scrape targets (host:port), and who plays each here.
        let hosts: BTreeMap<&str, SocketAddr> = [
            ("web-flask-equivalent:5000", web.addr()),
            ("redis-counter:5001", counter.addr()),
            ("robot-control:6543", robot.addr()),
            ("url-prober:8080", prober.addr()),
            ("loadgen:9000", loadgen.addr()),
            ("redis-exporter:9121", redis_exporter.addr()),
            ("node-exporter:9100", node_exporter.addr()),
            ("alertmanager:9093", alertmanager.addr()),
            ("prometheus:9090", loopback(prometheus_port)),
            ("jaeger:8888", loopback(jaeger.port(8888))),
            ("jaeger:8889", loopback(jaeger.port(8889))),
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
            jaeger,
            _dirs: [prober_dir, alertmanager_dir],
        }
    }
}

async fn redis_exporter(redis: &RedisServer) -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(stack_program("redis_exporter"));
    command.args([
        format!("--web.listen-address={addr}"),
        format!("--redis.addr={}", redis.url()),
    ]);
    ServiceProcess::start_daemon(command, addr, "/metrics").await
}

async fn node_exporter() -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(stack_program("node_exporter"));
    command.arg(format!("--web.listen-address={addr}"));
    ServiceProcess::start_daemon(command, addr, "/metrics").await
}

async fn alertmanager(storage: &tempfile::TempDir) -> ServiceProcess {
    let addr = loopback(free_port());
    let mut command = Command::new(stack_program("alertmanager"));
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
