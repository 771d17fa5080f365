//! Telemetry settings, read from the standard OpenTelemetry environment variables, and the one
//! error type of this crate: everything that can go wrong while setting telemetry up.
//!
//! Parsing is separate from installing so that bad values fail at startup with one line that
//! names the variable, and so tests can build a config without touching the process environment.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why telemetry could not be set up. Each message names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A variable has a value it cannot have.
    #[error("invalid {name}={value:?}: {reason}")]
    InvalidSetting {
        /// The variable (`OTEL_TRACES_SAMPLER`, `RUST_LOG`, ...).
        name: &'static str,
        /// Its value, as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// [`crate::init`] was called before in this process (or another `metrics` recorder or
    /// `tracing` subscriber was installed first).
    #[error("telemetry is already initialized in this process")]
    AlreadyInitialized,
    /// The span exporter could not be started.
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// The Prometheus recorder could not be set up (e.g. invalid histogram buckets).
    #[error("cannot install the Prometheus recorder: {0}")]
    Metrics(String),
}

impl TelemetryError {
    pub(crate) fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with `trace_id` / `span_id` (the default: what log shippers want).
    Json,
    /// Human-friendly, coloured when the output is a terminal.
    Pretty,
}

/// Where log lines are written: stdout, or memory (tests read what a request logged).
#[derive(Clone, Default)]
pub enum LogWriter {
    /// The process's standard output.
    #[default]
    Stdout,
    /// A buffer in memory ([`LogWriter::memory`]).
    Memory(Arc<Mutex<Vec<u8>>>),
}

impl fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogWriter::Stdout => f.write_str("Stdout"),
            LogWriter::Memory(_) => f.write_str("Memory"),
        }
    }
}

impl LogWriter {
    /// A writer into memory, and the buffer it fills.
    pub fn memory() -> (Self, Arc<Mutex<Vec<u8>>>) {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        (LogWriter::Memory(buffer.clone()), buffer)
    }
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `grpc`: the OTLP/gRPC exporter of this crate (spans encoded once, where they end).
    Grpc,
    /// `http/protobuf`: opentelemetry-otlp's exporter.
    HttpProtobuf,
}

/// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`: every trace.
    AlwaysOn,
    /// `always_off`: none.
    AlwaysOff,
    /// `traceidratio`: this fraction of the traces, decided on the trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): the caller's decision, else every trace.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: the caller's decision, else none.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: the caller's decision, else this fraction.
    ParentBasedTraceIdRatio(f64),
}

/// The default of `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` here (the spec's default is "no limit",
/// which would let one request's URL fill the span queue's memory).
pub(crate) const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 4096;

/// Everything [`crate::init`] needs. Build it with [`TelemetryConfig::from_env`], then adjust fields.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `OTEL_SERVICE_NAME`, default: the crate name given to `from_env`.
    pub service_name: String,
    /// Reported as `service.version` and in `service_info{version}`.
    pub service_version: String,
    /// `RUST_LOG`, default `info`.
    pub log_filter: String,
    /// `LOG_FORMAT` = `json` (default) | `pretty`.
    pub log_format: LogFormat,
    /// Where log lines go (stdout unless a test captures them).
    pub log_writer: LogWriter,
    /// False when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`: no spans are exported.
    pub traces_enabled: bool,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` = `grpc` | `http/protobuf` (default, as the spec says).
    pub protocol: OtlpProtocol,
    /// The full URL spans are sent to (for HTTP including `/v1/traces`).
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` in milliseconds, default 10 s.
    pub export_timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`: `key=value,...` sent with every export (values
    /// percent-decoded), e.g. a collector's API key.
    pub headers: Vec<(String, String)>,
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, default `parentbased_always_on`.
    pub sampler: SamplerConfig,
    /// `OTEL_RESOURCE_ATTRIBUTES` as key/value pairs.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 8192, not the specification's 2048: docs/ARCHITECTURE.md,
    /// "The span queue holds 8192 spans"): spans beyond it are dropped and counted.
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512).
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY` in milliseconds (default 1000: traces show up in Jaeger quickly).
    pub schedule_delay: Duration,
    /// Buckets for a service's own histograms, by full metric name (others use the HTTP buckets).
    pub histogram_buckets: Vec<(String, Vec<f64>)>,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (default
    /// 4096): span attribute strings longer than this many characters are cut.
    pub attribute_value_length_limit: usize,
    /// `OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS` (comma-separated): query keys whose
    /// values spans show as `REDACTED`, in addition to the semantic conventions' list
    /// (`AWSAccessKeyId`, `Signature`, `sig`, `X-Goog-Signature`, `X-Amz-Signature`,
    /// `X-Amz-Credential`, `X-Amz-Security-Token`).
    pub sensitive_query_parameters: Vec<String>,
}

