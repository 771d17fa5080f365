//! Starting the HTTP server span with the sampling decision taken first.
//!
//! The samplers `OTEL_TRACES_SAMPLER` can name decide on the trace id and the parent alone. So the
//! layer draws the ids and asks the provider's sampler itself: a request that is not sampled gets
//! its span context (the ids and flags its children, log lines and outgoing `traceparent` need)
//! without the SDK building a span. A sampled one is, with OTLP/gRPC, a span made without the SDK
//! (`trace::direct_span`); otherwise the SDK starts it, with room for its attributes. The SDK must
//! give that span the very ids the decision was taken on, so the provider's id generator hands
//! them over (`trace::sampling`); the SDK then asks the same sampler again and gets the same
//! answer.

use crate::trace::direct_span::DirectSpan;
use crate::trace::installed::direct_spans;
use crate::trace::sampling::{NEXT_IDS, ServerTracer};
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanKind, TraceContextExt, TraceFlags, Tracer};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SamplingDecision, ShouldSample};

/// A started server span.
// Returned once per request and unpacked at once: boxing the large variant would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ServerSpan {
    /// Recorded: the SDK's span, to fill with attributes and end.
    Recorded(opentelemetry_sdk::trace::Span),
    /// Sampled, with OTLP/gRPC: a span made without the SDK (`direct_span`), the same to fill
    /// and end.
    Direct(DirectSpan<'static>),
    /// Not recorded: only its span context.
    NotRecorded(SpanContext),
}

impl ServerTracer {
    /// Starts the server span `name` under `parent`; a recorded span gets room for `attributes`.
    pub(crate) fn start(
        &self,
        name: &'static str,
        parent: &Context,
        attributes: usize,
    ) -> ServerSpan {
        if parent.is_telemetry_suppressed() {
            return ServerSpan::NotRecorded(SpanContext::empty_context());
        }
        let ids = RandomIdGenerator::default();
        let parent_span = parent.span();
        let parent_context = parent_span.span_context();
        let trace_id = if parent_context.is_valid() {
            parent_context.trace_id()
        } else {
            ids.new_trace_id()
        };
        let span_id = ids.new_span_id();
        let decision =
            self.sampler
                .should_sample(Some(parent), trace_id, name, &SpanKind::Server, &[], &[]);
        if decision.decision == SamplingDecision::Drop {
            // What the SDK's span context would be for a dropped span.
            return ServerSpan::NotRecorded(SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::default(),
                false,
                decision.trace_state,
            ));
        }
        if let (SamplingDecision::RecordAndSample, Some(direct)) =
            (&decision.decision, direct_spans())
        {
            return ServerSpan::Direct(DirectSpan::start(
                direct,
                decision,
                trace_id,
                span_id,
                parent_context,
                SpanKind::Server,
                name,
                &[],
                0,
                Vec::with_capacity(attributes),
            ));
        }
        NEXT_IDS.set((Some(trace_id), Some(span_id)));
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(Vec::with_capacity(attributes))
            .start_with_context(&self.tracer, parent);
        NEXT_IDS.set((None, None));
        ServerSpan::Recorded(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sampling::HandedOverIds;
    use opentelemetry::trace::{Span as _, SpanId, TraceId, TraceState, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

    fn tracer(sampler: Sampler) -> ServerTracer {
        let provider = SdkTracerProvider::builder()
            .with_id_generator(HandedOverIds)
            .with_sampler(sampler.clone())
            .build();
        ServerTracer {
            tracer: provider.tracer("telemetry"),
            sampler,
        }
    }

    fn parent(sampled: bool) -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
            SpanId::from(0x00f067aa0ba902b7),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            TraceState::from_key_value([("vendor", "x")]).unwrap(),
        ))
    }

    #[test]
    fn the_sdk_span_gets_the_ids_it_was_sampled_on() {
        // Ratio 0.5: about half the root spans are sampled, each on its own trace id.
        let server = tracer(Sampler::TraceIdRatioBased(0.5));
        let (mut recorded, mut dropped) = (0, 0);
        for _ in 0..200 {
            match server.start("GET /", &Context::new(), 4) {
                ServerSpan::Recorded(mut span) => {
                    let sc = span.span_context().clone();
                    // The SDK's own decision on this trace id agrees: the ids are the ones drawn.
                    assert!(sc.is_sampled());
                    assert!(
                        Sampler::TraceIdRatioBased(0.5)
                            .should_sample(None, sc.trace_id(), "", &SpanKind::Server, &[], &[])
                            .decision
                            == SamplingDecision::RecordAndSample
                    );
                    span.end();
                    recorded += 1;
                }
                ServerSpan::NotRecorded(sc) => {
                    assert!(sc.is_valid() && !sc.is_sampled() && !sc.is_remote());
                    assert!(
                        Sampler::TraceIdRatioBased(0.5)
                            .should_sample(None, sc.trace_id(), "", &SpanKind::Server, &[], &[])
                            .decision
                            == SamplingDecision::Drop
                    );
                    dropped += 1;
                }
                ServerSpan::Direct(_) => unreachable!("no direct spans in unit tests"),
            }
        }
        assert!(recorded > 50 && dropped > 50, "{recorded} / {dropped}");
        // Nothing is left behind for the next span of the thread.
        assert_eq!(NEXT_IDS.get(), (None, None));
    }

    #[test]
    fn children_of_a_caller_keep_its_trace_and_decision() {
        let server = tracer(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let ServerSpan::NotRecorded(sc) = server.start("GET /", &parent(false), 4) else {
            panic!("an unsampled caller's child is not recorded");
        };
        assert_eq!(
            sc.trace_id(),
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_eq!(sc.trace_state().header(), "vendor=x");
        assert!(!sc.is_sampled());
        let ServerSpan::Recorded(span) = server.start("GET /", &parent(true), 4) else {
            panic!("a sampled caller's child is recorded");
        };
        assert_eq!(
            span.span_context().trace_id(),
            TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736)
        );
        assert_ne!(
            span.span_context().span_id(),
            SpanId::from(0x00f067aa0ba902b7)
        );
    }
}
