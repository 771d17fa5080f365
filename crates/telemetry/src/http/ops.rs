//! The operational routes every service serves on its own port: `/metrics`, `/healthz`, `/readyz`.
//! The HTTP layer skips these paths, so scrapes and probes never show up in RED metrics or traces.

use crate::http::scrape::render_exposition;
use crate::metrics::exposition::ExpositionFormat;
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use std::future::Future;
use std::time::Duration;

/// Prometheus scrapes it: the metrics, in the format the scraper asks for.
pub(crate) const METRICS_PATH: &str = "/metrics";
/// Liveness: the process answers.
pub(crate) const HEALTHZ_PATH: &str = "/healthz";
/// Readiness: the service's dependency answers.
pub(crate) const READYZ_PATH: &str = "/readyz";
/// The ops routes' paths, which the HTTP layer neither measures nor traces.
pub(crate) const OPS_PATHS: [&str; 3] = [METRICS_PATH, HEALTHZ_PATH, READYZ_PATH];

/// How long `/readyz` waits for the service's check before answering 503.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// A readiness check: `Ok` when the service can do useful work (e.g. Redis answers a PING).
pub trait Readiness: Clone + Send + Sync + 'static {
    /// `Ok` when ready, else why not (the `error` of `/readyz`'s 503 body); given 2 s.
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

/// Metric families a service renders itself at scrape time, for series the global recorder
/// cannot hold: ones that must disappear (a URL removed from a config), or that another
/// registry owns. Appends Prometheus text: `# HELP`, `# TYPE`, then samples, counters named
/// `*_total`; `/metrics` converts it to OpenMetrics with the rest when the scraper asks for that.
pub trait Exposition: Clone + Send + Sync + 'static {
    /// Appends the families, as Prometheus text, to `out`.
    fn render(&self, out: &mut String);
}

impl<F> Exposition for F
where
    F: Fn(&mut String) + Clone + Send + Sync + 'static,
{
    fn render(&self, out: &mut String) {
        self(out)
    }
}

/// `/metrics` (Prometheus protobuf, OpenMetrics or Prometheus text, by `Accept`), `/healthz` (the process is alive),
/// `/readyz` (the check passes).
pub fn ops_router<S, R>(readiness: R) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    R: Readiness,
{
    ops_router_with(readiness, |_: &mut String| {})
}

/// Like [`ops_router`], with `extra` families appended to every `/metrics` response.
pub fn ops_router_with<S, R, E>(readiness: R, extra: E) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    R: Readiness,
    E: Exposition,
{
    Router::new()
        .route(
            METRICS_PATH,
            get(move |headers: HeaderMap| {
                let extra = extra.clone();
                async move { metrics(&headers, &extra) }
            }),
        )
        .route(
            HEALTHZ_PATH,
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route(
            READYZ_PATH,
            get(move || {
                let readiness = readiness.clone();
                async move { ready(readiness).await }
            }),
        )
}

fn metrics(headers: &HeaderMap, extra: &impl Exposition) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = ExpositionFormat::from_accept(accept);
    match render_exposition(format, &|out: &mut String| extra.render(out)) {
        Some(body) => (
            [
                (header::CONTENT_TYPE, format.content_type()),
                (header::VARY, "Accept"),
            ],
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
