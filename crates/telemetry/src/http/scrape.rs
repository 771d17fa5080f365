//! The body of `/metrics`: the recorder's metrics (`metrics::recorder`), then the HTTP layer's own
//! families, which live with its per-route state (`route_cache`), then the families a service
//! appends (`ops_router_with`), in the format the scraper asked for. It joins the two rooms below,
//! so it sits here.
//!
//! The layer's families are rendered straight from their cells in each format
//! (`metrics::http_metrics` for both text formats, with the exemplars in OpenMetrics;
//! `metrics::protobuf`); only the recorder's text and the service's are converted
//! (`metrics::exposition`, `metrics::protobuf`), since metrics-exporter-prometheus writes
//! Prometheus text alone.

use crate::http::route_cache::{self, LayerSeries};
use crate::metrics::exemplars::ExemplarSnapshot;
use crate::metrics::exposition::{self, EOF, ExpositionFormat};
use crate::metrics::http_metrics;
use crate::metrics::protobuf::{self, LayerScrape};
use crate::trace::installed::{self, Metrics};

/// The whole exposition in `format` (the text formats in UTF-8): the recorder's metrics, the HTTP
/// layer's families, then the families `extra` appends (Prometheus text); `None` before
/// [`crate::init`].
pub fn render_exposition(format: ExpositionFormat, extra: &dyn Fn(&mut String)) -> Option<Vec<u8>> {
    let metrics = installed::metrics()?;
    // Exemplars first: each one's request is then already counted in the buckets rendered next.
    // Prometheus text has none.
    let exemplars = match format {
        ExpositionFormat::Prometheus => ExemplarSnapshot::new(Vec::new()),
        _ => route_cache::exemplars(),
    };
    let layer = route_cache::series();
    Some(render(
        format,
        recorder_text(metrics),
        &layer,
        &exemplars,
        extra,
    ))
}

/// The Prometheus text exposition: the recorder's metrics (process metrics refreshed), then the
/// HTTP layer's two families, which the layer keeps itself (`http_metrics`); `None` before
/// [`crate::init`].
pub fn render_metrics() -> Option<String> {
    let metrics = installed::metrics()?;
    let layer = route_cache::series();
    let mut text = recorder_text(metrics);
    http_metrics::render(&mut text, &layer.durations, &layer.active);
    Some(text)
}

