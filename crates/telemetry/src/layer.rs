//! The HTTP server layer: one span and one set of RED metrics per request.
//!
//! Add it with `Router::layer` so it runs after routing and sees axum's `MatchedPath`: labels and
//! span names use the route template (`/robots/{robot}`), never the raw path, so a flood of random
//! URLs shares one series. Methods outside the standard set share `_OTHER` for the same reason.
//! A sampled request also leaves an exemplar (its trace id) in its duration bucket.

use crate::instruments::{INSTRUMENTS, status_label};
use crate::span_attributes;
use axum::extract::MatchedPath;
use http::{HeaderValue, Method, Request, Response};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, TraceId, Tracer};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

/// The `http_route` label of requests no route matched (404s on random paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Paths that are never measured or traced: scrapes and probes would drown the real traffic.
const NOT_MEASURED: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// The tower layer. Apply it last, after every route, fallback and merge:
/// `Router::new().route(..).merge(ops_router(..)).layer(HttpLayer::new())`. Routes added after
/// `layer` are not measured, and axum's default 404 fallback is only wrapped when it exists
/// before `layer` is called.
#[derive(Debug, Clone, Default)]
pub struct HttpLayer {
    _private: (),
}

impl HttpLayer {
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
        let route: Option<Arc<str>> = request
            .extensions()
            .get::<MatchedPath>()
            .map(|matched| Arc::from(matched.as_str()));
        let measured = !NOT_MEASURED.contains(&route.as_deref().unwrap_or(request.uri().path()));
        if !measured {
            return ResponseFuture {
                inner: self.inner.call(request),
                state: None,
            };
        }
        let method = method_label(request.method());
        let route_label: Arc<str> = route.clone().unwrap_or_else(|| Arc::from(UNMATCHED_ROUTE));
        let started = request_context(&request, method, route.as_ref());
        let active = ActiveRequest::start(method, &route_label);
        let inner = {
            let _attached = started.cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            state: Some(RequestState {
                cx: started.cx,
                method,
                route: route_label,
                start: Instant::now(),
                traceresponse: started.traceresponse,
                sampled_trace: started.sampled_trace,
                _active: active,
            }),
        }
    }
}

/// The request's OpenTelemetry context: the caller's context from `traceparent`/`baggage`, plus
/// (when tracing is on) a new server span, created straight from the SDK tracer rather than as a
/// `tracing` span: that halves the per-request cost, and handler code still sees it, because the
/// context is attached while the handler runs (`tracing` spans created there take it as parent,
/// log lines take their trace id from it, `InjectContext` sends it on).
///
/// Only the attributes a sampler may look at are given at creation; the rest (copies of the path,
/// query, user agent, addresses) are built only when the span is recorded.
fn request_context<B>(
    request: &Request<B>,
    method: &'static str,
    route: Option<&Arc<str>>,
) -> Started {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let Some(tracer) = crate::tracer::server_tracer() else {
        return Started {
            cx: parent,
            traceresponse: None,
            sampled_trace: None,
        };
    };
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let mut attributes = Vec::with_capacity(16);
    attributes.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
    attributes.push(KeyValue::new(semconv::URL_SCHEME, url_scheme(request)));
    if let Some(route) = route {
        attributes.push(KeyValue::new(
            semconv::HTTP_ROUTE,
            StringValue::from(route.clone()),
        ));
    }
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    if span.is_recording() {
        span_attributes::add_request_attributes(&mut span, request, method);
    }
    let sc = span.span_context();
    let sampled_trace = sc.is_sampled().then(|| sc.trace_id());
    let traceresponse = traceresponse(sc);
    let cx = parent.with_span(span);
    Started {
        cx,
        traceresponse,
        sampled_trace,
    }
}

/// What `request_context` made for a request.
struct Started {
    cx: opentelemetry::Context,
    traceresponse: Option<HeaderValue>,
    /// The trace id when this request's span is sampled: only then does it leave an exemplar.
    sampled_trace: Option<TraceId>,
}

/// `url.scheme`: the original client's scheme when a proxy says so, else the request's own.
fn url_scheme<B>(request: &Request<B>) -> &'static str {
    let forwarded = request
        .headers()
        .get("x-forwarded-proto")
        .map(HeaderValue::as_bytes);
    match forwarded.or_else(|| request.uri().scheme_str().map(str::as_bytes)) {
        Some(b"https") => "https",
        _ => "http",
    }
}

/// W3C Trace Context Level 2 `traceresponse`: lets a caller jump from a response to its trace.
fn traceresponse(sc: &opentelemetry::trace::SpanContext) -> Option<HeaderValue> {
    if !sc.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8()
    );
    HeaderValue::from_str(&value).ok()
}

pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// Counts a request in `http_server_active_requests` until dropped, also when the client goes
/// away mid-request and the future is cancelled.
struct ActiveRequest {
    gauge: metrics::Gauge,
}

impl ActiveRequest {
    fn start(method: &'static str, route: &Arc<str>) -> Self {
        let gauge = INSTRUMENTS.active(method, route);
        gauge.increment(1.0);
        Self { gauge }
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}

struct RequestState {
    cx: opentelemetry::Context,
    method: &'static str,
    route: Arc<str>,
    start: Instant,
    traceresponse: Option<HeaderValue>,
    sampled_trace: Option<TraceId>,
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
    /// Completes the span and records the metrics when the handler's response is ready.
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
            Some(state) => {
                let _attached = state.cx.clone().attach();
                std::task::ready!(this.inner.poll(cx))
            }
            None => return this.inner.poll(cx),
        };
        let Some(state) = this.state.take() else {
            return Poll::Ready(result);
        };
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.start).as_secs_f64();
        let mut response = match result {
            Ok(response) => response,
            Err(error) => return Poll::Ready(Err(error)),
        };
        let status = response.status();
        state.record_status(status);
        let series = INSTRUMENTS.duration(state.method, &state.route, status);
        series.histogram.record(elapsed);
        if let Some(trace_id) = state.sampled_trace {
            series.exemplars.record(trace_id, elapsed, now);
        }
        if let Some(value) = state.traceresponse {
            response.headers_mut().insert("traceresponse", value);
        }
        Poll::Ready(Ok(response))
    }
}
