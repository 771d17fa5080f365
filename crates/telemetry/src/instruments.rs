//! What the HTTP layer keeps per route template, resolved once and kept for the life of the
//! process: the `http_route` label value, the span name per method, the metric handles, and the
//! exemplar slots of each request-duration series beside its histogram handle.
//!
//! `metrics::histogram!(name, labels)` builds a key and hashes it in the registry on every call,
//! and `format!("{method} {route}")` allocates; the route templates come from the router, a
//! bounded set, so each route's state is built once and leaked into a `&'static` (like the metric
//! series themselves, it is never removed). A request finds it in a per-thread map: no lock and no
//! shared reference count on the hot path, where two worker threads bumping one counter would pass
//! its cache line back and forth on every request.

use crate::exemplars::{ExemplarSlots, ExemplarSnapshot, SeriesExemplars};
use crate::layer::{NOT_MEASURED, UNMATCHED_ROUTE};
use crate::metrics_setup::{HTTP_ACTIVE, HTTP_DURATION};
use http::Method;
use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, LazyLock, OnceLock};

/// The `http.request.method` values: the standard methods, and `_OTHER` for the rest (so a
/// made-up method cannot add series).
pub(crate) const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];

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
        _ => 9,
    }
}

/// One route template (or the unmatched requests) and what is kept for it.
pub(crate) struct Route {
    /// The `http_route` label value: the template, or [`UNMATCHED_ROUTE`].
    pub label: &'static str,
    /// A route matched: its spans carry `http.route` and are named after it.
    pub matched: bool,
    /// False for the scrape and probe routes, which are neither measured nor traced.
    pub measured: bool,
    /// `"{method} {template}"` (the method alone when unmatched), per method.
    span_names: [&'static str; METHODS.len()],
    active: [OnceLock<metrics::Gauge>; METHODS.len()],
}

impl Route {
    fn new(label: &'static str, matched: bool) -> Self {
        Self {
            label,
            matched,
            measured: !(matched && NOT_MEASURED.contains(&label)),
            span_names: std::array::from_fn(|i| {
                if matched {
                    leak(format!("{} {label}", METHODS[i]))
                } else {
                    METHODS[i]
                }
            }),
            active: Default::default(),
        }
    }

    pub(crate) fn span_name(&self, method: usize) -> &'static str {
        self.span_names[method]
    }

    /// `http_server_active_requests` of this route and method.
    pub(crate) fn active(&'static self, method: usize) -> &'static metrics::Gauge {
        static NOT_RECORDED: metrics::Gauge = metrics::Gauge::noop();
        if let Some(gauge) = self.active[method].get() {
            return gauge;
        }
        // Before `init` installs the recorder a handle would be a no-op: do not keep that one.
        if crate::metrics_handle().is_none() {
            return &NOT_RECORDED;
        }
        self.active[method].get_or_init(|| {
            metrics::gauge!(HTTP_ACTIVE, "http_request_method" => METHODS[method], "http_route" => self.label)
        })
    }
}

/// One `http_server_request_duration_seconds` series: its histogram and its exemplars.
pub(crate) struct DurationSeries {
    pub histogram: metrics::Histogram,
    pub exemplars: ExemplarSlots,
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
    /// The labels of each series, for the exemplars of a scrape.
    listed: Vec<(&'static str, &'static str, u16, &'static DurationSeries)>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

/// A thread's copy of what it has looked up so far (the registry's entries, never others).
#[derive(Default)]
struct ThreadCache {
    routes: HashMap<&'static str, &'static Route, BuildHasherDefault<FxHasher>>,
    series: HashMap<SeriesKey, &'static DurationSeries, BuildHasherDefault<FxHasher>>,
}

/// The multiply-rotate hash of rustc (FxHash). The keys hashed here are route templates and this
/// crate's own addresses and numbers, never request data, so a keyed hash (SipHash, which cost as
/// much as the rest of the lookup) is not needed against flooding.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for byte in chunks.remainder() {
            self.add(u64::from(*byte));
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
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
pub(crate) fn matched(template: &str) -> &'static Route {
    let cached = CACHE.with(|cache| cache.borrow().routes.get(template).copied());
    if let Some(route) = cached {
        return route;
    }
    let route = {
        let mut registry = registry();
        match registry.routes.get(template) {
            Some(route) => *route,
            None => {
                let route: &'static Route =
                    Box::leak(Box::new(Route::new(leak(template.to_owned()), true)));
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
            .get_or_insert_with(|| Box::leak(Box::new(Route::new(UNMATCHED_ROUTE, false))))
    })
}

/// The duration series of (route, method, status).
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
    let resolve = || DurationSeries {
        histogram: metrics::histogram!(
            HTTP_DURATION,
            "http_request_method" => METHODS[method],
            "http_route" => route.label,
            "http_response_status_code" => status_label(status),
        ),
        exemplars: ExemplarSlots::default(),
    };
    // Before `init` installs the recorder the handle is a no-op: do not keep that one.
    if crate::metrics_handle().is_none() {
        static NOT_RECORDED: LazyLock<DurationSeries> = LazyLock::new(|| DurationSeries {
            histogram: metrics::Histogram::noop(),
            exemplars: ExemplarSlots::default(),
        });
        return &NOT_RECORDED;
    }
    let mut registry = registry();
    let series = match registry.series.get(&key) {
        Some(series) => *series,
        None => {
            let series: &'static DurationSeries = Box::leak(Box::new(resolve()));
            registry.series.insert(key, series);
            registry
                .listed
                .push((METHODS[method], route.label, status.as_u16(), series));
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
        .map(|(method, route, status, series)| {
            ((*method, *route, *status), series.exemplars.snapshot())
        })
        .collect();
    ExemplarSnapshot::new(series)
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