/// The recorder's Prometheus text (process metrics refreshed first), in whole lines.
fn recorder_text(metrics: &Metrics) -> String {
    metrics.process.collect();
    let mut text = metrics.handle.render();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// One exposition in `format`: the recorder's text, the layer's series (with the exemplars taken
/// before them, which Prometheus text leaves out), and `extra`'s families.
fn render(
    format: ExpositionFormat,
    mut recorder: String,
    layer: &LayerSeries,
    exemplars: &ExemplarSnapshot,
    extra: &dyn Fn(&mut String),
) -> Vec<u8> {
    let (durations, active) = (&layer.durations[..], &layer.active[..]);
    if format == ExpositionFormat::Prometheus {
        http_metrics::render(&mut recorder, durations, active);
        extra(&mut recorder);
        return recorder.into_bytes();
    }
    let mut extras = String::new();
    extra(&mut extras);
    if format == ExpositionFormat::OpenMetrics {
        // About what the text takes, plus the exemplars.
        let capacity = recorder.len() + recorder.len() / 4 + extras.len() + durations.len() * 2_600;
        let mut out = String::with_capacity(capacity + active.len() * 128);
        exposition::write_openmetrics(&mut out, &recorder);
        http_metrics::render_openmetrics(&mut out, durations, active, exemplars);
        exposition::write_openmetrics(&mut out, &extras);
        out.push_str(EOF);
        out.into_bytes()
    } else {
        let mut out = Vec::new();
        protobuf::encode_text(&mut out, &recorder);
        protobuf::encode_layer(
            &mut out,
            &LayerScrape {
                durations,
                active,
                exemplars,
            },
        );
        protobuf::encode_text(&mut out, &extras);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exemplars::ExemplarSlots;
    use crate::metrics::http_metrics::{
        ActiveLabels, ActiveRequest, ActiveRequests, DurationHistogram, DurationLabels, bucket,
    };
    use opentelemetry::trace::TraceId;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    const MS: u64 = 1_000_000;

    /// What metrics-exporter-prometheus 0.18 renders for the recorder `init` installs (its
    /// descriptions, `service_info`, the span counters, process metrics) and a service's own
    /// counter, gauge and histogram, in its shape: `# HELP`, `# TYPE`, samples, a blank line.
    const RECORDER: &str = "# HELP service_info Always 1; labels carry the service name and version.\n\
# TYPE service_info gauge\n\
service_info{service=\"web\",version=\"1.2.3\"} 1\n\
\n\
# HELP otel_spans_dropped_total Finished spans dropped because the export queue was full (collector slow or down).\n\
# TYPE otel_spans_dropped_total counter\n\
otel_spans_dropped_total 0\n\
\n\
# HELP hello_world_counter Seed counter \\\\ with a \"quote\".\n\
# TYPE hello_world_counter counter\n\
hello_world_counter 12\n\
\n\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
# TYPE process_cpu_seconds_total counter\n\
process_cpu_seconds_total 0.25\n\
\n\
# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
# TYPE process_resident_memory_bytes gauge\n\
process_resident_memory_bytes 10485760\n\
\n\
# HELP redis_client_command_duration_seconds Redis command durations.\n\
# TYPE redis_client_command_duration_seconds histogram\n\
redis_client_command_duration_seconds_bucket{command=\"INCR\",le=\"0.005\"} 2\n\
redis_client_command_duration_seconds_bucket{command=\"INCR\",le=\"0.01\"} 3\n\
redis_client_command_duration_seconds_bucket{command=\"INCR\",le=\"+Inf\"} 3\n\
redis_client_command_duration_seconds_sum{command=\"INCR\"} 0.0125\n\
redis_client_command_duration_seconds_count{command=\"INCR\"} 3\n\
\n";

    /// What a service appends through `ops_router_with` (url-prober's shape).
    fn extras(out: &mut String) {
        crate::metrics::write_family(
            out,
            "probe_success",
            "gauge",
            "1 if the last probe succeeded.",
        );
        out.push_str("probe_success{url=\"https://a.example/?q=\\\"x\\\"\"} 1\n");
        out.push_str("probe_success{url=\"https://b.example/\\\\path\\nnext\"} 0 1700000000123\n");
        crate::metrics::write_family(out, "probes_total", "counter", "Probes made.");
        out.push_str("probes_total{url=\"https://a.example/\"} 42\n");
    }

    static GET_ITEMS: DurationHistogram = DurationHistogram::new();
    static GET_MISSING: DurationHistogram = DurationHistogram::new();
    static POST_ODD: DurationHistogram = DurationHistogram::new();
    static LATE: DurationHistogram = DurationHistogram::new();
    static ACTIVE_ITEMS: ActiveRequests = ActiveRequests::new();
    static ACTIVE_ODD: ActiveRequests = ActiveRequests::new();

    /// The layer's series: three with exemplars (one on `+Inf`, one route with characters that
    /// need escaping), one registered after the exemplars were taken, two active-request gauges.
    struct Fixture {
        durations: Vec<(DurationLabels, &'static DurationHistogram)>,
        active: Vec<(ActiveLabels<'static>, &'static ActiveRequests)>,
        exemplars: ExemplarSnapshot,
        _held: Vec<ActiveRequest>,
    }

    fn fixture() -> Fixture {
        static RECORDED: std::sync::Once = std::sync::Once::new();
        let items = ("GET", "/items/{id}", 200);
        let missing = ("GET", crate::http::route_cache::UNMATCHED_ROUTE, 404);
        let odd = ("POST", "/a\"b\\c\nd", 500);
        let late = ("DELETE", "/items/{id}", 204);
        RECORDED.call_once(|| {
            for nanos in [3 * MS, 7 * MS, 40 * MS, 250 * MS, 1_500 * MS, 12_000 * MS] {
                GET_ITEMS.record(bucket(nanos), nanos);
            }
            GET_MISSING.record(bucket(MS / 2), MS / 2);
            for nanos in [90 * MS, 20_000 * MS] {
                POST_ODD.record(bucket(nanos), nanos);
            }
            LATE.record(bucket(5 * MS), 5 * MS);
        });
        let taken_instant = Instant::now();
        let taken_system = UNIX_EPOCH + Duration::from_millis(1_700_000_123_456);
        let trace = |hex: &str| TraceId::from_hex(hex).expect("a trace id");
        let slots_items = ExemplarSlots::default();
        slots_items.record(
            bucket(40 * MS),
            trace("0af7651916cd43dd8448eb211c80319c"),
            0.04,
            taken_instant - Duration::from_millis(2_500),
        );
        slots_items.record(
            bucket(12_000 * MS),
            trace("4bf92f3577b34da6a3ce929d0e0e4736"),
            12.0,
            taken_instant - Duration::from_millis(1),
        );
        let slots_odd = ExemplarSlots::default();
        slots_odd.record(
            bucket(90 * MS),
            trace("00000000000000000000000000000001"),
            0.09,
            taken_instant,
        );
        let exemplars = ExemplarSnapshot::taken_at(
            vec![
                (items, slots_items.snapshot()),
                (missing, ExemplarSlots::default().snapshot()),
                (odd, slots_odd.snapshot()),
            ],
            taken_system,
            taken_instant,
        );
        let held = vec![ACTIVE_ITEMS.enter(), ACTIVE_ITEMS.enter()];
        Fixture {
            durations: vec![
                (items, &GET_ITEMS),
                (missing, &GET_MISSING),
                (odd, &POST_ODD),
                (late, &LATE),
            ],
            active: vec![
                (("GET", "/items/{id}"), &ACTIVE_ITEMS),
                (("POST", "/a\"b\\c\nd"), &ACTIVE_ODD),
            ],
            exemplars,
            _held: held,
        }
    }

    /// The three bodies of one scrape.
    fn rendered(fixture: &Fixture) -> [Vec<u8>; 3] {
        let layer = LayerSeries {
            durations: fixture.durations.clone(),
            active: fixture.active.clone(),
        };
        [
            ExpositionFormat::Prometheus,
            ExpositionFormat::OpenMetrics,
            ExpositionFormat::Protobuf,
        ]
        .map(|format| {
            render(
                format,
                RECORDER.to_owned(),
                &layer,
                &fixture.exemplars,
                &extras,
            )
        })
    }

    /// Each format byte for byte as the text-then-convert path wrote it before the layer's
    /// families were rendered directly (testdata captured from that path; `UPDATE_SCRAPE_GOLDEN=1`
    /// writes them again).
    #[test]
    fn a_scrape_is_byte_for_byte_what_it_was() {
        let fixture = fixture();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/testdata");
        for (body, file) in rendered(&fixture)
            .iter()
            .zip(["scrape.prom", "scrape.om", "scrape.pb"])
        {
            let path = dir.join(file);
            if std::env::var_os("UPDATE_SCRAPE_GOLDEN").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, body).unwrap();
            }
            let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                *body == golden,
                "{file} differs:\n{}\n---- was ----\n{}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(&golden)
            );
        }
    }
}
