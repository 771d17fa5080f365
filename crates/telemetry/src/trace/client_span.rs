//! Client spans: [`ClientSpan`], a span made without a `tracing` span in between, for calls made
//! on every request (redis-counter's `INCR`); and [`HttpClientSpan`], the span of an outgoing HTTP
//! request (loadgen's requests, url-prober's probes) with the attributes the OpenTelemetry HTTP
//! semantic conventions define, so every client reports them alike. Also the pieces both sides of
//! HTTP share: `server.address` from an [`Authority`], `network.protocol.version`.

use crate::trace::direct_span::DirectSpan;
use crate::trace::installed::{direct_spans, server_tracer};
use crate::trace::otlp::encode::encode_attributes;
use crate::trace::redact::{SensitiveQuery, redact_url_with};
use http::uri::{Authority, Scheme};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator as _, RandomIdGenerator, SamplingDecision, ShouldSample as _,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use std::sync::OnceLock;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Room for a client span's attributes: the database and HTTP conventions' dozen, so neither the
/// caller's list nor the span's grows.
const CLIENT_SPAN_ATTRIBUTES: usize = 12;

/// A client span of the current request, started without a `tracing` span in between.
///
/// Why: a `tracing` span with a dozen fields costs about 3 µs per call (the registry slot, every
/// field formatted into an owned attribute, the bridge's bookkeeping at close), as much as the
/// whole server span; for a call made on every request that doubled the tracing cost per request.
/// Here nothing is built unless the span is recorded: outside a trace, or when the sampler drops
/// it, the start returns at once and every method does nothing. Attributes are `KeyValue`s with
/// static keys, set only for a recorded span.
///
/// With OTLP/gRPC a sampled span is not an SDK span at all: it is its ids, times, name and
/// attributes, written into its OTLP bytes when it ends and queued for the exporter like the SDK's
/// spans (docs/ARCHITECTURE.md, "Spans without the SDK"). The attributes every span of a
/// kind carries can be given once, as a [`ClientSpanTemplate`], and are then encoded once. With
/// OTLP/HTTP (opentelemetry-otlp's exporter, which takes SDK spans) it is the SDK's span.
///
/// The span ends when dropped. Its parent is the span current when it starts (the request's
/// server span, attached while the handler runs); it is not made current itself.
#[derive(Debug)]
pub struct ClientSpan<'a>(Recorded<'a>);

// One per call, kept on the caller's stack: boxing the large variants would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Recorded<'a> {
    No,
    Sdk(opentelemetry_sdk::trace::Span),
    Direct(DirectSpan<'a>),
}

/// A client span's name and the attributes every span of it carries (a Redis command's target,
/// operation and query text): with OTLP/gRPC they are encoded once, not for every span.
#[derive(Debug)]
pub struct ClientSpanTemplate {
    name: &'static str,
    attributes: Vec<KeyValue>,
    encoded: OnceLock<Vec<u8>>,
}

impl ClientSpanTemplate {
    /// Spans named `name` that all carry `attributes` (keep it in a `static` or in the client:
    /// made once, used for every call).
    pub fn new(name: &'static str, attributes: Vec<KeyValue>) -> Self {
        Self {
            name,
            attributes,
            encoded: OnceLock::new(),
        }
    }
}

impl ClientSpan<'static> {
    /// Starts client span `name` under the current span; `attributes` runs only if the span is
    /// recorded, so the caller formats nothing for an unrecorded one. No current span (not in a
    /// trace: e.g. a readiness probe), tracing off, or telemetry suppressed: no span.
    pub fn start(name: &'static str, attributes: impl FnOnce(&mut Vec<KeyValue>)) -> Self {
        Self::begin(name, &[], 0, attributes, Vec::new)
    }
}

impl<'a> ClientSpan<'a> {
    /// Starts a span of `template` under the current span, as [`ClientSpan::start`] does.
    pub fn start_from(template: &'a ClientSpanTemplate) -> Self {
        let encoded = match direct_spans() {
            Some(direct) => template
                .encoded
                .get_or_init(|| encode_attributes(&template.attributes, direct.value_length_limit))
                .as_slice(),
            None => &[],
        };
        Self::begin(
            template.name,
            encoded,
            template.attributes.len(),
            |_| {},
            || template.attributes.clone(),
        )
    }

