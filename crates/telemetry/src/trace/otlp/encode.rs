//! Finished spans written straight into the OTLP protobuf bytes of an `ExportTraceServiceRequest`.
//!
//! opentelemetry-otlp's exporter deep-copies every batch (once per attempt), converts each span
//! into `opentelemetry-proto` structs (a `String` per attribute key and value) and lets prost size
//! every nested message again at each level; at 100 % sampling that cost more than serving the
//! request. Here each span is written once, from borrowed data, in the field order and with the
//! default-value rules prost uses, so the bytes are the very ones opentelemetry-otlp sends (the
//! tests compare them). The resource and the instrumentation scopes, which are few, are encoded
//! with the `opentelemetry-proto` types themselves.
//!
//! A span is encoded when it ends, on the thread that ended it ([`EncodedSpan`]): the queue then
//! holds a few hundred bytes per span rather than the span's many allocations (which the thread
//! that made them also frees), and the export thread only joins the pieces into a request.
//! String attribute values are cut to the length limit as they are written.

use crate::trace::attribute_limit::truncate;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message as _;
use prost::encoding::WireType::{self, LengthDelimited, SixtyFourBit, ThirtyTwoBit, Varint};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint};
use prost::length_delimiter_len;
use std::time::{SystemTime, UNIX_EPOCH};

/// `SpanFlags` of trace.proto: the flags say whether the parent is remote.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// Encodes batches for one resource.
#[derive(Debug, Default)]
pub(crate) struct TraceEncoder {
    /// The `Resource` message, encoded once.
    resource: Vec<u8>,
    schema_url: String,
}

impl TraceEncoder {
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        let with_schema = ResourceAttributesWithSchema::from(resource);
        self.resource = ProtoResource {
            attributes: with_schema.attributes.0,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
        .encode_to_vec();
        self.schema_url = with_schema.schema_url.unwrap_or_default();
    }

    /// The `ExportTraceServiceRequest` carrying `spans`: one `ResourceSpans`, one `ScopeSpans` per
    /// instrumentation scope in order of first appearance (as opentelemetry-otlp groups them).
    ///
    /// Protobuf writes each message's length before it, so every length is computed first; then
    /// the request is written front to back into one buffer of exactly its size.
    pub(crate) fn encode(&self, spans: &[EncodedSpan]) -> Vec<u8> {
        struct Scope<'a> {
            scope: &'a InstrumentationScope,
            header: Vec<u8>,
            len: usize,
        }
        let mut scopes: Vec<Scope<'_>> = Vec::new();
        let mut scope_of: Vec<usize> = Vec::with_capacity(spans.len());
        for span in spans {
            let index = match scopes.iter().position(|s| *s.scope == span.scope) {
                Some(index) => index,
                None => {
                    let header = scope_header(&span.scope);
                    let url_len =
                        len_field_len_nonempty(3, span.scope.schema_url().map_or(0, str::len));
                    scopes.push(Scope {
                        scope: &span.scope,
                        len: header.len() + url_len,
                        header,
                    });
                    scopes.len() - 1
                }
            };
            scopes[index].len += len_field_len(span.bytes.len());
            scope_of.push(index);
        }
        let resource_spans_len = len_field_len(self.resource.len())
            + scopes.iter().map(|s| len_field_len(s.len)).sum::<usize>()
            + len_field_len_nonempty(3, self.schema_url.len());
        let mut out = Vec::with_capacity(len_field_len(resource_spans_len));
        put_key(&mut out, 1, LengthDelimited);
        put_length(&mut out, resource_spans_len);
        put_len_field(&mut out, 1, &self.resource);
        for (index, scope) in scopes.iter().enumerate() {
            put_key(&mut out, 2, LengthDelimited);
            put_length(&mut out, scope.len);
            out.extend_from_slice(&scope.header);
            for (span, _) in spans.iter().zip(&scope_of).filter(|(_, i)| **i == index) {
                put_len_field(&mut out, 2, &span.bytes);
            }
            put_len_field_nonempty(
                &mut out,
                3,
                scope.scope.schema_url().unwrap_or("").as_bytes(),
            );
        }
        put_len_field_nonempty(&mut out, 3, self.schema_url.as_bytes());
        out
    }
}

/// A finished span as it waits for export: its `Span` message, and the scope it is grouped under.
#[derive(Debug)]
pub(crate) struct EncodedSpan {
    scope: InstrumentationScope,
    bytes: Vec<u8>,
}

