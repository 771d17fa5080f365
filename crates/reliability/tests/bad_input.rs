//! Hostile input against every service's real binary, over raw TCP so that nothing is cleaned
//! up by an HTTP client first: random and malformed methods and paths, garbage `traceparent` /
//! `baggage`, oversized and numerous headers, invalid JSON, wrong types, out-of-range numbers and
//! huge bodies. Never a 5xx, never a hang, never a panic; JSON endpoints answer bad bodies with a
//! 4xx; memory stays bounded; the service still works afterwards.
//!
//! The generator is seeded (`RELIABILITY_SEED` to replay; the seed is in every failure message).
#![allow(clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reliability::{MIB, ROBOT_TOKEN, RawOutcome, Record, RssSampler, binary, raw_exchange, scaled};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use testkit::{RedisServer, ServiceProcess};

const RSS_BOUND: u64 = 256 * 1024 * 1024;
/// `Authorization` with [`ROBOT_TOKEN`] (a const: the fuzz targets are `'static`).
const ROBOT_BEARER: &str = "Bearer reliability-suite-robot-token";

/// What the generated request was, so the check knows what to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Well-formed HTTP, odd content.
    Plain,
    /// A body that is not what a JSON endpoint accepts.
    BadJson,
    /// Not HTTP the server must parse (bad method token, bad bytes): a 400 or a close.
    Malformed,
    /// Headers beyond the server's limit: a 431/400 or a close.
    Oversized,
    /// A body beyond any sane limit: a 413/4xx or a close after the answer.
    HugeBody,
}

struct Target {
    service: &'static str,
    get_paths: &'static [&'static str],
    json_posts: &'static [&'static str],
    /// Sent with every request (robot-control's token, so bodies reach the handlers).
    headers: &'static [(&'static str, &'static str)],
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn random_text(rng: &mut StdRng, len: std::ops::Range<usize>) -> String {
    let len = rng.random_range(len);
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%";
    (0..len).map(|_| *pick(rng, ALPHABET) as char).collect()
}

fn random_path(rng: &mut StdRng, target: &Target) -> String {
    let base = match rng.random_range(0..6) {
        0 | 1 => pick(rng, target.get_paths).to_string(),
        2 => pick(rng, target.json_posts).to_string(),
        3 => format!("/{}", random_text(rng, 0..40)),
        4 => {
            let encoded: String = (0..rng.random_range(1..20))
                .map(|_| format!("%{:02X}", rng.random::<u8>()))
                .collect();
            format!(
                "/{encoded}/%zz/../..//./{}",
                "é".repeat(rng.random_range(0..4))
            )
        }
        _ => format!("/{}", "a/".repeat(rng.random_range(100..2000))),
    };
    let mut path = base;
    if rng.random_bool(0.4) {
        path.push('?');
        for _ in 0..rng.random_range(0..8) {
            path.push_str(&format!(
                "{}={}&",
                random_text(rng, 5..5 + 1),
                random_text(rng, 0..30)
            ));
        }
    }
    path.replace(['#', '?'], "?").replacen("??", "?", 10)
}

fn garbage_traceparent(rng: &mut StdRng) -> String {
    let options = [
        "00-00000000000000000000000000000000-0000000000000000-01".to_owned(),
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7".to_owned(),
        "00-XYZ92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        format!("00-{}-{}-01", "a".repeat(500), "b".repeat(500)),
        random_text(rng, 0..200),
        "-".repeat(55),
    ];
    pick(rng, &options).clone()
}

fn garbage_baggage(rng: &mut StdRng) -> String {
    match rng.random_range(0..4) {
        0 => random_text(rng, 0..300),
        1 => (0..rng.random_range(100..400))
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(","),
        2 => "=,=;;,%ZZ=%YY,key==value,,=".to_owned(),
        _ => format!("big={}", "x".repeat(rng.random_range(1000..6000))),
    }
}

