//! `/metrics` in the format the scraper asks for: OpenMetrics 1.0 text (which can carry
//! exemplars) when `Accept` prefers it, as Prometheus's does by default; Prometheus text 0.0.4
//! otherwise (curl, promtool, older scrapers).
//!
//! metrics-exporter-prometheus renders only Prometheus text and has no exemplars, so the
//! OpenMetrics body of its families, and of the ones a service appends (`ops_router_with`), is a
//! conversion of that text, following the rules Prometheus's own OpenMetrics parser enforces:
//! counter families are named without `_total` in `# TYPE`/`# HELP` while their samples keep it;
//! a counter whose name lacks `_total` (the seed's `hello_world_counter`) is exposed as `unknown`
//! so its sample name, and the seed's queries, stay; `# UNIT` only where the family name ends with
//! the unit; no blank lines or other comments; timestamps in seconds; [`EOF`] last. The HTTP
//! layer's own families are not converted: `http_metrics` writes them as OpenMetrics directly,
//! with the request-duration buckets' exemplars, by the same rules ([`write_openmetrics_header`]).
//!
//! When the scraper prefers the Prometheus protobuf format (Prometheus does when it scrapes
//! native histograms), the same text is converted to it instead (`protobuf`), and the layer's
//! families are built from their cells, with the duration histograms' native buckets. The whole
//! body is put together in `http::scrape`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The content type of the Prometheus protobuf format (`protobuf`), as Prometheus names it in
/// `Accept`.
const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// An exposition format of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// `text/plain; version=0.0.4`: no exemplars.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`: with exemplars.
    OpenMetrics,
    /// `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
    /// encoding=delimited`: with exemplars, and the request durations' native histograms.
    Protobuf,
}

impl ExpositionFormat {
    /// The format an `Accept` header prefers (q-values honoured): the protobuf format or
    /// OpenMetrics when it is named with the highest q-value, at least that of Prometheus text
    /// (`text/plain`, `text/*`, `*/*`); on a tie, protobuf before OpenMetrics (it carries more).
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::Prometheus;
        };
        let (mut protobuf, mut openmetrics, mut text) = (0.0_f32, 0.0_f32, 0.0_f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let (mut q, mut version) = (1.0_f32, None);
            let (mut proto, mut encoding) = (None, None);
            for parameter in parts {
                if let Some((key, value)) = parameter.split_once('=') {
                    let value = value.trim().trim_matches('"');
                    match key.trim().to_ascii_lowercase().as_str() {
                        "q" => q = value.parse().unwrap_or(0.0),
                        "version" => version = Some(value),
                        "proto" => proto = Some(value),
                        "encoding" => encoding = Some(value),
                        _ => {}
                    }
                }
            }
            match media.as_str() {
                // Only the delimited MetricFamily stream is what we write.
                "application/vnd.google.protobuf"
                    if proto == Some("io.prometheus.client.MetricFamily")
                        && encoding == Some("delimited") =>
                {
                    protobuf = protobuf.max(q);
                }
                "application/openmetrics-text"
                    if version.is_none_or(|v| v == "1.0.0" || v == "0.0.1") =>
                {
                    openmetrics = openmetrics.max(q);
                }
                "text/plain" if version.is_none_or(|v| v == "0.0.4") => text = text.max(q),
                "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if protobuf > 0.0 && protobuf >= openmetrics && protobuf >= text {
            Self::Protobuf
        } else if openmetrics > 0.0 && openmetrics >= text {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Protobuf => PROTOBUF_CONTENT_TYPE,
        }
    }
}

/// One metric family of the Prometheus text: its metadata and sample lines.
pub(crate) struct Family<'a> {
    pub name: &'a str,
    pub kind: Option<&'a str>,
    pub help: Option<&'a str>,
    pub samples: Vec<&'a str>,
}

impl Family<'_> {
    fn holds(&self, sample_name: &str) -> bool {
        if sample_name == self.name {
            return true;
        }
        matches!(self.kind, Some("histogram" | "summary"))
            && sample_name
                .strip_prefix(self.name)
                .is_some_and(|suffix| matches!(suffix, "_bucket" | "_sum" | "_count"))
    }
}

/// Units OpenMetrics names (base units), for `# UNIT` when a family name ends with one.
const UNITS: [&str; 9] = [
    "seconds", "bytes", "ratio", "meters", "volts", "amperes", "joules", "grams", "celsius",
];

