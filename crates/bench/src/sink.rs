//! The OTLP sink of the end-to-end runs: receives spans over OTLP/gRPC and OTLP/HTTP (protobuf),
//! counts them per `service.name` and span name, keeps nothing, and always answers success, so it
//! never applies back-pressure and one sink serves every target of a run.
//!
//! Why its own messages ([`wire`]): the sink shares the machine's 2 cores with the services it
//! measures, so whatever it spends per span is taken from their requests per second. Decoding
//! whole OTLP spans (every attribute and event a `String` or `Vec`) cost it about 2 µs per span;
//! it only needs the service name and each span's name. The messages in [`wire`] are the OTLP
//! trace schema (same field numbers) with only those fields: prost still reads every other
//! field's wire format (a malformed export is refused) and skips it without allocating.

use axum::Router;
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};

/// At most this many services, and span names per service, are counted apart; the rest under
/// [`OTHER_NAMES`] (the sink is a bench tool, but its memory stays bounded whatever it is sent).
pub const MAX_SERVICES: usize = 64;
pub const MAX_NAMES_PER_SERVICE: usize = 64;
/// Where spans past those limits (or without a `service.name`) are counted.
pub const OTHER_NAMES: &str = "(other)";

/// The OTLP trace export messages (opentelemetry-proto's `collector/trace/v1`, `trace/v1`,
/// `resource/v1`, `common/v1`), cut down to what the sink counts. Field numbers are OTLP's.
pub mod wire {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ExportTraceServiceRequest {
        #[prost(message, repeated, tag = "1")]
        pub resource_spans: Vec<ResourceSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ResourceSpans {
        #[prost(message, optional, tag = "1")]
        pub resource: Option<Resource>,
        #[prost(message, repeated, tag = "2")]
        pub scope_spans: Vec<ScopeSpans>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Resource {
        #[prost(message, repeated, tag = "1")]
        pub attributes: Vec<KeyValue>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct KeyValue {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<AnyValue>,
    }

    /// Only `string_value` (1) of the `AnyValue` oneof: `service.name` is a string.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AnyValue {
        #[prost(string, optional, tag = "1")]
        pub string_value: Option<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ScopeSpans {
        #[prost(message, repeated, tag = "2")]
        pub spans: Vec<Span>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Span {
        #[prost(string, tag = "5")]
        pub name: String,
    }
}

/// What the sink has received so far: totals, and spans per `service.name` and span name, so one
/// sink serves every target of a run and still tells how many spans each one delivered.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub requests: AtomicU64,
    pub spans: AtomicU64,
    by_service: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
}

impl SinkStats {
    fn count(&self, request: &wire::ExportTraceServiceRequest) {
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

fn service_name(resource: &wire::Resource) -> Option<&str> {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.string_value.as_deref())
}

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP/gRPC `TraceService` with its one method, `Export`, decoding into [`wire`] (what
/// opentelemetry-proto's generated server does, with the slim request type).
#[derive(Debug, Clone)]
struct TraceService {
    stats: Arc<SinkStats>,
}

impl tonic::server::NamedService for TraceService {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl Service<http::Request<tonic::body::Body>> for TraceService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let export = Export(self.stats.clone());
        Box::pin(async move {
            if request.uri().path() != EXPORT_PATH {
                return Ok(tonic::Status::unimplemented("only TraceService/Export").into_http());
            }
            let codec = tonic_prost::ProstCodec::<
                ExportTraceServiceResponse,
                wire::ExportTraceServiceRequest,
            >::default();
            Ok(tonic::server::Grpc::new(codec).unary(export, request).await)
        })
    }
}

/// One `Export` call: count, answer success.
struct Export(Arc<SinkStats>);

impl tonic::server::UnaryService<wire::ExportTraceServiceRequest> for Export {
    type Response = ExportTraceServiceResponse;
    type Future = std::future::Ready<Result<tonic::Response<Self::Response>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<wire::ExportTraceServiceRequest>) -> Self::Future {
        self.0.count(request.get_ref());
        std::future::ready(Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        })))
    }
}

/// Serves OTLP/gRPC on `listener` until the task is dropped.
pub async fn serve_grpc(
    listener: tokio::net::TcpListener,
    stats: Arc<SinkStats>,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        .add_service(TraceService { stats })
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
                    match wire::ExportTraceServiceRequest::decode(body) {
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
