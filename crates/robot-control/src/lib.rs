//! robot-control: drive the Linus and Torvalds robots (seed 004) over HTTP.
//!
//! Motors, PWM speed, servos and eye LEDs on two Raspberry Pis reached through their pigpio
//! daemons (or a simulator), a phone-friendly UI at `/`, the seed's GET routes, a JSON API, and the
//! workspace's telemetry: RED metrics and spans per request, robot metrics, `linus-eye` /
//! `torvalds-eye` spans. Safety beyond the seed: a deadman timer stops motors that were not told to
//! keep moving, and shutdown stops every motor and turns every eye off.
//!
//! Modules, outside in: [`access`] (who may do what) → [`routes`] (HTTP) → [`control`] (what a
//! command does) → [`robot`] (which pins) → [`driver`] (sim or pigpio).

pub mod access;
pub mod config;
pub mod control;
pub mod driver;
pub mod error;
pub mod extract;
pub mod instruments;
pub mod robot;
pub mod routes;
pub mod state;

pub use config::{Config, DriverKind};
pub use error::Error;
pub use state::AppState;

use access::Check;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use std::future::Future;
use tokio::net::TcpListener;

/// Largest accepted request body; the biggest legitimate one is a few dozen bytes.
pub const BODY_LIMIT_BYTES: usize = 4 * 1024;

/// The whole HTTP app: UI, seed routes, JSON API (traced and measured), then `/metrics`,
/// `/healthz`, `/readyz` (not measured), guarded by [`access`]: every route answers only to
/// this service's host names; with `ROBOT_TOKEN` the UI page and every command need it; a
/// command also needs the UI key or the token as a bearer token.
pub fn router(state: AppState) -> Router {
    instruments::describe();
    let guard = |check| middleware::from_fn_with_state((state.clone(), check), access::guard);
    let commands = routes::seed::commands()
        .merge(routes::api::commands())
        .route_layer(guard(Check::Mover))
        .route_layer(guard(Check::TokenHolder));
    let page = Router::new()
        .route("/", get(routes::ui::page))
        .route_layer(guard(Check::TokenHolder));
    let app = Router::new()
        .merge(page)
        .merge(routes::seed::queries())
        .merge(routes::api::queries())
        .merge(commands)
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .layer(guard(Check::KnownHost))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state.clone())
        .layer(telemetry::HttpLayer::new());
    // The robots being unreachable is not a reason to take the UI out of rotation.
    let ops = telemetry::ops_router(telemetry::always_ready)
        .layer(guard(Check::KnownHost))
        .with_state(state);
    app.merge(ops)
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> std::net::SocketAddr {
        self.listen_addr
    }
}

/// Serves on `listener` until `shutdown` completes; then refuses movement, stops every motor,
/// turns every eye off, drains requests and makes sure again that everything is off.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let state = AppState::new(&config);
    let controller = state.controller().clone();
    // In the background: an unreachable robot must not delay serving the UI.
    tokio::spawn({
        let controller = controller.clone();
        async move { controller.initialize().await }
    });
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Server(server::ServeError::Serve(e)))?;
    tracing::info!(
        %addr,
        driver = config.driver.as_str(),
        linus = %config.linus_pigpio_addr,
        torvalds = %config.torvalds_pigpio_addr,
        deadman_timeout = ?config.deadman_timeout,
        "robot-control listening"
    );
    state.access().log_startup(addr);
    let signal = {
        let controller = controller.clone();
        async move {
            shutdown.await;
            controller.shutdown().await;
        }
    };
    let served = server::serve(listener, router(state), signal)
        .await
        .map_err(Error::from);
    // A command that was already in flight when the signal came may have run after the first
    // stop, and an unreachable robot gets a second chance.
    controller.shutdown().await;
    served
}
