//! Writing Prometheus text: a family's `# HELP` and `# TYPE` lines and escaped label values, for
//! the HTTP layer's own families (`http_metrics`) and the ones a service renders itself (an
//! [`Exposition`](crate::Exposition) given to `ops_router_with`).
//!
//! The metadata lines are metrics-exporter-prometheus's own (`formatting`), so a family written
//! here reads like one the exporter wrote. Sample lines are not: its `write_metric_line` takes a
//! `LabelSet`, which only a `metrics::Key` builds (a key and a string per label and line at every
//! scrape), and its label-value sanitizer leaves `\\` as it is (read as an escaped backslash),
//! where a route template's backslashes must be escaped like any other.

use metrics_exporter_prometheus::formatting::{write_help_line, write_type_line};

/// Starts a family in an [`Exposition`](crate::Exposition): its `# HELP` (newlines and
/// backslashes escaped as the exporter escapes its descriptions) and `# TYPE` lines (`kind`:
/// `counter`, `gauge`, ...); its samples follow.
pub fn write_family(out: &mut String, name: &str, kind: &str, help: &str) {
    write_help_line(out, name, None, None, help);
    write_type_line(out, name, None, None, kind);
}

/// Appends `value` with the text format's label value escapes (`\\`, `\"`, `\n`), for families a
/// service renders itself.
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}
