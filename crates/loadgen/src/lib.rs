//! Traffic for the stack: a paced, configurable mix of requests at every service, so every
//! dashboard panel and trace view fills (`just load`, the stack test, the benchmarks).
//!
//! It serves its own `/metrics` (`loadgen_requests_total{target,status}`,
//! `loadgen_request_duration_seconds{target}`), `/healthz`, `/readyz` and a live `/summary`
//! on `LISTEN_ADDR`, prints a progress line to stderr every second, and ends with a summary
//! on stdout (one JSON line with `--json`). Every request is a client span carrying
//! `traceparent`, so each one is a trace through the service it hits.
//!
//! Modules: [`plan`] (what to send), [`robot_auth`] (what robot commands carry: `ROBOT_TOKEN`
//! or the robot UI's key), [`driver`] (pacing and sending), [`stats`] (the summary).

pub mod driver;
pub mod plan;
pub mod robot_auth;
pub mod stats;

pub use driver::{LoadSettings, generate};
pub use plan::{DEFAULT_MIX, Mix, Plan, Targets};
pub use robot_auth::{Bearer, Credential, UiKeySource};
pub use stats::{Stats, Summary};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Configuration from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "Drives a paced mix of requests at every service of the stack and reports what happened"
)]
pub struct Config {
    /// Address of this process's own /metrics, /healthz, /readyz, /summary.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:9000")]
    pub listen_addr: SocketAddr,
    /// Base URL of web-flask-equivalent.
    #[arg(long, env = "LOADGEN_WEB_URL", default_value = "http://127.0.0.1:5000", value_parser = http_url)]
    pub web_url: String,
    /// Base URL of redis-counter.
    #[arg(long, env = "LOADGEN_REDIS_URL", default_value = "http://127.0.0.1:5001", value_parser = http_url)]
    pub redis_url: String,
    /// Base URL of robot-control.
    #[arg(long, env = "LOADGEN_ROBOT_URL", default_value = "http://127.0.0.1:6543", value_parser = http_url)]
    pub robot_url: String,
    /// robot-control's `ROBOT_TOKEN` (the same variable), sent with the robot commands as a
    /// bearer token. Unset or empty: the commands carry the key of robot-control's UI page
    /// instead, read from the page as the UI does.
    #[arg(long, env = "ROBOT_TOKEN", hide_env_values = true, value_parser = bearer)]
    pub robot_token: Option<Bearer>,
    /// Without ROBOT_TOKEN: read robot-control's UI page for a new key (after it restarted)
    /// at most this often (`5s`, `500ms`).
    #[arg(long, env = "LOADGEN_ROBOT_KEY_REFRESH", default_value = "5s", value_parser = positive_duration)]
    pub robot_key_refresh: Duration,
    /// Base URL of url-prober.
    #[arg(long, env = "LOADGEN_PROBER_URL", default_value = "http://127.0.0.1:8080", value_parser = http_url)]
    pub prober_url: String,
    /// Weights of the request groups: web, redis, robot, prober, errors (404s and a rejected servo angle).
    #[arg(long, env = "LOADGEN_MIX", default_value = DEFAULT_MIX)]
    pub mix: Mix,
    /// Target rate in requests per second (open loop).
    #[arg(long, env = "LOADGEN_RATE", default_value_t = 20.0, value_parser = positive_rate)]
    pub rate: f64,
    /// How long to run (`30s`, `5m`, or seconds); 0 runs until SIGTERM/SIGINT.
    #[arg(long, env = "LOADGEN_DURATION", default_value = "60s", value_parser = duration)]
    pub duration: Duration,
    /// Stop after this many requests (whichever of duration and count comes first).
    #[arg(long, env = "LOADGEN_REQUESTS", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Requests in flight at most.
    #[arg(long, env = "LOADGEN_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Timeout of one request (`10s`, `500ms`).
    #[arg(long, env = "LOADGEN_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub timeout: Duration,
    /// Print the final summary as one JSON line (the last line on stdout).
    #[arg(long, env = "LOADGEN_JSON")]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long, env = "LOADGEN_QUIET")]
    pub quiet: bool,
}

