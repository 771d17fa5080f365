//! The Redis client: a pool of shared, multiplexed connections ([`crate::redis_pool`]) plus one
//! wrapper that every command goes through, so each command is a client span (child of the
//! request span), a duration sample, and, on failure, a classified error.
//!
//! Retry rule, and why: a command is retried only when it was certainly not applied: no
//! connection could be had (connect refused or timed out, pool closed or exhausted), the
//! connection it was about to use had already closed (its socket task had ended: such a
//! connection is dropped by the pool before it is handed out, and checked again just before the
//! command goes to it), or Redis refused it with `LOADING` while reloading its data after a
//! restart. Once an `INCR` has been handed to a live connection and no reply came back (timeout,
//! connection reset) it may have been applied, and retrying it could count one visit twice, so
//! the request fails with 503 instead (and the connection is retired, so the next command gets a
//! fresh one). Retries are few and short (3 tries, 50 ms then 100 ms apart, all within one
//! deadline): under load a long retry only piles up waiting requests, while a restart blip of a
//! fraction of a second is still absorbed.

use crate::metric_names::{ERROR_KINDS, POOL_GAUGES, REDIS_COMMAND_DURATION, REDIS_ERRORS};
use crate::redis_pool::{Manager, Pool, PoolError, SharedConnection};
use crate::redis_url::RedisTarget;
use crate::{Applied, Error, RedisErrorKind};
use deadpool::Runtime;
use deadpool::managed::{QueueMode, TimeoutType, Timeouts};
use opentelemetry::{KeyValue, StringValue};
use redis::FromRedisValue;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use telemetry::semconv::attribute as semconv;

/// How long and how often the client tries before giving up on a request.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts to get a connection (the command itself is sent at most once).
    pub attempts: u32,
    /// Pause before the 2nd, 3rd, ... attempt (the last value repeats).
    pub backoff: Vec<Duration>,
    /// Everything before sending the command (waiting for the pool, connecting, retrying)
    /// ends by this deadline.
    pub checkout_deadline: Duration,
    /// Bound on establishing one new connection (connect, AUTH, SELECT).
    pub connect_timeout: Duration,
    /// Bound on one command's round trip, once sent.
    pub command_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: vec![Duration::from_millis(50), Duration::from_millis(100)],
            checkout_deadline: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(300),
            command_timeout: Duration::from_millis(500),
        }
    }
}

/// A cheap-to-clone handle on the pool.
#[derive(Clone)]
pub struct RedisClient(Arc<Inner>);

struct Inner {
    pool: Pool,
    target: RedisTarget,
    policy: RetryPolicy,
    instruments: Instruments,
}

/// Metric handles, registered once: looking a metric up by name and labels on every command
/// costs more than recording into it.
struct Instruments {
    incr: CommandInstruments,
    ping: CommandInstruments,
}

/// One command's name, its client span's constant attributes and its
/// `redis_client_command_duration_seconds` series.
struct CommandInstruments {
    name: &'static str,
    /// The span's attributes that are the same for every call: the Redis client span of the
    /// database conventions. `db.query.text` has literal values replaced by `?`, so no key or value
    /// reaches a span; `db.namespace` is the database index the connection was opened with (no
    /// command switches it).
    span: telemetry::ClientSpanTemplate,
    ok: metrics::Histogram,
    error: metrics::Histogram,
}

impl CommandInstruments {
    fn new(name: &'static str, query_text: &'static str, target: &RedisTarget) -> Self {
        let server_address = StringValue::from(Arc::<str>::from(target.server_address.as_str()));
        let mut attributes = vec![
            KeyValue::new(semconv::DB_SYSTEM_NAME, "redis"),
            KeyValue::new(semconv::DB_OPERATION_NAME, name),
            KeyValue::new(
                semconv::DB_NAMESPACE,
                StringValue::from(Arc::<str>::from(target.db_namespace.as_str())),
            ),
            KeyValue::new(semconv::DB_QUERY_TEXT, query_text),
            KeyValue::new(semconv::SERVER_ADDRESS, server_address.clone()),
        ];
        if let Some(port) = target.server_port {
            attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
        // The peer is the server itself when it is addressed by IP (no DNS in between); the
        // pooled connection does not expose its socket otherwise.
        if target.server_address.parse::<std::net::IpAddr>().is_ok() {
            attributes.push(KeyValue::new(semconv::NETWORK_PEER_ADDRESS, server_address));
            if let Some(port) = target.server_port {
                attributes.push(KeyValue::new(semconv::NETWORK_PEER_PORT, i64::from(port)));
            }
        }
        Self {
            name,
            span: telemetry::ClientSpanTemplate::new(name, attributes),
            ok: metrics::histogram!(REDIS_COMMAND_DURATION, "command" => name, "outcome" => "ok"),
            error: metrics::histogram!(REDIS_COMMAND_DURATION, "command" => name, "outcome" => "error"),
        }
    }
}

impl Instruments {
    fn new(target: &RedisTarget) -> Self {
        Self {
            incr: CommandInstruments::new("INCR", "INCR ?", target),
            ping: CommandInstruments::new("PING", "PING", target),
        }
    }
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.0.target.redacted)
            .field("pool", &self.0.pool.status())
            .field("policy", &self.0.policy)
            .finish()
    }
}

