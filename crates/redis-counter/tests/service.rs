//! The real binary against a real redis-server: exact counting under concurrency, a Redis crash
//! and restart under load (no acknowledged visit lost or counted twice), traces over OTLP,
//! metrics checked by promtool, and startup errors.

use futures::future::join_all;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use telemetry::semconv::attribute as a;
use testkit::semconv::{REDIS_CLIENT, registry};
use testkit::{
    OtlpGrpcReceiver, RedisServer, ServiceProcess, eventually, metric_value,
    promtool_check_metrics, span_attribute,
};

const BIN: &str = env!("CARGO_BIN_EXE_redis-counter");
/// A hang guard, not a benchmark: every answer must come well within this.
const ANSWER_BOUND: Duration = Duration::from_secs(5);

/// The test's own Redis connection: redis-rs answers "timed out" after 500 ms by default, which a
/// test machine loaded by parallel builds can exceed; the service's timeouts are under test, not
/// the checker's.
fn checker_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(10)))
}

fn parse_count(body: &str) -> i64 {
    body.strip_prefix("Hello World! I have been seen ")
        .and_then(|rest| rest.strip_suffix(" times.\n"))
        .unwrap_or_else(|| panic!("unexpected body {body:?}"))
        .parse()
        .expect("N is a number")
}

async fn redis_hits(redis_url: &str) -> i64 {
    let client = redis::Client::open(redis_url).expect("redis client");
    let mut connection = client
        .get_multiplexed_async_connection_with_config(&checker_config())
        .await
        .expect("connect to redis");
    redis::cmd("GET")
        .arg("hits")
        .query_async::<Option<i64>>(&mut connection)
        .await
        .expect("GET hits")
        .unwrap_or(0)
}

async fn scrape(client: &reqwest::Client, service: &ServiceProcess) -> String {
    client
        .get(format!("{}/metrics", service.url()))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics text")
}

