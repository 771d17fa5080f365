//! The probe configuration file (YAML) and its validation.
//!
//! Seed 003 kept its settings in a Python module (`urls`, `request_timeout_in_seconds`,
//! `query_interval_in_seconds`, `log_level`); the same keys live in a YAML file here, named by
//! `PROBER_CONFIG`. A URL entry is a plain string or a map with per-URL overrides:
//!
//! ```yaml
//! urls:
//!   - http://127.0.0.1:5000/
//!   - url: http://127.0.0.1:6543/status
//!     expected_status: [200, 204]   # or "2xx", or ["2xx", 301]; default "2xx"
//!     method: HEAD                  # GET (default) or HEAD
//!     headers: {Authorization: "Bearer x"}
//!     timeout_in_seconds: 0.5       # overrides request_timeout_in_seconds
//! request_timeout_in_seconds: 5     # default 5; fractional seconds allowed
//! query_interval_in_seconds: 15     # default 15
//! log_level: INFO                   # DEBUG, INFO, WARNING, ERROR, CRITICAL (also TRACE, WARN)
//! ```
//!
//! Parsing is strict because a typo in a monitoring config silently monitors nothing: unknown
//! keys, an empty or duplicated URL list, non-http(s) URLs, non-positive durations and a timeout
//! longer than the interval are rejected with one line naming the key
//! (`prober config /x.yml: urls[2].timeout_in_seconds: must be > 0`).
//! A timeout may not exceed the interval: a probe must end before the next one of the same URL
//! is due, so the schedule is the one written in the file.

use crate::redact::redact_url;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// Used when `request_timeout_in_seconds` is not in the file.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Used when `query_interval_in_seconds` is not in the file.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

/// The configuration used when `PROBER_CONFIG` is unset: the other services of the stack on
/// loopback (what `just dev` runs).
pub const BUILT_IN: &str = "\
urls:
  - http://127.0.0.1:5000/
  - http://127.0.0.1:5001/
  - http://127.0.0.1:6543/status
request_timeout_in_seconds: 5
query_interval_in_seconds: 15
log_level: INFO
";

/// A configuration that failed to load: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("prober config {source_name}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The file path, or `built-in defaults`.
    pub source_name: String,
    /// The offending key (`urls[2].timeout_in_seconds`), when one is at fault.
    pub key: Option<String>,
    pub message: String,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProberConfig {
    /// In file order; URLs are unique.
    pub targets: Vec<Target>,
    /// Time between two probes of the same URL.
    pub interval: Duration,
    pub log_level: LogLevel,
}

/// One URL to probe, with its effective settings.
///
/// Its `Debug` form shows [`Target::url`] and the header names only, so no secret reaches a log
/// through it.
#[derive(Clone, PartialEq)]
pub struct Target {
    /// As written in the file (trimmed), with its secrets hidden by [`redact_url`]: the `url`
    /// label, the `/queryurl` key, and what logs, spans and messages show. Unique in a config.
    pub url: String,
    /// What the probe requests, userinfo and query values included: never shown.
    pub request_url: reqwest::Url,
    pub method: Method,
    /// Sent to the URL's own origin only (not after a redirect to another): never shown.
    pub headers: HeaderMap,
    pub expected: ExpectedStatus,
    pub timeout: Duration,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("expected", &self.expected)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Which HTTP status codes count as "up".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedStatus {
    /// Exact codes (`200`).
    pub codes: Vec<u16>,
    /// Classes by first digit (`2` for `2xx`).
    pub classes: Vec<u16>,
}

impl Default for ExpectedStatus {
    fn default() -> Self {
        Self {
            codes: Vec::new(),
            classes: vec![2],
        }
    }
}

impl ExpectedStatus {
    pub fn matches(&self, status: u16) -> bool {
        self.codes.contains(&status) || self.classes.contains(&(status / 100))
    }
}

/// Seed 003's `log_level` values, plus the Rust names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warning,
    Error,
}

