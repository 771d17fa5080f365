//! The OTLP/gRPC span exporter: each batch encoded once (`encode`), sent as the unary
//! `TraceService/Export` call over tonic, retried as opentelemetry-otlp 0.33 retries.
//!
//! It runs on the export thread's own single-threaded tokio runtime (see `processor`), so the
//! encoding, HTTP/2 and the connection's I/O all happen on that thread, not on the service's
//! request workers, and an export involves no hand-over between threads.
//!
//! Retries follow opentelemetry-otlp's recommended policy and the OTLP specification: the
//! retryable codes (`UNAVAILABLE`, `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`,
//! `DATA_LOSS`, and `RESOURCE_EXHAUSTED` when the collector sends `RetryInfo`) are tried again at
//! most 3 times, after 100 ms doubling up to 1.6 s plus up to 100 ms of jitter, or after the
//! collector's `RetryInfo` delay, and never past the export timeout.

use crate::trace::otlp::encode::{EncodedSpan, TraceEncoder};
use crate::trace::processor::QueuedExporter;
use bytes::{Buf as _, BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

const SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

const MAX_RETRIES: u32 = 3;
const INITIAL_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_millis(1600);
const MAX_JITTER_MS: u64 = 100;
/// The longest wait a collector's `RetryInfo` can ask for.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct GrpcExporter {
    channel: Channel,
    metadata: MetadataMap,
    timeout: Duration,
    encoder: TraceEncoder,
    shut_down: AtomicBool,
}

impl GrpcExporter {
    /// Must be called inside the tokio runtime that will drive the exports (the connection's
    /// background task is spawned there; it connects on the first export).
    pub(crate) fn new(
        endpoint: &str,
        timeout: Duration,
        headers: &[(String, String)],
    ) -> Result<Self, String> {
        if endpoint.starts_with("https:") {
            return Err(format!(
                "endpoint {endpoint:?} uses https, and OTLP/gRPC is built without TLS here"
            ));
        }
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| format!("invalid endpoint {endpoint:?}: {e}"))?
            .timeout(timeout)
            .connect_lazy();
        let mut metadata = MetadataMap::new();
        for (name, value) in headers {
            let key = MetadataKey::from_bytes(name.as_bytes())
                .map_err(|_| format!("{name:?} is not a gRPC metadata name"))?;
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| format!("the value of {name:?} is not a valid header value"))?;
            metadata.append(key, value);
        }
        Ok(Self {
            channel,
            metadata,
            timeout,
            encoder: TraceEncoder::default(),
            shut_down: AtomicBool::new(false),
        })
    }

    async fn send(&self, body: Bytes) -> Result<(), Status> {
        let mut client = tonic::client::Grpc::new(self.channel.clone());
        client
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("collector connection not ready: {e}")))?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new(SERVICE, "Export"));
        let response = client
            .unary(
                request,
                http::uri::PathAndQuery::from_static(EXPORT_PATH),
                EncodedRequest,
            )
            .await?;
        if let Some(partial) = response.into_inner().partial_success
            && (partial.rejected_spans > 0 || !partial.error_message.is_empty())
        {
            // Per the OTLP specification a partial success is not retried.
            tracing::debug!(
                target: "telemetry",
                rejected_spans = partial.rejected_spans,
                message = %partial.error_message,
                "the collector rejected part of a span batch"
            );
        }
        Ok(())
    }

    async fn send_with_retries(&self, body: Bytes) -> Result<(), Status> {
        let started = Instant::now();
        let mut delay = INITIAL_DELAY;
        let mut delay_cap = MAX_DELAY;
        let mut attempt = 0;
        loop {
            let status = match self.send(body.clone()).await {
                Ok(()) => return Ok(()),
                Err(status) => status,
            };
            if attempt >= MAX_RETRIES || started.elapsed() >= self.timeout {
                return Err(status);
            }
            match retry_after(&status) {
                Retry::Never => return Err(status),
                Retry::Backoff => {}
                Retry::After(asked) => {
                    let asked = asked.min(MAX_THROTTLE);
                    if asked > delay_cap {
                        delay_cap = MAX_THROTTLE;
                    }
                    delay = delay.max(asked);
                }
            }
            attempt += 1;
            let jitter = Duration::from_millis(rand::random_range(0..=MAX_JITTER_MS));
            let wait = delay.saturating_add(jitter).min(delay_cap);
            if wait >= self.timeout.saturating_sub(started.elapsed()) {
                return Err(status);
            }
            tokio::time::sleep(wait).await;
            delay = delay.saturating_mul(2).min(delay_cap);
        }
    }
}

impl QueuedExporter for GrpcExporter {
    type Item = EncodedSpan;

    fn prepare(span: SpanData, value_length_limit: usize) -> EncodedSpan {
        EncodedSpan::new(span, value_length_limit)
    }

    async fn export(&self, batch: Vec<EncodedSpan>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let body = Bytes::from(self.encoder.encode(&batch));
        drop(batch);
        self.send_with_retries(body).await.map_err(|status| {
            let mut message = format!("OTLP/gRPC export failed with code {:?}", status.code());
            if let Some(source) = std::error::Error::source(&status) {
                message.push_str(&format!(": {source}"));
            }
            OTelSdkError::InternalFailure(message)
        })
    }

    fn shutdown(&self) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::Relaxed) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder.set_resource(resource);
    }
}

enum Retry {
    Never,
    Backoff,
    After(Duration),
}

/// How a failed export may be retried, by its gRPC status (OTLP specification).
fn retry_after(status: &Status) -> Retry {
    let asked = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    match status.code() {
        // Retryable only when the collector says when.
        Code::ResourceExhausted => asked.map_or(Retry::Never, Retry::After),
        Code::Unavailable => match asked.filter(|delay| !delay.is_zero()) {
            Some(delay) => Retry::After(delay),
            None => Retry::Backoff,
        },
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => Retry::Backoff,
        _ => Retry::Never,
    }
}

/// The request body is the already encoded `ExportTraceServiceRequest`; the response is decoded.
#[derive(Debug, Clone, Copy, Default)]
struct EncodedRequest;

impl Codec for EncodedRequest {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for EncodedRequest {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for EncodedRequest {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let response = ExportTraceServiceResponse::decode(src.copy_to_bytes(src.remaining()))
            .map_err(|e| Status::internal(format!("invalid ExportTraceServiceResponse: {e}")))?;
        Ok(Some(response))
    }
}
