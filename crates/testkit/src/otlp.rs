//! OTLP receivers for trace assertions: gRPC (crate `fake-opentelemetry-collector`, a real tonic
//! server) and HTTP/protobuf (served here with axum + prost), both on free loopback ports.

pub use fake_opentelemetry_collector::ExportedSpan;
use fake_opentelemetry_collector::FakeCollectorServer;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An OTLP/gRPC receiver. Use `endpoint()` as `OTEL_EXPORTER_OTLP_ENDPOINT` with protocol `grpc`.
pub struct OtlpGrpcReceiver {
    server: FakeCollectorServer,
    received: Vec<ExportedSpan>,
}

impl OtlpGrpcReceiver {
    pub async fn start() -> Self {
        Self {
            server: FakeCollectorServer::start()
                .await
                .expect("start OTLP gRPC receiver"),
            received: Vec::new(),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        self.server.endpoint()
    }

    /// Every span received so far, waiting until `predicate` holds for the list or `timeout`.
    pub async fn spans_until(
        &mut self,
        timeout: Duration,
        predicate: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let batch = self
                .server
                .exported_spans(1, Duration::from_millis(50))
                .await;
            self.received.extend(batch);
            if predicate(&self.received) || Instant::now() >= deadline {
                return self.received.clone();
            }
        }
    }
}

/// An OTLP/HTTP (protobuf) receiver at `POST /v1/traces`.
pub struct OtlpHttpReceiver {
    addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<ExportedSpan>>>,
}

impl OtlpHttpReceiver {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: bytes::Bytes| {
                let sink = sink.clone();
                async move {
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) => {
                            let spans = request
                                .resource_spans
                                .into_iter()
                                .flat_map(|rs| rs.scope_spans)
                                .flat_map(|ss| ss.spans)
                                .map(ExportedSpan::from);
                            sink.lock().expect("lock").extend(spans);
                            (
                                axum::http::StatusCode::OK,
                                [("content-type", "application/x-protobuf")],
                                Vec::new(),
                            )
                        }
                        Err(_) => (
                            axum::http::StatusCode::BAD_REQUEST,
                            [("content-type", "text/plain")],
                            b"not an ExportTraceServiceRequest".to_vec(),
                        ),
                    }
                }
            }),
        );
        let addr = crate::spawn_router(router).await;
        Self { addr, received }
    }

    /// `http://127.0.0.1:<port>` (the exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn spans_until(
        &self,
        timeout: Duration,
        predicate: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.received.lock().expect("lock").clone();
            if predicate(&spans) || Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An attribute of a received span as plain text (`"GET"` → `GET`, `200` → `200`).
///
/// `fake-opentelemetry-collector` stores attribute values as the Debug text of the protobuf
/// `AnyValue`; this unwraps the scalar cases so tests compare with what they mean.
pub fn span_attribute(span: &ExportedSpan, key: &str) -> Option<String> {
    let raw = span.attributes.get(key)?;
    for kind in ["StringValue(", "IntValue(", "BoolValue(", "DoubleValue("] {
        if let Some(start) = raw.find(kind) {
            let rest = &raw[start + kind.len()..];
            let end = rest.rfind(")) })")?;
            let value = &rest[..end];
            return Some(
                value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value)
                    .to_owned(),
            );
        }
    }
    Some(raw.clone())
}
