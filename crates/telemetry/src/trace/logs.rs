//! The tracing subscriber: log lines (JSON with trace ids, or pretty) plus the OpenTelemetry layer.
//!
//! `RUST_LOG` filters log output only. Spans for traces have their own filter, so turning logs
//! down to `warn` does not silently turn traces off, and the exporter's own HTTP/gRPC crates
//! are never traced (that would be a feedback loop).

use crate::config::{LogFormat, LogWriter, TelemetryConfig, TelemetryError};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::{Map, Value};
use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Where one log line is written: what [`LogWriter`] stands for, opened per line.
enum LogSink {
    Stdout(io::Stdout),
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl LogSink {
    fn open(writer: &LogWriter) -> Self {
        match writer {
            LogWriter::Stdout => LogSink::Stdout(io::stdout()),
            LogWriter::Memory(mem) => LogSink::Memory(mem.clone()),
        }
    }
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            LogSink::Stdout(out) => out.write(buf),
            LogSink::Memory(mem) => {
                mem.lock()
                    .map_err(|_| io::Error::other("log buffer poisoned"))?
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            LogSink::Stdout(out) => out.flush(),
            LogSink::Memory(_) => Ok(()),
        }
    }
}

/// The fmt layer's writer: a [`LogSink`] per line (a closure, so that neither [`LogWriter`] nor
/// `LogSink` has to be a public `MakeWriter`).
fn make_writer(writer: &LogWriter) -> impl for<'a> MakeWriter<'a> + Send + Sync + 'static {
    let writer = writer.clone();
    move || LogSink::open(&writer)
}

/// Crates whose spans must never reach the exporter (they are the exporter).
const NOT_TRACED: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
];

pub(crate) fn install(
    config: &TelemetryConfig,
    provider: Option<&SdkTracerProvider>,
) -> Result<(), TelemetryError> {
    let log_filter = EnvFilter::try_new(&config.log_filter)
        .map_err(|e| TelemetryError::invalid("RUST_LOG", &config.log_filter, e.to_string()))?;
    let fmt_layer = match config.log_format {
        // JSON lines take their context from OpenTelemetry (trace_id, span_id), not from tracing
        // spans; keeping spans out of this layer saves formatting every span's fields on every
        // request, and with tracing off no layer wants the request span at all.
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(JsonWithTraceIds)
            .with_writer(make_writer(&config.log_writer))
            .with_filter(log_filter.and(filter_fn(|meta| meta.is_event())))
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(
                matches!(config.log_writer, LogWriter::Stdout)
                    && io::IsTerminal::is_terminal(&io::stdout()),
            )
            .with_writer(make_writer(&config.log_writer))
            .with_filter(log_filter)
            .boxed(),
    };
    let otel_layer = provider.map(|provider| {
        let mut targets = Targets::new().with_default(LevelFilter::INFO);
        for target in NOT_TRACED {
            targets = targets.with_target(*target, LevelFilter::OFF);
        }
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer(config.service_name.clone()))
            // Only the attributes a span is given: the bridge's extras (`target`, the Rust module
            // path, and the code/thread ones) belong to no semantic convention and no registry
            // of ours (docs/semconv/registry.yaml), and a validator flags them on every span.
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_target(false)
            .with_filter(targets)
    });
    tracing_subscriber::registry()
        .with(otel_layer)
        .with(fmt_layer)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialized)
}

/// One JSON object per line: timestamp, level, target, message, the event's fields, and the
/// OpenTelemetry `trace_id` / `span_id` so a log line leads to its trace.
struct JsonWithTraceIds;

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::with_capacity(32);
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let meta = event.metadata();
        let mut object = Map::new();
        object.insert("timestamp".into(), Value::String(timestamp));
        object.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_owned()),
        );
        object.insert("target".into(), Value::String(meta.target().to_owned()));
        let mut fields = JsonVisitor(Map::new());
        event.record(&mut fields);
        if let Some(message) = fields.0.remove("message") {
            object.insert("message".into(), message);
        }
        // With context activation, entering a tracing span makes its OTel context current.
        let cx = opentelemetry::Context::current();
        let span_context = cx.span().span_context().clone();
        if span_context.is_valid() {
            object.insert(
                "trace_id".into(),
                Value::String(span_context.trace_id().to_string()),
            );
            object.insert(
                "span_id".into(),
                Value::String(span_context.span_id().to_string()),
            );
        }
        for (key, value) in fields.0 {
            object.entry(key).or_insert(value);
        }
        let line = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

struct JsonVisitor(Map<String, Value>);

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0
            .insert(field.name().to_owned(), serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}