impl TelemetryConfig {
    /// Reads the process environment. `default_service_name` is used when `OTEL_SERVICE_NAME` is unset.
    pub fn from_env(default_service_name: &str, version: &str) -> Result<Self, TelemetryError> {
        Self::from_lookup(default_service_name, version, |key| std::env::var(key).ok())
    }

    /// Like [`from_env`](Self::from_env), with the variables supplied by `lookup` (for tests).
    pub fn from_lookup(
        default_service_name: &str,
        version: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let (log_format, log_filter) = log_settings(&get)?;
        let traces_enabled = traces_enabled(&get)?;
        let Exporter {
            protocol,
            endpoint,
            timeout: export_timeout,
            headers,
        } = exporter(&get)?;
        let sampler = parse_sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"))?;
        let resource_attributes = get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|raw| parse_resource_attributes(&raw))
            .transpose()?
            .unwrap_or_default();
        let (max_queue_size, max_export_batch_size, schedule_delay) = batch_settings(&get)?;
        let (attribute_value_length_limit, sensitive_query_parameters) = attribute_rules(&get)?;
        // OTEL_SERVICE_NAME wins over a `service.name` in OTEL_RESOURCE_ATTRIBUTES, as the spec says.
        let service_name = get("OTEL_SERVICE_NAME")
            .or_else(|| {
                resource_attributes
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_else(|| default_service_name.to_owned());

        Ok(Self {
            service_name,
            service_version: version.to_owned(),
            log_filter,
            log_format,
            log_writer: LogWriter::Stdout,
            traces_enabled,
            protocol,
            endpoint,
            export_timeout,
            headers,
            sampler,
            resource_attributes,
            max_queue_size,
            max_export_batch_size,
            schedule_delay,
            histogram_buckets: Vec::new(),
            attribute_value_length_limit,
            sensitive_query_parameters,
        })
    }
}

/// `LOG_FORMAT` and `RUST_LOG` (checked here, so a bad filter is a configuration error).
fn log_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(LogFormat, String), TelemetryError> {
    let log_format = match get("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("json") => LogFormat::Json,
        Some("pretty" | "text") => LogFormat::Pretty,
        Some(other) => {
            return Err(TelemetryError::invalid(
                "LOG_FORMAT",
                other,
                "expected json or pretty",
            ));
        }
    };
    let log_filter = get("RUST_LOG").unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::EnvFilter::try_new(&log_filter)
        .map_err(|e| TelemetryError::invalid("RUST_LOG", &log_filter, e.to_string()))?;
    Ok((log_format, log_filter))
}

/// Tracing is on unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
fn traces_enabled(get: &impl Fn(&str) -> Option<String>) -> Result<bool, TelemetryError> {
    let sdk_disabled = parse_bool("OTEL_SDK_DISABLED", get("OTEL_SDK_DISABLED"))?;
    let exporter_none = match get("OTEL_TRACES_EXPORTER").as_deref().map(str::trim) {
        None | Some("otlp") => false,
        Some("none") => true,
        Some(other) => {
            return Err(TelemetryError::invalid(
                "OTEL_TRACES_EXPORTER",
                other,
                "expected otlp or none",
            ));
        }
    };
    Ok(!sdk_disabled && !exporter_none)
}

/// Where and how spans are exported.
struct Exporter {
    protocol: OtlpProtocol,
    endpoint: String,
    timeout: Duration,
    headers: Vec<(String, String)>,
}

/// `OTEL_EXPORTER_OTLP_[TRACES_]{PROTOCOL,ENDPOINT,TIMEOUT,HEADERS}`, the signal-specific ones first.
fn exporter(get: &impl Fn(&str) -> Option<String>) -> Result<Exporter, TelemetryError> {
    let (protocol_var, protocol_value) = first_set(
        get,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ],
    );
    let protocol = match protocol_value.as_deref().map(str::trim) {
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("grpc") => OtlpProtocol::Grpc,
        Some(other) => {
            return Err(TelemetryError::invalid(
                protocol_var,
                other,
                "expected grpc or http/protobuf (http/json is not supported)",
            ));
        }
    };
    let endpoint = match (
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        // The signal-specific variable is used as is, per the spec.
        (Some(url), _) => check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url)?,
        (None, Some(base)) => {
            let base = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
            match protocol {
                OtlpProtocol::Grpc => base,
                OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
            }
        }
        (None, None) => match protocol {
            OtlpProtocol::Grpc => "http://localhost:4317".to_owned(),
            OtlpProtocol::HttpProtobuf => "http://localhost:4318/v1/traces".to_owned(),
        },
    };
    let (timeout_var, timeout) = first_set(
        get,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ],
    );
    let timeout = Duration::from_millis(parse_num(timeout_var, timeout, 10_000)?);
    let (headers_var, headers) = first_set(
        get,
        &[
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ],
    );
    let headers = headers
        .map(|raw| parse_headers(headers_var, &raw))
        .transpose()?
        .unwrap_or_default();
    Ok(Exporter {
        protocol,
        endpoint,
        timeout,
        headers,
    })
}