    /// `encoded` (`encoded_count` attributes) and what `attributes` adds make a direct span's
    /// attributes; an SDK span gets `sdk_attributes()` and what `attributes` adds.
    fn begin(
        name: &'static str,
        encoded: &'a [u8],
        encoded_count: usize,
        attributes: impl FnOnce(&mut Vec<KeyValue>),
        sdk_attributes: impl FnOnce() -> Vec<KeyValue>,
    ) -> Self {
        let Some(server) = server_tracer() else {
            return Self(Recorded::No);
        };
        let parent = Context::current();
        if !parent.has_active_span() || parent.is_telemetry_suppressed() {
            return Self(Recorded::No);
        }
        if let Some(direct) = direct_spans() {
            let parent_span = parent.span();
            let psc = parent_span.span_context();
            if psc.is_valid() {
                let decision = server.sampler().should_sample(
                    Some(&parent),
                    psc.trace_id(),
                    name,
                    &SpanKind::Client,
                    &[],
                    &[],
                );
                match decision.decision {
                    SamplingDecision::Drop => return Self(Recorded::No),
                    SamplingDecision::RecordAndSample => {
                        let mut values = Vec::with_capacity(CLIENT_SPAN_ATTRIBUTES);
                        attributes(&mut values);
                        return Self(Recorded::Direct(DirectSpan::start(
                            direct,
                            decision,
                            psc.trace_id(),
                            RandomIdGenerator::default().new_span_id(),
                            psc,
                            SpanKind::Client,
                            name,
                            encoded,
                            encoded_count,
                            values,
                        )));
                    }
                    // Recorded but not sampled: the SDK's span (which our processor drops).
                    SamplingDecision::RecordOnly => {}
                }
            }
        }
        let tracer = server.tracer();
        // The SDK keeps the builder's `Vec` as the span's attributes: with room made here, the
        // attributes set below never grow it.
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_attributes(Vec::with_capacity(CLIENT_SPAN_ATTRIBUTES))
            .start_with_context(tracer, &parent);
        if !span.is_recording() {
            return Self(Recorded::No);
        }
        let mut values = sdk_attributes();
        values.reserve(CLIENT_SPAN_ATTRIBUTES.saturating_sub(values.len()));
        attributes(&mut values);
        span.set_attributes(values);
        Self(Recorded::Sdk(span))
    }

    /// Sets one attribute (nothing if the span is not recorded).
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        match &mut self.0 {
            Recorded::No => {}
            Recorded::Sdk(span) => span.set_attribute(attribute),
            Recorded::Direct(span) => span.set_attribute(attribute),
        }
    }

    /// Marks the span failed: status `Error` and `error.type` (a low-cardinality class of error,
    /// as the conventions want it).
    pub fn set_error(&mut self, error_type: impl Into<opentelemetry::StringValue>) {
        let error_type = KeyValue::new(semconv::ERROR_TYPE, error_type.into());
        match &mut self.0 {
            Recorded::No => {}
            Recorded::Sdk(span) => {
                span.set_status(Status::error(""));
                span.set_attribute(error_type);
            }
            Recorded::Direct(span) => {
                span.set_status(Status::error(""));
                span.set_attribute(error_type);
            }
        }
    }

    /// Runs `f` with this span as the current one for log lines (their `trace_id`/`span_id`),
    /// or as it is when the span is not recorded.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let context = match &self.0 {
            Recorded::No => return f(),
            Recorded::Sdk(span) => span.span_context(),
            Recorded::Direct(span) => span.span_context(),
        };
        let _attached = Context::current()
            .with_remote_span_context(context.clone())
            .attach();
        f()
    }
}

/// The client span of an outgoing HTTP request, the root of a new trace: a `tracing` span named
/// after the method (as the conventions name client spans), with `http.request.method`,
/// `url.full` (redacted: see [`crate::redact_url`]'s rules), `server.address` and `server.port`
/// from the start, and the response's attributes or the error once known.
///
/// A `tracing` span rather than a [`ClientSpan`]: these requests are not made inside a request
/// of ours (a probe, a load generator's request), so there is no current span to start under and
/// nothing per request to save; and while the request is sent inside it ([`Self::instrument`]),
/// `InjectContext` finds it and sends its `traceparent`.
#[derive(Debug, Clone)]
pub struct HttpClientSpan(tracing::Span);