/// The last line of an OpenMetrics exposition.
pub(crate) const EOF: &str = "# EOF\n";

/// Appends the families of Prometheus text (0.0.4) as OpenMetrics 1.0 text (without [`EOF`]).
pub(crate) fn write_openmetrics(out: &mut String, text: &str) {
    out.reserve(text.len() + text.len() / 4);
    for family in families(text) {
        write_family(out, &family);
    }
}

fn family_named<'a>(families: &mut Vec<Family<'a>>, name: &'a str) {
    if families.last().is_none_or(|f| f.name != name) {
        families.push(Family {
            name,
            kind: None,
            help: None,
            samples: Vec::new(),
        });
    }
}

pub(crate) fn families(text: &str) -> Vec<Family<'_>> {
    let mut families: Vec<Family<'_>> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            let (keyword, rest) = comment.split_once(' ').unwrap_or((comment, ""));
            let (name, value) = rest.trim_start().split_once(' ').unwrap_or((rest, ""));
            if name.is_empty() || !matches!(keyword, "HELP" | "TYPE") {
                continue; // other comments have no place in OpenMetrics
            }
            family_named(&mut families, name);
            if let Some(family) = families.last_mut() {
                if keyword == "HELP" {
                    family.help = Some(value);
                } else {
                    family.kind = Some(value.trim());
                }
            }
            continue;
        }
        let name = sample_name(line);
        if !families.last().is_some_and(|f| f.holds(name)) {
            family_named(&mut families, name);
        }
        if let Some(family) = families.last_mut() {
            family.samples.push(line);
        }
    }
    families
}

fn write_family(out: &mut String, family: &Family<'_>) {
    let (name, kind) = match family.kind {
        Some("counter") => match family.name.strip_suffix("_total") {
            Some(base) if !base.is_empty() => (base, "counter"),
            // Renaming the samples to `_total` would break the queries that use them.
            _ => (family.name, "unknown"),
        },
        Some(kind @ ("gauge" | "histogram" | "summary")) => (family.name, kind),
        _ => (family.name, "unknown"),
    };
    write_openmetrics_header(out, name, kind, family.help);
    for sample in &family.samples {
        write_sample(out, sample);
    }
}

/// A family's OpenMetrics metadata: `# TYPE`, `# UNIT` where `name` ends with the unit, `# HELP`
/// (`help` as Prometheus text escapes it).
pub(crate) fn write_openmetrics_header(
    out: &mut String,
    name: &str,
    kind: &str,
    help: Option<&str>,
) {
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
    if let Some(unit) = unit_of(name) {
        out.push_str("# UNIT ");
        out.push_str(name);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
    if let Some(help) = help {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_help(out, help);
        out.push('\n');
    }
}

/// The unit a family name (counters without `_total`) ends with, if it is one OpenMetrics names.
pub(crate) fn unit_of(name: &str) -> Option<&'static str> {
    UNITS.iter().copied().find(|unit| {
        name.strip_suffix(*unit)
            .is_some_and(|base| base.ends_with('_'))
    })
}

/// Prometheus HELP escapes only `\\` and `\n`; OpenMetrics also escapes `"`.
fn escape_help(out: &mut String, help: &str) {
    let mut chars = help.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\\') => {
                    chars.next();
                    out.push_str("\\\\");
                }
                Some('n') => {
                    chars.next();
                    out.push_str("\\n");
                }
                _ => out.push_str("\\\\"),
            },
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn write_sample(out: &mut String, line: &str) {
    let (series, rest) = line.split_at(series_end(line));
    let mut fields = rest.split_whitespace();
    let Some(value) = fields.next() else {
        return; // not a sample line
    };
    out.push_str(series);
    out.push(' ');
    out.push_str(canonical_value(value));
    if let Some(millis) = fields.next().and_then(|t| t.parse::<i64>().ok()) {
        // Prometheus text timestamps are milliseconds, OpenMetrics ones seconds.
        let _ = write!(
            out,
            " {}.{:03}",
            millis.div_euclid(1000),
            millis.rem_euclid(1000)
        );
    }
    out.push('\n');
}

/// `+Inf`, `-Inf` and `NaN` as OpenMetrics spells them (Rust writes `inf`, `NaN`).
fn canonical_value(value: &str) -> &str {
    if value.eq_ignore_ascii_case("inf") || value.eq_ignore_ascii_case("+inf") {
        "+Inf"
    } else if value.eq_ignore_ascii_case("-inf") {
        "-Inf"
    } else if value.eq_ignore_ascii_case("nan") {
        "NaN"
    } else {
        value
    }
}

