//! Client spans: [`ClientSpan`], a span started on the OpenTelemetry SDK directly, for calls made
//! on every request (redis-counter's `INCR`); and the attribute values of HTTP client spans (made
//! with `tracing` by the services), as the OpenTelemetry HTTP semantic conventions define them, so
//! every client reports them alike. Such a `tracing` span declares the fields
//! (`{ semconv::attribute::NETWORK_PEER_ADDRESS } = Empty`, ...).

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute as semconv;

/// A client span of the current request, started on the SDK's tracer directly rather than as a
/// `tracing` span bridged by tracing-opentelemetry.
///
/// Why: a `tracing` span with a dozen fields costs about 3 µs per call (the registry slot, every
/// field formatted into an owned attribute, the bridge's bookkeeping at close), as much as the
/// whole server span; for a call made on every request that doubled the tracing cost per request.
/// Here nothing is built unless the span is recorded: outside a trace, or when the sampler drops
/// it, [`ClientSpan::start`] returns at once and every method does nothing. Attributes are
/// `KeyValue`s with static keys, set only for a recorded span.
///
/// The span ends when dropped (the SDK span's own `Drop`). Its parent is the span current when it
/// starts (the request's server span, attached while the handler runs).
#[derive(Debug)]
pub struct ClientSpan(Option<opentelemetry_sdk::trace::Span>);

impl ClientSpan {
    /// Starts client span `name` under the current span; `attributes` runs only if the span is
    /// recorded, so the caller formats nothing for an unrecorded one. No current span (not in a
    /// trace: e.g. a readiness probe), tracing off, or telemetry suppressed: no span.
    pub fn start(name: &'static str, attributes: impl FnOnce(&mut Vec<KeyValue>)) -> Self {
        let Some(tracer) = crate::server_span::sdk_tracer() else {
            return Self(None);
        };
        let parent = Context::current();
        if !parent.has_active_span() || parent.is_telemetry_suppressed() {
            return Self(None);
        }
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .start_with_context(tracer, &parent);
        if !span.is_recording() {
            return Self(None);
        }
        let mut values = Vec::with_capacity(12);
        attributes(&mut values);
        span.set_attributes(values);
        Self(Some(span))
    }

    /// Sets one attribute (nothing if the span is not recorded).
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        if let Some(span) = &mut self.0 {
            span.set_attribute(attribute);
        }
    }

    /// Marks the span failed: status `Error` and `error.type` (a low-cardinality class of error,
    /// as the conventions want it).
    pub fn set_error(&mut self, error_type: impl Into<opentelemetry::StringValue>) {
        if let Some(span) = &mut self.0 {
            span.set_status(Status::error(""));
            span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, error_type.into()));
        }
    }

    /// Runs `f` with this span as the current one for log lines (their `trace_id`/`span_id`),
    /// or as it is when the span is not recorded.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.0 {
            Some(span) => {
                let _attached = Context::current()
                    .with_remote_span_context(span.span_context().clone())
                    .attach();
                f()
            }
            None => f(),
        }
    }
}

/// `server.address` of a URL: its host, an IPv6 address without brackets.
pub fn server_address(url: &reqwest::Url) -> &str {
    let host = url.host_str().unwrap_or_default();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Records `http.response.status_code`, `network.protocol.version` and `network.peer.*` of a
/// response on `span` (fields the span does not declare are ignored). Integers go in as `i64`:
/// tracing-opentelemetry records other integer types as strings.
pub fn record_response(span: &tracing::Span, response: &reqwest::Response) {
    span.record(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    );
    let version = match response.version() {
        reqwest::Version::HTTP_09 => "0.9",
        reqwest::Version::HTTP_10 => "1.0",
        reqwest::Version::HTTP_11 => "1.1",
        reqwest::Version::HTTP_2 => "2",
        reqwest::Version::HTTP_3 => "3",
        _ => "other",
    };
    span.record(semconv::NETWORK_PROTOCOL_VERSION, version);
    if let Some(peer) = response.remote_addr() {
        span.record(semconv::NETWORK_PEER_ADDRESS, peer.ip().to_string());
        span.record(semconv::NETWORK_PEER_PORT, i64::from(peer.port()));
    }
}