fn bad_json(rng: &mut StdRng) -> String {
    let options = [
        "{".to_owned(),
        "not json".to_owned(),
        "[]".to_owned(),
        "null".to_owned(),
        "{\"degree\": \"ninety\"}".to_owned(),
        "{\"degree\": 1e309}".to_owned(),
        "{\"degree\": -91}".to_owned(),
        "{\"degree\": 99999999999999999999999}".to_owned(),
        "{\"speed\": -1}".to_owned(),
        "{\"speed\": 11}".to_owned(),
        "{\"speed\": \"NaN\"}".to_owned(),
        "{\"duty\": 1.5}".to_owned(),
        "{\"duty\": -0.1}".to_owned(),
        "{\"servo\": 3, \"degrees\": 0}".to_owned(),
        "{\"servo\": -1, \"degrees\": 0}".to_owned(),
        "{\"servo\": 1, \"degrees\": 180}".to_owned(),
        "{\"direction\": \"up\"}".to_owned(),
        "{\"direction\": 7}".to_owned(),
        "{\"on\": \"yes\"}".to_owned(),
        "{\"on\": true, \"extra\": 1}".to_owned(),
        format!("{{\"degree\": {}}}", "9".repeat(400)),
        format!("{}1{}", "[".repeat(2000), "]".repeat(2000)),
        format!("{{\"a\":\"{}\"}}", "\\u0000".repeat(200)),
        String::from_utf8_lossy(&[0xff, 0xfe, b'{', 0x00]).into_owned(),
        random_text(rng, 0..100),
    ];
    pick(rng, &options).clone()
}

