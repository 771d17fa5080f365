//! `REDIS_URL`: checked once at startup and redacted wherever it is shown.
//!
//! Why a module of its own: a Redis password travels inside the URL, and it must never reach a
//! log line, an error body or stderr. A bad URL stops the service at startup with one line (exit
//! status 2) instead of failing every request later. clap would echo the raw value in its own
//! error message, so the URL is taken as text by clap and checked here.

use crate::Error;
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use std::fmt;

/// The accepted forms, shown in error messages.
const FORMS: &str =
    "expected redis://[[user]:password@]host[:port][/db] or redis+unix:///path/to/redis.sock";

/// The raw `REDIS_URL` value as given; `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// clap value parser: accepts any text, [`RedisTarget::parse`] checks it.
    pub fn from_arg(raw: &str) -> Result<Self, std::convert::Infallible> {
        Ok(Self(raw.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// Where the counter's Redis is, as redis-rs needs it, plus what spans report about it.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    pub(crate) info: ConnectionInfo,
    /// The URL without its credentials ([`redact`]): safe to log.
    pub redacted: String,
    /// `server.address` of client spans: the host name or the unix socket path.
    pub server_address: String,
    /// `server.port` of client spans (none for unix sockets).
    pub server_port: Option<u16>,
    /// `db.namespace` of client spans: the database number.
    pub db_namespace: String,
    /// The password in the forms it may appear in error texts, to scrub them.
    secrets: Vec<String>,
}

impl RedisTarget {
    /// Checks `url` the way redis-rs will use it. TLS (`rediss://`) is refused with a clear
    /// message: this build has no TLS support compiled into the Redis client.
    pub fn parse(url: &RedisUrl) -> Result<Self, Error> {
        let raw = url.as_str();
        let invalid = |reason: String| Error::InvalidRedisUrl {
            url: redact(raw),
            reason,
        };
        let parsed = url::Url::parse(raw).map_err(|e| invalid(format!("{e}; {FORMS}")))?;
        match parsed.scheme() {
            "redis" | "valkey" | "redis+unix" | "valkey+unix" | "unix" => {}
            "rediss" | "valkeys" => {
                return Err(invalid(
                    "TLS (rediss://) is not supported by this build; connect through a TLS \
                     sidecar (e.g. stunnel) with redis://, or build with the redis `tls-rustls` feature"
                        .to_owned(),
                ));
            }
            other => return Err(invalid(format!("unsupported scheme {other:?}; {FORMS}"))),
        }
        let secrets = passwords(&parsed);
        let scrub = |text: String| scrub_secrets(text, &secrets);
        let info = parsed
            .clone()
            .into_connection_info()
            .map_err(|e| invalid(format!("{}; {FORMS}", scrub(e.to_string()))))?;
        if !info.addr().is_supported() {
            return Err(invalid(format!(
                "this address type is not supported here; {FORMS}"
            )));
        }
        let (server_address, server_port) = match info.addr() {
            ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                (host.clone(), Some(*port))
            }
            ConnectionAddr::Unix(path) => (path.display().to_string(), None),
            other => (other.to_string(), None),
        };
        Ok(Self {
            db_namespace: info.redis_settings().db().to_string(),
            info,
            redacted: redact(raw),
            server_address,
            server_port,
            secrets,
        })
    }

    /// `text` with every occurrence of the password replaced by `***`.
    pub fn scrub(&self, text: String) -> String {
        scrub_secrets(text, &self.secrets)
    }
}

fn scrub_secrets(mut text: String, secrets: &[String]) -> String {
    for secret in secrets {
        if !secret.is_empty() {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text
}

/// The URL as logs and errors show it, by the workspace's one rule set for shown URLs
/// (`telemetry::redact_url_with`): credentials removed, and every query value `REDACTED`, because
/// redis-rs reads a unix socket's `user` and `pass` from the query. Text that does not parse as a
/// URL is not shown at all: a password may sit in it where no rule can find it.
pub fn redact(raw: &str) -> String {
    if url::Url::parse(raw).is_ok() {
        telemetry::redact_url_with(raw, telemetry::SensitiveQuery::All)
    } else {
        "(not shown: not a URL)".to_owned()
    }
}

/// The password in the forms it may take in error texts: as written in the URL (userinfo, or
/// a unix socket's `pass` query value) and percent-decoded.
fn passwords(parsed: &url::Url) -> Vec<String> {
    let written = parsed.password().into_iter().chain(
        parsed
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.strip_prefix("pass=")),
    );
    let mut secrets = Vec::new();
    for password in written.filter(|p| !p.is_empty()) {
        secrets.push(password.to_owned());
        if let Ok(decoded) = percent_encoding::percent_decode_str(password).decode_utf8() {
            secrets.push(decoded.into_owned());
        }
    }
    // Longest first, so a secret that contains another is replaced whole.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets.dedup();
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<RedisTarget, Error> {
        RedisTarget::parse(&RedisUrl(raw.to_owned()))
    }

    #[test]
    fn plain_and_password_urls_parse_and_are_redacted() {
        let plain = parse("redis://127.0.0.1:6379").expect("plain");
        assert_eq!(plain.server_address, "127.0.0.1");
        assert_eq!(plain.server_port, Some(6379));
        let secret = parse("redis://user:s3cr%40t@redis.example:6380/2").expect("password"); // secrets-check: allow (test fixture)
        assert_eq!(secret.server_port, Some(6380));
        assert!(!secret.redacted.contains("s3cr"), "{}", secret.redacted);
        assert_eq!(secret.redacted, "redis://redis.example:6380/2");
        assert_eq!(secret.scrub("auth s3cr@t failed".into()), "auth *** failed");
        let default_port = parse("redis://localhost").expect("default port");
        assert_eq!(default_port.server_port, Some(6379));
        let unix = parse("redis+unix:///run/redis.sock").expect("unix");
        assert_eq!(unix.server_address, "/run/redis.sock");
        assert_eq!(unix.server_port, None);
    }

    #[test]
    fn bad_urls_are_refused_without_showing_the_password() {
        for raw in [
            "localhost:6379",
            "http://:hunter2@localhost", // secrets-check: allow (test fixture)
            "redis://:hunter2@[::1",     // secrets-check: allow (test fixture)
            "rediss://:hunter2@localhost", // secrets-check: allow (test fixture)
            "redis://:hunter2@localhost/notadb", // secrets-check: allow (test fixture)
            "not a url with hunter2@",
        ] {
            let error = parse(raw).expect_err(raw).to_string();
            assert!(error.contains("REDIS_URL"), "{raw}: {error}");
            assert!(!error.contains("hunter2"), "{raw}: {error}");
            assert!(!error.contains('\n'), "{raw}: {error}");
        }
        let tls = parse("rediss://localhost").expect_err("tls").to_string();
        assert!(tls.contains("TLS"), "{tls}");
    }

    /// redis-rs takes a unix socket's credentials from the query (`?user=..&pass=..`): they are
    /// as secret as a TCP URL's userinfo.
    #[test]
    fn a_unix_socket_password_in_the_query_is_not_shown() {
        let raw = "redis+unix:///run/redis.sock?db=1&user=app&pass=topsecret"; // secrets-check: allow (test fixture)
        let target = parse(raw).expect("unix with credentials");
        assert_eq!(target.server_address, "/run/redis.sock");
        assert_eq!(target.db_namespace, "1");
        let url = RedisUrl(raw.to_owned());
        for shown in [target.redacted.clone(), format!("{url:?} {url}")] {
            assert!(!shown.contains("topsecret"), "{shown}");
            assert!(
                shown.contains("redis+unix:///run/redis.sock?db=REDACTED"),
                "{shown}"
            );
        }
        assert_eq!(
            target.scrub("auth topsecret failed".into()),
            "auth *** failed"
        );
        let error = parse("redis+unix:///run/redis.sock?db=x&pass=topsecret") // secrets-check: allow (test fixture)
            .expect_err("a bad db")
            .to_string();
        assert!(!error.contains("topsecret"), "{error}");
    }

    #[test]
    fn debug_and_display_redact() {
        let url = RedisUrl("redis://:topsecret@host:1".to_owned()); // secrets-check: allow (test fixture)
        assert!(!format!("{url:?} {url}").contains("topsecret"));
    }
}