impl RedisClient {
    /// Builds the pool; no connection is made until the first command. `pool_size` bounds the
    /// connections; commands share them, so a new one is opened only when every open connection
    /// is being handed out at that instant, and the most recently returned one is handed out
    /// first (the busiest connection batches the most). Metric handles are taken here: build the
    /// client after the telemetry recorder is installed.
    pub fn new(target: RedisTarget, pool_size: usize, policy: RetryPolicy) -> Result<Self, Error> {
        let pool = Pool::builder(Manager::new(target.info.clone()))
            .max_size(pool_size.max(1))
            .queue_mode(QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(policy.checkout_deadline))
            .create_timeout(Some(policy.connect_timeout))
            .build()
            .map_err(|e| Error::Pool(e.to_string()))?;
        Ok(Self(Arc::new(Inner {
            pool,
            instruments: Instruments::new(&target),
            target,
            policy,
        })))
    }

    /// The URL with the password hidden, for logs.
    pub fn redacted_url(&self) -> &str {
        &self.0.target.redacted
    }

    /// `INCR key`: the new value. Sent at most once; see the module docs for the retry rule.
    pub async fn incr(&self, key: &str) -> Result<i64, Error> {
        self.0.incr(key).await
    }

    /// `PING`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), Error> {
        self.0.ping().await
    }

    /// Appends the pool gauges (Prometheus text), read from deadpool now: a scrape sees the pool
    /// as it is, and no command pays for keeping gauges up to date (deadpool's status takes the
    /// lock its checkouts take).
    pub fn render_pool_status(&self, out: &mut String) {
        let status = self.0.pool.status();
        let values = [status.size, status.available, status.waiting];
        for ((name, help), value) in POOL_GAUGES.iter().zip(values) {
            telemetry::write_family(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

impl Inner {
    async fn incr(&self, key: &str) -> Result<i64, Error> {
        let mut cmd = redis::cmd("INCR");
        cmd.arg(key);
        self.query(&self.instruments.incr, &cmd).await
    }

    async fn ping(&self) -> Result<(), Error> {
        self.query::<String>(&self.instruments.ping, &redis::cmd("PING"))
            .await
            .map(|_| ())
    }

    /// Runs one command under a client span, measured. Commands issued outside any span (the
    /// `/readyz` PING: probes are not traced) are measured but start no trace of their own.
    /// The span is not current while the command runs (nothing inside needs it, and attaching
    /// costs on every poll); it is made current only to log a failure.
    async fn query<T: FromRedisValue>(
        &self,
        command: &CommandInstruments,
        cmd: &redis::Cmd,
    ) -> Result<T, Error> {
        let operation = command.name;
        // The Redis client span (none outside a trace).
        let mut span = telemetry::ClientSpan::start_from(&command.span);
        let start = Instant::now();
        let result = self.attempts::<T>(operation, cmd, &span).await;
        let duration = if result.is_ok() {
            &command.ok
        } else {
            &command.error
        };
        duration.record(start.elapsed().as_secs_f64());
        if let Err(Error::Redis {
            kind,
            response_code,
            ..
        }) = &result
        {
            // The conventions: `error.type` matches the error reply's prefix when there is one.
            match response_code {
                Some(code) => {
                    span.set_attribute(KeyValue::new(
                        semconv::DB_RESPONSE_STATUS_CODE,
                        code.clone(),
                    ));
                    span.set_error(code.clone());
                }
                None => span.set_error(kind.as_str()),
            }
        }
        result
    }

    async fn attempts<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: &redis::Cmd,
        span: &telemetry::ClientSpan<'_>,
    ) -> Result<T, Error> {
        let deadline = tokio::time::Instant::now() + self.policy.checkout_deadline;
        let mut attempt: u32 = 1;
        loop {
            let error = match self.attempt(operation, cmd, deadline).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            count_error(&error);
            let pause = self
                .policy
                .backoff
                .get(attempt as usize - 1)
                .or(self.policy.backoff.last())
                .copied()
                .unwrap_or_default();
            let retry = error.is_retryable()
                && attempt < self.policy.attempts
                && tokio::time::Instant::now() + pause < deadline;
            if !retry {
                span.in_scope(|| {
                    tracing::warn!(
                        command = operation,
                        attempt,
                        error = %error,
                        "Redis command failed"
                    )
                });
                return Err(error);
            }
            span.in_scope(|| {
                tracing::debug!(
                    command = operation,
                    attempt,
                    error = %error,
                    "Redis command not sent, retrying"
                )
            });
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// One try: get a connection (within `deadline`), then send the command once.
    async fn attempt<T: FromRedisValue>(
        &self,
        operation: &'static str,
        cmd: &redis::Cmd,
        deadline: tokio::time::Instant,
    ) -> Result<T, Error> {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        let timeouts = Timeouts {
            wait: Some(remaining),
            create: Some(self.policy.connect_timeout.min(remaining)),
            // Recycling only reads a flag (see redis_pool).
            recycle: None,
        };
        let pooled = self
            .pool
            .timeout_get(&timeouts)
            .await
            .map_err(|e| self.pool_error(operation, e))?;
        // A handle on the connection; the pooled object goes straight back, so concurrent
        // commands share the connection (pipelined) instead of each holding one.
        let mut shared: SharedConnection = (*pooled).clone();
        drop(pooled);
        if shared.is_closed() {
            // Closed since the pool checked it: the command was not handed to it.
            return Err(Error::Redis {
                command: operation,
                kind: RedisErrorKind::Connection,
                applied: Applied::No,
                transient: true,
                detail: "the pooled connection had just closed".to_owned(),
                response_code: None,
            });
        }
        // From here on the command may reach Redis: a failure without a reply is `Unknown`.
        let result = tokio::time::timeout(
            self.policy.command_timeout,
            cmd.query_async::<T>(&mut shared.connection),
        )
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                if !is_error_reply(&e) {
                    shared.retire();
                }
                Err(self.command_error(operation, &e))
            }
            Err(_) => {
                // The connection may be stuck (Redis paused, network gone): later commands get
                // a fresh one; the late reply, if any, is read and dropped.
                shared.retire();
                Err(Error::Redis {
                    command: operation,
                    kind: RedisErrorKind::Timeout,
                    applied: Applied::Unknown,
                    transient: true,
                    detail: format!("no reply within {:?}", self.policy.command_timeout),
                    response_code: None,
                })
            }
        }
    }

    fn pool_error(&self, operation: &'static str, error: PoolError) -> Error {
        let (kind, detail) = match error {
            PoolError::Timeout(TimeoutType::Wait) => (
                RedisErrorKind::Pool,
                "timed out waiting for a free pooled connection".to_owned(),
            ),
            PoolError::Timeout(TimeoutType::Create) => (
                RedisErrorKind::Timeout,
                "timed out connecting to Redis".to_owned(),
            ),
            PoolError::Backend(e) if e.is_timeout() => (RedisErrorKind::Timeout, e.to_string()),
            PoolError::Backend(e) => (RedisErrorKind::Connection, e.to_string()),
            other => (RedisErrorKind::Pool, other.to_string()),
        };
        Error::Redis {
            command: operation,
            kind,
            applied: Applied::No,
            transient: true,
            detail: self.target.scrub(detail),
            response_code: None,
        }
    }

    fn command_error(&self, operation: &'static str, error: &redis::RedisError) -> Error {
        let (kind, applied, transient) = match error.kind() {
            // Redis refused the command while loading its data after a restart.
            redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading) => {
                (RedisErrorKind::Response, Applied::No, true)
            }
            _ if error.is_timeout() => (RedisErrorKind::Timeout, Applied::Unknown, true),
            redis::ErrorKind::Io => (RedisErrorKind::Connection, Applied::Unknown, true),
            // Any other error reply (WRONGTYPE, ...): Redis read the command and rejected it.
            redis::ErrorKind::Server(_) | redis::ErrorKind::Extension => {
                (RedisErrorKind::Response, Applied::No, false)
            }
            // Parse / type errors of the reply: the command ran.
            _ => (RedisErrorKind::Response, Applied::Unknown, false),
        };
        Error::Redis {
            command: operation,
            kind,
            applied,
            transient,
            detail: self.target.scrub(error.to_string()),
            response_code: error.code().map(str::to_owned),
        }
    }
}

/// Redis answered (with an error): the connection itself is fine.
fn is_error_reply(error: &redis::RedisError) -> bool {
    matches!(
        error.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    )
}

fn count_error(error: &Error) {
    if let Error::Redis { kind, .. } = error {
        metrics::counter!(REDIS_ERRORS, "kind" => kind.as_str()).increment(1);
    }
}

/// Registers every error kind at 0 so dashboards and alerts have all series from the start.
pub(crate) fn register_error_kinds() {
    for kind in ERROR_KINDS {
        metrics::counter!(REDIS_ERRORS, "kind" => kind.as_str()).increment(0);
    }
}
