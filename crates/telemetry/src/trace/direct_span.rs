//! Spans made without the SDK: with OTLP/gRPC, the sampled server span of each request and the
//! client spans made on every request are plain structs here, written into their OTLP bytes when
//! they end and queued for the exporter beside the SDK's spans.
//!
//! Why: an SDK span costs more than what it records. Starting one clones the tracer (a reference
//! count both worker threads bump), asks the sampler again, and calls every processor; ending one
//! moves its data into a `SpanData` for the processor, which then encodes it. The layer and
//! `ClientSpan` have already taken the sampling decision, and the processor only encodes, so
//! these spans keep what the span records and encode it themselves (docs/ARCHITECTURE.md, "Spans
//! without the SDK"). They follow the SDK span's rules to the letter: the same limits
//! (`OTEL_SPAN_*_LIMIT`), the same status order, the same bytes (tests below compare them with
//! an SDK span given the same calls). With OTLP/HTTP, whose exporter takes SDK spans, the SDK's
//! spans are used.

use crate::trace::otlp::encode::{EncodedSpan, SpanFields};
use crate::trace::processor::SpanQueue;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, SpanEvents, SpanLimits, SpanLinks};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

/// Where direct spans go: the OTLP/gRPC exporter's queue, under the scope the SDK's spans of this
/// crate have, with the limits the SDK applies to its own.
/// Installed by `init` with OTLP/gRPC (`installed::direct_spans`).
#[derive(Debug)]
pub(crate) struct DirectSpans {
    pub(crate) queue: Arc<SpanQueue<EncodedSpan>>,
    pub(crate) scope: InstrumentationScope,
    pub(crate) limits: SpanLimits,
    pub(crate) value_length_limit: usize,
}

/// A sampled span made without the SDK: encoded and queued when it ends (or is dropped).
#[derive(Debug)]
pub(crate) struct DirectSpan<'a> {
    context: SpanContext,
    parent_span_id: SpanId,
    parent_span_is_remote: bool,
    kind: SpanKind,
    name: Cow<'static, str>,
    pub(crate) start_time: SystemTime,
    /// Attributes every span of its kind carries, already encoded (`ClientSpanTemplate`).
    encoded: &'a [u8],
    encoded_count: usize,
    attributes: Vec<KeyValue>,
    dropped_attributes_count: u32,
    events: SpanEvents,
    links: SpanLinks,
    status: Status,
    ended: bool,
    direct: &'static DirectSpans,
}

impl<'a> DirectSpan<'a> {
    /// A span the sampler recorded and sampled (`decision`), with ids `trace_id` and `span_id`,
    /// under `parent` (the parent span's context, or an invalid one for a root span), started now:
    /// what the SDK makes of the same decision (opentelemetry_sdk's `trace/tracer.rs`), the
    /// sampler's attributes first, then `attributes`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        direct: &'static DirectSpans,
        decision: SamplingResult,
        trace_id: TraceId,
        span_id: SpanId,
        parent: &SpanContext,
        kind: SpanKind,
        name: impl Into<Cow<'static, str>>,
        encoded: &'a [u8],
        encoded_count: usize,
        mut attributes: Vec<KeyValue>,
    ) -> Self {
        let parent_flags = if parent.is_valid() {
            parent.trace_flags()
        } else {
            TraceFlags::default()
        };
        let context = SpanContext::new(
            trace_id,
            span_id,
            parent_flags.with_sampled(true),
            false,
            decision.trace_state,
        );
        if !decision.attributes.is_empty() {
            attributes.splice(0..0, decision.attributes);
        }
        // What the SDK does with the attributes a span starts with.
        let room = (direct.limits.max_attributes_per_span as usize).saturating_sub(encoded_count);
        let dropped = keep_first(&mut attributes, room);
        Self {
            context,
            parent_span_id: if parent.is_valid() {
                parent.span_id()
            } else {
                SpanId::INVALID
            },
            parent_span_is_remote: parent.is_valid() && parent.is_remote(),
            kind,
            name: name.into(),
            start_time: opentelemetry::time::now(),
            encoded,
            encoded_count,
            attributes,
            dropped_attributes_count: dropped,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            ended: false,
            direct,
        }
    }

    fn finish(&mut self, end_time: SystemTime) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let fields = SpanFields {
            context: &self.context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_span_is_remote,
            name: &self.name,
            kind: &self.kind,
            start_time: self.start_time,
            end_time,
            encoded_attributes: self.encoded,
            attributes: &self.attributes,
            dropped_attributes_count: self.dropped_attributes_count,
            events: Some(&self.events),
            links: Some(&self.links),
            status: &self.status,
        };
        let span = EncodedSpan::from_fields(
            self.direct.scope.clone(),
            &fields,
            self.direct.value_length_limit,
        );
        self.direct.queue.push(span);
    }
}

/// Keeps the first `limit` attributes, as the SDK does with a span's, an event's or a link's, and
/// returns how many it dropped.
fn keep_first(attributes: &mut Vec<KeyValue>, limit: usize) -> u32 {
    let dropped = attributes.len().saturating_sub(limit);
    attributes.truncate(limit);
    u32::try_from(dropped).unwrap_or(u32::MAX)
}