pub(crate) fn sample_name(line: &str) -> &str {
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    &line[..end]
}

/// Where the series (name and labels) of a sample line ends; label values may hold spaces.
pub(crate) fn series_end(line: &str) -> usize {
    let name_end = sample_name(line).len();
    if !line[name_end..].starts_with('{') {
        return name_end;
    }
    let (mut in_quotes, mut escaped) = (false, false);
    for (i, c) in line.char_indices().skip(name_end) {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return i + 1,
            _ => {}
        }
    }
    line.len()
}

/// `{a="x",b="y\"z"}` → [(a, x), (b, y"z)], values unescaped.
pub(crate) fn labels(block: &str) -> Vec<(&str, Cow<'_, str>)> {
    let mut labels = Vec::new();
    let mut rest = block.trim_start_matches('{');
    while let Some((key, after)) = rest.split_once("=\"") {
        let key = key.trim_start_matches([',', ' ']);
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let raw = &after[..end];
        let value = if raw.contains('\\') {
            Cow::Owned(unescape_label_value(raw))
        } else {
            Cow::Borrowed(raw)
        };
        labels.push((key, value));
        rest = &after[end + 1..];
    }
    labels
}

/// The text format's label value escapes: `\\`, `\"`, `\n`.
fn unescape_label_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_by_q_value() {
        use ExpositionFormat::*;
        let prometheus_2_42 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let prometheus_3 = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(
            ExpositionFormat::from_accept(Some(prometheus_2_42)),
            OpenMetrics
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some(prometheus_3)),
            OpenMetrics
        );
        // Prometheus 3.13 with `scrape_native_histograms: true` (scrape.acceptHeader).
        let prometheus_3_native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(
            ExpositionFormat::from_accept(Some(prometheus_3_native)),
            Protobuf
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,application/openmetrics-text;q=0.5"
            )),
            OpenMetrics,
            "a lower q-value loses"
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text"
            )),
            Prometheus,
            "only the delimited encoding"
        );
        assert_eq!(ExpositionFormat::from_accept(None), Prometheus);
        assert_eq!(ExpositionFormat::from_accept(Some("*/*")), Prometheus);
        assert_eq!(
            ExpositionFormat::from_accept(Some(
                "text/plain;q=0.9, application/openmetrics-text;q=0.5"
            )),
            Prometheus
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some("application/openmetrics-text; q=0")),
            Prometheus
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some("application/openmetrics-text;version=2.0.0")),
            Prometheus
        );
        assert_eq!(
            ExpositionFormat::from_accept(Some("Application/OpenMetrics-Text")),
            OpenMetrics
        );
    }

    #[test]
    fn families_follow_the_openmetrics_naming_rules() {
        let text = "# HELP hello_world_counter Seed counter.\n# TYPE hello_world_counter counter\nhello_world_counter 5\n\n\
# HELP process_cpu_seconds_total CPU \\\\ time \"used\".\\nMore.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n\n\
# TYPE up gauge\nup{job=\"a b\",x=\"}\"} inf 1700000000123\n\n\
untyped_thing{a=\"1\"} NaN\n";
        let mut om = String::new();
        write_openmetrics(&mut om, text);
        om.push_str(EOF);
        assert_eq!(
            om,
            "# TYPE hello_world_counter unknown\n# HELP hello_world_counter Seed counter.\nhello_world_counter 5\n\
# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n# HELP process_cpu_seconds CPU \\\\ time \\\"used\\\".\\nMore.\nprocess_cpu_seconds_total 1.5\n\
# TYPE up gauge\nup{job=\"a b\",x=\"}\"} +Inf 1700000000.123\n\
# TYPE untyped_thing unknown\nuntyped_thing{a=\"1\"} NaN\n# EOF\n"
        );
    }

    #[test]
    fn label_values_are_unescaped_for_lookups() {
        assert_eq!(
            labels(r#"{a="x",b="y\"z\\",le="+Inf"}"#),
            vec![
                ("a", Cow::Borrowed("x")),
                ("b", Cow::Owned::<str>("y\"z\\".to_owned())),
                ("le", Cow::Borrowed("+Inf"))
            ]
        );
    }
}
