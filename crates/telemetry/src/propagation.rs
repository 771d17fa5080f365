//! W3C trace context on the way out: outgoing requests carry `traceparent` / `baggage` of the
//! current span, so a call from one of our services to another is one trace in Jaeger.

use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderInjector;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes the current span's context into `headers` (`traceparent`, `tracestate`, `baggage`).
pub fn inject_context(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// The current span's trace id (32 hex digits), if there is one.
pub fn current_trace_id() -> Option<String> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// `request.inject_context()` on a reqwest builder adds the current trace context headers.
pub trait InjectContext {
    #[must_use]
    fn inject_context(self) -> Self;
}

impl InjectContext for reqwest::RequestBuilder {
    fn inject_context(self) -> Self {
        let mut headers = http::HeaderMap::new();
        inject_context(&mut headers);
        self.headers(headers)
    }
}
