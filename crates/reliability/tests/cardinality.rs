//! Cardinality attack on every service: tens of thousands of distinct random paths, query
//! strings and methods (100,000 per service in the soak) leave the set of series on `/metrics`
//! exactly as it was after a short warm-up of the same traffic.
#![allow(clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reliability::{Record, binary, get_text, scaled, series_set};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use testkit::{RedisServer, ServiceProcess};

fn token(rng: &mut StdRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-_.~";
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Request `i` of the attack: every family appears in the first few requests (the warm-up).
fn attack(rng: &mut StdRng, i: u64, routed: &[&str]) -> (reqwest::Method, String) {
    let family = if i < 16 {
        i % 4
    } else {
        rng.random_range(0..4)
    };
    let query = format!(
        "?{}={}&{}={}",
        token(rng, 6),
        token(rng, 12),
        token(rng, 3),
        token(rng, 20)
    );
    match family {
        // A random path nobody routes.
        0 => (
            reqwest::Method::GET,
            format!("/{}/{}{query}", token(rng, 10), token(rng, 16)),
        ),
        // A real route with a random query string.
        1 => (
            reqwest::Method::GET,
            format!("{}{query}", routed[rng.random_range(0..routed.len())]),
        ),
        // An unknown method on a random path.
        2 => (
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            format!("/{}", token(rng, 24)),
        ),
        // A known method the route does not allow, random path under a real prefix.
        _ => (
            reqwest::Method::DELETE,
            format!("/api/robots/{}", token(rng, 12)),
        ),
    }
}

async fn flood(service: &'static str, env: &[(&str, String)], routed: &'static [&'static str]) {
    let count = scaled(20_000, 100_000);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let process = ServiceProcess::start(&binary(service), &env).await;
    let client = reqwest::Client::new();
    let base = process.url();
    let seed: u64 = rand::random();
    let send = |from: u64, to: u64| {
        let next = Arc::new(AtomicU64::new(from));
        let workers: Vec<_> = (0..16u64)
            .map(|w| {
                let (client, base, next) = (client.clone(), base.clone(), next.clone());
                tokio::spawn(async move {
                    let mut rng = StdRng::seed_from_u64(seed ^ (w << 32) ^ from);
                    let mut server_errors = 0u64;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= to {
                            return server_errors;
                        }
                        let (method, path) = attack(&mut rng, i, routed);
                        let response = client
                            .request(method, format!("{base}{path}"))
                            .timeout(reliability::HANG_GUARD)
                            .send()
                            .await
                            .unwrap_or_else(|e| panic!("{service} {path}: {e}"));
                        if response.status().is_server_error() {
                            server_errors += 1;
                        }
                    }
                })
            })
            .collect::<Vec<_>>();
        async move {
            let mut errors = 0;
            for w in workers {
                errors += w.await.unwrap();
            }
            errors
        }
    };
    assert_eq!(send(0, 200).await, 0, "{service}: no 5xx in the warm-up");
    let metrics_url = format!("{base}/metrics");
    let before = series_set(&get_text(&client, &metrics_url).await);
    assert_eq!(
        send(200, 200 + count).await,
        0,
        "{service}: no 5xx under the flood"
    );
    let after = series_set(&get_text(&client, &metrics_url).await);
    let added: Vec<_> = after.difference(&before).take(10).collect();
    assert!(
        added.is_empty() && after.len() == before.len(),
        "{service}: {count} random requests grew /metrics from {} to {} series; new: {added:#?}",
        before.len(),
        after.len()
    );
    Record {
        scenario: "cardinality",
        service,
        tried: count,
        lost: 0,
        figure: (after.len() as f64) - (before.len() as f64),
        unit: "series added",
        notes: format!(
            "{count} distinct random paths/queries/methods after a 200-request warm-up; \
             /metrics stayed at {} series",
            after.len()
        ),
    }
    .write();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_flask_equivalent_series_count_does_not_grow() {
    flood("web-flask-equivalent", &[], &["/"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_counter_series_count_does_not_grow() {
    let redis = RedisServer::start();
    // The flood is about labels, not Redis speed: four floods share two cores here, and a 503 from
    // the 500 ms command timeout under that load would be correct behaviour, not what is tested.
    flood(
        "redis-counter",
        &[
            ("REDIS_URL", redis.url()),
            ("REDIS_COMMAND_TIMEOUT", "5s".to_owned()),
        ],
        &["/"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robot_control_series_count_does_not_grow() {
    flood(
        "robot-control",
        &[],
        &[
            "/status",
            "/api/robots",
            "/api/robots/linus",
            "/api/robots/nobody",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_prober_series_count_does_not_grow() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    std::fs::write(
        &config,
        format!(
            "urls:\n  - http://127.0.0.1:{}/\nrequest_timeout_in_seconds: 0.5\nquery_interval_in_seconds: 0.5\n",
            testkit::free_port()
        ),
    )
    .unwrap();
    flood(
        "url-prober",
        &[("PROBER_CONFIG", config.display().to_string())],
        &["/healthcheck", "/queryurl"],
    )
    .await;
}
