//! The file as written (serde types, strict) and its validation into a [`ProberConfig`].
//!
//! Deserialization only checks shapes and names (serde_yaml's own messages already name the key
//! and line: `urls[0]: unknown field `tiemout_in_seconds``); everything about values is checked
//! in `validate`, where each failure is a key and a message.

use super::target::{ExpectedStatus, Target};
use super::{DEFAULT_INTERVAL, DEFAULT_TIMEOUT, LogLevel, ProberConfig};
use crate::redact::redact_url;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with `urls` and optionally `request_timeout_in_seconds`, `query_interval_in_seconds`, `log_level`"
)]
pub(super) struct RawConfig {
    urls: Vec<RawUrl>,
    request_timeout_in_seconds: Option<f64>,
    query_interval_in_seconds: Option<f64>,
    log_level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a map with `url` and optionally `expected_status`, `method`, `headers`, `timeout_in_seconds`"
)]
struct RawUrlEntry {
    url: String,
    /// One item or a list; an item is a code (`200`) or a class (`"2xx"`). Kept as YAML so
    /// `validate` names the key in every message about it.
    expected_status: Option<serde_yaml::Value>,
    method: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    timeout_in_seconds: Option<f64>,
}

/// A `urls` item: a string, or a map with overrides.
enum RawUrl {
    Plain(String),
    Detailed(RawUrlEntry),
}

/// serde's "string or struct" visitor. Not `#[serde(untagged)]`, which buffers the map and
/// replaces its own errors (`unknown field`, `missing field `url``, each with its key and line)
/// by one "did not match any variant"; not the `serde-untagged` crate either, which passes them
/// through as text that serde_yaml prefixes with the key and line a second time.
impl<'de> Deserialize<'de> for RawUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UrlVisitor;
        impl<'de> Visitor<'de> for UrlVisitor {
            type Value = RawUrl;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL string or a map with `url` and optional overrides")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<RawUrl, E> {
                Ok(RawUrl::Plain(url.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawUrl, A::Error> {
                RawUrlEntry::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawUrl::Detailed)
            }
        }
        deserializer.deserialize_any(UrlVisitor)
    }
}

/// A validation failure: the key at fault and what is wrong with it.
pub(super) type Invalid = (String, String);

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

fn at_most_the_interval(key: &str, timeout: Duration, interval: Duration) -> Result<(), Invalid> {
    if timeout <= interval {
        return Ok(());
    }
    Err((
        key.to_owned(),
        format!(
            "must be <= query_interval_in_seconds ({}s): a probe must end before the next one is due",
            interval.as_secs_f64()
        ),
    ))
}

impl RawConfig {
    pub(super) fn validate(self) -> Result<ProberConfig, Invalid> {
        let timeout_key = "request_timeout_in_seconds";
        let timeout = seconds(
            timeout_key,
            self.request_timeout_in_seconds,
            DEFAULT_TIMEOUT,
        )?;
        let interval = seconds(
            "query_interval_in_seconds",
            self.query_interval_in_seconds,
            DEFAULT_INTERVAL,
        )?;
        if self.request_timeout_in_seconds.is_some() {
            at_most_the_interval(timeout_key, timeout, interval)?;
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
            unique(&targets, &target, index)?;
            targets.push(target);
        }
        Ok(ProberConfig {
            targets,
            interval,
            log_level,
        })
    }
}

/// Refuses a URL already configured, and one that differs from another only in what is hidden:
/// both would share one label (one series, one `/queryurl` entry) for two URLs.
fn unique(targets: &[Target], target: &Target, index: usize) -> Result<(), Invalid> {
    let key = format!("urls[{index}]");
    let url = &target.url;
    if let Some(first) = targets
        .iter()
        .position(|t| t.request_url == target.request_url)
    {
        return Err((key, format!("{url} is a duplicate of urls[{first}]")));
    }
    if let Some(first) = targets.iter().position(|t| t.url == *url) {
        return Err((
            key,
            format!(
                "{url} differs from urls[{first}] only in its hidden userinfo, query values or fragment, so both would show as one URL; make them differ in host, path or query keys"
            ),
        ));
    }
    Ok(())
}

/// Names the keys of one `urls` item: `urls[2]` for a plain string, `urls[2].method` in a map.
struct ItemKeys {
    index: usize,
    detailed: bool,
}

impl ItemKeys {
    fn key(&self, name: &str) -> String {
        if self.detailed {
            format!("urls[{}].{name}", self.index)
        } else {
            format!("urls[{}]", self.index)
        }
    }
}

