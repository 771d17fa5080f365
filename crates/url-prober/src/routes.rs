//! HTTP routes: the seed's `/healthcheck` and `/queryurl`, plus the ops routes.
//!
//! `/queryurl` answers from the latest results and never probes on the request path: a slow or
//! broken target cannot make the prober slow or answer 500 (seed 003 probed inline and did both).
//! `/readyz` turns ready once every configured URL has been probed once, so `/queryurl` and
//! `/metrics` have something to say when a load balancer or the stack test starts using them.

use crate::results::Registry;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// The largest `/metrics` body the middleware will extend (the real one is a few kB).
const MAX_EXPOSITION_BYTES: usize = 16 * 1024 * 1024;

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
    let ops = telemetry::ops_router(readiness).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        append_probe_metrics,
    ));
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

/// Appends the per-URL families to the telemetry crate's `/metrics` text.
async fn append_probe_metrics(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let is_metrics = request.uri().path() == "/metrics";
    let response = next.run(request).await;
    if !is_metrics || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    match axum::body::to_bytes(body, MAX_EXPOSITION_BYTES).await {
        Ok(bytes) => {
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&state.registry.render());
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(text))
        }
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": format!("cannot render metrics: {error}")})),
        )
            .into_response(),
    }
}