/// The SDK span's rules (opentelemetry_sdk's `trace/span.rs`); after `end` nothing changes.
impl opentelemetry::trace::Span for DirectSpan<'_> {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if self.ended {
            return;
        }
        let limits = &self.direct.limits;
        if self.events.len() < limits.max_events_per_span as usize {
            let dropped = keep_first(&mut attributes, limits.max_attributes_per_event as usize);
            self.events
                .events
                .push(Event::new(name, timestamp, attributes, dropped));
        } else {
            self.events.dropped_count += 1;
        }
    }

    fn span_context(&self) -> &SpanContext {
        &self.context
    }

    fn is_recording(&self) -> bool {
        !self.ended
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        if self.ended {
            return;
        }
        let limit = self.direct.limits.max_attributes_per_span as usize;
        if self.encoded_count + self.attributes.len() < limit {
            self.attributes.push(attribute);
        } else {
            self.dropped_attributes_count += 1;
        }
    }

    fn set_status(&mut self, status: Status) {
        // A total order: Ok > Error > Unset.
        if !self.ended && status > self.status {
            self.status = status;
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if !self.ended {
            self.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, mut attributes: Vec<KeyValue>) {
        if self.ended {
            return;
        }
        let limits = &self.direct.limits;
        if self.links.links.len() < limits.max_links_per_span as usize {
            let dropped = keep_first(&mut attributes, limits.max_attributes_per_link as usize);
            self.links
                .links
                .push(Link::new(span_context, attributes, dropped));
        } else {
            self.links.dropped_count += 1;
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.finish(timestamp);
    }
}

impl Drop for DirectSpan<'_> {
    fn drop(&mut self) {
        self.finish(opentelemetry::time::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::otlp::encode::encode_attributes;
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use opentelemetry::trace::{TraceState, Tracer as _};
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
    use std::sync::Mutex;
    use std::time::{Duration, UNIX_EPOCH};

    /// Keeps what the SDK hands its processor.
    #[derive(Debug, Default, Clone)]
    struct Capture(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Capture {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
        fn on_end(&self, span: SpanData) {
            self.0.lock().unwrap().push(span);
        }
        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    fn at(nanos: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + nanos)
    }

    /// The same calls on an SDK span and on a direct span: attributes past the limit, events
    /// and links past theirs (with attributes past theirs), every status order, a new name, calls
    /// after `end`.
    fn exercise(span: &mut impl opentelemetry::trace::Span) {
        for i in 0..6_i64 {
            span.set_attribute(KeyValue::new("n", i));
        }
        span.set_status(Status::error("boom"));
        span.set_status(Status::Unset);
        span.update_name("GET /items/{id}");
        for i in 0..4 {
            span.add_event_with_timestamp(
                format!("event {i}"),
                at(10 + i),
                vec![
                    KeyValue::new("a", 1),
                    KeyValue::new("b", 2),
                    KeyValue::new("c", 3),
                ],
            );
        }
        let linked = SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        for _ in 0..4 {
            span.add_link(
                linked.clone(),
                vec![KeyValue::new("x", 1), KeyValue::new("y", 2)],
            );
        }
        span.set_status(Status::Ok);
        span.set_status(Status::error("after ok"));
        span.end_with_timestamp(at(1_000));
        span.set_attribute(KeyValue::new("after", "end"));
        span.end_with_timestamp(at(2_000));
    }

    #[test]
    fn a_direct_span_makes_the_bytes_an_sdk_span_makes_for_the_same_calls() {
        let limits = SpanLimits {
            max_attributes_per_span: 5,
            max_events_per_span: 3,
            max_links_per_span: 2,
            max_attributes_per_event: 2,
            max_attributes_per_link: 1,
        };
        let capture = Capture::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(capture.clone())
            .with_span_limits(limits)
            .build();
        let tracer = provider.tracer("telemetry");
        let parent = SpanContext::new(
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
            SpanId::from(0x00f067aa0ba902b7),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "x")]).unwrap(),
        );
        let cx = opentelemetry::Context::new().with_remote_span_context(parent.clone());
        let mut sdk = tracer
            .span_builder("GET")
            .with_kind(SpanKind::Server)
            .with_start_time(at(0))
            .with_attributes(vec![
                KeyValue::new("first", "one"),
                KeyValue::new("second", 2),
            ])
            .start_with_context(&tracer, &cx);
        exercise(&mut sdk);
        drop(sdk);
        let sdk = capture.0.lock().unwrap().pop().expect("the SDK span ended");
        let expected = EncodedSpan::new(sdk.clone(), 16);

        let (sender, receiver) = std::sync::mpsc::sync_channel(4);
        let direct: &'static DirectSpans = Box::leak(Box::new(DirectSpans {
            queue: Arc::new(SpanQueue::for_test(sender)),
            scope: InstrumentationScope::builder("telemetry").build(),
            limits,
            value_length_limit: 16,
        }));
        // Part of the starting attributes encoded ahead, as a `ClientSpanTemplate` has them.
        let template = encode_attributes(&[KeyValue::new("first", "one")], 16);
        let decision = SamplingResult {
            decision: opentelemetry_sdk::trace::SamplingDecision::RecordAndSample,
            attributes: Vec::new(),
            trace_state: parent.trace_state().clone(),
        };
        let mut span = DirectSpan::start(
            direct,
            decision,
            sdk.span_context.trace_id(),
            sdk.span_context.span_id(),
            &parent,
            SpanKind::Server,
            "GET",
            &template,
            1,
            vec![KeyValue::new("second", 2)],
        );
        span.start_time = at(0);
        exercise(&mut span);
        drop(span);
        let queued = receiver.try_recv().expect("the direct span was queued");
        assert!(receiver.try_recv().is_err(), "queued once");
        assert_eq!(queued.bytes(), expected.bytes());
    }
}
