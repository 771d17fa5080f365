//! W3C trace context on the way out: outgoing requests carry `traceparent` / `baggage` of the
//! current span, so a call from one of our services to another is one trace in Jaeger.

use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderInjector;

/// Writes the current context into `headers` (`traceparent`, `tracestate`, `baggage`).
///
/// "Current" is OpenTelemetry's: the request's server span while a handler runs (the HTTP layer
/// attaches it), or an entered `tracing` span (tracing-opentelemetry activates its context).
pub fn inject_context(headers: &mut http::HeaderMap) {
    let cx = opentelemetry::Context::current();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// True inside a traced request (or an entered span): client spans started now join a trace.
/// Code that must not start traces of its own (e.g. health checks) asks this first.
pub fn in_trace() -> bool {
    opentelemetry::Context::current().has_active_span()
}

/// The current span's trace id (32 hex digits), if there is one.
pub fn current_trace_id() -> Option<String> {
    let cx = opentelemetry::Context::current();
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
