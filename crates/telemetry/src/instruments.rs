//! The HTTP layer's metric handles, resolved once per label set and kept, with the exemplar slots
//! of each request-duration series beside its histogram handle.
//!
//! `metrics::histogram!(name, labels)` builds a key and hashes it in the registry on every call;
//! the label sets here are few (route templates, not paths), so the handles are resolved once.

use crate::exemplars::{ExemplarSlots, ExemplarSnapshot};
use crate::metrics_setup::{HTTP_ACTIVE, HTTP_DURATION};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// One `http_server_request_duration_seconds` series: its histogram and its exemplars.
pub(crate) struct DurationSeries {
    pub histogram: metrics::Histogram,
    pub exemplars: ExemplarSlots,
}

pub(crate) struct Instruments {
    durations: RwLock<HashMap<DurationLabels, Arc<DurationSeries>>>,
    active: RwLock<HashMap<ActiveLabels, metrics::Gauge>>,
}

/// (method, route template, status code)
type DurationLabels = (&'static str, Arc<str>, u16);
/// (method, route template)
type ActiveLabels = (&'static str, Arc<str>);

pub(crate) static INSTRUMENTS: LazyLock<Instruments> = LazyLock::new(|| Instruments {
    durations: RwLock::new(HashMap::new()),
    active: RwLock::new(HashMap::new()),
});

impl Instruments {
    pub(crate) fn duration(
        &self,
        method: &'static str,
        route: &Arc<str>,
        status: http::StatusCode,
    ) -> Arc<DurationSeries> {
        cached(
            &self.durations,
            (method, route.clone(), status.as_u16()),
            || {
                Arc::new(DurationSeries {
                    histogram: metrics::histogram!(
                        HTTP_DURATION,
                        "http_request_method" => method,
                        "http_route" => route.clone(),
                        "http_response_status_code" => status_label(status),
                    ),
                    exemplars: ExemplarSlots::default(),
                })
            },
        )
    }

    pub(crate) fn active(&self, method: &'static str, route: &Arc<str>) -> metrics::Gauge {
        cached(
            &self.active,
            (method, route.clone()),
            || metrics::gauge!(HTTP_ACTIVE, "http_request_method" => method, "http_route" => route.clone()),
        )
    }

    /// The exemplars of every duration series, for one scrape.
    pub(crate) fn exemplars(&self) -> ExemplarSnapshot {
        let series = self
            .durations
            .read()
            .map(|map| {
                map.iter()
                    .map(|(labels, series)| (labels.clone(), series.exemplars.snapshot()))
                    .collect()
            })
            .unwrap_or_default();
        ExemplarSnapshot::new(series)
    }
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
        // Another request may have resolved it meanwhile: keep the first, so exemplars
        // recorded in it are not lost.
        return map.entry(key).or_insert(handle).clone();
    }
    handle
}
