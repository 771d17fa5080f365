//! Seed 003 ("python-prometheus") in Rust: probe the URLs of a config file on a schedule and
//! export whether each is up and how fast it answered.
//!
//! The seed's metric names (`sample_external_url_up`, `sample_external_url_response_ms`) and
//! routes (`/healthcheck`, `/queryurl`, `/metrics`) are kept so its Grafana queries work. Its
//! bugs are not: a timeout is never "up", probes run concurrently on a schedule that does not
//! drift, at most one per URL is in flight, and `/queryurl` answers from the latest results
//! instead of probing inline. Each probe is a client span carrying `traceparent`.
//!
//! Modules: [`config`] (the YAML file), [`redact`] (how a URL is shown without its secrets),
//! [`probe`] (one probe), [`scheduler`] (when probes run), [`results`] (latest results and
//! per-URL series), [`routes`] (HTTP).

pub mod config;
pub mod probe;
pub mod redact;
pub mod results;
pub mod routes;
pub mod scheduler;

pub use config::{ConfigError, ProberConfig};
pub use results::Registry;
pub use routes::{AppState, router};
pub use scheduler::Scheduler;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;

/// Configuration from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "Probes configured URLs (seed 003) and exports up/latency metrics and traces"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen_addr: SocketAddr,
    /// YAML file with `urls`, `request_timeout_in_seconds`, `query_interval_in_seconds`,
    /// `log_level`; reloaded on SIGHUP. Unset: probe the stack's services on 127.0.0.1.
    #[arg(long, env = "PROBER_CONFIG")]
    pub prober_config: Option<PathBuf>,
    /// The probe configuration, once loaded by [`server::ServiceConfig::prepare`] (`run` loads it
    /// itself when it is not).
    #[arg(skip)]
    pub probes: Option<ProberConfig>,
}

impl Config {
    /// The probe configuration this process starts with: the file, or the built-in defaults.
    pub fn load_probes(&self) -> Result<ProberConfig, ConfigError> {
        match &self.prober_config {
            Some(path) => ProberConfig::load(path),
            None => ProberConfig::built_in(),
        }
    }
}

/// The one error type of this service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error(transparent)]
    Server(#[from] server::ServeError),
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Loads the probe file first: an invalid one is a configuration error, and its `log_level`
    /// is the default log filter when `RUST_LOG` is unset.
    fn prepare(&mut self, telemetry: &mut telemetry::TelemetryConfig) -> Result<(), String> {
        let probes = self.load_probes().map_err(|error| error.to_string())?;
        if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
            telemetry.log_filter = probes.log_level.filter();
        }
        self.probes = Some(probes);
        Ok(())
    }
}

/// Probes on schedule and serves on `listener` until `shutdown` completes; SIGHUP reloads the
/// probe file.
pub async fn run(
    mut config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let probes = match config.probes.take() {
        Some(probes) => probes,
        None => config.load_probes()?,
    };
    let client = probe::client().map_err(Error::Client)?;
    describe_metrics();
    let registry = Registry::new();
    let mut scheduler = Scheduler::new(client, registry.clone());
    scheduler.apply(&probes);
    tracing::info!(
        urls = probes.targets.len(),
        interval_seconds = probes.interval.as_secs_f64(),
        "probing"
    );
    let reloader = tokio::spawn(reload_on_sighup(
        config.prober_config.clone(),
        probes,
        scheduler,
    ));
    let served = server::serve(listener, router(AppState::new(registry)), shutdown).await;
    reloader.abort(); // drops the scheduler: every probe stops
    Ok(served?)
}

/// On each SIGHUP, re-reads the file; a valid one replaces the running configuration, an
/// invalid one is logged and the previous configuration keeps running.
async fn reload_on_sighup(
    path: Option<PathBuf>,
    mut current: ProberConfig,
    mut scheduler: Scheduler,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; config reload disabled");
                std::future::pending::<()>().await;
                return;
            }
        };
        while hangups.recv().await.is_some() {
            let Some(path) = &path else {
                tracing::warn!("SIGHUP received but PROBER_CONFIG is unset: nothing to reload");
                continue;
            };
            match ProberConfig::load(path) {
                Ok(next) => {
                    if next.log_level != current.log_level {
                        tracing::warn!(
                            "log_level changes take effect at the next restart (RUST_LOG overrides it)"
                        );
                    }
                    scheduler.apply(&next);
                    metrics::counter!("url_prober_config_reloads_total", "result" => "ok")
                        .increment(1);
                    tracing::info!(urls = next.targets.len(), "configuration reloaded");
                    current = next;
                }
                Err(error) => {
                    metrics::counter!("url_prober_config_reloads_total", "result" => "error")
                        .increment(1);
                    tracing::error!(%error, "configuration reload failed; keeping the previous configuration");
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, &mut current, &mut scheduler);
        std::future::pending::<()>().await;
    }
}

/// Registers HELP text for the service's own non-per-URL metrics (once the recorder is installed).
fn describe_metrics() {
    metrics::describe_counter!(
        "url_prober_config_reloads_total",
        "Configuration reloads on SIGHUP, by result (ok, error: the previous configuration kept running)."
    );
    metrics::counter!("url_prober_config_reloads_total", "result" => "ok").absolute(0);
    metrics::counter!("url_prober_config_reloads_total", "result" => "error").absolute(0);
}
