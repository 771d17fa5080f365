//! SIGTERM during load, for every service: requests accepted before the signal complete with a
//! full answer, new connections are refused, the last requests' spans reach the OTLP receiver
//! (the batch delay is set to a minute, so only the shutdown flush can deliver them), and the
//! process exits 0 within a bound. robot-control also stops every motor and LED on the way out.
#![allow(clippy::unwrap_used)]

use reliability::{ROBOT_TOKEN, RawOutcome, Record, alive, binary, read_response, scaled, signal};
use robot_control::driver::pigpio::protocol;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use testkit::{FakePigpio, OtlpHttpReceiver, RedisServer, ServiceProcess};

/// 10 s drain (server::DRAIN_TIMEOUT) + 5 s span flush, plus slack for a busy machine.
const EXIT_BOUND: Duration = Duration::from_secs(20);

fn trace_id() -> String {
    format!("{:032x}", rand::random::<u128>() | 1)
}

/// Opens a connection and sends a complete request carrying `trace` (and robot-control's token,
/// which the other services ignore); the answer is read later.
fn send_request(addr: SocketAddr, path: &str, trace: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(reliability::HANG_GUARD))
        .unwrap();
    let span = format!("{:016x}", rand::random::<u64>() | 1);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: reliability.test\r\nConnection: close\r\n\
         Authorization: Bearer {ROBOT_TOKEN}\r\ntraceparent: 00-{trace}-{span}-01\r\n\r\n"
    )
    .unwrap();
    stream
}

struct Plan<'a> {
    service: &'static str,
    env: Vec<(&'a str, String)>,
    /// GETs that must answer 200 before the in-flight requests.
    before: &'a [&'a str],
    /// The path the in-flight requests hit.
    path: &'a str,
    /// Requests in flight when the signal lands (they must be counted as active first).
    in_flight_route: Option<&'a str>,
}

struct Outcome {
    tried: u64,
    exit_after: Duration,
    logs: String,
    refused_while_draining: bool,
}

async fn sigterm_during_load(plan: Plan<'_>) -> Outcome {
    let in_flight = scaled(16, 64) as usize;
    let receiver = OtlpHttpReceiver::start().await;
    let mut env: Vec<(&str, String)> = vec![
        ("OTEL_SDK_DISABLED", "false".into()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
        // Only the shutdown flush can deliver the spans within this test.
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".into()),
        ("RUST_LOG", "info".into()),
    ];
    env.extend(plan.env);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut process = ServiceProcess::start(&binary(plan.service), &env).await;
    let pid = process.pid().unwrap();
    let addr = process.addr();

    let client = reqwest::Client::new();
    for path in plan.before {
        // Other services ignore the header; robot-control needs the token to move a robot.
        let response = client
            .get(format!("{}{path}", process.url()))
            .bearer_auth(ROBOT_TOKEN)
            .timeout(reliability::HANG_GUARD)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}: {}", process.logs());
    }
    let traces: Vec<String> = (0..in_flight).map(|_| trace_id()).collect();
    let streams: Vec<TcpStream> = traces
        .iter()
        .map(|t| send_request(addr, plan.path, t))
        .collect();
    if let Some(route) = plan.in_flight_route {
        // Every request is inside the handler before the signal.
        let series = format!(
            r#"http_server_active_requests{{http_request_method="GET",http_route="{route}"}}"#
        );
        testkit::eventually("all requests in flight", Duration::from_secs(10), || {
            let (client, url, series) = (
                client.clone(),
                format!("{}/metrics", process.url()),
                series.clone(),
            );
            async move {
                let text = client.get(url).send().await.ok()?.text().await.ok()?;
                (testkit::metric_value(&text, &series)? >= in_flight as f64).then_some(())
            }
        })
        .await;
    } else {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let signalled = Instant::now();
    signal(pid, "TERM");
    let readers = tokio::task::spawn_blocking(move || {
        streams
            .into_iter()
            .map(|mut s| read_response(&mut s, Instant::now() + reliability::HANG_GUARD))
            .collect::<Vec<_>>()
    });
    // New connections are refused while the process drains.
    let refused_at = testkit::eventually(
        "new connections refused after SIGTERM",
        Duration::from_secs(10),
        || async move {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(Instant::now()),
                _ => None,
            }
        },
    )
    .await;
    let refused_while_draining = alive(pid);
    let answers = readers.await.unwrap();
    for (i, answer) in answers.iter().enumerate() {
        assert!(
            matches!(answer, RawOutcome::Response { status: 200, body_len } if *body_len > 0),
            "{}: request {i} accepted before SIGTERM got {answer:?}\n{}",
            plan.service,
            process.logs()
        );
    }
    let deadline = signalled + EXIT_BOUND;
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let exit_after = signalled.elapsed();
    let status = tokio::task::block_in_place(|| process.terminate(Duration::from_secs(1)));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "{}: exits 0 within {EXIT_BOUND:?} of SIGTERM (took {exit_after:?})\n{}",
        plan.service,
        process.logs()
    );
    assert!(refused_at >= signalled);

    let spans = receiver
        .spans_until(Duration::from_secs(5), |spans| {
            traces
                .iter()
                .all(|t| spans.iter().any(|s| &s.trace_id == t))
        })
        .await;
    let missing: Vec<_> = traces
        .iter()
        .filter(|t| !spans.iter().any(|s| &s.trace_id == *t))
        .collect();
    assert!(
        missing.is_empty(),
        "{}: spans of {} of the last {in_flight} requests never reached the collector: {missing:?}\n{}",
        plan.service,
        missing.len(),
        process.logs()
    );
    Outcome {
        tried: in_flight as u64,
        exit_after,
        logs: process.logs(),
        refused_while_draining,
    }
}