impl LogLevel {
    /// An `EnvFilter` directive (what `RUST_LOG` would say). HTTP client internals stay at
    /// `info` so `DEBUG` shows the prober's own decisions, not every socket read.
    pub fn filter(self) -> String {
        let level = match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => return "info".to_owned(),
            LogLevel::Warning => return "warn".to_owned(),
            LogLevel::Error => return "error".to_owned(),
        };
        format!("{level},hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info,tower=info")
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "TRACE" => Some(Self::Trace),
            "DEBUG" => Some(Self::Debug),
            "INFO" => Some(Self::Info),
            "WARNING" | "WARN" => Some(Self::Warning),
            "ERROR" | "CRITICAL" => Some(Self::Error),
            _ => None,
        }
    }
}

impl ProberConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            key: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&text, &name)
    }

    /// The configuration used without `PROBER_CONFIG`.
    pub fn built_in() -> Result<Self, ConfigError> {
        Self::parse(BUILT_IN, "built-in defaults")
    }

    /// Parses and validates YAML text; `source_name` only appears in error messages.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let error = |key: Option<String>, message: String| ConfigError {
            source_name: source_name.to_owned(),
            key,
            message,
        };
        if text.trim().is_empty() {
            return Err(error(
                None,
                "the file is empty; it needs at least `urls:` with one URL".to_owned(),
            ));
        }
        let raw: RawConfig = serde_yaml::from_str(text)
            .map_err(|e| error(None, e.to_string().replace('\n', " ")))?;
        raw.validate()
            .map_err(|(key, message)| error(Some(key), message))
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written, before validation.

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with `urls` and optionally `request_timeout_in_seconds`, `query_interval_in_seconds`, `log_level`"
)]
struct RawConfig {
    urls: Vec<RawUrl>,
    request_timeout_in_seconds: Option<f64>,
    query_interval_in_seconds: Option<f64>,
    log_level: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with `url` and optionally `expected_status`, `method`, `headers`, `timeout_in_seconds`"
)]
struct RawUrlEntry {
    url: String,
    expected_status: Option<RawExpected>,
    method: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    timeout_in_seconds: Option<f64>,
}

/// A `urls` item: a string, or a map (parsed strictly, keeping serde's key-naming errors).
enum RawUrl {
    Plain(String),
    Detailed(RawUrlEntry),
}

impl<'de> Deserialize<'de> for RawUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UrlVisitor;
        impl<'de> Visitor<'de> for UrlVisitor {
            type Value = RawUrl;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL string or a map with `url` and optional overrides")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawUrl, E> {
                Ok(RawUrl::Plain(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUrl, A::Error> {
                RawUrlEntry::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawUrl::Detailed)
            }
        }
        deserializer.deserialize_any(UrlVisitor)
    }
}

/// `expected_status`: one item or a list; an item is a code (`200`) or a class (`"2xx"`).
struct RawExpected(Vec<StatusItem>);