impl EncodedSpan {
    /// Encodes `span`, string attribute values cut to `limit` characters.
    pub(crate) fn new(span: SpanData, limit: usize) -> Self {
        let fields = SpanFields {
            context: &span.span_context,
            parent_span_id: span.parent_span_id,
            parent_span_is_remote: span.parent_span_is_remote,
            name: &span.name,
            kind: &span.span_kind,
            start_time: span.start_time,
            end_time: span.end_time,
            encoded_attributes: &[],
            attributes: &span.attributes,
            dropped_attributes_count: span.dropped_attributes_count,
            events: Some(&span.events),
            links: Some(&span.links),
            status: &span.status,
        };
        let bytes = fields.encode(limit);
        Self {
            scope: span.instrumentation_scope,
            bytes,
        }
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A span the SDK never saw (`direct_span`), under `scope`.
    pub(crate) fn from_fields(
        scope: InstrumentationScope,
        fields: &SpanFields<'_>,
        limit: usize,
    ) -> Self {
        Self {
            scope,
            bytes: fields.encode(limit),
        }
    }
}

/// What a `Span` message is written from: an SDK span's data, or the fields of a span made without
/// the SDK.
pub(crate) struct SpanFields<'a> {
    pub context: &'a SpanContext,
    pub parent_span_id: SpanId,
    pub parent_span_is_remote: bool,
    pub name: &'a str,
    pub kind: &'a SpanKind,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
    /// Attributes already written as `Span.attributes` entries ([`encode_attributes`]); they come
    /// before `attributes`.
    pub encoded_attributes: &'a [u8],
    pub attributes: &'a [KeyValue],
    pub dropped_attributes_count: u32,
    pub events: Option<&'a SpanEvents>,
    pub links: Option<&'a SpanLinks>,
    pub status: &'a Status,
}

impl SpanFields<'_> {
    fn encode(&self, limit: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.size_hint(limit));
        encode_span(self, limit, &mut bytes);
        bytes
    }

    /// About the encoded size of a span (a little more for the usual span), so its buffer is
    /// allocated once.
    fn size_hint(&self, limit: usize) -> usize {
        fn attributes(attributes: &[KeyValue], limit: usize) -> usize {
            attributes
                .iter()
                .map(|kv| {
                    let value = match &kv.value {
                        Value::String(s) => s.as_str().len().min(limit.saturating_mul(4)),
                        _ => 16,
                    };
                    kv.key.as_str().len() + value + 8
                })
                .sum()
        }
        96 + self.name.len()
            + self.encoded_attributes.len()
            + attributes(self.attributes, limit)
            + self.events.map_or(0, |events| {
                events
                    .iter()
                    .map(|e| 32 + e.name.len() + attributes(&e.attributes, limit))
                    .sum::<usize>()
            })
            + self.links.map_or(0, |links| {
                links
                    .iter()
                    .map(|l| 48 + attributes(&l.attributes, limit))
                    .sum::<usize>()
            })
    }
}

/// `attributes` as `Span.attributes` entries, to be written into spans as they are
/// ([`SpanFields::encoded_attributes`]): attributes every span of a kind carries are encoded once.
pub(crate) fn encode_attributes(attributes: &[KeyValue], limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for attribute in attributes {
        put_key_value(&mut out, 9, attribute, limit);
    }
    out
}

/// The start of a `ScopeSpans` message: its `scope` field (the spans follow).
fn scope_header(scope: &InstrumentationScope) -> Vec<u8> {
    let encoded = proto_common::InstrumentationScope::from((scope, None)).encode_to_vec();
    let mut header = Vec::with_capacity(encoded.len() + 8);
    put_len_field(&mut header, 1, &encoded);
    header
}

/// One `Span` message (trace.proto), fields in tag order, defaults left out as prost does.
fn encode_span(span: &SpanFields<'_>, limit: usize, out: &mut Vec<u8>) {
    let context = span.context;
    put_len_field(out, 1, &context.trace_id().to_bytes());
    put_len_field(out, 2, &context.span_id().to_bytes());
    put_trace_state(out, 3, context.trace_state());
    if span.parent_span_id != SpanId::INVALID {
        put_len_field(out, 4, &span.parent_span_id.to_bytes());
    }
    put_len_field_nonempty(out, 5, span.name.as_bytes());
    put_varint_field(out, 6, span_kind(span.kind));
    put_fixed64_field(out, 7, unix_nanos(span.start_time));
    put_fixed64_field(out, 8, unix_nanos(span.end_time));
    out.extend_from_slice(span.encoded_attributes);
    for attribute in span.attributes {
        put_key_value(out, 9, attribute, limit);
    }
    put_varint_field(out, 10, u64::from(span.dropped_attributes_count));
    let no_events = SpanEvents::default();
    let events = span.events.unwrap_or(&no_events);
    for event in events.iter() {
        put_message(out, 11, |out| {
            put_fixed64_field(out, 1, unix_nanos(event.timestamp));
            put_len_field_nonempty(out, 2, event.name.as_bytes());
            for attribute in &event.attributes {
                put_key_value(out, 3, attribute, limit);
            }
            put_varint_field(out, 4, u64::from(event.dropped_attributes_count));
        });
    }
    put_varint_field(out, 12, u64::from(events.dropped_count));
    let no_links = SpanLinks::default();
    let links = span.links.unwrap_or(&no_links);
    for link in links.iter() {
        let linked = &link.span_context;
        put_message(out, 13, |out| {
            put_len_field(out, 1, &linked.trace_id().to_bytes());
            put_len_field(out, 2, &linked.span_id().to_bytes());
            put_trace_state(out, 3, linked.trace_state());
            for attribute in &link.attributes {
                put_key_value(out, 4, attribute, limit);
            }
            put_varint_field(out, 5, u64::from(link.dropped_attributes_count));
            put_fixed32_field(
                out,
                6,
                span_flags(linked.is_remote(), linked.trace_flags().to_u8()),
            );
        });
    }
    put_varint_field(out, 14, u64::from(links.dropped_count));
    // Status is always present, even when unset (an empty message).
    put_message(out, 15, |out| {
        let (code, message) = match span.status {
            Status::Unset => (0, ""),
            Status::Ok => (1, ""),
            Status::Error { description } => (2, description.as_ref()),
        };
        put_len_field_nonempty(out, 2, message.as_bytes());
        put_varint_field(out, 3, code);
    });
    put_fixed32_field(
        out,
        16,
        span_flags(span.parent_span_is_remote, context.trace_flags().to_u8()),
    );
}

