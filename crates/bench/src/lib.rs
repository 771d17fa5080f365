//! Parts of `just bench` (scripts/bench.sh) that are Rust: the bare axum baseline the services
//! are compared with, and an OTLP sink that receives and discards spans as fast as it can.
//!
//! The criterion benches (`benches/layer.rs`, `benches/scrape.rs`) measure the telemetry crate
//! in-process; the binaries here serve the end-to-end runs over loopback.

use axum::Router;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
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

/// What the sink has received so far.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
}

impl SinkStats {
    fn count(&self, request: &ExportTraceServiceRequest) {
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(spans as u64, Ordering::Relaxed);
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "spans": self.spans.load(Ordering::Relaxed),
        })
    }
}

/// The OTLP/gRPC trace service: decodes each export (as a collector must), counts its spans,
/// answers success and keeps nothing, so it never applies back-pressure.
#[derive(Debug, Clone, Default)]
pub struct DiscardingTraceService {
    pub stats: Arc<SinkStats>,
}

#[tonic::async_trait]
impl TraceService for DiscardingTraceService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.stats.count(request.get_ref());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves OTLP/gRPC on `listener` until the task is dropped.
pub async fn serve_grpc(
    listener: tokio::net::TcpListener,
    stats: Arc<SinkStats>,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(DiscardingTraceService { stats }))
        .serve_with_incoming(incoming)
        .await
}

/// OTLP/HTTP (protobuf) at `POST /v1/traces`, plus `GET /stats` (JSON counts) and `GET /healthz`.
pub fn http_router(stats: Arc<SinkStats>) -> Router {
    let export_stats = stats.clone();
    Router::new()
        .route(
            "/v1/traces",
            post(move |body: bytes::Bytes| {
                let stats = export_stats.clone();
                async move {
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) => {
                            stats.count(&request);
                            (
                                axum::http::StatusCode::OK,
                                [("content-type", "application/x-protobuf")],
                            )
                        }
                        Err(_) => (
                            axum::http::StatusCode::BAD_REQUEST,
                            [("content-type", "text/plain")],
                        ),
                    }
                }
            }),
        )
        .route(
            "/stats",
            get(move || {
                let stats = stats.clone();
                async move { axum::Json(stats.json()) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
}
