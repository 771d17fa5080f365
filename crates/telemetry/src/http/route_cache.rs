//! What the HTTP layer keeps per route template, resolved once and kept for the life of the
//! process: the `http_route` label value, the span name per method, the active-requests series
//! per method, and each request-duration series with its exemplar slots (`http_metrics` holds
//! and renders the series themselves).
//!
//! Finding a series by its labels means building and hashing a key, and
//! `format!("{method} {route}")` allocates; the route templates come from the router, a
//! bounded set, so each route's state is built once and leaked into a `&'static` (like the metric
//! series themselves, it is never removed). A request finds it in a per-thread map: no lock and no
//! shared reference count on the hot path, where two worker threads bumping one counter would pass
//! its cache line back and forth on every request.

use crate::metrics::exemplars::{ExemplarSlots, ExemplarSnapshot, SeriesExemplars};
use crate::metrics::http_metrics::{
    ActiveLabels, ActiveRequests, DurationHistogram, DurationLabels,
};
use crate::trace::installed;
use http::Method;
use parking_lot::{Mutex, MutexGuard};
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

/// The `http_route` label of requests no route matched (404s on random paths).
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

/// The `http.request.method` values: the methods the HTTP conventions (1.42) know, `QUERY`
/// (development) among them, and `_OTHER` for the rest (so a made-up method cannot add series:
/// each known method is at most one more series per route and status).
pub(crate) const METHODS: [&str; 11] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "QUERY",
    "_OTHER",
];

/// The index of `_OTHER` in [`METHODS`].
const OTHER: usize = METHODS.len() - 1;

/// The index of a request's method in [`METHODS`].
pub(crate) fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::DELETE => 3,
        Method::PATCH => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        Method::CONNECT => 7,
        Method::TRACE => 8,
        // The http crate has no constant for it; methods are case-sensitive, so only `QUERY`.
        _ if method.as_str() == "QUERY" => 9,
        _ => OTHER,
    }
}

/// The method part of a span name: the method, or `HTTP` for `_OTHER`, as the HTTP spans
/// document requires (a name must not carry an unbounded method, nor `_OTHER`).
fn span_name_method(method: usize) -> &'static str {
    if method == OTHER {
        "HTTP"
    } else {
        METHODS[method]
    }
}

/// One route template (or the unmatched requests) and what is kept for it.
pub(crate) struct Route {
    /// The `http_route` label value: the template, or [`UNMATCHED_ROUTE`].
    pub label: &'static str,
    /// A route matched: its spans carry `http.route` and are named after it.
    pub matched: bool,
    /// False for the scrape and probe routes, which are neither measured nor traced (the layer
    /// says which they are).
    pub measured: bool,
    /// `"{method} {template}"` (the method alone when unmatched), per method; `HTTP` stands for
    /// the method of `_OTHER` requests.
    span_names: [&'static str; METHODS.len()],
    active: [OnceLock<&'static ActiveRequests>; METHODS.len()],
}

impl Route {
    fn new(label: &'static str, matched: bool, measured: bool) -> Self {
        Self {
            label,
            matched,
            measured,
            span_names: std::array::from_fn(|i| {
                if matched {
                    leak(format!("{} {label}", span_name_method(i)))
                } else {
                    span_name_method(i)
                }
            }),
            active: Default::default(),
        }
    }

    pub(crate) fn span_name(&self, method: usize) -> &'static str {
        self.span_names[method]
    }

    /// `http_server_active_requests` of this route and method.
    pub(crate) fn active(&'static self, method: usize) -> &'static ActiveRequests {
        static NOT_RECORDED: ActiveRequests = ActiveRequests::new();
        if let Some(gauge) = self.active[method].get() {
            return gauge;
        }
        // Before `init` nothing is counted (`trace::installed`): keep it so.
        if installed::metrics().is_none() {
            return &NOT_RECORDED;
        }
        self.active[method].get_or_init(|| {
            let gauge: &'static ActiveRequests = Box::leak(Box::new(ActiveRequests::new()));
            registry()
                .active
                .push(((METHODS[method], self.label), gauge));
            gauge
        })
    }
}

/// One `http_server_request_duration_seconds` series: its histogram and its exemplars.
pub(crate) struct DurationSeries {
    pub histogram: DurationHistogram,
    pub exemplars: ExemplarSlots,
}

impl DurationSeries {
    /// No request counted, no exemplar kept.
    fn new() -> Self {
        Self {
            histogram: DurationHistogram::new(),
            exemplars: ExemplarSlots::default(),
        }
    }
}

/// (route, method index, status code) → its series; the route by address (each is one `&'static`).
type SeriesKey = (usize, usize, u16);

/// Every route and every duration series, shared by all threads; consulted when a thread's own
/// map misses, and by the scrape (exemplars).
#[derive(Default)]
struct Registry {
    routes: HashMap<&'static str, &'static Route>,
    unmatched: Option<&'static Route>,
    series: HashMap<SeriesKey, &'static DurationSeries>,
    /// The labels of each duration series, in the order they were first recorded: what a scrape
    /// renders, and whose exemplars it writes.
    listed: Vec<(DurationLabels, &'static DurationSeries)>,
    /// The active-requests series (method, route), in the order they were first used.
    active: Vec<(ActiveLabels<'static>, &'static ActiveRequests)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// A thread's copy of what it has looked up so far (the registry's entries, never others).
///
/// Hashed with rustc's FxHash (`rustc-hash`): the keys are route templates and this crate's own
/// addresses and numbers, never request data, so a keyed hash (SipHash, which cost as much as the
/// rest of the lookup) is not needed against flooding.
#[derive(Default)]
struct ThreadCache {
    routes: FxHashMap<&'static str, &'static Route>,
    series: FxHashMap<SeriesKey, &'static DurationSeries>,
}

thread_local! {
    static CACHE: RefCell<ThreadCache> = RefCell::default();
}

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The route of a matched template.
/// `measured` says whether a template seen for the first time is measured (asked once per route).
// Inlined into the layer's `call`, with its thread-local lookup: without the hint the move to
// `http/` left both lookups out of line (callgrind: +60 instructions per request).
#[inline]
pub(crate) fn matched(template: &str, measured: impl FnOnce(&str) -> bool) -> &'static Route {
    let cached = CACHE.with(|cache| cache.borrow().routes.get(template).copied());
    if let Some(route) = cached {
        return route;
    }
    let route = {
        let mut registry = registry();
        match registry.routes.get(template) {
            Some(route) => *route,
            None => {
                let measured = measured(template);
                let route: &'static Route = Box::leak(Box::new(Route::new(
                    leak(template.to_owned()),
                    true,
                    measured,
                )));
                registry.routes.insert(route.label, route);
                route
            }
        }
    };
    CACHE.with(|cache| cache.borrow_mut().routes.insert(route.label, route));
    route
}