fn span_kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn span_flags(remote: bool, trace_flags: u8) -> u32 {
    let flags = u32::from(trace_flags) | CONTEXT_HAS_IS_REMOTE;
    if remote {
        flags | CONTEXT_IS_REMOTE
    } else {
        flags
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn put_trace_state(out: &mut Vec<u8>, field: u32, state: &TraceState) {
    // Most spans carry none: no header string is built for them.
    if *state != TraceState::NONE {
        put_len_field_nonempty(out, field, state.header().as_bytes());
    }
}

/// A `KeyValue` message as field `field` of the enclosing message.
#[inline]
fn put_key_value(out: &mut Vec<u8>, field: u32, kv: &KeyValue, limit: usize) {
    put_message(out, field, |out| {
        put_len_field_nonempty(out, 1, kv.key.as_str().as_bytes());
        put_message(out, 2, |out| put_any_value(&kv.value, limit, out));
    });
}

/// The body of an `AnyValue` message. Its `oneof` field is always written, default or not.
fn put_any_value(value: &Value, limit: usize, out: &mut Vec<u8>) {
    match value {
        Value::Bool(v) => {
            put_key(out, 2, Varint);
            encode_varint(u64::from(*v), out);
        }
        Value::I64(v) => {
            put_key(out, 3, Varint);
            encode_varint(*v as u64, out);
        }
        Value::F64(v) => {
            put_key(out, 4, SixtyFourBit);
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Value::String(s) => put_len_field(out, 1, truncate(s.as_str(), limit).as_bytes()),
        // `ArrayValue { repeated AnyValue values = 1 }`
        Value::Array(array) => put_message(out, 5, |out| {
            let mut element = |value: Value| {
                put_message(out, 1, |out| put_any_value(&value, limit, out));
            };
            match array {
                Array::Bool(values) => values.iter().for_each(|v| element(Value::Bool(*v))),
                Array::I64(values) => values.iter().for_each(|v| element(Value::I64(*v))),
                Array::F64(values) => values.iter().for_each(|v| element(Value::F64(*v))),
                Array::String(values) => values
                    .iter()
                    .for_each(|v| element(Value::String(v.clone()))),
                _ => {}
            }
        }),
        // A value type added to the API after this was written: its string form.
        other => put_len_field(out, 1, other.as_str().as_bytes()),
    }
}

// The wire format's primitives are prost's (`encode_key`, `encode_varint`, `encoded_len_varint`,
// `length_delimiter_len`), the very functions prost's generated code (and so opentelemetry-otlp)
// writes with; what is here is only how fields are laid out and when they are left out.

/// A length-delimited field whose body `write` writes. Its length is known only once written:
/// one byte is reserved for it and widened in place in the rare case the body reaches 128
/// bytes, so nothing is sized in a pass of its own.
#[inline]
fn put_message(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    put_key(out, field, LengthDelimited);
    let at = out.len();
    out.push(0);
    write(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(length_delimiter_len(len));
        put_length(&mut prefix, len);
        out.splice(at..=at, prefix);
    }
}

#[inline]
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: WireType) {
    encode_key(field, wire_type, out);
}

/// A length delimiter: the bytes of `prost::encode_length_delimiter`, without its check for a
/// full buffer, which a `Vec` never is.
#[inline]
fn put_length(out: &mut Vec<u8>, len: usize) {
    encode_varint(len as u64, out);
}

/// A length-delimited field (bytes, string, message) whose key fits one byte (field < 16).
#[inline]
fn len_field_len(len: usize) -> usize {
    1 + length_delimiter_len(len) + len
}

#[inline]
fn len_field_len_nonempty(field: u32, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        encoded_len_varint(u64::from(field << 3)) + length_delimiter_len(len) + len
    }
}

#[inline]
fn put_len_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_key(out, field, LengthDelimited);
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// A proto3 string or bytes field: left out when empty.
#[inline]
fn put_len_field_nonempty(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len_field(out, field, bytes);
    }
}

#[inline]
fn put_varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_key(out, field, Varint);
        encode_varint(value, out);
    }
}

#[inline]
fn put_fixed64_field(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_key(out, field, SixtyFourBit);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

#[inline]
fn put_fixed32_field(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        put_key(out, field, ThirtyTwoBit);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

#[cfg(test)]
mod tests;