impl Config {
    /// The run these settings describe.
    pub fn settings(&self) -> LoadSettings {
        let targets = Targets {
            web: self.web_url.clone(),
            redis: self.redis_url.clone(),
            robot: self.robot_url.clone(),
            prober: self.prober_url.clone(),
            // An empty ROBOT_TOKEN (Compose's `${ROBOT_TOKEN:-}`) means none.
            robot_credential: match self.robot_token.clone().filter(|t| !t.token().is_empty()) {
                Some(token) => Credential::Bearer(token),
                None => Credential::UiKey(Arc::new(UiKeySource::new(
                    &self.robot_url,
                    self.robot_key_refresh,
                ))),
            },
        };
        LoadSettings {
            plan: Plan::new(&self.mix, &targets),
            rate: self.rate,
            duration: (!self.duration.is_zero()).then_some(self.duration),
            requests: self.requests,
            concurrency: self.concurrency,
            timeout: self.timeout,
            progress: !self.quiet,
        }
    }
}

fn http_url(raw: &str) -> Result<String, String> {
    match reqwest::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(raw.trim().trim_end_matches('/').to_owned())
        }
        _ => Err(format!("{raw:?} is not an http:// or https:// base URL")),
    }
}

/// Any value: robot-control judges the token (and a parse error here would print it).
fn bearer(raw: &str) -> Result<Bearer, std::convert::Infallible> {
    Ok(Bearer::new(raw))
}

fn positive_rate(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0 => Ok(rate),
        _ => Err(format!(
            "{raw:?} is not a rate in requests per second (> 0)"
        )),
    }
}

fn duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(seconds) = raw.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("{raw:?} is not a duration >= 0"));
    }
    humantime::parse_duration(raw).map_err(|e| format!("{raw:?} is not a duration like 30s: {e}"))
}

fn positive_duration(raw: &str) -> Result<Duration, String> {
    duration(raw).and_then(|d| {
        if d.is_zero() {
            Err("must be > 0".to_owned())
        } else {
            Ok(d)
        }
    })
}

/// The one error type of this binary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error(transparent)]
    Server(#[from] server::ServeError),
}

/// What the ops routes see: the live statistics.
#[derive(Debug, Clone)]
pub struct AppState {
    pub stats: Arc<Stats>,
    pub started: Instant,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            stats: Arc::new(Stats::new()),
            started: Instant::now(),
        }
    }
}

/// `/summary` (the live summary as JSON), `/metrics`, `/healthz`, `/readyz`.
pub fn router(state: AppState) -> Router {
    describe_metrics();
    Router::new()
        .route("/summary", get(summary))
        .with_state(state)
        .merge(telemetry::ops_router(telemetry::always_ready))
        .layer(telemetry::HttpLayer::new())
}

async fn summary(State(state): State<AppState>) -> axum::Json<Summary> {
    axum::Json(state.stats.summary(state.started.elapsed()))
}

fn describe_metrics() {
    metrics::describe_counter!(
        driver::REQUESTS_METRIC,
        "Requests sent by the load generator, by target service and status (HTTP code or error)."
    );
    metrics::describe_histogram!(
        driver::DURATION_METRIC,
        metrics::Unit::Seconds,
        "Duration of load generator requests including the body, by target service."
    );
}

/// The HTTP client of the run: keep-alive connections, one pool slot per concurrent request.
pub fn client(concurrency: u32) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("loadgen/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(concurrency as usize)
        .build()
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// stdout carries the summary: only warnings and errors are logged unless `RUST_LOG` says more.
    fn prepare(&mut self, telemetry: &mut telemetry::TelemetryConfig) -> Result<(), String> {
        if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
            telemetry.log_filter = "warn".to_owned();
        }
        Ok(())
    }
}

/// Serves the ops routes on `listener` and runs the load until done (or until `shutdown`), then
/// prints the summary on stdout, after the spans are flushed so it is the last thing there.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let summary = generate_load(&config, listener, shutdown).await?;
    telemetry::flush_spans().await;
    print_summary(&summary, config.json);
    Ok(())
}

/// Like [`run`], returning the summary instead of printing it.
pub async fn generate_load(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error> {
    let client = client(config.concurrency).map_err(Error::Client)?;
    let state = AppState::default();
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, router(state.clone()), async move {
        let _ = server_stopped.await;
    }));
    tracing::info!(
        rate = config.rate,
        duration = ?config.duration,
        requests = config.requests,
        mix = %config.mix,
        "generating load"
    );
    let summary = generate(config.settings(), client, state.stats.clone(), shutdown).await;
    let _ = stop_server.send(());
    if let Ok(served) = server.await {
        served?;
    }
    Ok(summary)
}

/// Prints the summary on stdout: text, or one JSON line.
pub fn print_summary(summary: &Summary, json: bool) {
    if json {
        match serde_json::to_string(summary) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("error: cannot serialise the summary: {error}"),
        }
    } else {
        print!("{}", summary.render_text());
    }
}
