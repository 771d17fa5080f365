//! OTLP receivers for trace assertions, gRPC (tonic) and HTTP/protobuf (axum), both on free
//! loopback ports, decoding each export with the OTLP protobuf types (`opentelemetry-proto`) into
//! spans whose attributes and resource keep their types.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An attribute value as OTLP carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Array(Vec<AttributeValue>),
    /// Bytes and key/value lists, which no span here carries, as their protobuf Debug text.
    Other(String),
}

impl AttributeValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Int(i) => write!(f, "{i}"),
            Self::Double(d) => write!(f, "{d}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Array(items) => {
                let items: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl From<AnyValue> for AttributeValue {
    fn from(value: AnyValue) -> Self {
        match value.value {
            Some(any_value::Value::StringValue(s)) => Self::String(s),
            Some(any_value::Value::IntValue(i)) => Self::Int(i),
            Some(any_value::Value::DoubleValue(d)) => Self::Double(d),
            Some(any_value::Value::BoolValue(b)) => Self::Bool(b),
            Some(any_value::Value::ArrayValue(array)) => {
                Self::Array(array.values.into_iter().map(Self::from).collect())
            }
            other => Self::Other(format!("{other:?}")),
        }
    }
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, AttributeValue> {
    list.into_iter()
        .filter_map(|kv| Some((kv.key, AttributeValue::from(kv.value?))))
        .collect()
}

/// A span's status: `code` as the protobuf enum names it (`STATUS_CODE_ERROR`).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanStatus {
    pub code: String,
    pub message: String,
}

/// One event of a received span (`exception`, ...).
#[derive(Debug, Clone)]
pub struct ExportedEvent {
    pub name: String,
    pub attributes: BTreeMap<String, AttributeValue>,
}

/// One received span, with the resource and instrumentation scope it came with.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 16 hex digits, or empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// As the protobuf enum names it: `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, ...
    pub kind: String,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub dropped_attributes_count: u32,
    pub events: Vec<ExportedEvent>,
    pub status: Option<SpanStatus>,
    /// The resource's attributes (`service.name`, `telemetry.sdk.version`, ...).
    pub resource: BTreeMap<String, AttributeValue>,
    /// The instrumentation scope's name.
    pub scope: String,
}

impl ExportedSpan {
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes.get(key)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every span of an export request.
pub fn decode_spans(request: ExportTraceServiceRequest) -> Vec<ExportedSpan> {
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = attributes(
            resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default(),
        );
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                spans.push(ExportedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind().as_str_name().to_owned(),
                    status: span.status.as_ref().map(|s| SpanStatus {
                        code: s.code().as_str_name().to_owned(),
                        message: s.message.clone(),
                    }),
                    name: span.name,
                    start_time_unix_nano: span.start_time_unix_nano,
                    end_time_unix_nano: span.end_time_unix_nano,
                    attributes: attributes(span.attributes),
                    dropped_attributes_count: span.dropped_attributes_count,
                    events: span
                        .events
                        .into_iter()
                        .map(|event| ExportedEvent {
                            name: event.name,
                            attributes: attributes(event.attributes),
                        })
                        .collect(),
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    spans
}

type Received = Arc<Mutex<Vec<ExportedSpan>>>;

async fn wait_for_spans(
    received: &Received,
    timeout: Duration,
    predicate: impl Fn(&[ExportedSpan]) -> bool,
) -> Vec<ExportedSpan> {
    let deadline = Instant::now() + timeout;
    loop {
        let spans = received.lock().expect("lock").clone();
        if predicate(&spans) || Instant::now() >= deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[derive(Clone)]
struct KeepingTraceService {
    received: Received,
}

#[tonic::async_trait]
impl TraceService for KeepingTraceService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = decode_spans(request.into_inner());
        self.received.lock().expect("lock").extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC receiver. Use `endpoint()` as `OTEL_EXPORTER_OTLP_ENDPOINT` with protocol `grpc`.
pub struct OtlpGrpcReceiver {
    addr: std::net::SocketAddr,
    received: Received,
    server: tokio::task::JoinHandle<()>,
}

impl OtlpGrpcReceiver {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind OTLP gRPC receiver");
        let addr = listener.local_addr().expect("local addr");
        let received = Received::default();
        let service = TraceServiceServer::new(KeepingTraceService {
            received: received.clone(),
        });
        let server = tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        Self {
            addr,
            received,
            server,
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, waiting until `predicate` holds for the list or `timeout`.
    pub async fn spans_until(
        &mut self,
        timeout: Duration,
        predicate: impl Fn(&[ExportedSpan]) -> bool,
    ) -> Vec<ExportedSpan> {
        wait_for_spans(&self.received, timeout, predicate).await
    }
}

impl Drop for OtlpGrpcReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An OTLP/HTTP (protobuf) receiver at `POST /v1/traces`.
pub struct OtlpHttpReceiver {
    addr: std::net::SocketAddr,
    received: Received,
}

impl OtlpHttpReceiver {
    pub async fn start() -> Self {
        let received = Received::default();
        let sink = received.clone();
        let router = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: bytes::Bytes| {
                let sink = sink.clone();
                async move {
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(request) => {
                            sink.lock().expect("lock").extend(decode_spans(request));
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
        wait_for_spans(&self.received, timeout, predicate).await
    }
}

/// An attribute of a received span as plain text (`"GET"` → `GET`, `200` → `200`).
pub fn span_attribute(span: &ExportedSpan, key: &str) -> Option<String> {
    span.attributes.get(key).map(ToString::to_string)
}
