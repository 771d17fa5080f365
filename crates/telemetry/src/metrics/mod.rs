//! Metrics: the Prometheus recorder, the HTTP layer's own metric families, and `/metrics` in the
//! format the scraper asks for.
//!
//! - `recorder`: installs the Prometheus recorder (descriptions, `service_info`, process metrics,
//!   the [`HTTP_DURATION_BUCKETS`]).
//! - `http_metrics`: the layer's two families, sharded per thread and rendered by this crate as
//!   Prometheus text and as OpenMetrics; `exemplars`: the duration buckets' exemplars.
//! - `exposition`: [`ExpositionFormat`], the format the scraper asked for; the exporter's (and a
//!   service's) Prometheus text converted to OpenMetrics; `protobuf`: the Prometheus protobuf
//!   format, the layer's families from their cells (with native histograms), the rest converted
//!   from the text.
//! - `text`: [`write_family`] and [`escape_label_value`], for families written as text.
//!
//! Above `trace` (the recorder describes the span counters), below `http`: the scrape that joins
//! the recorder's text with the layer's series, which live with the layer's per-route state, is
//! `http::scrape`.

pub(crate) mod exemplars;
pub(crate) mod exposition;
pub(crate) mod http_metrics;
pub(crate) mod protobuf;
pub(crate) mod recorder;
pub(crate) mod text;

pub use exposition::ExpositionFormat;
pub use recorder::HTTP_DURATION_BUCKETS;
pub use text::{escape_label_value, write_family};