async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client
        .get(url)
        .timeout(ANSWER_BOUND)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_visits_advance_redis_by_exactly_five_hundred() {
    const N: i64 = 500;
    const START: i64 = 1000;
    let redis = RedisServer::start();
    assert_eq!(
        redis
            .command(&["SET", "hits", &START.to_string()])
            .as_deref(),
        Some("+OK")
    );
    let service = ServiceProcess::start(BIN.as_ref(), &[("REDIS_URL", &redis.url())]).await;
    let client = reqwest::Client::new();
    let redis_client = redis::Client::open(redis.url()).expect("redis client");
    let checker = redis_client
        .get_multiplexed_async_connection_with_config(&checker_config())
        .await
        .expect("connect");
    let answers = join_all((0..N).map(|_| {
        let client = client.clone();
        let mut checker = checker.clone();
        let url = format!("{}/", service.url());
        tokio::spawn(async move {
            let response = client
                .get(url)
                .timeout(ANSWER_BOUND)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200);
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .expect("ascii")
                    .starts_with("text/plain"),
                "text/plain"
            );
            let n = parse_count(&response.text().await.expect("body"));
            // The 200 means the increment is already in Redis.
            let now: i64 = redis::cmd("GET")
                .arg("hits")
                .query_async(&mut checker)
                .await
                .expect("GET hits");
            assert!(now >= n, "answered {n} but Redis holds {now}");
            n
        })
    }))
    .await;
    let numbers: BTreeSet<i64> = answers.into_iter().map(|a| a.expect("task")).collect();
    let expected: BTreeSet<i64> = (START + 1..=START + N).collect();
    assert_eq!(numbers, expected, "answers are exactly START+1..=START+N");
    assert_eq!(redis_hits(&redis.url()).await, START + N);

    let metrics = scrape(&client, &service).await;
    assert_eq!(metric_value(&metrics, "hits_total"), Some(N as f64));
    assert_eq!(
        metric_value(
            &metrics,
            r#"redis_client_command_duration_seconds_count{command="INCR",outcome="ok"}"#
        ),
        Some(N as f64)
    );
    assert!(
        metrics.contains(r#"redis_client_command_duration_seconds_bucket{command="INCR",outcome="ok",le="0.0005"}"#),
        "sub-millisecond buckets"
    );
    for kind in ["connection", "timeout", "pool", "response"] {
        assert_eq!(
            metric_value(
                &metrics,
                &format!(r#"redis_client_errors_total{{kind="{kind}"}}"#)
            ),
            Some(0.0),
            "{kind}"
        );
    }
    let pool_size = metric_value(&metrics, "redis_client_pool_size").expect("pool size gauge");
    assert!(
        (1.0..=16.0).contains(&pool_size),
        "pool size {pool_size} within REDIS_POOL_SIZE (16)"
    );
    assert!(metric_value(&metrics, "redis_client_pool_available").is_some());
    assert_eq!(
        metric_value(&metrics, "redis_client_pool_waiting"),
        Some(0.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/",http_response_status_code="200"}"#
        ),
        Some(N as f64)
    );
    let problems = promtool_check_metrics(&metrics);
    assert!(problems.is_empty(), "promtool check metrics: {problems:#?}");
}

/// Every answer to `GET /` the outage test received.
#[derive(Default)]
struct Tally {
    ok: Vec<i64>,
    unavailable: Vec<String>,
}

async fn visit(client: &reqwest::Client, url: &str, tally: &Mutex<Tally>) -> u16 {
    let start = Instant::now();
    let response = client
        .get(url)
        .timeout(ANSWER_BOUND)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no answer within {ANSWER_BOUND:?}: {e}"));
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    assert!(start.elapsed() < ANSWER_BOUND);
    let mut tally = tally.lock().expect("tally");
    match status {
        200 => tally.ok.push(parse_count(&body)),
        503 => {
            let json: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON 503: {body}"));
            let error = json["error"].as_str().expect("error string").to_owned();
            tally.unavailable.push(error);
        }
        other => panic!("unexpected status {other}: {body}"),
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_under_load_gives_503s_then_recovers_without_losing_or_doubling_a_visit() {
    let mut redis = RedisServer::start();
    let service = ServiceProcess::start(BIN.as_ref(), &[("REDIS_URL", &redis.url())]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/", service.url());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));

    // A small steady load through the whole test: 4 clients, back to back.
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, tally, stop) =
                (client.clone(), url.clone(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    visit(&client, &url, &tally).await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        status_of(&client, format!("{}/readyz", service.url())).await,
        200
    );
    let before_crash = tally.lock().expect("tally").ok.len();
    assert!(before_crash > 0, "visits succeed before the crash");

    redis.kill();
    // While Redis is down: prompt 503s with a JSON error, not ready, still alive.
    eventually("a 503 while Redis is down", Duration::from_secs(10), || {
        let (client, url, tally) = (client.clone(), url.clone(), tally.clone());
        async move { (visit(&client, &url, &tally).await == 503).then_some(()) }
    })
    .await;
    let start = Instant::now();
    assert_eq!(visit(&client, &url, &tally).await, 503);
    assert!(start.elapsed() < ANSWER_BOUND);
    assert_eq!(
        status_of(&client, format!("{}/readyz", service.url())).await,
        503
    );
    assert_eq!(
        status_of(&client, format!("{}/healthz", service.url())).await,
        200
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    tokio::task::block_in_place(|| redis.restart());
    // Back without restarting the service.
    eventually(
        "a 200 after Redis restarted",
        Duration::from_secs(10),
        || {
            let (client, url, tally) = (client.clone(), url.clone(), tally.clone());
            async move { (visit(&client, &url, &tally).await == 200).then_some(()) }
        },
    )
    .await;
    eventually(
        "ready after Redis restarted",
        Duration::from_secs(10),
        || {
            let (client, ready) = (client.clone(), format!("{}/readyz", service.url()));
            async move { (status_of(&client, ready).await == 200).then_some(()) }
        },
    )
    .await;
    let after_restart = tally.lock().expect("tally").ok.len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in load {
        worker
            .await
            .expect("load worker (no panic, every answer 200 or 503)");
    }

    let tally = std::mem::take(&mut *tally.lock().expect("tally"));
    assert!(
        tally.ok.len() > after_restart,
        "load succeeds after the restart"
    );
    assert!(!tally.unavailable.is_empty(), "503s during the outage");
    let distinct: BTreeSet<i64> = tally.ok.iter().copied().collect();
    assert_eq!(distinct.len(), tally.ok.len(), "no N answered twice");
    // An INCR sent just before the crash has an unknown outcome (Redis may have applied it
    // and died before replying); the service says so and never re-sends it.
    let unknown = tally
        .unavailable
        .iter()
        .filter(|e| e.contains("may or may not have been applied"))
        .count() as i64;
    let ok = tally.ok.len() as i64;
    let in_redis = redis_hits(&redis.url()).await;
    eprintln!(
        "200s: {ok}, 503s: {} ({unknown} of unknown outcome), Redis: {in_redis}",
        tally.unavailable.len()
    );
    assert!(
        in_redis >= ok,
        "a 200 was lost: Redis {in_redis} < {ok} 200s"
    );
    assert!(
        in_redis <= ok + unknown,
        "double counted: Redis {in_redis} > {ok} 200s + {unknown} unknown outcomes"
    );
    if unknown == 0 {
        let expected: BTreeSet<i64> = (1..=in_redis).collect();
        assert_eq!(distinct, expected, "the 200s answered exactly 1..=N");
    }

    let metrics = scrape(&client, &service).await;
    assert_eq!(
        metric_value(&metrics, "hits_total"),
        Some(ok as f64),
        "the hit counter counts exactly the 200s"
    );
    let connection_errors =
        metric_value(&metrics, r#"redis_client_errors_total{kind="connection"}"#).unwrap_or(0.0);
    assert!(connection_errors > 0.0, "connection errors counted");
    assert!(
        service.logs().contains("Redis command failed"),
        "failures are logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incr_span_is_a_client_child_of_the_request_span() {
    let mut redis = RedisServer::start();
    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::start(
        BIN.as_ref(),
        &[
            ("REDIS_URL", &redis.url()),
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    // Probes are not traced: the readiness PING must not start traces of its own.
    assert_eq!(
        status_of(&client, format!("{}/readyz", service.url())).await,
        200
    );
    assert_eq!(status_of(&client, format!("{}/", service.url())).await, 200);

    let spans = receiver
        .spans_until(Duration::from_secs(15), |spans| {
            spans.iter().any(|s| s.name == "INCR") && spans.iter().any(|s| s.name == "GET /")
        })
        .await;
    let request = spans
        .iter()
        .find(|s| s.name == "GET /")
        .unwrap_or_else(|| panic!("no request span in {spans:#?}"));
    let incr = spans
        .iter()
        .find(|s| s.name == "INCR")
        .unwrap_or_else(|| panic!("no INCR span in {spans:#?}"));
    assert_eq!(request.kind, "SPAN_KIND_SERVER");
    assert_eq!(incr.kind, "SPAN_KIND_CLIENT");
    assert_eq!(incr.trace_id, request.trace_id, "one trace");
    assert_eq!(
        incr.parent_span_id, request.span_id,
        "INCR is a child of GET /"
    );
    let attribute = |key: &str| span_attribute(incr, key);
    assert_eq!(attribute("db.system.name").as_deref(), Some("redis"));
    assert_eq!(attribute("db.operation.name").as_deref(), Some("INCR"));
    assert_eq!(attribute("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attribute("server.port"), Some(redis.port().to_string()));
    assert!(
        spans.iter().all(|s| s.name != "PING"),
        "readiness PINGs are not traced"
    );
    REDIS_CLIENT.assert_followed(
        &incr.attributes,
        &[
            (a::DB_RESPONSE_STATUS_CODE, "INCR succeeded"),
            (a::ERROR_TYPE, "INCR succeeded"),
            (a::DB_OPERATION_BATCH_SIZE, "one command, not a batch"),
            (a::DB_STORED_PROCEDURE_NAME, "not a Lua script"),
        ],
    );
    assert_eq!(attribute(a::DB_QUERY_TEXT).as_deref(), Some("INCR ?"));
    assert_eq!(attribute(a::DB_NAMESPACE).as_deref(), Some("0"));
    assert_eq!(
        attribute(a::NETWORK_PEER_ADDRESS).as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        incr.status
            .as_ref()
            .map(|s| s.code.as_str())
            .unwrap_or("STATUS_CODE_UNSET"),
        "STATUS_CODE_UNSET"
    );

    // A command Redis refuses (`ERR value is not an integer`): the INCR span is failed, with the
    // error reply's prefix.
    assert_eq!(
        redis.command(&["SET", "hits", "not-a-number"]).as_deref(),
        Some("+OK")
    );
    assert_eq!(status_of(&client, format!("{}/", service.url())).await, 500);
    let spans = receiver
        .spans_until(Duration::from_secs(15), |spans| {
            spans.iter().any(|s| {
                s.name == "INCR"
                    && s.status
                        .as_ref()
                        .is_some_and(|st| st.code == "STATUS_CODE_ERROR")
            })
        })
        .await;
    let failed = spans
        .iter()
        .find(|s| {
            s.name == "INCR"
                && s.status
                    .as_ref()
                    .is_some_and(|st| st.code == "STATUS_CODE_ERROR")
        })
        .unwrap_or_else(|| panic!("no failed INCR span in {spans:#?}"));
    assert_eq!(
        span_attribute(failed, a::ERROR_TYPE).as_deref(),
        Some("ERR")
    );
    assert_eq!(
        span_attribute(failed, a::DB_RESPONSE_STATUS_CODE).as_deref(),
        Some("ERR")
    );
    assert_eq!(
        failed.parent_span_id.len(),
        16,
        "still a child of its request"
    );

    // Redis stopped: the request answers 503 and its INCR span says the connection failed.
    redis.stop();
    assert_eq!(status_of(&client, format!("{}/", service.url())).await, 503);
    let unreachable = |spans: &[testkit::ExportedSpan]| {
        spans
            .iter()
            .find(|s| {
                s.name == "INCR"
                    && span_attribute(s, a::ERROR_TYPE)
                        .is_some_and(|error_type| error_type != "ERR")
            })
            .cloned()
    };
    let spans = receiver
        .spans_until(Duration::from_secs(15), |spans| {
            unreachable(spans).is_some()
                && spans.iter().any(|s| {
                    span_attribute(s, a::HTTP_RESPONSE_STATUS_CODE).as_deref() == Some("503")
                })
        })
        .await;
    let incr = unreachable(&spans)
        .unwrap_or_else(|| panic!("no INCR span of the stopped Redis in {spans:#?}"));
    assert_eq!(
        span_attribute(&incr, a::ERROR_TYPE).as_deref(),
        Some("connection"),
        "{incr:#?}"
    );
    assert_eq!(
        incr.status.as_ref().map(|s| s.code.as_str()),
        Some("STATUS_CODE_ERROR")
    );
    assert_eq!(
        span_attribute(&incr, a::DB_RESPONSE_STATUS_CODE),
        None,
        "Redis sent no reply"
    );

    // Every span, failed ones included: only what the registry lists for it.
    for span in &spans {
        let group = match span.kind.as_str() {
            "SPAN_KIND_SERVER" => "span.http.server",
            _ if span.name == "INCR" => "span.redis.client",
            _ => panic!("a span the registry has no group for: {span:#?}"),
        };
        registry().assert_span(group, span);
    }
    registry().assert_resource(&spans[0].resource);
}

#[test]
fn a_bad_redis_url_exits_with_one_line_and_no_password() {
    for url in [
        "localhost:6379",
        "http://:hunter2@localhost:6379", // secrets-check: allow (test fixture)
        "redis://:hunter2@[::1",          // secrets-check: allow (test fixture)
        "rediss://:hunter2@localhost:6379", // secrets-check: allow (test fixture)
    ] {
        let stderr = testkit::assert_config_error(
            std::process::Command::new(BIN)
                .env("LISTEN_ADDR", "127.0.0.1:0")
                .env("OTEL_SDK_DISABLED", "true")
                .env("REDIS_URL", url),
            "REDIS_URL",
        );
        assert!(
            !stderr.contains("hunter2"),
            "{url}: password shown: {stderr}"
        );
    }
}

#[test]
fn a_bad_pool_size_exits_with_one_line() {
    let stderr = testkit::assert_config_error(
        std::process::Command::new(BIN)
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("REDIS_POOL_SIZE", "many"),
        "REDIS_POOL_SIZE",
    );
    assert!(stderr.contains("many"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_password_never_reaches_logs_or_answers() {
    let port = testkit::free_port(); // nothing listens: every command fails
    let url = format!("redis://default:hunter2@127.0.0.1:{port}/0"); // secrets-check: allow (test fixture)
    let service = ServiceProcess::start(BIN.as_ref(), &[("REDIS_URL", &url)]).await;
    let client = reqwest::Client::new();
    let answer = client
        .get(format!("{}/", service.url()))
        .timeout(ANSWER_BOUND)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 503);
    let body = answer.text().await.expect("body");
    let ready = client
        .get(format!("{}/readyz", service.url()))
        .send()
        .await
        .expect("readyz")
        .text()
        .await
        .expect("body");
    let logs = service.logs();
    assert!(logs.contains("Redis command failed"), "{logs}");
    assert!(
        logs.contains(&format!("redis://127.0.0.1:{port}/0")),
        "redacted URL logged: {logs}"
    );
    for text in [&body, &ready, &logs] {
        assert!(!text.contains("hunter2"), "password leaked: {text}");
    }
}

/// `REDIS_COMMAND_TIMEOUT` is the one bound on a command: a Redis slower than redis-rs's own
/// default response timeout (500 ms), but within the configured bound, still counts the visit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_within_the_command_timeout_still_counts_the_visit() {
    let redis = RedisServer::start();
    let service = ServiceProcess::start(
        BIN.as_ref(),
        &[("REDIS_URL", &redis.url()), ("REDIS_COMMAND_TIMEOUT", "5s")],
    )
    .await;
    let client = reqwest::Client::new();
    assert_eq!(status_of(&client, format!("{}/", service.url())).await, 200);
    // Redis holds every write command for 1.2 s: the next INCR waits that long for its reply.
    assert_eq!(
        redis
            .command(&["CLIENT", "PAUSE", "1200", "WRITE"])
            .as_deref(),
        Some("+OK")
    );
    let start = Instant::now();
    let response = client
        .get(format!("{}/", service.url()))
        .timeout(ANSWER_BOUND)
        .send()
        .await
        .expect("answer");
    let waited = start.elapsed();
    let status = response.status().as_u16();
    let body = response.text().await.expect("body");
    assert_eq!(status, 200, "after {waited:?}: {body}");
    assert_eq!(parse_count(&body), 2);
    assert!(
        waited >= Duration::from_millis(1000),
        "the INCR waited for the pause: {waited:?}"
    );
    assert_eq!(redis_hits(&redis.url()).await, 2);
}
