//! W3C trace context on the way out: outgoing requests carry `traceparent` / `baggage` of the
//! current span, so a call from one of our services to another is one trace in Jaeger.

use opentelemetry_http::HeaderInjector;

/// Writes the current context into `headers` (`traceparent`, `tracestate`, `baggage`).
///
/// "Current" is OpenTelemetry's: the request's server span while a handler runs (the HTTP layer
/// attaches it), or an entered `tracing` span (tracing-opentelemetry activates its context).
pub(crate) fn inject_context(headers: &mut http::HeaderMap) {
    let cx = opentelemetry::Context::current();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut HeaderInjector(headers));
    });
}

/// `request.inject_context()` on a reqwest builder adds the current trace context headers.
pub trait InjectContext {
    /// The request with `traceparent`, `tracestate` and `baggage` of the current context (the
    /// request's server span while a handler runs, or an entered `tracing` span).
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
