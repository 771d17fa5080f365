//! robot-control's pigpio daemon dies in the middle of a command (it reads the request and
//! vanishes without answering), under load, several times: the robot's commands answer 503 with
//! a JSON error promptly (no hang), the other robot keeps working, and the service reconnects by
//! itself when the daemon is back on the same address.
#![allow(clippy::unwrap_used)]

use reliability::{HANG_GUARD, ROBOT_TOKEN, Record, binary, scaled};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::{FakePigpio, ServiceProcess};

#[derive(Default)]
struct Log {
    /// (robot, request start, status, latency, body)
    answers: Vec<(&'static str, Instant, u16, Duration, String)>,
}

impl Log {
    fn count(&self, robot: &str, status: u16) -> usize {
        self.answers
            .iter()
            .filter(|a| a.0 == robot && a.2 == status)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pigpio_daemon_dying_mid_command_gives_prompt_503s_then_reconnects() {
    let cycles = scaled(2, 10);
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let linus_addr = linus.addr;
    let process = ServiceProcess::start(
        &binary("robot-control"),
        &[
            ("ROBOT_DRIVER", "pigpio"),
            ("LINUS_PIGPIO_ADDR", &linus_addr.to_string()),
            ("TORVALDS_PIGPIO_ADDR", &torvalds.addr.to_string()),
            ("PIGPIO_TIMEOUT", "300ms"),
            ("DEADMAN_TIMEOUT", "60s"),
            ("ROBOT_TOKEN", ROBOT_TOKEN),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let log = Arc::new(Mutex::new(Log::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (robot, paths, clients) in [
        (
            "linus",
            &["/forward", "/stop", "/linuson", "/linusoff"][..],
            3,
        ),
        ("torvalds", &["/north", "/stoptwo"][..], 1),
    ] {
        for c in 0..clients {
            let (client, log, stop, base) =
                (client.clone(), log.clone(), stop.clone(), process.url());
            load.push(tokio::spawn(async move {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    let path = paths[i % paths.len()];
                    i += 1;
                    let started = Instant::now();
                    let (status, body) = match client
                        .get(format!("{base}{path}"))
                        .bearer_auth(ROBOT_TOKEN)
                        .timeout(HANG_GUARD)
                        .send()
                        .await
                    {
                        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                        Err(e) => (0, e.to_string()),
                    };
                    log.lock().unwrap().answers.push((
                        robot,
                        started,
                        status,
                        started.elapsed(),
                        body,
                    ));
                }
            }));
        }
    }

    let mut daemon = linus;
    let mut recoveries = Vec::new();
    for _ in 0..cycles {
        let target = log.lock().unwrap().count("linus", 200) + 50;
        testkit::eventually("Linus answers 200", Duration::from_secs(30), || {
            let log = log.clone();
            async move { (log.lock().unwrap().count("linus", 200) >= target).then_some(()) }
        })
        .await;
        // The daemon reads a command and dies without answering it.
        tokio::time::timeout(Duration::from_secs(10), daemon.die_mid_command())
            .await
            .expect("a command reached the daemon");
        let failed = log.lock().unwrap().count("linus", 503) + 20;
        testkit::eventually(
            "503s while the daemon is gone",
            Duration::from_secs(30),
            || {
                let log = log.clone();
                async move { (log.lock().unwrap().count("linus", 503) >= failed).then_some(()) }
            },
        )
        .await;
        daemon = FakePigpio::start_on(linus_addr).await;
        let back = Instant::now();
        let recovered = testkit::eventually(
            "Linus answers 200 after the daemon is back",
            Duration::from_secs(30),
            || {
                let log = log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .answers
                        .iter()
                        .any(|a| a.0 == "linus" && a.2 == 200 && a.1 >= back)
                        .then(Instant::now)
                }
            },
        )
        .await;
        recoveries.push(recovered.duration_since(back));
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    let log = log.lock().unwrap();
    let unexpected: Vec<_> = log
        .answers
        .iter()
        .filter(|a| match (a.0, a.2) {
            ("linus", 200) | ("torvalds", 200) => false,
            ("linus", 503) => !serde_json::from_str::<serde_json::Value>(&a.4)
                .ok()
                .and_then(|v| v["error"].as_str().map(|e| e.contains("linus")))
                .unwrap_or(false),
            _ => true,
        })
        .map(|a| (a.0, a.2, a.4.clone()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 200s, and JSON 503s naming linus for Linus; Torvalds unaffected; got {} others, first: {:?}\n{}",
        unexpected.len(),
        unexpected.first(),
        process.logs()
    );
    let slowest_503 = log
        .answers
        .iter()
        .filter(|a| a.2 == 503)
        .map(|a| a.3)
        .max()
        .unwrap_or_default();
    let (ok, unavailable) = (log.count("linus", 200), log.count("linus", 503));
    let torvalds_ok = log.count("torvalds", 200);
    let worst = recoveries.iter().max().copied().unwrap_or_default();
    Record {
        scenario: "pigpio-daemon-dies-mid-command",
        service: "robot-control",
        tried: log.answers.len() as u64,
        lost: 0,
        figure: worst.as_secs_f64() * 1000.0,
        unit: "ms worst reconnect after the daemon is back",
        notes: format!(
            "{cycles} deaths mid-command under 4 clients; Linus 200s={ok}, 503s={unavailable} \
             (slowest 503 {} ms, PIGPIO_TIMEOUT 300ms), Torvalds 200s={torvalds_ok} and no failures; \
             reconnects ms={:?}",
            slowest_503.as_millis(),
            recoveries.iter().map(Duration::as_millis).collect::<Vec<_>>()
        ),
    }
    .write();
}
