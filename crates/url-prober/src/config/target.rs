//! What one validated URL entry becomes: the [`Target`] a probe runs against and the
//! [`ExpectedStatus`] that decides whether it is up.

use reqwest::Method;
use reqwest::header::HeaderMap;
use std::fmt;
use std::time::Duration;

/// One URL to probe, with its effective settings.
///
/// Its `Debug` form shows [`Target::url`] and the header names only, so no secret reaches a log
/// through it.
#[derive(Clone, PartialEq)]
pub struct Target {
    /// As written in the file (trimmed), with its secrets hidden by
    /// [`redact_url`](crate::redact::redact_url): the `url` label, the `/queryurl` key, and what
    /// logs, spans and messages show. Unique in a configuration.
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
