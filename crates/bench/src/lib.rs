//! Parts of `just bench` (scripts/bench.sh) that are Rust: the bare axum baseline the services
//! are compared with, and an OTLP sink that receives and discards spans as fast as it can.
//!
//! The criterion benches (`benches/layer.rs`, `benches/scrape.rs`) measure the telemetry crate
//! in-process; the binaries here serve the end-to-end runs over loopback, next to the peers users
//! would pick instead of our telemetry crate ([`peers`]).

pub mod peers;
pub mod serve;

use axum::Router;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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

/// At most this many services, and span names per service, are counted apart; the rest under
/// [`OTHER_NAMES`] (the sink is a bench tool, but its memory stays bounded whatever it is sent).
pub const MAX_SERVICES: usize = 64;
pub const MAX_NAMES_PER_SERVICE: usize = 64;
/// Where spans past those limits (or without a `service.name`) are counted.
pub const OTHER_NAMES: &str = "(other)";

/// What the sink has received so far: totals, and spans per `service.name` and span name, so one
/// sink serves every target of a run and still tells how many spans each one delivered.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
    by_service: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
}

impl SinkStats {
    fn count(&self, request: &ExportTraceServiceRequest) {
        let mut total = 0u64;
        // Counted into a local map first: one lock per export (a batch), not per span.
        let mut counted: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for resource_spans in &request.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(service_name)
                .unwrap_or(OTHER_NAMES);
            let names = counted.entry(service).or_default();
            for span in resource_spans.scope_spans.iter().flat_map(|ss| &ss.spans) {
                *names.entry(span.name.as_str()).or_default() += 1;
                total += 1;
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.spans.fetch_add(total, Ordering::Relaxed);
        let mut by_service = self.by_service.lock().unwrap_or_else(|e| e.into_inner());
        for (service, names) in counted {
            let key = if by_service.contains_key(service) || by_service.len() < MAX_SERVICES {
                service
            } else {
                OTHER_NAMES
            };
            let service = by_service.entry(key.to_owned()).or_default();
            for (name, n) in names {
                let name = if service.contains_key(name) || service.len() < MAX_NAMES_PER_SERVICE {
                    name
                } else {
                    OTHER_NAMES
                };
                *service.entry(name.to_owned()).or_default() += n;
            }
        }
    }

    /// `{"requests": exports, "spans": total, "services": {service.name: {span name: spans}}}`
    pub fn json(&self) -> serde_json::Value {
        let by_service = self.by_service.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "spans": self.spans.load(Ordering::Relaxed),
            "services": *by_service,
        })
    }
}

fn service_name(resource: &Resource) -> Option<&str> {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .and_then(|value| match value {
            any_value::Value::StringValue(name) => Some(name.as_str()),
            _ => None,
        })
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
