//! Redis killed (SIGKILL) and restarted, repeatedly, under sustained load on redis-counter:
//! every answer is a 200 or a JSON 503, no increment answered 200 is lost, no visit is counted
//! twice, and the service recovers by itself. Records the counts and the worst recovery time.
//!
//! (crates/redis-counter/tests/service.rs has the single-outage behaviour test; this one is about
//! sustained load over several crash cycles and the figures.)
#![allow(clippy::unwrap_used)]

use reliability::{HANG_GUARD, Record, binary, scaled};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{RedisServer, ServiceProcess};

#[derive(Default)]
struct Log {
    /// (request start, N from the body)
    ok: Vec<(Instant, i64)>,
    /// 503 bodies saying the INCR may have been applied.
    unknown: u64,
    /// 503 bodies saying it was not applied.
    not_applied: u64,
    /// Anything else: (status or 0, body or error).
    other: Vec<(u16, String)>,
}

fn parse_count(body: &str) -> Option<i64> {
    body.strip_prefix("Hello World! I have been seen ")?
        .strip_suffix(" times.\n")?
        .parse()
        .ok()
}

async fn one_visit(client: &reqwest::Client, url: &str, log: &Mutex<Log>) {
    let started = Instant::now();
    let outcome = client.get(url).timeout(HANG_GUARD).send().await;
    let (status, body) = match outcome {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    };
    let mut log = log.lock().unwrap();
    match (status, parse_count(&body)) {
        (200, Some(n)) => log.ok.push((started, n)),
        (503, _) => {
            let error = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned));
            match error {
                Some(e) if e.contains("may or may not") => log.unknown += 1,
                Some(e) if e.contains("not applied") => log.not_applied += 1,
                _ => log.other.push((status, body)),
            }
        }
        _ => log.other.push((status, body)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sigkill_and_restart_under_sustained_load_loses_no_acknowledged_increment() {
    let cycles = scaled(2, 10);
    let clients = scaled(8, 16);
    let ok_between = scaled(300, 2000) as usize;

    let mut redis = RedisServer::start();
    let service = ServiceProcess::start(
        &binary("redis-counter"),
        &[("REDIS_URL", &redis.url()), ("RUST_LOG", "warn")],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/", service.url());
    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, log, stop) = (client.clone(), url.clone(), log.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    one_visit(&client, &url, &log).await;
                }
            })
        })
        .collect();
    let ok_count = |log: &Mutex<Log>| log.lock().unwrap().ok.len();
    let failures = |log: &Mutex<Log>| {
        let log = log.lock().unwrap();
        log.unknown + log.not_applied
    };

    let mut recoveries = Vec::new();
    for cycle in 0..cycles {
        let target = ok_count(&log) + ok_between;
        testkit::eventually(
            &format!("{ok_between} more 200s before crash {cycle}"),
            Duration::from_secs(60),
            || {
                let log = log.clone();
                async move { (ok_count(&log) >= target).then_some(()) }
            },
        )
        .await;
        let failed_before = failures(&log);
        tokio::task::block_in_place(|| redis.kill());
        // Redis stays down until the service has answered at least 20 requests with 503.
        testkit::eventually("503s while Redis is down", Duration::from_secs(30), || {
            let log = log.clone();
            async move { (failures(&log) >= failed_before + 20).then_some(()) }
        })
        .await;
        tokio::task::block_in_place(|| redis.restart());
        let back = Instant::now();
        let recovered = testkit::eventually(
            "a 200 for a request sent after Redis came back",
            Duration::from_secs(30),
            || {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .ok
                        .iter()
                        .find(|(started, _)| *started >= back)
                        .map(|_| Instant::now())
                }
            },
        )
        .await;
        recoveries.push(recovered.duration_since(back));
    }
    // A last stretch of load after the final recovery.
    let target = ok_count(&log) + ok_between;
    testkit::eventually("200s after the last crash", Duration::from_secs(60), || {
        let log = log.clone();
        async move { (ok_count(&log) >= target).then_some(()) }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let applied = tokio::task::block_in_place(|| redis.get_int("hits"));
    let log = log.lock().unwrap();
    assert!(
        log.other.is_empty(),
        "only 200 or a JSON 503 saying what happened to the INCR; got {} others, first: {:?}\n{}",
        log.other.len(),
        log.other.first(),
        service.logs()
    );
    let acknowledged = log.ok.len() as i64;
    let numbers: BTreeSet<i64> = log.ok.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        numbers.len() as i64,
        acknowledged,
        "two 200s reported the same N: a visit counted twice or a count went back after a crash"
    );
    let lost = (acknowledged - applied).max(0) as u64;
    assert_eq!(
        lost, 0,
        "{acknowledged} increments answered 200 but Redis holds {applied}"
    );
    assert!(
        *numbers.last().unwrap() <= applied,
        "an answered N is above the final value"
    );
    assert!(
        applied <= acknowledged + log.unknown as i64,
        "Redis holds {applied}: more than the {acknowledged} 200s plus the {} 503s whose outcome is unknown",
        log.unknown
    );
    let tried = acknowledged as u64 + log.unknown + log.not_applied;
    let worst = recoveries.iter().max().copied().unwrap_or_default();
    Record {
        scenario: "redis-kill-restart",
        service: "redis-counter",
        tried,
        lost,
        figure: worst.as_secs_f64() * 1000.0,
        unit: "ms worst recovery after Redis is back",
        notes: format!(
            "{cycles} SIGKILL+restart cycles, {clients} clients back to back; 200s={acknowledged}, \
             503s={} (outcome unknown {}, not applied {}), final Redis value={applied} \
             (applied beyond the 200s: {}); recoveries ms={:?}",
            log.unknown + log.not_applied,
            log.unknown,
            log.not_applied,
            applied - acknowledged,
            recoveries
                .iter()
                .map(Duration::as_millis)
                .collect::<Vec<_>>()
        ),
    }
    .write();
}