/// One random request and what kind it is.
fn generate(rng: &mut StdRng, target: &Target) -> (Vec<u8>, Kind) {
    let mut kind = Kind::Plain;
    let method = match rng.random_range(0..12) {
        0..=4 => "GET".to_owned(),
        5..=6 => "POST".to_owned(),
        7 => pick(rng, &["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]).to_string(),
        8 => "BREW".to_owned(),
        9 => random_text(rng, 1..12)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase(),
        10 => {
            kind = Kind::Malformed;
            pick(rng, &["G T", "GE\u{0}T", "", "GET\t", "Ü"]).to_string()
        }
        _ => "GET".to_owned(),
    };
    let method = if method.is_empty() && kind == Kind::Plain {
        "GET".to_owned()
    } else {
        method
    };
    let path = random_path(rng, target);
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: reliability.test\r\nConnection: close\r\n");
    for (name, value) in target.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if rng.random_bool(0.5) {
        head.push_str(&format!("traceparent: {}\r\n", garbage_traceparent(rng)));
        head.push_str(&format!("tracestate: {}\r\n", random_text(rng, 50..50 + 1)));
    }
    if rng.random_bool(0.4) {
        head.push_str(&format!("baggage: {}\r\n", garbage_baggage(rng)));
    }
    if rng.random_bool(0.1) {
        for i in 0..rng.random_range(50..150) {
            head.push_str(&format!("x-junk-{i}: {}\r\n", random_text(rng, 20..20 + 1)));
        }
    }
    if rng.random_bool(0.03) {
        kind = Kind::Oversized;
        head.push_str(&format!(
            "x-huge: {}\r\n",
            "h".repeat(rng.random_range(70_000..300_000))
        ));
    }
    let mut head = head.into_bytes();
    if rng.random_bool(0.1) {
        // obs-text bytes in a header value (legal, but not UTF-8).
        head.extend_from_slice(b"user-agent: \xff\xfe\x80 robot\r\n");
    }
    let body: Vec<u8> = if rng.random_bool(0.02) {
        if kind == Kind::Plain {
            kind = Kind::HugeBody;
        }
        vec![b'{'; rng.random_range(1..4) * 1024 * 1024]
    } else if method == "POST" || rng.random_bool(0.2) {
        if kind == Kind::Plain && method == "POST" && target.json_posts.contains(&path.as_str()) {
            kind = Kind::BadJson;
        }
        bad_json(rng).into_bytes()
    } else {
        Vec::new()
    };
    if !body.is_empty() {
        let content_type = pick(
            rng,
            &[
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "garbage/////",
            ],
        );
        head.extend_from_slice(format!("content-type: {content_type}\r\n").as_bytes());
        head.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&body);
    (head, kind)
}

/// The seed in use (from `RELIABILITY_SEED`, else random).
fn seed() -> u64 {
    std::env::var("RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

async fn fuzz(target: Target, extra_env: &[(&str, String)]) {
    let cases = scaled(1500, 20000);
    let seed = seed();
    let env: Vec<(&str, &str)> = extra_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let process = ServiceProcess::start(&binary(target.service), &env).await;
    let pid = process.pid().unwrap();
    let addr: SocketAddr = process.addr();
    let baseline = reliability::rss_bytes(pid).unwrap();
    let rss = RssSampler::start(pid);
    let target = Arc::new(target);
    let tally: Arc<Mutex<BTreeMap<(Kind, String), u64>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let workers = 4u64;
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (target, tally, failures) = (target.clone(), tally.clone(), failures.clone());
            tokio::task::spawn_blocking(move || {
                let mut rng = StdRng::seed_from_u64(seed.wrapping_add(w));
                for i in 0..cases / workers {
                    let (request, kind) = generate(&mut rng, &target);
                    let outcome = raw_exchange(addr, &request, reliability::HANG_GUARD);
                    let label = match &outcome {
                        RawOutcome::Response { status, .. } => format!("{}xx", status / 100),
                        other => format!("{other:?}"),
                    };
                    let ok = match (&outcome, kind) {
                        (RawOutcome::Response { status, .. }, Kind::BadJson) => {
                            (400..500).contains(status)
                        }
                        (RawOutcome::Response { status, .. }, _) => (100..500).contains(status),
                        (
                            RawOutcome::Closed,
                            Kind::Malformed | Kind::Oversized | Kind::HugeBody,
                        ) => true,
                        _ => false,
                    };
                    if !ok {
                        let shown = String::from_utf8_lossy(&request[..request.len().min(600)]);
                        failures.lock().unwrap().push(format!(
                            "seed {seed} worker {w} case {i} ({kind:?}): {outcome:?} for {shown:?}"
                        ));
                    }
                    *tally.lock().unwrap().entry((kind, label)).or_default() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.await.unwrap();
    }
    let peak = rss.peak();
    let failures = failures.lock().unwrap().clone();
    let logs = process.logs();
    assert!(
        failures.is_empty(),
        "{}: {} of {cases} hostile requests got a 5xx, no answer, a hang, or a non-4xx for a bad JSON body; first 5:\n{}\nlogs tail:\n{}",
        target.service,
        failures.len(),
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        &logs[logs.len().saturating_sub(3000)..]
    );
    assert!(
        !logs.contains("panicked"),
        "{}: a panic:\n{logs}",
        target.service
    );
    assert!(
        peak < RSS_BOUND,
        "{}: RSS peaked at {:.1} MiB",
        target.service,
        peak as f64 / MIB
    );
    // Still serving.
    let health = reqwest::get(format!("{}/healthz", process.url()))
        .await
        .unwrap();
    assert_eq!(
        health.status(),
        200,
        "{} healthy after the fuzz",
        target.service
    );
    for path in target.get_paths.iter().take(1) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", process.url()));
        for (name, value) in target.headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{} {path} after the fuzz",
            target.service
        );
    }
    let tally = tally.lock().unwrap().clone();
    let summary: Vec<String> = tally
        .iter()
        .map(|((kind, label), n)| format!("{kind:?} {label}: {n}"))
        .collect();
    Record {
        scenario: "fuzz-http",
        service: target.service,
        tried: cases / workers * workers,
        lost: 0,
        figure: (peak.saturating_sub(baseline)) as f64 / MIB,
        unit: "MiB RSS growth (peak - start)",
        notes: format!(
            "seed {seed}; 0 5xx, 0 hangs, 0 panics; peak RSS {:.1} MiB; {}",
            peak as f64 / MIB,
            summary.join(", ")
        ),
    }
    .write();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_flask_equivalent_survives_hostile_requests() {
    fuzz(
        Target {
            service: "web-flask-equivalent",
            get_paths: &["/", "/metrics", "/healthz", "/readyz"],
            json_posts: &["/"],
            headers: &[],
        },
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counter_survives_hostile_requests() {
    let redis = RedisServer::start();
    fuzz(
        Target {
            service: "redis-counter",
            get_paths: &["/", "/metrics", "/healthz", "/readyz"],
            json_posts: &["/"],
            headers: &[],
        },
        &[("REDIS_URL", redis.url())],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_control_survives_hostile_requests() {
    fuzz(
        Target {
            service: "robot-control",
            get_paths: &[
                "/status",
                "/",
                "/forward",
                "/stop",
                "/north",
                "/stoptwo",
                "/servomid",
                "/thirty",
                "/linuson",
                "/linusoff",
                "/api/robots",
                "/api/robots/linus",
                "/api/robots/nobody",
            ],
            json_posts: &[
                "/servoarm",
                "/motorpwm",
                "/api/robots/linus/drive",
                "/api/robots/torvalds/eye",
                "/api/robots/linus/servo",
                "/api/robots/torvalds/speed",
            ],
            headers: &[("authorization", ROBOT_BEARER)],
        },
        &[
            ("DEADMAN_TIMEOUT", "500ms".into()),
            ("ROBOT_TOKEN", ROBOT_TOKEN.into()),
            ("ALLOWED_HOSTS", "reliability.test".into()),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_prober_survives_hostile_requests() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    std::fs::write(
        &config,
        format!(
            "urls:\n  - http://127.0.0.1:{}/\nrequest_timeout_in_seconds: 1\nquery_interval_in_seconds: 1\n",
            testkit::free_port()
        ),
    )
    .unwrap();
    fuzz(
        Target {
            service: "url-prober",
            get_paths: &["/healthcheck", "/queryurl", "/metrics", "/healthz"],
            json_posts: &["/queryurl"],
            headers: &[],
        },
        &[("PROBER_CONFIG", config.display().to_string())],
    )
    .await;
}

/// Body size limits: a body far beyond any request this API takes is refused with 413 before
/// it is buffered, on every JSON endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_control_refuses_oversized_json_bodies_with_413() {
    let process =
        ServiceProcess::start(&binary("robot-control"), &[("ROBOT_TOKEN", ROBOT_TOKEN)]).await;
    let client = reqwest::Client::new();
    let paths = [
        "/servoarm",
        "/motorpwm",
        "/api/robots/linus/drive",
        "/api/robots/linus/eye",
        "/api/robots/linus/servo",
        "/api/robots/linus/speed",
    ];
    for path in paths {
        let body = format!(
            "{{\"degree\": 1, \"pad\": \"{}\"}}",
            "x".repeat(8 * 1024 * 1024)
        );
        let response = client
            .post(format!("{}{path}", process.url()))
            .header("content-type", "application/json")
            .bearer_auth(ROBOT_TOKEN)
            .body(body)
            .timeout(reliability::HANG_GUARD)
            .send()
            .await;
        match response {
            Ok(r) => assert_eq!(r.status(), 413, "{path}: 8 MiB JSON body"),
            // The server may close once it has answered 413 and stopped reading.
            Err(e) => assert!(!e.is_timeout(), "{path}: no hang: {e}"),
        }
    }
    Record {
        scenario: "body-limit",
        service: "robot-control",
        tried: paths.len() as u64,
        lost: 0,
        figure: 8.0,
        unit: "MiB body refused (413)",
        notes: "every JSON endpoint refuses an 8 MiB body with 413 (limit 4 KiB)".into(),
    }
    .write();
}