/// The queue's default size: 8192 spans, not the specification's 2048. The export thread shares
/// the cores with the request workers; at full load on 2 cores it can be held off the CPU long
/// enough for 2048 spans to arrive (BENCHMARKS.md measured a few hundred drops per million spans
/// with 2048, none with 8192). A queued gRPC span is its encoded bytes, a few hundred each, so
/// a full queue is about 3 MB.
const DEFAULT_MAX_QUEUE_SIZE: usize = 8192;

/// `OTEL_BSP_*`: queue size, export batch size (at most the queue size), schedule delay.
fn batch_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(usize, usize, Duration), TelemetryError> {
    let max_queue_size = parse_num(
        "OTEL_BSP_MAX_QUEUE_SIZE",
        get("OTEL_BSP_MAX_QUEUE_SIZE"),
        DEFAULT_MAX_QUEUE_SIZE,
    )?;
    let max_export_batch_size = parse_num(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
        512,
    )?;
    if max_queue_size == 0 || max_export_batch_size == 0 {
        return Err(TelemetryError::invalid(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            &max_queue_size.to_string(),
            "queue and batch sizes must be at least 1",
        ));
    }
    let schedule_delay = Duration::from_millis(parse_num(
        "OTEL_BSP_SCHEDULE_DELAY",
        get("OTEL_BSP_SCHEDULE_DELAY"),
        1000,
    )?);
    Ok((
        max_queue_size,
        max_export_batch_size.min(max_queue_size),
        schedule_delay,
    ))
}

/// The attribute value length limit and the extra sensitive query keys.
fn attribute_rules(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(usize, Vec<String>), TelemetryError> {
    let (limit_var, limit) = first_set(
        get,
        &[
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        ],
    );
    let limit = parse_num(limit_var, limit, DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT)?;
    const SENSITIVE: &str = "OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS";
    let names = match get(SENSITIVE) {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                if name.contains(['=', '&', '?', '#', ' ']) {
                    Err(TelemetryError::invalid(
                        SENSITIVE,
                        &raw,
                        format!("{name:?} is not a query parameter name"),
                    ))
                } else {
                    Ok(name.to_owned())
                }
            })
            .collect::<Result<_, _>>()?,
    };
    Ok((limit, names))
}

