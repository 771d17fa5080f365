//! The body of `/metrics`: the recorder's metrics (`metrics::recorder`), then the HTTP layer's own
//! families, which live with its per-route state (`route_cache`), in the format the scraper asked
//! for (`metrics::exposition`, `metrics::protobuf`). It joins the two rooms below, so it sits here.

use crate::http::route_cache;
use crate::metrics::exposition::{ExpositionFormat, to_openmetrics};
use crate::metrics::protobuf;
use crate::trace::installed;

/// The whole exposition in `format` (the text formats in UTF-8): the recorder's metrics, then the
/// families `extra` appends (Prometheus text); `None` before [`crate::init`].
pub fn render_exposition(format: ExpositionFormat, extra: &dyn Fn(&mut String)) -> Option<Vec<u8>> {
    // Exemplars first: each one's request is then already counted in the buckets rendered next.
    let exemplars = (format != ExpositionFormat::Prometheus).then(route_cache::exemplars);
    // The duration series before the text too: a series the text has is then among them.
    let durations = (format == ExpositionFormat::Protobuf).then(route_cache::durations);
    // Whole lines: `render_metrics` ends with a newline.
    let mut text = render_metrics()?;
    extra(&mut text);
    Some(match (format, exemplars) {
        (ExpositionFormat::OpenMetrics, Some(exemplars)) => {
            to_openmetrics(&text, Some(&exemplars)).into_bytes()
        }
        (ExpositionFormat::Protobuf, Some(exemplars)) => protobuf::encode(
            &text,
            &protobuf::DurationScrape {
                series: &durations.unwrap_or_default(),
                exemplars: &exemplars,
            },
        ),
        _ => text.into_bytes(),
    })
}

/// The Prometheus text exposition: the recorder's metrics (process metrics refreshed), then the
/// HTTP layer's two families, which the layer keeps itself (`http_metrics`); `None` before
/// [`crate::init`].
pub fn render_metrics() -> Option<String> {
    let metrics = installed::metrics()?;
    metrics.process.collect();
    let mut text = metrics.handle.render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    route_cache::render(&mut text);
    Some(text)
}
