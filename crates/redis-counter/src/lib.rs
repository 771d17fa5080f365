//! Seeds 001/002 ("cortico-test", "docker-monitoring" Flask apps) in Rust: `GET /` increments
//! the Redis key `hits` with `INCR` and answers `Hello World! I have been seen N times.`.
//!
//! What changed from the seeds, and why:
//! - The seed retried 5 times 0.5 s apart, holding each request up to 2.5 s while Redis was
//!   down. Here a request gets a connection within 1 s (3 tries, 50/100 ms apart) and then sends
//!   `INCR` once; if Redis is gone the answer is a prompt 503 with a JSON `{"error": ...}` and the
//!   pool reconnects by itself when Redis is back. `INCR` is never re-sent after it may have
//!   reached Redis, so a 200 is counted exactly once (see [`redis_client`]).
//! - Seed 002's random sleep is an opt-in setting (`SIMULATED_LATENCY_MAX`), off by default.
//! - Every Redis command is a client span under the request span and is measured
//!   (docs/METRICS.md, "redis-counter").
//!
//! Modules: [`redis_url`] (`REDIS_URL`, shown without its password), [`redis_client`] (one command:
//! retry rule, span, metrics), `redis_pool` (shared multiplexed connections; docs/ARCHITECTURE.md),
//! [`metric_names`].

pub mod metric_names;
pub mod redis_client;
mod redis_pool;
pub mod redis_url;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metric_names::{HITS, REDIS_COMMAND_DURATION, REDIS_COMMAND_DURATION_BUCKETS};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use redis_client::{RedisClient, RetryPolicy};
use redis_url::{RedisTarget, RedisUrl};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpListener;

/// The Redis key the seeds count in.
pub const HITS_KEY: &str = "hits";

/// Configuration from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "Redis hit counter (seeds 001/002) with Prometheus metrics and OTLP traces"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:5001")]
    pub listen_addr: SocketAddr,
    /// Redis to count in: redis://[[user]:password@]host[:port][/db] or redis+unix:///path.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true,
        value_parser = RedisUrl::from_arg
    )]
    pub redis_url: RedisUrl,
    /// Maximum number of Redis connections. Requests share them (concurrent INCRs are pipelined
    /// on one socket), so a new one opens only when every open one is busy being handed out.
    #[arg(long, env = "REDIS_POOL_SIZE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub redis_pool_size: u16,
    /// Bound on one Redis command's round trip once sent (humantime, e.g. 500ms).
    #[arg(long, env = "REDIS_COMMAND_TIMEOUT", default_value = "500ms",
          value_parser = humantime::parse_duration)]
    pub redis_command_timeout: Duration,
    /// Seed 002's latency simulation: sleep a random time up to this (e.g. 250ms) before
    /// answering `GET /`. Off when unset or 0.
    #[arg(long, env = "SIMULATED_LATENCY_MAX", value_parser = humantime::parse_duration)]
    pub simulated_latency_max: Option<Duration>,
    /// With `SIMULATED_LATENCY_MAX`: draw the latencies from one generator seeded with this, so
    /// the first N requests are held the same N latencies in every run, whatever their order (for
    /// reproducible measurements: crates/stack-tests/tests/native_histograms.rs). Unset: random.
    #[arg(long, env = "SIMULATED_LATENCY_SEED")]
    pub simulated_latency_seed: Option<u64>,
}

/// Was a failed Redis command applied?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Certainly not: it was never sent, or Redis refused it.
    No,
    /// It was sent and no reply came: Redis may have applied it.
    Unknown,
}

/// The `kind` label of `redis_client_errors_total`: a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisErrorKind {
    /// Connecting failed or the connection broke.
    Connection,
    /// Connecting or the reply took too long.
    Timeout,
    /// No pooled connection became free in time (or the pool is closed).
    Pool,
    /// Redis answered with an error.
    Response,
}

impl RedisErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Timeout => "timeout",
            Self::Pool => "pool",
            Self::Response => "response",
        }
    }
}

/// The one error type of this service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid REDIS_URL {url}: {reason}")]
    InvalidRedisUrl { url: String, reason: String },
    #[error("cannot set up the Redis connection pool: {0}")]
    Pool(String),
    #[error(transparent)]
    Server(#[from] server::ServeError),
    #[error("{}", redis_message(.command, *.kind, *.applied, *.transient, .detail))]
    Redis {
        command: &'static str,
        kind: RedisErrorKind,
        applied: Applied,
        /// Trying again may succeed (Redis down or restarting, pool busy).
        transient: bool,
        /// Never contains the Redis password.
        detail: String,
        /// The prefix of Redis's error reply (`WRONGTYPE`, `LOADING`), when it sent one.
        response_code: Option<String>,
    },
}

