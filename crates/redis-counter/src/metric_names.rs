//! The metric names of docs/METRICS.md ("redis-counter"), their HELP text and buckets, in one
//! place: dashboards, alert rules and tests depend on these exact names.

use crate::RedisErrorKind;
use metrics::Unit;

/// Visits answered 200 (the increment is in Redis).
pub const HITS: &str = "hits_total";
/// Redis command duration, labels `command` and `outcome` (ok, error).
pub const REDIS_COMMAND_DURATION: &str = "redis_client_command_duration_seconds";
/// Redis client errors, label `kind` (one of [`ERROR_KINDS`]).
pub const REDIS_ERRORS: &str = "redis_client_errors_total";
/// The pool's state, read from deadpool at every scrape (`RedisClient::render_pool_status`).
pub const REDIS_POOL_SIZE: &str = "redis_client_pool_size";
pub const REDIS_POOL_AVAILABLE: &str = "redis_client_pool_available";
pub const REDIS_POOL_WAITING: &str = "redis_client_pool_waiting";
/// The pool gauges' HELP text, in the order `render_pool_status` writes them.
pub(crate) const POOL_GAUGES: [(&str, &str); 3] = [
    (
        REDIS_POOL_SIZE,
        "Redis connections currently in the pool (idle and in use).",
    ),
    (REDIS_POOL_AVAILABLE, "Idle Redis connections in the pool."),
    (
        REDIS_POOL_WAITING,
        "Requests waiting for a pooled Redis connection.",
    ),
];

/// The fixed set of `kind` label values: the series count cannot grow with odd errors.
pub const ERROR_KINDS: [RedisErrorKind; 4] = [
    RedisErrorKind::Connection,
    RedisErrorKind::Timeout,
    RedisErrorKind::Pool,
    RedisErrorKind::Response,
];

/// A local Redis answers in well under a millisecond; the HTTP buckets would put every command
/// into the first bucket, so this histogram gets sub-millisecond buckets.
pub const REDIS_COMMAND_DURATION_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// HELP text for every metric of this service (after the recorder is installed).
pub(crate) fn describe() {
    metrics::describe_counter!(
        HITS,
        "Visits answered 200 by GET /: increments of the Redis key `hits` that Redis confirmed."
    );
    metrics::describe_histogram!(
        REDIS_COMMAND_DURATION,
        Unit::Seconds,
        "Duration of Redis commands including getting a pooled connection and retries, by command and outcome."
    );
    metrics::describe_counter!(
        REDIS_ERRORS,
        "Failed Redis command attempts, by kind: connection, timeout, pool, response."
    );
}
