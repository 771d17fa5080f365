//! `router()` driven in-process with `oneshot` against a real redis-server: the handler's
//! contract (body, status, JSON errors, readiness) without spawning the binary.

use axum::Router;
use clap::Parser;
use redis_counter::{AppState, Config, router};
use std::time::{Duration, Instant};
use testkit::RedisServer;

fn app(redis_url: &str, extra: &[&str]) -> Router {
    let mut args = vec!["redis-counter", "--redis-url", redis_url];
    args.extend_from_slice(extra);
    let config = Config::try_parse_from(args).expect("config");
    router(AppState::new(&config).expect("state"))
}

async fn get(app: &Router, path: &str) -> (u16, String, String) {
    let reply = testkit::oneshot_get(app, path).await;
    (reply.status, reply.content_type.clone(), reply.text())
}

fn error_text(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("JSON error body");
    json["error"]
        .as_str()
        .expect("error is a string")
        .to_owned()
}

#[tokio::test]
async fn visits_are_counted_in_redis_from_one() {
    let redis = RedisServer::start();
    let app = app(&redis.url(), &[]);
    for expected in 1..=3 {
        let (status, content_type, body) = get(&app, "/").await;
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert_eq!(
            body,
            format!("Hello World! I have been seen {expected} times.\n")
        );
        assert_eq!(redis.get_int("hits"), expected, "the increment is in Redis");
    }
    assert_eq!(get(&app, "/readyz").await.0, 200);
    assert_eq!(get(&app, "/healthz").await.0, 200);
    assert_eq!(get(&app, "/nope").await.0, 404);
}

#[tokio::test]
async fn unreachable_redis_is_a_prompt_503_with_a_json_error() {
    let port = testkit::free_port(); // nothing listens here
    let app = app(&format!("redis://:hunter2@127.0.0.1:{port}"), &[]); // secrets-check: allow (test fixture)
    let start = Instant::now();
    let (status, content_type, body) = get(&app, "/").await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        start.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let error = error_text(&body);
    assert!(error.contains("INCR was not applied"), "{error}");
    assert!(!body.contains("hunter2"), "password leaked: {body}");

    let (ready, _, ready_body) = get(&app, "/readyz").await;
    assert_eq!(ready, 503, "{ready_body}");
    assert!(!ready_body.contains("hunter2"), "{ready_body}");
    assert_eq!(
        get(&app, "/healthz").await.0,
        200,
        "liveness does not depend on Redis"
    );
}

#[tokio::test]
async fn a_redis_error_reply_is_a_500_and_not_retried() {
    let redis = RedisServer::start();
    assert_eq!(
        redis.command(&["SET", "hits", "not-a-number"]).as_deref(),
        Some("+OK")
    );
    let app = app(&redis.url(), &[]);
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(status, 500, "{body}");
    assert!(error_text(&body).contains("Redis rejected INCR"), "{body}");
    // Redis is fine, only the key is wrong: the service stays ready.
    assert_eq!(get(&app, "/readyz").await.0, 200);
}

#[tokio::test]
async fn simulated_latency_delays_within_its_bound() {
    let redis = RedisServer::start();
    let app = app(&redis.url(), &["--simulated-latency-max", "40ms"]);
    let start = Instant::now();
    for _ in 0..10 {
        assert_eq!(get(&app, "/").await.0, 200);
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "10 requests with at most 40 ms each took {elapsed:?}"
    );
    assert_eq!(redis.get_int("hits"), 10);
}

#[test]
fn settings_parse_from_flags_with_defaults() {
    let config = Config::try_parse_from(["redis-counter"]).expect("defaults");
    assert_eq!(config.listen_addr.port(), 5001);
    assert_eq!(config.redis_url.as_str(), "redis://127.0.0.1:6379");
    assert_eq!(config.redis_pool_size, 16);
    assert_eq!(config.simulated_latency_max, None);
    let config = Config::try_parse_from([
        "redis-counter",
        "--simulated-latency-max",
        "250ms",
        "--redis-pool-size",
        "4",
    ])
    .expect("flags");
    assert_eq!(
        config.simulated_latency_max,
        Some(Duration::from_millis(250))
    );
    assert_eq!(config.redis_pool_size, 4);
    assert!(Config::try_parse_from(["redis-counter", "--redis-pool-size", "0"]).is_err());
}

#[tokio::test]
async fn an_unanswered_incr_is_a_503_and_is_never_sent_twice() {
    let redis = RedisServer::start();
    let app = app(&redis.url(), &["--redis-command-timeout", "200ms"]);
    assert_eq!(get(&app, "/").await.0, 200, "warm the pool");
    // Redis holds write commands for 800 ms: INCR reaches it, but no reply comes in time.
    assert_eq!(
        redis
            .command(&["CLIENT", "PAUSE", "800", "WRITE"])
            .as_deref(),
        Some("+OK")
    );
    let start = Instant::now();
    let (status, _, body) = get(&app, "/").await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        error_text(&body).contains("may or may not have been applied"),
        "{body}"
    );
    // Once Redis resumes it applies the held INCR exactly once: it was not re-sent.
    testkit::eventually(
        "the paused INCR applied",
        Duration::from_secs(5),
        || async { (redis.get_int("hits") == 2).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(redis.get_int("hits"), 2, "INCR sent once, applied once");
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "Hello World! I have been seen 3 times.\n")
    );
}

/// Pooled connections are handed out without a PING: a connection that died while idle must
/// still never carry an INCR. While Redis is down a visit is a 503 that says the INCR was not
/// applied (not "may or may not"), and after a restart the first visit is counted, not a 503.
#[tokio::test]
async fn connections_that_died_while_idle_are_replaced_before_an_incr_is_sent() {
    let mut redis = RedisServer::start();
    let app = app(&redis.url(), &[]);
    assert_eq!(get(&app, "/").await.0, 200, "a pooled connection");
    // Lets the connection's socket task read the close (already queued on loopback).
    let settle = || tokio::time::sleep(Duration::from_millis(200));

    redis.kill();
    settle().await;
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        error_text(&body).contains("INCR was not applied"),
        "the pooled connection was dead, so the INCR was never sent: {body}"
    );
    redis.restart();
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "Hello World! I have been seen 2 times.\n"),
        "back after the restart"
    );

    // Restarted while idle: every pooled connection is dead, and nothing has used them since.
    redis.kill();
    redis.restart();
    settle().await;
    let (status, _, body) = get(&app, "/").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "Hello World! I have been seen 3 times.\n")
    );
}

/// redis-server listening on a unix socket only, stopped on drop.
struct UnixSocketRedis {
    child: std::process::Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl UnixSocketRedis {
    fn start() -> Self {
        let binary = testkit::require_binary("redis-server", "redis-server");
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("redis.sock");
        let child = std::process::Command::new(binary)
            .args(["--port", "0", "--unixsocket"])
            .arg(&socket)
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {socket:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for UnixSocketRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn visits_are_counted_over_a_unix_socket() {
    let redis = UnixSocketRedis::start();
    let app = app(&format!("redis+unix://{}", redis.socket.display()), &[]);
    for expected in 1..=2 {
        let (status, _, body) = get(&app, "/").await;
        assert_eq!(
            (status, body),
            (
                200,
                format!("Hello World! I have been seen {expected} times.\n")
            )
        );
    }
    assert_eq!(get(&app, "/readyz").await.0, 200);
}
