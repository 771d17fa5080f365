//! The HTTP server layer: one span and one set of RED metrics per request.
//!
//! Add it with `Router::layer` so it runs after routing and sees axum's `MatchedPath`: labels and
//! span names use the route template (`/robots/{robot}`), never the raw path, so a flood of random
//! URLs shares one series. Methods outside the standard set share `_OTHER` for the same reason.

use crate::metrics_setup::{HTTP_ACTIVE, HTTP_DURATION};
use axum::extract::MatchedPath;
use http::{HeaderValue, Method, Request, Response, Version};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry_http::HeaderExtractor;
use pin_project_lite::pin_project;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, RwLock};
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
        let (cx, traceresponse) = request_context(&request, method, route.as_deref());
        let active = ActiveRequest::start(method, &route_label);
        let inner = {
            let _attached = cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            state: Some(RequestState {
                cx,
                method,
                route: route_label,
                start: Instant::now(),
                traceresponse,
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
fn request_context<B>(
    request: &Request<B>,
    method: &'static str,
    route: Option<&str>,
) -> (opentelemetry::Context, Option<HeaderValue>) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let Some(tracer) = crate::tracer::server_tracer() else {
        return (parent, None);
    };
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let uri = request.uri();
    let mut attributes = Vec::with_capacity(7);
    attributes.push(KeyValue::new("http.request.method", method));
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route.to_owned()));
    }
    attributes.push(KeyValue::new("url.path", uri.path().to_owned()));
    if let Some(query) = uri.query() {
        attributes.push(KeyValue::new("url.query", query.to_owned()));
    }
    attributes.push(KeyValue::new(
        "network.protocol.version",
        protocol_version(request.version()),
    ));
    if let Some(agent) = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(KeyValue::new("user_agent.original", agent.to_owned()));
    }
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    let cx = parent.with_span(span);
    let traceresponse = traceresponse(&cx);
    (cx, traceresponse)
}

/// W3C Trace Context Level 2 `traceresponse`: lets a caller jump from a response to its trace.
fn traceresponse(cx: &opentelemetry::Context) -> Option<HeaderValue> {
    let span = cx.span();
    let sc = span.span_context();
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

/// Status codes as shared label values: no allocation per request.
fn status_label(status: http::StatusCode) -> Arc<str> {
    static LABELS: LazyLock<Vec<Arc<str>>> = LazyLock::new(|| {
        (100..1000u16)
            .map(|code| Arc::from(code.to_string()))
            .collect()
    });
    LABELS
        .get(usize::from(status.as_u16().saturating_sub(100)))
        .cloned()
        .unwrap_or_else(|| Arc::from(status.as_str()))
}

fn method_label(method: &Method) -> &'static str {
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

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "other",
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

/// Metric handles by label set. `metrics::histogram!(name, labels)` builds a key and hashes it in
/// the registry on every call; the label sets here are few (route templates, not paths), so the
/// handles are resolved once and kept.
struct Instruments {
    durations: RwLock<HashMap<DurationLabels, metrics::Histogram>>,
    active: RwLock<HashMap<ActiveLabels, metrics::Gauge>>,
}

/// (method, route template, status code)
type DurationLabels = (&'static str, Arc<str>, u16);
/// (method, route template)
type ActiveLabels = (&'static str, Arc<str>);

static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| Instruments {
    durations: RwLock::new(HashMap::new()),
    active: RwLock::new(HashMap::new()),
});

impl Instruments {
    fn duration(
        &self,
        method: &'static str,
        route: &Arc<str>,
        status: http::StatusCode,
    ) -> metrics::Histogram {
        cached(
            &self.durations,
            (method, route.clone(), status.as_u16()),
            || {
                metrics::histogram!(
                    HTTP_DURATION,
                    "http_request_method" => method,
                    "http_route" => route.clone(),
                    "http_response_status_code" => status_label(status),
                )
            },
        )
    }

    fn active(&self, method: &'static str, route: &Arc<str>) -> metrics::Gauge {
        cached(
            &self.active,
            (method, route.clone()),
            || metrics::gauge!(HTTP_ACTIVE, "http_request_method" => method, "http_route" => route.clone()),
        )
    }
}

/// The handle for `key`, resolved with `resolve` on first use and kept.
fn cached<K, V>(map: &RwLock<HashMap<K, V>>, key: K, resolve: impl FnOnce() -> V) -> V
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    if let Some(handle) = map.read().ok().and_then(|m| m.get(&key).cloned()) {
        return handle;
    }
    let handle = resolve();
    // Before `init` installs the recorder the handle is a no-op: do not keep that one.
    if crate::metrics_handle().is_some()
        && let Ok(mut map) = map.write()
    {
        map.insert(key, handle.clone());
    }
    handle
}

struct RequestState {
    cx: opentelemetry::Context,
    method: &'static str,
    route: Arc<str>,
    start: Instant,
    traceresponse: Option<HeaderValue>,
    _active: ActiveRequest,
}

impl RequestState {
    /// Finishes the server span (a no-op when tracing is off): status code, Error on 5xx.
    fn record_status(&self, status: http::StatusCode) {
        let span = self.cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
            if status.is_server_error() {
                span.set_attribute(KeyValue::new("error.type", status.as_str().to_owned()));
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
        let elapsed = state.start.elapsed().as_secs_f64();
        let mut response = match result {
            Ok(response) => response,
            Err(error) => return Poll::Ready(Err(error)),
        };
        let status = response.status();
        state.record_status(status);
        INSTRUMENTS
            .duration(state.method, &state.route, status)
            .record(elapsed);
        if let Some(value) = state.traceresponse {
            response.headers_mut().insert("traceresponse", value);
        }
        Poll::Ready(Ok(response))
    }
}
