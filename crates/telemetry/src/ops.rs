//! The operational routes every service serves on its own port: `/metrics`, `/healthz`, `/readyz`.
//! The HTTP layer skips these paths, so scrapes and probes never show up in RED metrics or traces.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// How long `/readyz` waits for the service's check before answering 503.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// A readiness check: `Ok` when the service can do useful work (e.g. Redis answers a PING).
pub trait Readiness: Clone + Send + Sync + 'static {
    fn check(&self) -> impl Future<Output = Result<(), String>> + Send;
}

impl<F, Fut> Readiness for F
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    fn check(&self) -> impl Future<Output = Result<(), String>> + Send {
        self()
    }
}

/// For services with no dependency to wait for.
pub async fn always_ready() -> Result<(), String> {
    Ok(())
}

/// `/metrics` (Prometheus text), `/healthz` (the process is alive), `/readyz` (the check passes).
pub fn ops_router<S, R>(readiness: R) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    R: Readiness,
{
    Router::new()
        .route("/metrics", get(metrics))
        .route(
            "/healthz",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { ready(readiness).await }
            }),
        )
}

async fn metrics() -> Response {
    match crate::render_metrics() {
        Some(body) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({"error": "metrics recorder not installed: telemetry::init was not called"}),
            ),
        )
            .into_response(),
    }
}

async fn ready<R: Readiness>(readiness: R) -> Response {
    match tokio::time::timeout(READINESS_TIMEOUT, readiness.check()).await {
        Ok(Ok(())) => axum::Json(json!({"status": "ready"})).into_response(),
        Ok(Err(error)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "not ready", "error": error})),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "not ready", "error": "readiness check timed out"})),
        )
            .into_response(),
    }
}
