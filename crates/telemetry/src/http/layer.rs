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
/// (when tracing is on) a new server span, created straight from the SDK tracer (or, with
/// OTLP/gRPC, as a direct span that skips the SDK's span objects) rather than as a `tracing` span: that halves the per-request cost, and handler code still sees it, because the
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the layer asks of a new template: is it measured (not an ops path)?
    fn measured(template: &str) -> bool {
        !OPS_PATHS.contains(&template)
    }
    use crate::http::route_cache::{UNMATCHED_ROUTE, series};
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
    use parking_lot::Mutex;
    use std::sync::Arc;
    use tower::ServiceExt as _;

    /// Series are registered only once the recorder is installed (before `init`, requests are not
    /// counted): install it once for the tests of this binary (what `init` installs first).
    fn installed() {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            // What `init` installs, without a tracer and without the log subscriber.
            let config =
                crate::config::TelemetryConfig::from_lookup("layer-tests", "0.0.0", |_| None)
                    .expect("config");
            let metrics =
                crate::metrics::recorder::install(&config).expect("the recorder installs");
            crate::trace::installed::install(crate::trace::installed::Installed {
                attributes: crate::trace::installed::AttributePolicy {
                    value_length_limit: config.attribute_value_length_limit,
                    extra_sensitive: Vec::new(),
                },
                metrics,
                traces: None,
            })
            .expect("installed once");
        });
    }

    /// Requests counted in the duration series of (method, route, status).
    fn counted(method: &str, route: &str, status: u16) -> Option<u64> {
        series()
            .durations
            .iter()
            .find(|(labels, _)| *labels == (method, route, status))
            .map(|(_, histogram)| histogram.read().0.iter().sum())
    }

    fn in_flight(method: &str, route: &str) -> Option<i64> {
        series()
            .active
            .iter()
            .find(|(labels, _)| *labels == (method, route))
            .map(|(_, gauge)| gauge.value())
    }

    fn get_request(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn a_path_no_route_matches_is_counted_under_the_unmatched_route() {
        installed();
        let app = Router::new()
            .route("/layer-404/known", get(|| async { "ok" }))
            .layer(HttpLayer::new());
        let before = counted("GET", UNMATCHED_ROUTE, 404).unwrap_or(0);
        for path in ["/layer-404/unknown", "/layer-404/another/unknown"] {
            let response = app.clone().oneshot(get_request(path)).await.unwrap();
            assert_eq!(response.status(), 404);
        }
        assert_eq!(counted("GET", UNMATCHED_ROUTE, 404), Some(before + 2));
        assert!(
            series()
                .durations
                .iter()
                .all(|((_, route, _), _)| !route.starts_with("/layer-404/u")),
            "never the raw path"
        );
    }

    #[tokio::test]
    async fn a_5xx_is_counted_under_its_status() {
        installed();
        let app = Router::new()
            .route(
                "/layer-5xx/{id}",
                get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }),
            )
            .layer(HttpLayer::new());
        for id in 0..3 {
            let path = format!("/layer-5xx/{id}");
            let response = app.clone().oneshot(get_request(&path)).await.unwrap();
            assert_eq!(response.status(), 503);
        }
        assert_eq!(counted("GET", "/layer-5xx/{id}", 503), Some(3));
        assert_eq!(counted("GET", "/layer-5xx/{id}", 200), None);
        assert_eq!(in_flight("GET", "/layer-5xx/{id}"), Some(0));
    }

    /// Keeps the spans that end.
    #[derive(Debug, Default, Clone)]
    struct Ended(Arc<Mutex<Vec<SpanData>>>);

    impl SpanProcessor for Ended {
        fn on_start(
            &self,
            _span: &mut opentelemetry_sdk::trace::Span,
            _cx: &opentelemetry::Context,
        ) {
        }
        fn on_end(&self, span: SpanData) {
            self.0.lock().push(span);
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
            Ok(())
        }
    }

    /// A 5xx ends the server span as an error, with `error.type` the status code; a 4xx does not.
    #[test]
    fn a_5xx_ends_the_server_span_as_an_error() {
        let ended = Ended::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ended.clone())
            .build();
        let tracer = provider.tracer("test");
        let route = route_cache::matched("/layer-status", measured);
        for status in [500u16, 404] {
            let span = tracer.start("GET /layer-status");
            let state = RequestState {
                cx: opentelemetry::Context::current_with_span(span),
                attach: true,
                method: 0,
                route,
                start: Instant::now(),
                span: None,
                _active: route.active(0).enter(),
            };
            state.record_status(http::StatusCode::from_u16(status).unwrap());
        }
        let spans = ended.0.lock();
        assert_eq!(spans.len(), 2, "both ended");
        let attribute = |span: &SpanData, key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(spans[0].status, Status::error("HTTP 500"));
        assert_eq!(
            attribute(&spans[0], semconv::ERROR_TYPE).as_deref(),
            Some("500")
        );
        assert_eq!(
            attribute(&spans[0], semconv::HTTP_RESPONSE_STATUS_CODE).as_deref(),
            Some("500")
        );
        assert_eq!(spans[1].status, Status::Unset);
        assert_eq!(attribute(&spans[1], semconv::ERROR_TYPE), None);
    }

    /// A client that goes away mid-request drops the response future: the request leaves the
    /// in-flight gauge, and no duration is counted for it (it has no status).
    #[tokio::test]
    async fn a_dropped_response_future_leaves_the_in_flight_gauge() {
        installed();
        let app = Router::new()
            .route("/layer-drop", get(std::future::pending::<&'static str>))
            .layer(HttpLayer::new());
        let mut pending = Box::pin(app.oneshot(get_request("/layer-drop")));
        assert!(futures::poll!(&mut pending).is_pending());
        assert_eq!(in_flight("GET", "/layer-drop"), Some(1));
        drop(pending);
        assert_eq!(in_flight("GET", "/layer-drop"), Some(0));
        assert!(
            series()
                .durations
                .iter()
                .all(|((_, route, _), _)| *route != "/layer-drop"),
            "no duration without a response"
        );
    }

    /// Each route template's state is built once and shared by every thread; paths of one
    /// template share one series; the ops paths are neither measured nor traced.
    #[tokio::test]
    async fn the_route_cache_keeps_one_state_per_template() {
        installed();
        let template = "/layer-cache/{id}";
        let here = route_cache::matched(template, measured);
        assert!(std::ptr::eq(here, route_cache::matched(template, measured)));
        let elsewhere = std::thread::spawn(move || {
            route_cache::matched(template, measured) as *const Route as usize
        })
        .join()
        .unwrap();
        assert_eq!(elsewhere, here as *const Route as usize, "one per process");
        assert_eq!(here.label, template);
        assert!(here.matched && here.measured);
        assert_eq!(here.span_name(0), "GET /layer-cache/{id}");
        let other = method_index(&http::Method::from_bytes(b"PURGE").unwrap());
        assert_eq!(METHODS[other], "_OTHER");
        assert_eq!(here.span_name(other), "HTTP /layer-cache/{id}");
        assert!(!route_cache::matched("/metrics", measured).measured);
        let unmatched = route_cache::unmatched();
        assert_eq!(unmatched.label, UNMATCHED_ROUTE);
        assert!(!unmatched.matched && unmatched.measured);
        assert_eq!(unmatched.span_name(1), "POST");

        let app = Router::new()
            .route(template, get(|| async { "ok" }))
            .layer(HttpLayer::new());
        for path in ["/layer-cache/1", "/layer-cache/2", "/layer-cache/1"] {
            app.clone().oneshot(get_request(path)).await.unwrap();
        }
        assert_eq!(counted("GET", template, 200), Some(3));
        assert!(std::ptr::eq(
            route_cache::duration(here, 0, http::StatusCode::OK),
            route_cache::duration(here, 0, http::StatusCode::OK)
        ));
    }
}