impl HttpClientSpan {
    /// Starts the span of a `method` request to `url` (as sent, secrets included: only its
    /// redacted form, with `sensitive`'s query values hidden, is recorded).
    pub fn new_trace(method: &http::Method, url: &str, sensitive: SensitiveQuery) -> Self {
        let uri = url.parse::<http::Uri>().ok();
        let authority = uri.as_ref().and_then(http::Uri::authority);
        let port = authority.and_then(Authority::port_u16).or_else(|| {
            match uri.as_ref().and_then(http::Uri::scheme) {
                Some(scheme) if *scheme == Scheme::HTTP => Some(80),
                Some(scheme) if *scheme == Scheme::HTTPS => Some(443),
                _ => None,
            }
        });
        let span = tracing::info_span!(
            parent: None,
            "HTTP client",
            otel.name = method.as_str(),
            otel.kind = "client",
            otel.status_code = Empty,
            { semconv::HTTP_REQUEST_METHOD } = method.as_str(),
            { semconv::URL_FULL } = redact_url_with(url, sensitive),
            { semconv::SERVER_ADDRESS } = authority.map(server_address).unwrap_or_default(),
            { semconv::SERVER_PORT } = port.map(i64::from),
            { semconv::HTTP_RESPONSE_STATUS_CODE } = Empty,
            { semconv::HTTP_REQUEST_RESEND_COUNT } = Empty,
            { semconv::NETWORK_PROTOCOL_VERSION } = Empty,
            { semconv::NETWORK_PEER_ADDRESS } = Empty,
            { semconv::NETWORK_PEER_PORT } = Empty,
            { semconv::ERROR_TYPE } = Empty,
        );
        Self(span)
    }

    /// `future` (the request, sent with `InjectContext`) run inside the span.
    pub fn instrument<F: std::future::Future>(
        &self,
        future: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(future, self.0.clone())
    }

    /// The `tracing` span, to be the parent of log events.
    pub fn span(&self) -> &tracing::Span {
        &self.0
    }

    /// Adds an attribute of the caller's own (named in docs/semconv/registry.yaml).
    pub fn set_attribute(&self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        self.0.set_attribute(key, value);
    }

    /// Records the response's attributes: `http.response.status_code`, `network.protocol.version`
    /// and `network.peer.*`.
    pub fn record_response(&self, response: &reqwest::Response) {
        record_response(&self.0, response);
    }

    /// `http.request.resend_count`: the conventions count followed redirects and retries.
    pub fn record_resend_count(&self, count: usize) {
        self.0.record(
            semconv::HTTP_REQUEST_RESEND_COUNT,
            i64::try_from(count).unwrap_or(i64::MAX),
        );
    }

    /// Marks the request failed: `error.type` (the status code, or a low-cardinality class of
    /// error) and status `Error`.
    pub fn set_error(&self, error_type: &str) {
        self.0.record(semconv::ERROR_TYPE, error_type);
        self.0.record("otel.status_code", "ERROR");
    }
}

/// `server.address` of an authority: its host, an IPv6 address without its brackets (the
/// conventions' form). The port is the authority's `port_u16()`.
pub(crate) fn server_address(authority: &Authority) -> &str {
    let host = authority.host();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// `network.protocol.version` of an HTTP version.
pub(crate) fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "other",
    }
}

/// Records `http.response.status_code`, `network.protocol.version` and `network.peer.*` of a
/// response on `span` (fields the span does not declare are ignored). Integers go in as `i64`:
/// tracing-opentelemetry records other integer types as strings.
pub(crate) fn record_response(span: &tracing::Span, response: &reqwest::Response) {
    span.record(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    );
    span.record(
        semconv::NETWORK_PROTOCOL_VERSION,
        protocol_version(response.version()),
    );
    if let Some(peer) = response.remote_addr() {
        span.record(semconv::NETWORK_PEER_ADDRESS, peer.ip().to_string());
        span.record(semconv::NETWORK_PEER_PORT, i64::from(peer.port()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_address_is_the_host_without_brackets() {
        for (authority, address, port) in [
            ("example.com:8080", "example.com", Some(8080)),
            ("example.com", "example.com", None),
            ("user:pw@example.com:81", "example.com", Some(81)),
            ("[::1]:5000", "::1", Some(5000)),
            ("[::1]", "::1", None),
        ] {
            let authority: Authority = authority.parse().unwrap();
            assert_eq!(server_address(&authority), address);
            assert_eq!(authority.port_u16(), port);
        }
    }
}
