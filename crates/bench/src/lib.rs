//! Parts of `just bench` (scripts/bench.sh) that are Rust: the bare axum baseline the services
//! are compared with, and an OTLP sink that receives and discards spans as fast as it can.
//!
//! The criterion benches (`benches/layer.rs`, `benches/scrape.rs`) measure the telemetry crate
//! in-process; the binaries here serve the end-to-end runs over loopback, next to the peers users
//! would pick instead of our telemetry crate ([`peers`]).

pub mod peers;
pub mod serve;
pub mod sink;

pub use sink::{
    MAX_NAMES_PER_SERVICE, MAX_SERVICES, OTHER_NAMES, SinkStats, http_router, serve_grpc,
};

use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The baseline: the same handler as web-flask-equivalent's `GET /` (an atomic count and a
/// formatted line), with no telemetry at all. `/healthz` lets scripts wait for it.
pub fn bare_router() -> Router {
    let visits = Arc::new(AtomicU64::new(0));
    Router::new()
        .route(
            "/",
            get(move || {
                let n = visits.fetch_add(1, Ordering::Relaxed) + 1;
                async move { format!("Visit number {n}\n") }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
}
