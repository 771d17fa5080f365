//! The real binary: bad configuration fails with one line, and SIGTERM stops every motor and
//! turns every eye off (seen byte for byte by a pigpio-protocol test server) before a clean exit.

mod common;

use common::*;
use robot_control::driver::pigpio::protocol::{self, CMD_WRITE, request};
use std::process::Command;
use std::time::Duration;
use testkit::FakePigpio;

#[test]
fn bad_configuration_is_one_line_and_a_non_zero_exit() {
    let cases = [
        ("LISTEN_ADDR", "not-an-address", "listen-addr"),
        ("ROBOT_DRIVER", "gpiozero", "robot-driver"),
        ("DEADMAN_TIMEOUT", "0s", "deadman-timeout"),
        ("LINUS_PIGPIO_ADDR", "raspberrypi", "linus-pigpio-addr"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("ALLOWED_HOSTS", "*", "allowed-hosts"),
        ("ALLOWED_HOSTS", "robot.lan:6543", "allowed-hosts"),
        ("ROBOT_TOKEN", "short-secret", "ROBOT_TOKEN"),
        ("ROBOT_TOKEN", "secret but with spaces", "ROBOT_TOKEN"),
    ];
    for (var, value, mention) in cases {
        let mut command = Command::new(env!("CARGO_BIN_EXE_robot-control"));
        command
            .env(var, value)
            .env(
                "LISTEN_ADDR",
                if var == "LISTEN_ADDR" {
                    value
                } else {
                    "127.0.0.1:0"
                },
            )
            .env("OTEL_SDK_DISABLED", "true");
        let stderr = testkit::assert_config_error(&mut command, mention);
        if var == "ROBOT_TOKEN" {
            assert!(
                !stderr.contains(value),
                "the token is never echoed: {stderr}"
            );
        }
    }
}

/// Compose passes an unset `ROBOT_TOKEN` as an empty one (`${ROBOT_TOKEN:-}`): that is no token,
/// not a bad one. The service starts, says so, serves the UI without a login, and the UI key
/// moves a robot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_robot_token_means_none() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_robot-control"));
    let service = testkit::ServiceProcess::start(binary, &[("ROBOT_TOKEN", "")]).await;
    let client = reqwest::Client::new();
    let page = client.get(service.url()).send().await.unwrap();
    assert_eq!(page.status(), 200, "{}", service.logs());
    let page = page.text().await.unwrap();
    let key = page
        .split(r#"name="robot-ui-key" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no UI key in the page: {page}"));
    let moved = client
        .get(format!("{}/linuson", service.url()))
        .header("x-robot-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let logs = service.logs();
    assert!(logs.contains("no ROBOT_TOKEN"), "{logs}");
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
        ("ROBOT_TOKEN", TEST_TOKEN.to_owned()),
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
        let response = client
            .get(url(path))
            .bearer_auth(TEST_TOKEN)
            .send()
            .await
            .unwrap();
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
    assert!(logs.contains("ROBOT_TOKEN is set"), "{logs}");
    assert!(
        !logs.contains(TEST_TOKEN),
        "the token is never logged: {logs}"
    );

    let linus_requests = linus.requests();
    for expected in [
        request(CMD_WRITE, 13, 0),
        request(CMD_WRITE, 21, 0),
        request(CMD_WRITE, 17, 0),
        request(CMD_WRITE, 27, 0),
        request(CMD_WRITE, 16, 0),
    ] {
        assert!(
            linus_requests.contains(&expected),
            "Linus got {linus_requests:?}"
        );
    }
    let torvalds_requests = torvalds.requests();
    for expected in [
        request(CMD_WRITE, 7, 0),
        request(CMD_WRITE, 8, 0),
        request(CMD_WRITE, 9, 0),
        request(CMD_WRITE, 10, 0),
        request(CMD_WRITE, 25, 0),
    ] {
        assert!(
            torvalds_requests.contains(&expected),
            "Torvalds got {torvalds_requests:?}"
        );
    }
    // Nothing is switched on again after the stop.
    assert!(
        !linus_requests.iter().any(protocol::is_high_write),
        "{linus_requests:?}"
    );
    assert!(
        !torvalds_requests.iter().any(protocol::is_high_write),
        "{torvalds_requests:?}"
    );
}