fn record(service: &'static str, outcome: &Outcome, extra: &str) {
    Record {
        scenario: "sigterm-under-load",
        service,
        tried: outcome.tried,
        lost: 0,
        figure: outcome.exit_after.as_secs_f64() * 1000.0,
        unit: "ms from SIGTERM to exit",
        notes: format!(
            "{} requests in flight at SIGTERM: all 200, all spans delivered by the shutdown flush; \
             new connections refused{}; exit 0{extra}",
            outcome.tried,
            if outcome.refused_while_draining {
                " while still draining"
            } else {
                ""
            }
        ),
    }
    .write();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_flask_equivalent_drains_flushes_and_exits_on_sigterm() {
    let outcome = sigterm_during_load(Plan {
        service: "web-flask-equivalent",
        env: vec![],
        path: "/",
        before: &[],
        in_flight_route: None,
    })
    .await;
    record("web-flask-equivalent", &outcome, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counter_finishes_slow_requests_after_sigterm() {
    let redis = RedisServer::start();
    let outcome = sigterm_during_load(Plan {
        service: "redis-counter",
        env: vec![
            ("REDIS_URL", redis.url()),
            // Seed 002's random latency keeps requests in flight across the signal.
            ("SIMULATED_LATENCY_MAX", "1500ms".into()),
        ],
        before: &[],
        path: "/",
        in_flight_route: Some("/"),
    })
    .await;
    assert!(
        outcome.refused_while_draining,
        "redis-counter refuses new connections while its slow requests drain"
    );
    let hits = tokio::task::block_in_place(|| redis.get_int("hits"));
    assert_eq!(
        hits, outcome.tried as i64,
        "every in-flight increment reached Redis"
    );
    record(
        "redis-counter",
        &outcome,
        " (requests held 0-1.5 s by SIMULATED_LATENCY_MAX; Redis holds every increment)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_control_stops_motors_and_eyes_and_exits_on_sigterm() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let outcome = sigterm_during_load(Plan {
        service: "robot-control",
        env: vec![
            ("ROBOT_DRIVER", "pigpio".into()),
            ("LINUS_PIGPIO_ADDR", linus.addr.to_string()),
            ("TORVALDS_PIGPIO_ADDR", torvalds.addr.to_string()),
            ("DEADMAN_TIMEOUT", "60s".into()),
            ("ROBOT_TOKEN", ROBOT_TOKEN.into()),
            // The host the in-flight requests name.
            ("ALLOWED_HOSTS", "reliability.test".into()),
        ],
        // Both robots moving with their eyes on when the signal lands.
        before: &["/forward", "/linuson", "/north", "/torvaldson"],
        path: "/status",
        in_flight_route: None,
    })
    .await;
    assert!(
        outcome.logs.contains("all motors stopped and eyes off"),
        "{}",
        outcome.logs
    );
    let (l, t) = (linus.requests(), torvalds.requests());
    for (name, requests, pins) in [
        ("Linus", &l, &[13u32, 21, 17, 27, 16][..]),
        ("Torvalds", &t, &[7u32, 8, 9, 10, 25][..]),
    ] {
        let last_high = requests.iter().rposition(protocol::is_high_write);
        assert!(last_high.is_some(), "{name} was moving: {requests:?}");
        for pin in pins {
            let low = requests
                .iter()
                .rposition(|r| *r == protocol::request(protocol::CMD_WRITE, *pin, 0));
            assert!(
                low > last_high,
                "{name}: pin {pin} written low after the last high write; requests: {requests:?}"
            );
        }
    }
    record(
        "robot-control",
        &outcome,
        "; robots moving with eyes on at SIGTERM: every motor pin and eye LED written low on \
         both pigpio daemons after the last high write",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_prober_drains_flushes_and_exits_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    let hole = reliability::BlackHole::start().await;
    // One probe hangs (black hole) when the signal lands: it must not hold the exit up.
    std::fs::write(
        &config,
        format!(
            "urls:\n  - {}/\nrequest_timeout_in_seconds: 5\nquery_interval_in_seconds: 5\n",
            hole.url()
        ),
    )
    .unwrap();
    let outcome = sigterm_during_load(Plan {
        service: "url-prober",
        env: vec![("PROBER_CONFIG", config.display().to_string())],
        before: &[],
        path: "/queryurl",
        in_flight_route: None,
    })
    .await;
    record(
        "url-prober",
        &outcome,
        " (a probe of a black-holed target was in flight)",
    );
}
