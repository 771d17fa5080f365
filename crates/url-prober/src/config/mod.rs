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
//!
//! URLs may carry secrets (`https://user:password@host/?token=...`) and so may `headers`: the
//! probe sends them, nothing shows them (see [`crate::redact`]). Two URLs that differ only in
//! what is hidden are refused, since they would show, and be labelled, as one.
//!
//! Modules: `file` (the YAML as written and its validation), `target` (what a URL entry becomes).

mod file;
mod target;

pub use target::{ExpectedStatus, Target};

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
        let raw: file::RawConfig = serde_yaml::from_str(text).map_err(|e| {
            error(
                None,
                without_quoted_strings(&e.to_string().replace('\n', " ")),
            )
        })?;
        raw.validate()
            .map_err(|(key, message)| error(Some(key), message))
    }
}

/// serde quotes a string it did not expect (`invalid type: string "Bearer x", expected a map`);
/// in this file such a string may be a header value or a URL with its credentials, so the
/// quote is dropped (`invalid type: string, expected a map`). Keys are quoted with backticks
/// and stay.
fn without_quoted_strings(message: &str) -> String {
    const QUOTE: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(QUOTE) {
        out.push_str(&rest[..start + QUOTE.len() - 2]);
        let mut chars = rest[start + QUOTE.len()..].char_indices();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    end = Some(start + QUOTE.len() + index + 1);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            return out;
        };
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
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
        assert_eq!(b.method, reqwest::Method::HEAD);
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
                "urls: [{url: http://b/, expected_status: {a: 1}}]\n",
                "urls[0].expected_status: must be a status code like 200, a class",
            ),
            (
                "urls: [{url: http://b/, expected_status: [200, 2.5]}]\n",
                "urls[0].expected_status: 2.5 is not a status code",
            ),
            (
                "urls: [{url: http://b/, timeout_in_seconds: soon}]\n",
                "urls[0].timeout_in_seconds: invalid type",
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
            "urls:\n  - url: 'http://u:pw-s3cr3t@a/x?token=qv-s3cr3t&flag#frag-s3cr3t'\n    headers: {X-Api-Key: hv-s3cr3t}\n", // secrets-check: allow (test fixture)
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
    fn errors_quote_no_url_credentials_query_values_or_header_values() {
        for text in [
            "urls: [{url: http://a/, headers: 'Authorization: Bearer s3cr3t'}]\n",
            "urls: [{url: http://a/, headers: {Authorization: [s3cr3t]}}]\n",
            "urls: [{url: http://a/, timeout_in_seconds: 'http://u:s3cr3t@a/ \\\" s3cr3t'}]\n", // secrets-check: allow (test fixture)
            "urls: ['http://u:pw-s3cr3t@a:99999/?t=qv-s3cr3t']\n", // secrets-check: allow (test fixture)
            "urls: ['ftp://u:pw-s3cr3t@a/?t=qv-s3cr3t']\n", // secrets-check: allow (test fixture)
            "urls:\n  - http://u:pw-s3cr3t@a/?t=qv-s3cr3t\n   - http://b/\n", // secrets-check: allow (test fixture)
            "urls: ['http://u:pw-s3cr3t@a/?t=qv-s3cr3t', 'http://u:pw-s3cr3t@a/?t=qv-s3cr3t']\n", // secrets-check: allow (test fixture)
            "urls: ['http://a/?t=qv-s3cr3t', 'http://a/?t=qv-s3cr3t-2']\n",
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains("urls["), "{error}");
            assert!(!error.contains("s3cr3t"), "{text:?}: {error}");
        }
    }
}
