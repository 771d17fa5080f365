//! The Prometheus recorder, the metric descriptions (HELP text for `promtool check metrics`),
//! `service_info`, and process metrics (refreshed at every scrape: `http::scrape`). Builds the
//! metrics side of what `init` installs (`trace::installed::Metrics`).

use crate::config::{TelemetryConfig, TelemetryError};
use crate::trace::installed::Metrics;
use crate::trace::processor::{SPANS_DROPPED, SPANS_EXPORT_FAILED, SPANS_EXPORTED};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::time::Duration;

/// How often the histograms' raw samples are folded into their buckets. The work per sample is the
/// same whatever the interval; a short one bounds the memory the samples hold (8 bytes per sample,
/// at least one sample per request, until then).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

// `pub const HTTP_DURATION_BUCKETS: [f64; N]`, the request-duration buckets (docs/METRICS.md),
// written by crates/telemetry/build.rs from crates/telemetry/http_duration_buckets.txt, the file
// the SLO generator (deploy/slo) reads too.
include!(concat!(env!("OUT_DIR"), "/http_duration_buckets.rs"));

const SERVICE_INFO: &str = "service_info";

/// Installs the global recorder (the first thing `init` installs: a second `init` fails here),
/// describes the metrics, starts the upkeep thread; returns the metrics side for `installed`.
pub(crate) fn install(config: &TelemetryConfig) -> Result<Metrics, TelemetryError> {
    let mut builder = PrometheusBuilder::new()
        .set_buckets(&HTTP_DURATION_BUCKETS)
        .map_err(|e| TelemetryError::Metrics(e.to_string()))?;
    for (name, buckets) in &config.histogram_buckets {
        builder = builder
            .set_buckets_for_metric(Matcher::Full(name.clone()), buckets)
            .map_err(|e| TelemetryError::Metrics(format!("{name}: {e}")))?;
    }
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| TelemetryError::AlreadyInitialized)?;

    metrics::describe_gauge!(
        SERVICE_INFO,
        "Always 1; labels carry the service name and version."
    );
    metrics::describe_counter!(
        SPANS_DROPPED,
        "Finished spans dropped because the export queue was full (collector slow or down)."
    );
    metrics::describe_counter!(SPANS_EXPORTED, "Spans exported to the OTLP collector.");
    metrics::describe_counter!(SPANS_EXPORT_FAILED, "Spans whose OTLP export failed.");
    metrics::gauge!(SERVICE_INFO, "service" => config.service_name.clone(), "version" => config.service_version.clone()).set(1.0);
    // Make the span counters visible (at 0) before the first drop, so alerts and panels have a series.
    metrics::counter!(SPANS_DROPPED).absolute(0);
    metrics::counter!(SPANS_EXPORT_FAILED).absolute(0);

    let collector = metrics_process::Collector::default();
    collector.describe();
    collector.collect();

    // Histograms keep every raw sample until upkeep folds them into buckets; do it even if nobody
    // scrapes, and often: at 100 k requests/s, 5 s of samples were an 8 MB saw-tooth in RSS.
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn({
            let handle = handle.clone();
            move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    handle.run_upkeep();
                }
            }
        })
        .map_err(|e| TelemetryError::Metrics(format!("cannot start the upkeep thread: {e}")))?;
    Ok(Metrics {
        handle,
        process: collector,
    })
}

#[cfg(test)]
mod tests {
    use super::HTTP_DURATION_BUCKETS;

    /// docs/METRICS.md writes the bounds out for readers; it must say what the build reads.
    #[test]
    fn metrics_md_lists_the_bucket_bounds_of_the_data_file() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/METRICS.md"
        ))
        .expect("docs/METRICS.md");
        let listed = doc
            .split_once("histogram (buckets ")
            .and_then(|(_, rest)| rest.split_once(", from"))
            .map(|(bounds, _)| bounds)
            .expect("METRICS.md: `histogram (buckets … , from` in the duration row");
        let bounds: Vec<String> = HTTP_DURATION_BUCKETS.iter().map(f64::to_string).collect();
        assert_eq!(
            listed,
            bounds.join(" "),
            "docs/METRICS.md's bucket list differs from crates/telemetry/http_duration_buckets.txt"
        );
    }
}
