//! The HTTP server layer: one span and one set of RED metrics per request.
//!
//! Add it with `Router::layer` so it runs after routing and sees axum's `MatchedPath`: labels and
//! span names use the route template (`/robots/{robot}`), never the raw path, so a flood of random
//! URLs shares one series. Methods outside the standard set share `_OTHER` for the same reason.
//! A sampled request also leaves an exemplar (its trace id) in its duration bucket.
//!
//! Kept cheap per request (README.md, "How it stays cheap"): the route's label, span
//! names and metric handles are looked up once per route (`route_cache`); the span is started with
//! its cached name alone, and what only a recorded span needs (attributes, copies of the request's
//! strings) is built after the sampler said it is recorded.

use crate::http::ops::OPS_PATHS;
use crate::http::route_cache::{self, METHODS, Route, method_index, status_label};
use crate::http::server_span::ServerSpan;
use crate::http::span_attributes;
use crate::metrics::http_metrics::{self, ActiveRequest};
use crate::trace::installed::server_tracer;
use axum::extract::MatchedPath;
use http::header::HeaderName;
use http::{HeaderValue, Request, Response};
use opentelemetry::trace::{SpanId, Status, TraceContextExt, TraceFlags, TraceId};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

/// The headers the W3C propagators installed by `init` read.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Room for a recorded server span's attributes (the most it sets), so none is added by growing.
const SERVER_SPAN_ATTRIBUTES: usize = 16;

/// The tower layer. Apply it last, after every route, fallback and merge:
/// `Router::new().route(..).merge(ops_router(..)).layer(HttpLayer::new())`. Routes added after
/// `layer` are not measured, and axum's default 404 fallback is only wrapped when it exists
/// before `layer` is called.
#[derive(Debug, Clone, Default)]
pub struct HttpLayer {
    _private: (),
}

impl HttpLayer {
    /// The layer; everything it needs is what [`crate::init`] installed (before `init` it
    /// passes requests through, measuring and tracing nothing).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for HttpLayer {
    type Service = HttpService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpService { inner }
    }
}

/// The service [`HttpLayer`] wraps around a router (or any service of `http` requests): one
/// server span and one set of RED metrics per request, its response future a [`ResponseFuture`].
#[derive(Debug, Clone)]
pub struct HttpService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HttpService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let route = match request.extensions().get::<MatchedPath>() {
            // The ops routes are neither measured nor traced: scrapes and probes would drown the
            // real traffic. Matched (the ops router merged in) or not (served by another router).
            Some(matched) => {
                route_cache::matched(matched.as_str(), |template| !OPS_PATHS.contains(&template))
            }
            None if OPS_PATHS.contains(&request.uri().path()) => {
                return self.unmeasured(request);
            }
            None => route_cache::unmatched(),
        };
        if !route.measured {
            return self.unmeasured(request);
        }
        let method = method_index(request.method());
        let started = request_context(&request, method, route);
        let active = route.active(method).enter();
        let inner = if started.attach {
            let _attached = started.cx.clone().attach();
            self.inner.call(request)
        } else {
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            state: Some(RequestState {
                cx: started.cx,
                attach: started.attach,
                method,
                route,
                start: Instant::now(),
                span: started.span,
                _active: active,
            }),
        }
    }
}

impl<S> HttpService<S> {
    fn unmeasured<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
    ) -> ResponseFuture<S::Future>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    {
        ResponseFuture {
            inner: self.inner.call(request),
            state: None,
        }
    }
}

/// The request's OpenTelemetry context: the caller's context from `traceparent`/`baggage`, plus
/// (when tracing is on) a new server span, created straight from the SDK tracer rather than as a
/// `tracing` span: that halves the per-request cost, and handler code still sees it, because the
/// context is attached while the handler runs (`tracing` spans created there take it as parent,
/// log lines take their trace id from it, `InjectContext` sends it on).
///
/// The sampling decision comes first (`server_span`): the attributes (copies of the path, query,
/// user agent, addresses) are built only when the span is recorded.
fn request_context<B>(request: &Request<B>, method: usize, route: &'static Route) -> Started {
    let headers = request.headers();
    // Without these headers the propagators find nothing and return the current context: most
    // requests come from outside any trace, and skip them. (One pass over the few header names
    // costs less than two hashed lookups.)
    let extracted = headers
        .keys()
        .any(|name| name == TRACEPARENT || name == BAGGAGE);
    let parent = if extracted {
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(headers))
        })
    } else {
        opentelemetry::Context::current()
    };
    let Some(server) = server_tracer() else {
        return Started {
            cx: parent,
            attach: extracted,
            span: None,
        };
    };
    let (cx, ids) = match server.start(route.span_name(method), &parent, SERVER_SPAN_ATTRIBUTES) {
        ServerSpan::Recorded(span) => recorded(span, parent, request, method, route),
        ServerSpan::Direct(span) => recorded(span, parent, request, method, route),
        // Nothing is recorded (the sampler dropped it, so it is not sampled either): the context
        // needs only the span's ids and flags (what child spans, log lines and outgoing
        // `traceparent`s read), not a boxed span behind a mutex.
        ServerSpan::NotRecorded(sc) => (parent.with_remote_span_context(sc), None),
    };
    Started {
        cx,
        attach: true,
        span: ids,
    }
}