/// `key=value` pairs separated by commas, values percent-decoded (the OTLP exporter
/// specification); names and values must be valid HTTP header names and values.
fn parse_headers(name: &'static str, raw: &str) -> Result<Vec<(String, String)>, TelemetryError> {
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .enumerate()
        .map(|(index, pair)| {
            // Header values are often credentials: the error names the key, never a value.
            let invalid = |why: String| TelemetryError::invalid(name, "(not shown)", why);
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("entry {} is not key=value", index + 1)))?;
            let key = key.trim().to_ascii_lowercase();
            let value = percent_encoding::percent_decode_str(value.trim())
                .decode_utf8()
                .map_err(|_| invalid(format!("the value of {key:?} is not UTF-8 once decoded")))?
                .into_owned();
            if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                return Err(invalid(format!("{key:?} is not a header name")));
            }
            if http::HeaderValue::from_str(&value).is_err() {
                return Err(invalid(format!(
                    "the value of {key:?} is not a header value"
                )));
            }
            Ok((key, value))
        })
        .collect()
}

fn first_set(
    get: &impl Fn(&str) -> Option<String>,
    keys: &[&'static str],
) -> (&'static str, Option<String>) {
    keys.iter()
        .find_map(|k| get(k).map(|v| (*k, Some(v))))
        .unwrap_or((keys[keys.len() - 1], None))
}

fn check_url(name: &'static str, url: String) -> Result<String, TelemetryError> {
    let url = url.trim().to_owned();
    match url.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {
            Ok(url)
        }
        _ => Err(TelemetryError::invalid(
            name,
            &url,
            "expected an http:// or https:// URL like http://host:4317",
        )),
    }
}

fn parse_bool(name: &'static str, value: Option<String>) -> Result<bool, TelemetryError> {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(TelemetryError::invalid(name, &v, "expected true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(
    name: &'static str,
    value: Option<String>,
    default: T,
) -> Result<T, TelemetryError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| TelemetryError::invalid(name, &v, "expected a non-negative whole number")),
    }
}

fn parse_sampler(
    name: Option<String>,
    arg: Option<String>,
) -> Result<SamplerConfig, TelemetryError> {
    let ratio = || -> Result<f64, TelemetryError> {
        match arg.as_deref() {
            None => Ok(1.0),
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                _ => Err(TelemetryError::invalid(
                    "OTEL_TRACES_SAMPLER_ARG",
                    raw,
                    "expected a ratio between 0 and 1",
                )),
            },
        }
    };
    Ok(match name.as_deref().map(str::trim) {
        None | Some("parentbased_always_on") => SamplerConfig::ParentBasedAlwaysOn,
        Some("always_on") => SamplerConfig::AlwaysOn,
        Some("always_off") => SamplerConfig::AlwaysOff,
        Some("traceidratio") => SamplerConfig::TraceIdRatio(ratio()?),
        Some("parentbased_always_off") => SamplerConfig::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => SamplerConfig::ParentBasedTraceIdRatio(ratio()?),
        Some(other) => {
            return Err(TelemetryError::invalid(
                "OTEL_TRACES_SAMPLER",
                other,
                "expected always_on, always_off, traceidratio, parentbased_always_on, \
                 parentbased_always_off or parentbased_traceidratio",
            ));
        }
    })
}

/// `key1=value1,key2=value2`, values percent-encoded as the spec says.
fn parse_resource_attributes(raw: &str) -> Result<Vec<(String, String)>, TelemetryError> {
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((
                k.trim().to_owned(),
                percent_encoding::percent_decode_str(v.trim())
                    .decode_utf8_lossy()
                    .into_owned(),
            )),
            _ => Err(TelemetryError::invalid(
                "OTEL_RESOURCE_ATTRIBUTES",
                raw,
                format!("{pair:?} is not key=value"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests;
