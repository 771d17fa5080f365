use super::*;
use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
use std::borrow::Cow;
use std::time::Duration;

fn context(trace: u128, span: u64, sampled: bool, remote: bool, state: &str) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        remote,
        if state.is_empty() {
            TraceState::NONE
        } else {
            state.parse().expect("trace state")
        },
    )
}

fn span(name: &'static str, scope: &InstrumentationScope) -> SpanData {
    SpanData {
        span_context: context(
            0x0af7651916cd43dd8448eb211c80319c,
            0xb7ad6b7169203331,
            true,
            false,
            "",
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: Cow::Borrowed(name),
        start_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789),
        end_time: UNIX_EPOCH + Duration::from_nanos(1_700_000_000_223_456_789),
        attributes: vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("url.path", String::from("/robots/7")),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

/// Spans of every shape: each field set and unset, every value type, events, links, remote
/// parents, trace state, three scopes (one with a version, attributes and a schema URL).
fn batch() -> Vec<SpanData> {
    let plain = InstrumentationScope::builder("telemetry").build();
    let rich = InstrumentationScope::builder("redis-counter")
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
        .with_attributes([KeyValue::new("scope.key", "v")])
        .build();
    let bare = InstrumentationScope::builder("").build();
    let mut spans = vec![span("GET /robots/{robot}", &plain)];

    let mut child = span("INCR", &rich);
    child.span_kind = SpanKind::Client;
    child.parent_span_id = SpanId::from(0x1122334455667788);
    child.parent_span_is_remote = true;
    child.span_context = context(7, 9, true, false, "vendor=value,other=x");
    child.attributes = vec![
        KeyValue::new("flag", true),
        KeyValue::new("off", false),
        KeyValue::new("negative", -42),
        KeyValue::new("zero", 0),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("empty", ""),
        KeyValue::new("", "empty key"),
        KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![1, -1, 300]))),
        KeyValue::new("floats", Value::Array(Array::F64(vec![0.5, 0.0]))),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec!["a".into(), "".into()])),
        ),
        KeyValue::new("no strings", Value::Array(Array::String(vec![]))),
        KeyValue::new("long", "x".repeat(300)),
        KeyValue::new("long accented", "é".repeat(150)),
        KeyValue::new(
            "long strings",
            Value::Array(Array::String(vec!["y".repeat(120).into(), "z".into()])),
        ),
    ];
    child.dropped_attributes_count = 3;
    child.status = Status::error("HTTP 500");
    let mut event = Event::new(
        "exception",
        UNIX_EPOCH + Duration::from_secs(1_700_000_001),
        vec![
            KeyValue::new("exception.message", "boom"),
            KeyValue::new("exception.stacktrace", "s".repeat(200)),
        ],
        2,
    );
    event.dropped_attributes_count = 2;
    child.events = SpanEvents::default();
    child.events.events.push(event);
    child
        .events
        .events
        .push(Event::new("", UNIX_EPOCH, vec![], 0));
    child.events.dropped_count = 1;
    child.links = SpanLinks::default();
    child.links.links.push(Link::new(
        context(5, 6, false, true, "k=v"),
        vec![
            KeyValue::new("link.key", 1),
            KeyValue::new("link.text", "t".repeat(101)),
        ],
        4,
    ));
    child.links.dropped_count = 5;
    spans.push(child);

    let mut ok = span("", &bare);
    ok.status = Status::Ok;
    ok.span_kind = SpanKind::Internal;
    ok.span_context = context(1, 2, false, false, "");
    ok.attributes.clear();
    ok.start_time = UNIX_EPOCH;
    spans.push(ok);
    for kind in [SpanKind::Producer, SpanKind::Consumer] {
        let mut other = span("queue", &plain);
        other.span_kind = kind;
        other.status = Status::error("");
        spans.push(other);
    }
    spans
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_service_name("web-flask-equivalent")
        .with_attributes([
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new("host.cpus", 2),
        ])
        .with_schema_url(
            Vec::<KeyValue>::new(),
            "https://opentelemetry.io/schemas/1.26.0",
        )
        .build()
}

#[test]
fn the_bytes_are_those_opentelemetry_otlp_sends() {
    let resource = resource();
    let mut encoder = TraceEncoder::default();
    encoder.set_resource(&resource);
    for limit in [usize::MAX, 100] {
        let spans = batch();
        // What opentelemetry-otlp sends for the same spans, cut to the limit the same way.
        let mut limited = spans.clone();
        for span in &mut limited {
            crate::trace::attribute_limit::limit_span_to(span, limit);
        }
        let expected = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(limited, &(&resource).into()),
        };
        let encoded: Vec<EncodedSpan> = spans
            .into_iter()
            .map(|span| EncodedSpan::new(span, limit))
            .collect();
        let ours = encoder.encode(&encoded);
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice()).expect("valid protobuf");
        assert_eq!(decoded.resource_spans[0].scope_spans.len(), 3);
        // Byte for byte (a struct comparison would fail on the NaN attribute).
        assert_eq!(ours, expected.encode_to_vec(), "limit {limit}");
    }
}

#[test]
fn attributes_encoded_ahead_make_the_same_span_as_the_sdks() {
    // A direct client span: part of its attributes encoded once (its template), the rest set on
    // the span, an error status; the same span from the SDK must give the very same bytes.
    let scope = InstrumentationScope::builder("telemetry").build();
    let mut sdk = span("INCR", &scope);
    sdk.span_kind = SpanKind::Client;
    sdk.parent_span_id = SpanId::from(0x00f067aa0ba902b7);
    sdk.attributes.push(KeyValue::new("error.type", "ERR"));
    sdk.dropped_attributes_count = 2;
    sdk.status = Status::error("");
    let limit = 8;
    let expected = EncodedSpan::new(sdk.clone(), limit);
    for split in 0..=sdk.attributes.len() {
        let encoded = encode_attributes(&sdk.attributes[..split], limit);
        let fields = SpanFields {
            context: &sdk.span_context,
            parent_span_id: sdk.parent_span_id,
            parent_span_is_remote: sdk.parent_span_is_remote,
            name: &sdk.name,
            kind: &sdk.span_kind,
            start_time: sdk.start_time,
            end_time: sdk.end_time,
            encoded_attributes: &encoded,
            attributes: &sdk.attributes[split..],
            dropped_attributes_count: sdk.dropped_attributes_count,
            events: None,
            links: None,
            status: &sdk.status,
        };
        let direct = EncodedSpan::from_fields(scope.clone(), &fields, limit);
        assert_eq!(
            direct.bytes, expected.bytes,
            "{split} attributes encoded ahead"
        );
        assert_eq!(direct.scope, expected.scope);
    }
}
