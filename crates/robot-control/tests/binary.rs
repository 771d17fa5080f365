//! The real binary: bad configuration fails with one line, and SIGTERM stops every motor and
//! turns every eye off (seen byte for byte by a pigpio-protocol test server) before a clean exit.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn bad_configuration_is_one_line_and_a_non_zero_exit() {
    let cases = [
        ("LISTEN_ADDR", "not-an-address", "listen-addr"),
        ("ROBOT_DRIVER", "gpiozero", "robot-driver"),
        ("DEADMAN_TIMEOUT", "0s", "deadman-timeout"),
        ("LINUS_PIGPIO_ADDR", "raspberrypi", "linus-pigpio-addr"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
    ];
    for (var, value, mention) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_robot-control"))
            .env(var, value)
            .env(
                "LISTEN_ADDR",
                if var == "LISTEN_ADDR" {
                    value
                } else {
                    "127.0.0.1:0"
                },
            )
            .env("OTEL_SDK_DISABLED", "true")
            .output()
            .expect("run robot-control");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{var}={value} must fail");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{var}={value}: one line, got {stderr:?}"
        );
        assert!(stderr.contains(mention), "{var}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_every_motor_and_turns_every_eye_off() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let env = [
        ("ROBOT_DRIVER", "pigpio".to_owned()),
        ("LINUS_PIGPIO_ADDR", linus.addr.to_string()),
        ("TORVALDS_PIGPIO_ADDR", torvalds.addr.to_string()),
        ("DEADMAN_TIMEOUT", "60s".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_robot-control"));
    let mut service = testkit::ServiceProcess::start(binary, &env).await;
    let url = |path: &str| format!("{}{path}", service.url());

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for path in ["/forward", "/linuson", "/north", "/torvaldson"] {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}: {}", service.logs());
    }
    linus.clear();
    torvalds.clear();

    let (exit, logs) = tokio::task::spawn_blocking(move || {
        let exit = service.terminate(Duration::from_secs(20));
        (exit, service.logs())
    })
    .await
    .unwrap();
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "clean exit after SIGTERM: {logs}"
    );
    assert!(logs.contains("all motors stopped and eyes off"), "{logs}");

    let linus_requests = linus.requests();
    for expected in [
        pigpio_request(WRITE, 13, 0),
        pigpio_request(WRITE, 21, 0),
        pigpio_request(WRITE, 17, 0),
        pigpio_request(WRITE, 27, 0),
        pigpio_request(WRITE, 16, 0),
    ] {
        assert!(
            linus_requests.contains(&expected),
            "Linus got {linus_requests:?}"
        );
    }
    let torvalds_requests = torvalds.requests();
    for expected in [
        pigpio_request(WRITE, 7, 0),
        pigpio_request(WRITE, 8, 0),
        pigpio_request(WRITE, 9, 0),
        pigpio_request(WRITE, 10, 0),
        pigpio_request(WRITE, 25, 0),
    ] {
        assert!(
            torvalds_requests.contains(&expected),
            "Torvalds got {torvalds_requests:?}"
        );
    }
    // Nothing is switched on again after the stop.
    assert!(
        !linus_requests.iter().any(|r| r[0] == 4 && r[8] == 1),
        "{linus_requests:?}"
    );
    assert!(
        !torvalds_requests.iter().any(|r| r[0] == 4 && r[8] == 1),
        "{torvalds_requests:?}"
    );
}
