//! The sampler of the HTTP server spans, and the ids it decided on handed to the SDK.
//!
//! The samplers `OTEL_TRACES_SAMPLER` can name decide on the trace id and the parent alone, so the
//! server span is sampled before it is built (`http::server_span`), and `ClientSpan` asks the same
//! sampler. `tracer` builds the [`ServerTracer`] (the tracer and the sampler its provider was
//! built with; `installed` keeps it) and gives the provider the id generator [`HandedOverIds`]: the SDK must give a
//! sampled server span the very ids the decision was taken on, and then asks the same sampler
//! again and gets the same answer.

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, Sampler, SdkTracer};
use std::cell::Cell;

/// The tracer of the HTTP server spans (instrumentation scope `telemetry`) and the sampler its
/// provider was built with.
pub(crate) struct ServerTracer {
    pub(crate) tracer: SdkTracer,
    pub(crate) sampler: Sampler,
}

impl ServerTracer {
    pub(crate) fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    pub(crate) fn sampler(&self) -> &Sampler {
        &self.sampler
    }
}

thread_local! {
    /// The ids [`ServerTracer::start`] decided on, for the span the SDK is starting right now.
    pub(crate) static NEXT_IDS: Cell<(Option<TraceId>, Option<SpanId>)> = const { Cell::new((None, None)) };
}

/// The provider's id generator: random ids (the SDK's default generator), except for the server
/// span [`ServerTracer::start`] is handing to the SDK, which gets the ids it was sampled on.
#[derive(Debug, Default)]
pub(crate) struct HandedOverIds;

impl IdGenerator for HandedOverIds {
    fn new_trace_id(&self) -> TraceId {
        let (trace_id, span_id) = NEXT_IDS.get();
        NEXT_IDS.set((None, span_id));
        trace_id.unwrap_or_else(|| RandomIdGenerator::default().new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        let (trace_id, span_id) = NEXT_IDS.get();
        NEXT_IDS.set((trace_id, None));
        span_id.unwrap_or_else(|| RandomIdGenerator::default().new_span_id())
    }
}