fn redis_message(
    command: &str,
    kind: RedisErrorKind,
    applied: Applied,
    transient: bool,
    detail: &str,
) -> String {
    let kind = kind.as_str();
    match (applied, transient) {
        (Applied::Unknown, _) => format!(
            "Redis did not confirm {command} ({kind}: {detail}); it may or may not have been applied"
        ),
        (Applied::No, true) => {
            format!("Redis unavailable ({kind}: {detail}); {command} was not applied")
        }
        (Applied::No, false) => format!("Redis rejected {command}: {detail}"),
    }
}

impl Error {
    /// Only a command that certainly did not reach Redis, for a reason that may pass, is retried.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Redis {
                applied: Applied::No,
                transient: true,
                ..
            }
        )
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::Redis {
                kind: RedisErrorKind::Response,
                transient: false,
                ..
            } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Redis { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (
            self.status(),
            axum::Json(serde_json::json!({"error": self.to_string()})),
        )
            .into_response()
    }
}

/// Shared state: the Redis pool and the latency setting.
#[derive(Debug, Clone)]
pub struct AppState {
    redis: RedisClient,
    simulated_latency_max: Option<Duration>,
    /// `SIMULATED_LATENCY_SEED`'s generator, shared by every request.
    latency_rng: Option<Arc<Mutex<StdRng>>>,
    hits: metrics::Counter,
}

impl AppState {
    /// Checks `REDIS_URL` and builds the pool (connections are made on first use, so the
    /// service starts, and answers 503, while Redis is still down).
    pub fn new(config: &Config) -> Result<Self, Error> {
        let target = RedisTarget::parse(&config.redis_url)?;
        let policy = RetryPolicy {
            command_timeout: config.redis_command_timeout,
            ..RetryPolicy::default()
        };
        let redis = RedisClient::new(target, usize::from(config.redis_pool_size), policy)?;
        Ok(Self {
            redis,
            simulated_latency_max: config.simulated_latency_max.filter(|d| !d.is_zero()),
            latency_rng: config
                .simulated_latency_seed
                .map(|seed| Arc::new(Mutex::new(StdRng::seed_from_u64(seed)))),
            hits: metrics::counter!(HITS),
        })
    }

    pub fn redis(&self) -> &RedisClient {
        &self.redis
    }
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// Checks `REDIS_URL` (a bad one is a configuration error) and gives Redis command
    /// durations sub-millisecond buckets.
    fn prepare(&mut self, telemetry: &mut telemetry::TelemetryConfig) -> Result<(), String> {
        RedisTarget::parse(&self.redis_url).map_err(|error| error.to_string())?;
        telemetry.histogram_buckets.push((
            REDIS_COMMAND_DURATION.to_owned(),
            REDIS_COMMAND_DURATION_BUCKETS.to_vec(),
        ));
        Ok(())
    }
}

/// The service's routes, measured and traced, plus `/metrics`, `/healthz`, `/readyz` (Redis PING).
pub fn router(state: AppState) -> Router {
    metric_names::describe();
    redis_client::register_error_kinds();
    state.hits.increment(0);
    let redis = state.redis.clone();
    let readiness = move || {
        let redis = redis.clone();
        async move { redis.ping().await.map_err(|error| error.to_string()) }
    };
    let redis = state.redis.clone();
    let pool_status = move |out: &mut String| redis.render_pool_status(out);
    Router::new()
        .route("/", get(hit))
        .with_state(state)
        .merge(telemetry::ops_router_with(readiness, pool_status))
        .layer(telemetry::HttpLayer::new())
}

async fn hit(State(state): State<AppState>) -> Response {
    if let Some(max) = state.simulated_latency_max {
        let latency = match &state.latency_rng {
            Some(rng) => rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .random_range(Duration::ZERO..=max),
            None => rand::random_range(Duration::ZERO..=max),
        };
        tokio::time::sleep(latency).await;
    }
    match state.redis.incr(HITS_KEY).await {
        Ok(n) => {
            state.hits.increment(1);
            format!("Hello World! I have been seen {n} times.\n").into_response()
        }
        Err(error) => error.into_response(),
    }
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config)?;
    tracing::info!(
        redis = state.redis.redacted_url(),
        pool_size = config.redis_pool_size,
        simulated_latency_max = ?state.simulated_latency_max,
        "counting visits in Redis"
    );
    server::serve(listener, router(state), shutdown).await?;
    Ok(())
}