/// A recorded server span (the SDK's, or a direct one) filled with the request's attributes, in
/// the request's context; its ids when it is sampled.
fn recorded<B, S>(
    mut span: S,
    parent: opentelemetry::Context,
    request: &Request<B>,
    method: usize,
    route: &'static Route,
) -> (opentelemetry::Context, Option<SpanIds>)
where
    S: opentelemetry::trace::Span + Send + Sync + 'static,
{
    let label = METHODS[method];
    span.set_attribute(KeyValue::new(semconv::HTTP_REQUEST_METHOD, label));
    span.set_attribute(KeyValue::new(semconv::URL_SCHEME, url_scheme(request)));
    let template = route.matched.then_some(route.label);
    if let Some(template) = template {
        span.set_attribute(KeyValue::new(semconv::HTTP_ROUTE, template));
    }
    span_attributes::add_request_attributes(&mut span, request, label, template);
    // Only a sampled span is exported: only it has a trace for an exemplar or `traceresponse`
    // (a recorded one may still be unsampled: `RecordOnly`).
    let sc = span.span_context();
    let ids = (sc.is_valid() && sc.is_sampled()).then(|| SpanIds {
        trace_id: sc.trace_id(),
        span_id: sc.span_id(),
        flags: sc.trace_flags(),
    });
    (parent.with_span(span), ids)
}

/// What `request_context` made for a request.
struct Started {
    cx: opentelemetry::Context,
    /// `cx` holds something the surrounding context lacks (a span, or the caller's trace context
    /// or baggage): only then is it attached while the handler runs.
    attach: bool,
    /// The server span's ids when it is sampled.
    span: Option<SpanIds>,
}

/// A sampled server span's identity, for `traceresponse` and exemplars.
#[derive(Debug, Clone, Copy)]
struct SpanIds {
    trace_id: TraceId,
    span_id: SpanId,
    /// Sampled, and whatever other flags the span carries (W3C Level 2's random trace id).
    flags: TraceFlags,
}

/// `url.scheme`: the original client's scheme when a proxy says so, else the request's own.
fn url_scheme<B>(request: &Request<B>) -> &'static str {
    let forwarded = request
        .headers()
        .get(X_FORWARDED_PROTO)
        .map(HeaderValue::as_bytes);
    match forwarded.or_else(|| request.uri().scheme_str().map(str::as_bytes)) {
        Some(b"https") => "https",
        _ => "http",
    }
}

/// W3C Trace Context Level 2 `traceresponse` of a sampled span: lets a caller jump from a response
/// to its trace (an unsampled request has none to jump to, and gets no header).
/// Written digit by digit: `format!` of the ids cost more than the rest of the layer.
fn traceresponse(ids: SpanIds) -> Option<HeaderValue> {
    fn hex(bytes: &[u8], out: &mut [u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0x0f)];
        }
    }
    let mut value = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex(&ids.trace_id.to_bytes(), &mut value[3..35]);
    hex(&ids.span_id.to_bytes(), &mut value[36..52]);
    hex(&[ids.flags.to_u8()], &mut value[53..55]);
    HeaderValue::from_bytes(&value).ok()
}

struct RequestState {
    cx: opentelemetry::Context,
    attach: bool,
    method: usize,
    route: &'static Route,
    start: Instant,
    span: Option<SpanIds>,
    _active: ActiveRequest,
}

impl RequestState {
    /// Finishes the server span (a no-op when tracing is off): status code, Error on 5xx.
    fn record_status(&self, status: http::StatusCode) {
        let span = self.cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(
                semconv::HTTP_RESPONSE_STATUS_CODE,
                i64::from(status.as_u16()),
            ));
            if status.is_server_error() {
                span.set_attribute(KeyValue::new(
                    semconv::ERROR_TYPE,
                    StringValue::from(status_label(status)),
                ));
                span.set_status(Status::error(format!("HTTP {}", status.as_u16())));
            }
            span.end();
        }
    }
}

pin_project! {
    /// The future of [`HttpService`]: completes the span and records the metrics when the
    /// handler's response is ready (a request whose future is dropped first is no longer
    /// counted as active, and records no duration).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<RequestState>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = match this.state {
            Some(state) if state.attach => {
                let _attached = state.cx.clone().attach();
                std::task::ready!(this.inner.poll(cx))
            }
            Some(_) => std::task::ready!(this.inner.poll(cx)),
            None => return this.inner.poll(cx),
        };
        let Some(state) = this.state.take() else {
            return Poll::Ready(result);
        };
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.start);
        let mut response = match result {
            Ok(response) => response,
            Err(error) => return Poll::Ready(Err(error)),
        };
        let status = response.status();
        state.record_status(status);
        let series = route_cache::duration(state.route, state.method, status);
        let nanos = http_metrics::nanos(elapsed);
        let bucket = http_metrics::bucket(nanos);
        series.histogram.record(bucket, nanos);
        if let Some(ids) = state.span {
            let seconds = elapsed.as_secs_f64();
            series.exemplars.record(bucket, ids.trace_id, seconds, now);
            if let Some(value) = traceresponse(ids) {
                response.headers_mut().insert(TRACERESPONSE, value);
            }
        }
        Poll::Ready(Ok(response))
    }
}
