//! The real robot-control in this test process (simulated robots, the real telemetry recorder
//! for its /metrics) on a loopback port it can be restarted on, and the loadgen binary driving
//! it with its output in a file. Each test file is its own process, so the metrics of one
//! file's robot-control are not mixed with another's.
#![allow(dead_code)]
// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

/// Installs the real Prometheus recorder once per test process (robot-control's /metrics).
pub fn init_metrics() {
    static GUARD: OnceLock<telemetry::TelemetryGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let config =
            telemetry::TelemetryConfig::from_lookup("robot-control", "0-test", |key| match key {
                "OTEL_SDK_DISABLED" => Some("true".to_owned()),
                "RUST_LOG" => Some("warn".to_owned()),
                _ => None,
            })
            .unwrap();
        telemetry::init(config).unwrap()
    });
}

/// robot-control running in this process; [`RobotControl::restart`] gives it a new process
/// life (and so a new UI key) on the same port.
pub struct RobotControl {
    addr: SocketAddr,
    token: Option<&'static str>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), robot_control::Error>>>,
}

impl RobotControl {
    pub async fn start(token: Option<&'static str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut robot = Self {
            addr: listener.local_addr().unwrap(),
            token,
            stop: None,
            task: None,
        };
        robot.spawn(listener);
        robot
    }

    fn spawn(&mut self, listener: TcpListener) {
        let config = robot_control::Config {
            listen_addr: self.addr,
            robot_token: self
                .token
                .map(|t| robot_control::access::Token::new(t).unwrap()),
            ..robot_control::Config::defaults()
        };
        let (stop, stopped) = oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(robot_control::run(
            config,
            listener,
            async move {
                let _ = stopped.await;
            },
        )));
    }

    /// Stops it (drained, motors off) and starts it again on the same port.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("robot-control stops within 15 s")
                .unwrap()
                .unwrap();
        }
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.spawn(listener);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its /metrics text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for RobotControl {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How many times the UI page (`GET /`) was served.
pub fn page_reads(metrics: &str) -> f64 {
    testkit::parse_metrics(metrics)
        .iter()
        .filter(|(series, _)| {
            series.starts_with("http_server_request_duration_seconds_count{")
                && series.contains(r#"http_route="/""#)
        })
        .map(|(_, value)| value)
        .sum()
}

/// The loadgen binary, killed on drop; its output goes to files (a pipe nobody reads would
/// stall it).
pub struct Loadgen {
    child: Child,
    pub summary_url: String,
    dir: tempfile::TempDir,
}

impl Loadgen {
    /// Runs loadgen at robot-control only, until stopped, with `env` (ROBOT_TOKEN is removed
    /// from the inherited environment unless `env` sets it).
    pub fn start(robot_url: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = testkit::free_port();
        let mut command = Command::new(LOADGEN);
        command
            .args(["--mix", "robot=1", "--duration", "0", "--quiet", "--json"])
            .args(args)
            .env_remove("ROBOT_TOKEN")
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("LOADGEN_ROBOT_URL", robot_url)
            .env("OTEL_SDK_DISABLED", "true")
            .env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
        let child = command.spawn().expect("start loadgen");
        Self {
            child,
            summary_url: format!("http://127.0.0.1:{port}/summary"),
            dir,
        }
    }

    /// The live summary (waits up to 10 s for loadgen's own server).
    pub async fn summary(&self) -> loadgen::Summary {
        testkit::eventually("loadgen's /summary", Duration::from_secs(10), || async {
            reqwest::get(&self.summary_url)
                .await
                .ok()?
                .json()
                .await
                .ok()
        })
        .await
    }

    /// Everything it logged so far.
    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.path(name)).unwrap_or_default();
        format!("{}{}", read("stdout"), read("stderr"))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// SIGTERM, then its final output (SIGKILL after 10 s).
    pub fn stop(mut self) -> String {
        let _ = testkit::signal(self.child.id(), testkit::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("loadgen ignored SIGTERM for 10 s:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.logs()
    }
}

impl Drop for Loadgen {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The count of `status` answers robot-control gave loadgen so far.
pub fn robot_answers(summary: &loadgen::Summary, status: &str) -> u64 {
    summary
        .by_target
        .get("robot-control")
        .and_then(|by_status| by_status.get(status))
        .copied()
        .unwrap_or(0)
}
