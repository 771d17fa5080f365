//! HTTP routes: the seed's `/healthcheck` and `/queryurl`, plus the ops routes.
//!
//! `/queryurl` answers from the latest results and never probes on the request path: a slow or
//! broken target cannot make the prober slow or answer 500 (seed 003 probed inline and did both).
//! `/readyz` turns ready once every configured URL has been probed once, so `/queryurl` and
//! `/metrics` have something to say when a load balancer or the stack test starts using them.

use crate::results::Registry;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

/// Shared state of the handlers: the results registry the scheduler writes.
#[derive(Debug, Clone, Default)]
pub struct AppState {
    pub registry: Registry,
}

impl AppState {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

/// `/healthcheck`, `/queryurl`, and `/metrics` (with the per-URL families), `/healthz`, `/readyz`.
pub fn router(state: AppState) -> Router {
    let registry = state.registry.clone();
    let readiness = move || {
        let registry = registry.clone();
        async move {
            if registry.first_round_done() {
                Ok(())
            } else {
                Err("the first round of probes has not completed yet".to_owned())
            }
        }
    };
    // The per-URL families are rendered at scrape time from the registry, so a removed URL's
    // series go with it (the global recorder cannot forget a series).
    let registry = state.registry.clone();
    let ops = telemetry::ops_router_with(readiness, move |out: &mut String| {
        out.push_str(&registry.render());
    });
    Router::new()
        .route("/healthcheck", get(healthcheck))
        .route("/queryurl", get(query_url))
        .with_state(state)
        .merge(ops)
        .layer(telemetry::HttpLayer::new())
}

async fn healthcheck() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn query_url(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(state.registry.reports())
}
