//! Client spans: [`ClientSpan`], a span made without a `tracing` span in between, for calls made
//! on every request (redis-counter's `INCR`); and the attribute values of HTTP client spans (made
//! with `tracing` by the services), as the OpenTelemetry HTTP semantic conventions define them, so
//! every client reports them alike. Such a `tracing` span declares the fields
//! (`{ semconv::attribute::NETWORK_PEER_ADDRESS } = Empty`, ...).

use crate::trace::direct_span::DirectSpan;
use crate::trace::installed::{direct_spans, server_tracer};
use crate::trace::otlp::encode::encode_attributes;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator as _, RandomIdGenerator, SamplingDecision, ShouldSample as _,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use std::sync::OnceLock;

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
