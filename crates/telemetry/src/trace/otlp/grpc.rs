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
//! collector's `RetryInfo` delay, and never past the export timeout. The loop and the
//! classification are copied from opentelemetry-otlp 0.33.1 (`retry::retry_with_backoff`,
//! `retry_classification::grpc`): that release makes only the `RetryPolicy` builder public, its
//! fields, the loop and the classifier are crate-private. The tests hold the copy to upstream's
//! table and loop.

use crate::trace::otlp::encode::{EncodedSpan, TraceEncoder};
use crate::trace::processor::QueuedExporter;
use bytes::{Buf as _, BufMut as _, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;
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
        retry(self.timeout, || self.send(body.clone())).await
    }
}

/// Runs `send` until it succeeds, or fails in a way [`retry_after`] does not retry, or the retries
/// or the time are used up: opentelemetry-otlp 0.33's `retry_with_backoff` with the recommended
/// `RetryPolicy`, whose loop and gRPC classification are private to that crate (see the module
/// doc). A collector's `RetryInfo` delay is waited (up to [`MAX_THROTTLE`]) and seeds the backoff;
/// no wait reaches past `timeout`, counted from the first attempt.
async fn retry<F, Fut>(timeout: Duration, mut send: F) -> Result<(), Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), Status>>,
{
    // tokio's clock (the export thread's runtime): the same as `std`'s outside a paused test.
    let started = Instant::now();
    let mut delay = INITIAL_DELAY;
    let mut delay_cap = MAX_DELAY;
    let mut attempt = 0;
    loop {
        let status = match send().await {
            Ok(()) => return Ok(()),
            Err(status) => status,
        };
        if attempt >= MAX_RETRIES || started.elapsed() >= timeout {
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
        if wait >= timeout.saturating_sub(started.elapsed()) {
            return Err(status);
        }
        tokio::time::sleep(wait).await;
        delay = delay.saturating_mul(2).min(delay_cap);
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use std::sync::{Arc, Mutex};
    use tonic_types::ErrorDetails;

    const SECOND: Duration = Duration::from_secs(1);

    fn status(code: Code, retry_delay: Option<Duration>) -> Status {
        match retry_delay {
            Some(delay) => Status::with_error_details(
                code,
                "collector says",
                ErrorDetails::with_retry_info(Some(delay)),
            ),
            None => Status::new(code, "collector says"),
        }
    }

    /// opentelemetry-otlp 0.33.1's `classify_grpc_error`, code by code, with and without the
    /// collector's `RetryInfo` (decoded from the status details, as it arrives).
    #[test]
    fn statuses_are_classified_as_upstream_classifies_them() {
        use Retry::{After, Backoff, Never};
        let two = 2 * SECOND;
        let table = [
            // RESOURCE_EXHAUSTED is retried only when the collector says when.
            (Code::ResourceExhausted, None, Never),
            (Code::ResourceExhausted, Some(two), After(two)),
            (
                Code::ResourceExhausted,
                Some(Duration::ZERO),
                After(Duration::ZERO),
            ),
            (Code::Unavailable, None, Backoff),
            (Code::Unavailable, Some(two), After(two)),
            (Code::Unavailable, Some(Duration::ZERO), Backoff),
            (Code::Cancelled, None, Backoff),
            (Code::DeadlineExceeded, None, Backoff),
            (Code::Aborted, Some(two), Backoff),
            (Code::OutOfRange, None, Backoff),
            (Code::DataLoss, None, Backoff),
            (Code::Unknown, None, Never),
            (Code::InvalidArgument, Some(two), Never),
            (Code::NotFound, None, Never),
            (Code::AlreadyExists, None, Never),
            (Code::PermissionDenied, None, Never),
            (Code::FailedPrecondition, None, Never),
            (Code::Unimplemented, None, Never),
            (Code::Internal, None, Never),
            (Code::Unauthenticated, None, Never),
            (Code::Ok, None, Never),
        ];
        for (code, delay, expected) in table {
            assert_eq!(
                retry_after(&status(code, delay)),
                expected,
                "{code:?} with RetryInfo {delay:?}"
            );
        }
    }

    /// Runs the retry loop over `answers` (one per attempt, then success) with an export timeout
    /// of `timeout`: the result and when each attempt was made, from the first.
    async fn attempts(
        timeout: Duration,
        answers: Vec<Status>,
    ) -> (Result<(), Status>, Vec<Duration>) {
        let started = Instant::now();
        let answers = Mutex::new(answers.into_iter());
        let at = Mutex::new(Vec::new());
        let result = retry(timeout, || {
            at.lock().unwrap().push(started.elapsed());
            let answer = answers.lock().unwrap().next();
            async move { answer.map_or(Ok(()), Err) }
        })
        .await;
        (result, at.into_inner().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn resource_exhausted_with_retry_info_waits_the_collectors_delay() {
        let asked = 5 * SECOND; // above the 1.6 s backoff cap: the cap rises to 30 s
        let (result, at) = attempts(
            10 * SECOND,
            vec![status(Code::ResourceExhausted, Some(asked))],
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(at.len(), 2, "{at:?}");
        let waited = at[1] - at[0];
        assert!(
            waited >= asked && waited <= asked + Duration::from_millis(MAX_JITTER_MS),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn resource_exhausted_without_retry_info_is_not_retried() {
        let (result, at) = attempts(10 * SECOND, vec![status(Code::ResourceExhausted, None)]).await;
        assert_eq!(result.unwrap_err().code(), Code::ResourceExhausted);
        assert_eq!(at, [Duration::ZERO]);
    }

    /// The backoff seeded by a `RetryInfo` delay doubles from it (upstream's
    /// `test_repeated_throttle_doubles_within_max`), and a retryable code after it keeps it.
    #[tokio::test(start_paused = true)]
    async fn a_retry_info_delay_seeds_the_backoff() {
        let (result, at) = attempts(
            60 * SECOND,
            vec![
                status(Code::Unavailable, Some(2 * SECOND)),
                status(Code::Unavailable, None),
                status(Code::Aborted, None),
            ],
        )
        .await;
        assert!(result.is_ok());
        let waits: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
        let jitter = Duration::from_millis(MAX_JITTER_MS);
        for (wait, base) in waits.iter().zip([2 * SECOND, 4 * SECOND, 8 * SECOND]) {
            assert!(*wait >= base && *wait <= base + jitter, "{waits:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_codes_back_off_three_times_then_give_up() {
        let unavailable = || status(Code::Unavailable, None);
        let (result, at) = attempts(
            10 * SECOND,
            vec![unavailable(), unavailable(), unavailable(), unavailable()],
        )
        .await;
        assert_eq!(result.unwrap_err().code(), Code::Unavailable);
        let waits: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
        let jitter = Duration::from_millis(MAX_JITTER_MS);
        assert_eq!(waits.len(), 3, "{at:?}");
        for (wait, base) in waits.iter().zip([100, 200, 400].map(Duration::from_millis)) {
            assert!(*wait >= base && *wait <= base + jitter, "{waits:?}");
        }
    }

    /// No wait reaches past the export timeout: a delay longer than what is left fails at once.
    #[tokio::test(start_paused = true)]
    async fn a_delay_past_the_export_timeout_is_not_waited() {
        let (result, at) = attempts(
            3 * SECOND,
            vec![status(Code::ResourceExhausted, Some(5 * SECOND))],
        )
        .await;
        assert_eq!(result.unwrap_err().code(), Code::ResourceExhausted);
        assert_eq!(at, [Duration::ZERO]);
        // A minute asked is cut to 30 s (MAX_THROTTLE), waited within a 40 s timeout.
        let (result, at) = attempts(
            40 * SECOND,
            vec![status(Code::ResourceExhausted, Some(60 * SECOND))],
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(at[1] - at[0], MAX_THROTTLE, "jitter does not pass the cap");
    }

    /// A collector answering with one scripted status per export, then OK.
    #[derive(Clone, Default)]
    struct Scripted {
        answers: Arc<Mutex<Vec<Status>>>,
        requests: Arc<Mutex<Vec<std::time::Instant>>>,
    }

    #[tonic::async_trait]
    impl TraceService for Scripted {
        async fn export(
            &self,
            _request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
            self.requests
                .lock()
                .unwrap()
                .push(std::time::Instant::now());
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
            } else {
                Err(answers.remove(0))
            }
        }
    }

    async fn collector(answers: Vec<Status>) -> (String, Scripted) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let scripted = Scripted {
            answers: Arc::new(Mutex::new(answers)),
            ..Scripted::default()
        };
        let service = TraceServiceServer::new(scripted.clone());
        tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        (endpoint, scripted)
    }

    /// Over the wire: the `RetryInfo` a collector puts in its status details reaches the
    /// exporter, which waits that long and sends the batch again; without it, a
    /// `RESOURCE_EXHAUSTED` export fails at once.
    #[tokio::test]
    async fn the_exporter_honours_a_collectors_retry_info() {
        let asked = Duration::from_millis(700); // longer than any backoff before it could be
        let (endpoint, scripted) =
            collector(vec![status(Code::ResourceExhausted, Some(asked))]).await;
        let exporter = GrpcExporter::new(&endpoint, 10 * SECOND, &[]).unwrap();
        exporter
            .export(Vec::new())
            .await
            .expect("exported on the retry");
        let requests = scripted.requests.lock().unwrap().clone();
        assert_eq!(requests.len(), 2);
        assert!(
            requests[1] - requests[0] >= asked,
            "{:?}",
            requests[1] - requests[0]
        );

        let (endpoint, scripted) = collector(vec![status(Code::ResourceExhausted, None)]).await;
        let exporter = GrpcExporter::new(&endpoint, 10 * SECOND, &[]).unwrap();
        let error = exporter.export(Vec::new()).await.unwrap_err();
        assert!(error.to_string().contains("ResourceExhausted"), "{error}");
        assert_eq!(scripted.requests.lock().unwrap().len(), 1);
    }
}