/// The route of requests no template matched.
pub(crate) fn unmatched() -> &'static Route {
    static UNMATCHED: OnceLock<&'static Route> = OnceLock::new();
    UNMATCHED.get_or_init(|| {
        *registry()
            .unmatched
            .get_or_insert_with(|| Box::leak(Box::new(Route::new(UNMATCHED_ROUTE, false, true))))
    })
}

/// The duration series of (route, method, status).
// Inlined for the same reason as `matched`.
#[inline]
pub(crate) fn duration(
    route: &'static Route,
    method: usize,
    status: http::StatusCode,
) -> &'static DurationSeries {
    let key = (std::ptr::from_ref(route) as usize, method, status.as_u16());
    let cached = CACHE.with(|cache| cache.borrow().series.get(&key).copied());
    if let Some(series) = cached {
        return series;
    }
    // Before `init` nothing is counted (`trace::installed`): keep it so (and out of the thread's
    // cache, so that the first request after `init` registers the series).
    if installed::metrics().is_none() {
        static NOT_RECORDED: LazyLock<DurationSeries> = LazyLock::new(DurationSeries::new);
        return &NOT_RECORDED;
    }
    let mut registry = registry();
    let series = match registry.series.get(&key) {
        Some(series) => *series,
        None => {
            let series: &'static DurationSeries = Box::leak(Box::new(DurationSeries::new()));
            registry.series.insert(key, series);
            registry
                .listed
                .push(((METHODS[method], route.label, status.as_u16()), series));
            series
        }
    };
    drop(registry);
    CACHE.with(|cache| cache.borrow_mut().series.insert(key, series));
    series
}

/// The exemplars of every duration series, for one scrape.
pub(crate) fn exemplars() -> ExemplarSnapshot {
    let series: Vec<SeriesExemplars> = registry()
        .listed
        .iter()
        .map(|(labels, series)| (*labels, series.exemplars.snapshot()))
        .collect();
    ExemplarSnapshot::new(series)
}

/// The layer's series of both families (labels and cells), in the order they were first
/// recorded, for one scrape. Copied out (they only grow), so that no request waits for the render
/// to register a series.
pub(crate) fn series() -> LayerSeries {
    let registry = registry();
    LayerSeries {
        durations: registry
            .listed
            .iter()
            .map(|(labels, series)| (*labels, &series.histogram))
            .collect(),
        active: registry.active.clone(),
    }
}

/// What [`series`] found.
pub(crate) struct LayerSeries {
    pub durations: Vec<(DurationLabels, &'static DurationHistogram)>,
    pub active: Vec<(ActiveLabels<'static>, &'static ActiveRequests)>,
}

/// Status codes as shared label values: no allocation per request.
pub(crate) fn status_label(status: http::StatusCode) -> Arc<str> {
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