impl RawUrl {
    fn validate(
        self,
        index: usize,
        default_timeout: Duration,
        interval: Duration,
    ) -> Result<Target, Invalid> {
        let (entry, keys) = match self {
            RawUrl::Plain(url) => (
                RawUrlEntry {
                    url,
                    ..RawUrlEntry::default()
                },
                ItemKeys {
                    index,
                    detailed: false,
                },
            ),
            RawUrl::Detailed(entry) => (
                entry,
                ItemKeys {
                    index,
                    detailed: true,
                },
            ),
        };
        let (url, request_url) = request_url(&keys.key("url"), &entry.url)?;
        let method = method(&keys.key("method"), entry.method.as_deref())?;
        let headers = headers(&keys.key("headers"), entry.headers.unwrap_or_default())?;
        let expected = match entry.expected_status {
            None => ExpectedStatus::default(),
            Some(raw) => expected_status(&keys.key("expected_status"), raw)?,
        };
        let timeout_key = keys.key("timeout_in_seconds");
        let timeout = seconds(&timeout_key, entry.timeout_in_seconds, default_timeout)?;
        at_most_the_interval(&timeout_key, timeout, interval)?;
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

/// The URL as shown (its secrets hidden) and as requested.
fn request_url(key: &str, written: &str) -> Result<(String, reqwest::Url), Invalid> {
    let written = written.trim();
    // Messages quote the URL as it will be shown: without its secrets.
    let url = redact_url(written);
    if written.contains(char::is_whitespace) {
        // Also catches a mis-indented list item that YAML folds into the previous URL.
        return Err((key.to_owned(), format!("{url:?} contains whitespace")));
    }
    let request_url = reqwest::Url::parse(written)
        .map_err(|e| (key.to_owned(), format!("{url:?} is not a valid URL: {e}")))?;
    if !matches!(request_url.scheme(), "http" | "https") || request_url.host_str().is_none() {
        return Err((
            key.to_owned(),
            format!("{url:?} must be an http:// or https:// URL with a host"),
        ));
    }
    Ok((url, request_url))
}

fn method(key: &str, raw: Option<&str>) -> Result<Method, Invalid> {
    match raw.map(str::trim) {
        None => Ok(Method::GET),
        Some(m) if m.eq_ignore_ascii_case("GET") => Ok(Method::GET),
        Some(m) if m.eq_ignore_ascii_case("HEAD") => Ok(Method::HEAD),
        Some(m) => Err((key.to_owned(), format!("{m:?} is not GET or HEAD"))),
    }
}

/// Header values are never quoted: they are often credentials.
fn headers(key: &str, raw: BTreeMap<String, String>) -> Result<HeaderMap, Invalid> {
    let mut headers = HeaderMap::new();
    for (name, value) in raw {
        let header_key = format!("{key}.{name}");
        let header_name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| (header_key.clone(), "is not a valid header name".to_owned()))?;
        let header_value = HeaderValue::from_str(&value)
            .map_err(|_| (header_key, "is not a valid header value".to_owned()))?;
        headers.insert(header_name, header_value);
    }
    Ok(headers)
}

fn expected_status(key: &str, raw: serde_yaml::Value) -> Result<ExpectedStatus, Invalid> {
    use serde_yaml::Value;
    let items = match raw {
        Value::Sequence(items) => items,
        one => vec![one],
    };
    if items.is_empty() {
        return Err((key.to_owned(), "must list at least one status".to_owned()));
    }
    let mut expected = ExpectedStatus {
        codes: Vec::new(),
        classes: Vec::new(),
    };
    for item in items {
        match item {
            Value::Number(number) => match number.as_i64() {
                Some(code) => expected.codes.push(status_code(key, code)?),
                None => return Err((key.to_owned(), format!("{number} {NOT_A_STATUS}"))),
            },
            Value::String(text) => {
                let text = text.trim();
                if let Ok(code) = text.parse::<i64>() {
                    expected.codes.push(status_code(key, code)?);
                } else {
                    expected.classes.push(status_class(key, text)?);
                }
            }
            _ => {
                return Err((
                    key.to_owned(),
                    "must be a status code like 200, a class like \"2xx\", or a list of these"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(expected)
}

const NOT_A_STATUS: &str = "is not a status code like 200 or a class like \"2xx\"";

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

/// `"2xx"` → 2.
fn status_class(key: &str, text: &str) -> Result<u16, Invalid> {
    match text.to_ascii_lowercase().as_bytes() {
        [digit @ b'1'..=b'5', b'x', b'x'] => Ok(u16::from(digit - b'0')),
        _ => Err((key.to_owned(), format!("{text:?} {NOT_A_STATUS}"))),
    }
}
