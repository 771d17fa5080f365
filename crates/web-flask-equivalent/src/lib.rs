//! Seed 000 ("DevOps: Flask task") in Rust: `GET /` answers `Visit number N`.
//!
//! The Flask original counted with a module-level integer, so concurrent requests could see the
//! same N. Here the count is one atomic `fetch_add`: every answer's N is distinct and the last N
//! equals the number of answers. `hello_world_counter` keeps the seed's name so its Grafana query
//! `rate(hello_world_counter[30s])` ("Visits per second") works unchanged.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// Seed 000's metric name, kept without `_total` on purpose (its dashboard query uses it).
pub const VISITS_METRIC: &str = "hello_world_counter";

/// Configuration from flags or the environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "Visit counter (seed 000) with Prometheus metrics and OTLP traces"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:5000")]
    pub listen_addr: SocketAddr,
}

/// The one error type of this service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Server(#[from] server::ServeError),
}

/// Shared state: the visit count, and the handle of its counter metric (one `Arc`, so the
/// per-request clone of the state is one reference count).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Visits>);

#[derive(Debug)]
struct Visits {
    count: AtomicU64,
    /// Resolved once, not looked up in the registry on every visit. Make the state after
    /// `telemetry::init` (as `run` does): before it there is no recorder to count in.
    metric: metrics::Counter,
}

impl Default for AppState {
    fn default() -> Self {
        Self(Arc::new(Visits {
            count: AtomicU64::new(0),
            metric: metrics::counter!(VISITS_METRIC),
        }))
    }
}

/// The service's routes, measured and traced, plus `/metrics`, `/healthz`, `/readyz`.
pub fn router(state: AppState) -> Router {
    routes(state).layer(telemetry::HttpLayer::new())
}

/// The same routes without the HTTP layer (no RED metrics, no server spans; `hello_world_counter`
/// still counts): [`router`] minus `telemetry::HttpLayer`, which `just bench` serves
/// (`examples/without_layer.rs`) to show what the layer itself costs in the same run.
pub fn routes(state: AppState) -> Router {
    metrics::describe_counter!(
        VISITS_METRIC,
        "Visits answered by GET / (seed 000's metric)."
    );
    Router::new()
        .route("/", get(visit))
        .with_state(state)
        .merge(telemetry::ops_router(telemetry::always_ready))
}

async fn visit(State(state): State<AppState>) -> String {
    let n = state.0.count.fetch_add(1, Ordering::Relaxed) + 1;
    state.0.metric.increment(1);
    format!("Visit number {n}\n")
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn run(
    _config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    server::serve(listener, router(AppState::default()), shutdown).await?;
    Ok(())
}