enum StatusItem {
    Code(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for StatusItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl Visitor<'_> for ItemVisitor {
            type Value = StatusItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status code like 200 or a class like \"2xx\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusItem, E> {
                Ok(StatusItem::Code(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusItem, E> {
                Ok(StatusItem::Code(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusItem, E> {
                Ok(StatusItem::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for RawExpected {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ExpectedVisitor;
        impl<'de> Visitor<'de> for ExpectedVisitor {
            type Value = RawExpected;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of status codes like [200, 204] or a class like \"2xx\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawExpected, E> {
                Ok(RawExpected(vec![StatusItem::Code(v)]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawExpected, E> {
                Ok(RawExpected(vec![StatusItem::Code(
                    i64::try_from(v).unwrap_or(i64::MAX),
                )]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExpected, E> {
                Ok(RawExpected(vec![StatusItem::Text(v.to_owned())]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawExpected, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(RawExpected(items))
            }
        }
        deserializer.deserialize_any(ExpectedVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: every failure is (key, message).

type Invalid = (String, String);

fn seconds(key: &str, value: Option<f64>, default: Duration) -> Result<Duration, Invalid> {
    let Some(value) = value else {
        return Ok(default);
    };
    if !value.is_finite() || value <= 0.0 {
        return Err((key.to_owned(), "must be > 0".to_owned()));
    }
    Duration::try_from_secs_f64(value)
        .map_err(|_| (key.to_owned(), format!("{value} seconds is out of range")))
}

impl RawConfig {
    fn validate(self) -> Result<ProberConfig, Invalid> {
        let timeout = seconds(
            "request_timeout_in_seconds",
            self.request_timeout_in_seconds,
            DEFAULT_TIMEOUT,
        )?;
        let interval = seconds(
            "query_interval_in_seconds",
            self.query_interval_in_seconds,
            DEFAULT_INTERVAL,
        )?;
        if self.request_timeout_in_seconds.is_some() && timeout > interval {
            return Err((
                "request_timeout_in_seconds".to_owned(),
                format!(
                    "must be <= query_interval_in_seconds ({}s): a probe must end before the next one is due",
                    interval.as_secs_f64()
                ),
            ));
        }
        // A default timeout longer than a short interval shrinks to the interval.
        let timeout = timeout.min(interval);
        let log_level = match self.log_level.as_deref() {
            None => LogLevel::Info,
            Some(raw) => LogLevel::parse(raw).ok_or_else(|| {
                (
                    "log_level".to_owned(),
                    format!("{raw:?} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
                )
            })?,
        };
        if self.urls.is_empty() {
            return Err(("urls".to_owned(), "must list at least one URL".to_owned()));
        }
        let mut targets: Vec<Target> = Vec::with_capacity(self.urls.len());
        for (index, raw) in self.urls.into_iter().enumerate() {
            let target = raw.validate(index, timeout, interval)?;
            if let Some(first) = targets
                .iter()
                .position(|t| t.request_url == target.request_url)
            {
                return Err((
                    format!("urls[{index}]"),
                    format!("{} is a duplicate of urls[{first}]", target.url),
                ));
            }
            // Two URLs that differ only in secrets would share one label: one series, one
            // `/queryurl` entry, for two URLs. Refused rather than silently merged.
            if let Some(first) = targets.iter().position(|t| t.url == target.url) {
                return Err((
                    format!("urls[{index}]"),
                    format!(
                        "{} differs from urls[{first}] only in its hidden userinfo, query values or fragment, so both would show as one URL; make them differ in host, path or query keys",
                        target.url
                    ),
                ));
            }
            targets.push(target);
        }
        Ok(ProberConfig {
            targets,
            interval,
            log_level,
        })
    }
}

impl RawUrl {
    fn validate(
        self,
        index: usize,
        default_timeout: Duration,
        interval: Duration,
    ) -> Result<Target, Invalid> {
        let (entry, prefix) = match self {
            RawUrl::Plain(url) => (
                RawUrlEntry {
                    url,
                    expected_status: None,
                    method: None,
                    headers: None,
                    timeout_in_seconds: None,
                },
                format!("urls[{index}]"),
            ),
            RawUrl::Detailed(entry) => (entry, format!("urls[{index}].")),
        };
        let key = |name: &str| {
            if prefix.ends_with('.') {
                format!("{prefix}{name}")
            } else {
                prefix.clone()
            }
        };
        let written = entry.url.trim();
        // Messages quote the URL as it will be shown: without its secrets.
        let url = redact_url(written);
        if written.contains(char::is_whitespace) {
            // Also catches a mis-indented list item that YAML folds into the previous URL.
            return Err((key("url"), format!("{url:?} contains whitespace")));
        }
        let request_url = reqwest::Url::parse(written)
            .map_err(|e| (key("url"), format!("{url:?} is not a valid URL: {e}")))?;
        if !matches!(request_url.scheme(), "http" | "https") || request_url.host_str().is_none() {
            return Err((
                key("url"),
                format!("{url:?} must be an http:// or https:// URL with a host"),
            ));
        }
        let method = match entry.method.as_deref().map(str::trim) {
            None => Method::GET,
            Some(m) if m.eq_ignore_ascii_case("GET") => Method::GET,
            Some(m) if m.eq_ignore_ascii_case("HEAD") => Method::HEAD,
            Some(m) => return Err((key("method"), format!("{m:?} is not GET or HEAD"))),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in entry.headers.unwrap_or_default() {
            let header_key = format!("{}.{name}", key("headers"));
            let header_name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| (header_key.clone(), "is not a valid header name".to_owned()))?;
            let header_value = HeaderValue::from_str(&value)
                .map_err(|_| (header_key, "is not a valid header value".to_owned()))?;
            headers.insert(header_name, header_value);
        }
        let expected = match entry.expected_status {
            None => ExpectedStatus::default(),
            Some(raw) => raw.validate(&key("expected_status"))?,
        };
        let timeout_key = key("timeout_in_seconds");
        let timeout = seconds(&timeout_key, entry.timeout_in_seconds, default_timeout)?;
        if timeout > interval {
            return Err((
                timeout_key,
                format!(
                    "must be <= query_interval_in_seconds ({}s): a probe must end before the next one is due",
                    interval.as_secs_f64()
                ),
            ));
        }
        Ok(Target {
            url,
            request_url,
            method,
            headers,
            expected,
            timeout,
        })
    }
}

impl RawExpected {
    fn validate(self, key: &str) -> Result<ExpectedStatus, Invalid> {
        if self.0.is_empty() {
            return Err((key.to_owned(), "must list at least one status".to_owned()));
        }
        let mut expected = ExpectedStatus {
            codes: Vec::new(),
            classes: Vec::new(),
        };
        for item in self.0 {
            match item {
                StatusItem::Code(code) => expected.codes.push(status_code(key, code)?),
                StatusItem::Text(text) => {
                    let text = text.trim();
                    let lower = text.to_ascii_lowercase();
                    if let Ok(code) = text.parse::<i64>() {
                        expected.codes.push(status_code(key, code)?);
                    } else if lower.len() == 3
                        && lower.ends_with("xx")
                        && matches!(lower.as_bytes()[0], b'1'..=b'5')
                    {
                        expected.classes.push(u16::from(lower.as_bytes()[0] - b'0'));
                    } else {
                        return Err((
                            key.to_owned(),
                            format!(
                                "{text:?} is not a status code like 200 or a class like \"2xx\""
                            ),
                        ));
                    }
                }
            }
        }
        Ok(expected)
    }
}

fn status_code(key: &str, code: i64) -> Result<u16, Invalid> {
    u16::try_from(code)
        .ok()
        .filter(|c| (100..=599).contains(c))
        .ok_or_else(|| {
            (
                key.to_owned(),
                format!("{code} is not an HTTP status code (100..=599)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ProberConfig, ConfigError> {
        ProberConfig::parse(text, "/x.yml")
    }

    #[test]
    fn the_built_in_config_is_valid() {
        let config = ProberConfig::built_in().unwrap();
        assert_eq!(config.targets.len(), 3);
        assert_eq!(config.targets[2].url, "http://127.0.0.1:6543/status");
        assert_eq!(config.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn seed_keys_with_fractional_seconds_and_overrides() {
        let config = parse(
            "urls:\n  - http://a.example/\n  - url: http://b.example/x\n    expected_status: [200, \"3xx\"]\n    method: head\n    headers: {X-Probe: yes}\n    timeout_in_seconds: 0.25\nrequest_timeout_in_seconds: 1.5\nquery_interval_in_seconds: 2\nlog_level: WARNING\n",
        )
        .unwrap();
        assert_eq!(config.interval, Duration::from_secs(2));
        assert_eq!(config.log_level, LogLevel::Warning);
        let a = &config.targets[0];
        assert_eq!(a.timeout, Duration::from_millis(1500));
        assert!(a.expected.matches(204) && !a.expected.matches(301));
        let b = &config.targets[1];
        assert_eq!(b.method, Method::HEAD);
        assert_eq!(b.timeout, Duration::from_millis(250));
        assert!(b.expected.matches(200) && b.expected.matches(302) && !b.expected.matches(204));
        assert_eq!(b.headers["x-probe"], "yes");
    }

    #[test]
    fn a_short_interval_caps_the_default_timeout() {
        let config = parse("urls: [http://a/]\nquery_interval_in_seconds: 0.5\n").unwrap();
        assert_eq!(config.targets[0].timeout, Duration::from_millis(500));
    }

    #[test]
    fn every_invalid_config_names_its_key_on_one_line() {
        let cases: &[(&str, &str)] = &[
            ("", "the file is empty"),
            ("urls: [http://a/]\nbogus: 1\n", "unknown field `bogus`"),
            ("urls: []\n", "urls: must list at least one URL"),
            (
                "urls: [ftp://a/]\n",
                "urls[0]: \"ftp://a/\" must be an http",
            ),
            (
                "urls: [http://a/, http://a]\n",
                "urls[1]: http://a is a duplicate of urls[0]",
            ),
            (
                "urls: [http://a/]\nrequest_timeout_in_seconds: 0\n",
                "request_timeout_in_seconds: must be > 0",
            ),
            (
                "urls: [http://a/]\nquery_interval_in_seconds: -1\n",
                "query_interval_in_seconds: must be > 0",
            ),
            (
                "urls: [http://a/]\nrequest_timeout_in_seconds: 20\nquery_interval_in_seconds: 10\n",
                "request_timeout_in_seconds: must be <= query_interval_in_seconds",
            ),
            (
                "urls: [http://a/]\nlog_level: LOUD\n",
                "log_level: \"LOUD\" is not one of",
            ),
            (
                "urls: [http://a/, {url: http://b/, timeout_in_seconds: 0}]\n",
                "urls[1].timeout_in_seconds: must be > 0",
            ),
            (
                "urls: [{url: http://b/, method: POST}]\n",
                "urls[0].method: \"POST\" is not GET or HEAD",
            ),
            (
                "urls: [{url: http://b/, expected_status: 700}]\n",
                "urls[0].expected_status: 700 is not an HTTP status code",
            ),
            (
                "urls: [{url: http://b/, expected_status: \"2yy\"}]\n",
                "urls[0].expected_status: \"2yy\"",
            ),
            (
                "urls: [{url: http://b/, expected_status: []}]\n",
                "urls[0].expected_status: must list at least one status",
            ),
            (
                "urls: [{url: http://b/, headers: {\"bad name\": x}}]\n",
                "urls[0].headers.bad name: is not a valid header name",
            ),
            (
                "urls: [{url: http://b/, tiemout_in_seconds: 1}]\n",
                "unknown field `tiemout_in_seconds`",
            ),
            ("urls: [{url: http://b/}\n", "line"),
            (
                "urls:\n  - http://a/\n   - http://b/\n",
                "urls[0]: \"http://a/ - http://b/\" contains whitespace",
            ),
            ("urls: [{method: GET}]\n", "missing field `url`"),
            (
                "urls: ['http://a/?token=x', 'http://a/?token=y']\n",
                "urls[1]: http://a/?token=REDACTED differs from urls[0] only in its hidden userinfo",
            ),
            (
                "urls: ['http://u:p@a/', 'http://a/']\n",
                "urls[1]: http://a/ differs from urls[0] only",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.starts_with("prober config /x.yml: "), "{error}");
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn urls_are_shown_without_their_secrets_and_debug_shows_none() {
        let config = parse(
            "urls:\n  - url: 'http://u:pw-s3cr3t@a/x?token=qv-s3cr3t&flag#frag-s3cr3t'\n    headers: {X-Api-Key: hv-s3cr3t}\n",
        )
        .unwrap();
        let target = &config.targets[0];
        assert_eq!(target.url, "http://a/x?token=REDACTED&flag");
        assert_eq!(target.request_url.password(), Some("pw-s3cr3t"));
        assert_eq!(target.request_url.query(), Some("token=qv-s3cr3t&flag"));
        assert_eq!(target.headers["x-api-key"], "hv-s3cr3t");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("x-api-key"), "{debug}");
    }

    #[test]
    fn errors_about_a_url_quote_it_without_its_secrets() {
        for text in [
            "urls: ['http://u:pw-s3cr3t@a:99999/?t=qv-s3cr3t']\n",
            "urls: ['ftp://u:pw-s3cr3t@a/?t=qv-s3cr3t']\n",
            "urls:\n  - http://u:pw-s3cr3t@a/?t=qv-s3cr3t\n   - http://b/\n",
            "urls: ['http://u:pw-s3cr3t@a/?t=qv-s3cr3t', 'http://u:pw-s3cr3t@a/?t=qv-s3cr3t']\n",
            "urls: ['http://a/?t=qv-s3cr3t', 'http://a/?t=qv-s3cr3t-2']\n",
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains("urls["), "{error}");
            assert!(!error.contains("s3cr3t"), "{text:?}: {error}");
        }
    }
}
