//! The pigpio driver against a pigpio-protocol test server on loopback: the exact bytes each
//! route sends, 503 when the daemon is gone or silent, and reconnection when it is back.

mod common;

use common::*;
use robot_control::driver::pigpio::protocol::{
    CMD_MODES, CMD_PRS, CMD_PWM, CMD_SERVO, CMD_WRITE, request,
};
use robot_control::{AppState, Config, DriverKind};
use std::time::{Duration, Instant};
use testkit::FakePigpio;

fn pigpio_app(linus: &FakePigpio, torvalds: &FakePigpio) -> axum::Router {
    let config = Config {
        driver: DriverKind::Pigpio,
        linus_pigpio_addr: linus.addr.to_string(),
        torvalds_pigpio_addr: torvalds.addr.to_string(),
        deadman_timeout: Duration::from_secs(30),
        pigpio_timeout: Duration::from_millis(300),
        ..Config::defaults()
    };
    robot_control::router(AppState::new(&with_test_access(config)))
}

/// What the driver sends on every new connection to Linus's daemon.
fn linus_setup() -> Vec<[u8; 16]> {
    let mut setup: Vec<[u8; 16]> = [13, 21, 17, 27, 16, 12, 26]
        .into_iter()
        .map(|pin| request(CMD_MODES, pin, 1))
        .collect();
    setup.push(request(CMD_PRS, 12, 1000));
    setup.push(request(CMD_PRS, 26, 1000));
    setup
}

#[tokio::test]
async fn forward_sets_up_the_pins_then_writes_the_motor_pins() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let app = pigpio_app(&linus, &torvalds);

    let (status, body) = get(&app, "/forward").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["driver"], "pigpio");

    let mut expected = linus_setup();
    expected.extend([
        // left motor: backward pin low first, then forward pin high; then the right motor.
        request(CMD_WRITE, 21, 0),
        request(CMD_WRITE, 13, 1),
        request(CMD_WRITE, 27, 0),
        request(CMD_WRITE, 17, 1),
    ]);
    assert_eq!(linus.requests(), expected);
    // Byte-exact, spelled out once: WRITE(4) gpio 13 level 1, p3 = 0.
    assert_eq!(
        linus.requests()[linus_setup().len() + 1],
        [4, 0, 0, 0, 13, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(
        torvalds.requests().is_empty(),
        "Torvalds's daemon is not contacted"
    );

    // The connection is reused: the next command sends only its own writes.
    linus.clear();
    assert_eq!(get(&app, "/stop").await.0, StatusCode::OK);
    assert_eq!(
        linus.requests(),
        vec![
            request(CMD_WRITE, 13, 0),
            request(CMD_WRITE, 21, 0),
            request(CMD_WRITE, 17, 0),
            request(CMD_WRITE, 27, 0),
        ]
    );
}

#[tokio::test]
async fn servo_pwm_and_eye_routes_send_the_expected_commands() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let app = pigpio_app(&linus, &torvalds);
    assert_eq!(get(&app, "/servomid").await.0, StatusCode::OK);

    let cases: [(&str, Vec<[u8; 16]>); 5] = [
        ("/servomax", vec![request(CMD_SERVO, 22, 2000)]),
        ("/servomin2", vec![request(CMD_SERVO, 23, 1000)]),
        (
            "/thirty",
            vec![request(CMD_PWM, 12, 300), request(CMD_PWM, 26, 300)],
        ),
        ("/linuson", vec![request(CMD_WRITE, 16, 1)]),
        ("/linusoff", vec![request(CMD_WRITE, 16, 0)]),
    ];
    for (route, expected) in cases {
        linus.clear();
        let (status, body) = get(&app, route).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        assert_eq!(linus.requests(), expected, "{route}");
    }
    // SERVO(8) gpio 22 pulse 2000 µs (0x07d0), little-endian.
    assert_eq!(
        request(CMD_SERVO, 22, 2000),
        [8, 0, 0, 0, 22, 0, 0, 0, 0xd0, 0x07, 0, 0, 0, 0, 0, 0]
    );
}

#[tokio::test]
async fn torvalds_uses_its_own_daemon() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let app = pigpio_app(&linus, &torvalds);
    assert_eq!(get(&app, "/north").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/torvaldson").await.0, StatusCode::OK);
    let requests = torvalds.requests();
    let setup: Vec<[u8; 16]> = [7, 8, 9, 10, 25]
        .into_iter()
        .map(|p| request(CMD_MODES, p, 1))
        .collect();
    assert_eq!(&requests[..5], &setup[..]);
    assert_eq!(
        &requests[5..],
        &[
            request(CMD_WRITE, 8, 0),
            request(CMD_WRITE, 7, 1),
            request(CMD_WRITE, 10, 0),
            request(CMD_WRITE, 9, 1),
            request(CMD_WRITE, 25, 1),
        ]
    );
    assert!(linus.requests().is_empty());
}

#[tokio::test]
async fn a_vanished_daemon_gives_503_and_the_next_command_reconnects() {
    let linus = FakePigpio::start().await;
    let torvalds = FakePigpio::start().await;
    let app = pigpio_app(&linus, &torvalds);
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);

    let addr = linus.addr;
    linus.stop().await;
    let started = Instant::now();
    let (status, body) = get(&app, "/backward").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["robot"], "linus");
    assert!(body["error"].as_str().unwrap().contains("linus"), "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        started.elapsed()
    );
    let (_, state) = get(&app, "/api/robots/linus").await;
    assert_eq!(
        state["direction"], "forward",
        "a failed command changes no state"
    );
    // Torvalds's daemon is independent.
    assert_eq!(get(&app, "/north").await.0, StatusCode::OK);

    // The daemon comes back on the same port: the next command reconnects (setup first).
    let revived = FakePigpio::start_on(addr).await;
    let (status, body) = get(&app, "/backward").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["direction"], "backward");
    assert_eq!(body["last_error"], Value::Null);
    let requests = revived.requests();
    assert_eq!(&requests[..linus_setup().len()], &linus_setup()[..]);
    assert_eq!(requests.last(), Some(&request(CMD_WRITE, 27, 1)));
}

#[tokio::test]
async fn a_silent_daemon_times_out_with_503() {
    let linus = FakePigpio::start_silent().await;
    let torvalds = FakePigpio::start().await;
    let app = pigpio_app(&linus, &torvalds);
    let started = Instant::now();
    let (status, body) = get(&app, "/linuson").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("did not answer"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn nothing_listening_gives_503() {
    let port = testkit::free_port();
    let config = Config {
        driver: DriverKind::Pigpio,
        linus_pigpio_addr: format!("127.0.0.1:{port}"),
        torvalds_pigpio_addr: format!("127.0.0.1:{port}"),
        pigpio_timeout: Duration::from_millis(300),
        ..Config::defaults()
    };
    let app = robot_control::router(AppState::new(&with_test_access(config)));
    let (status, body) = post_json(&app, "/api/robots/torvalds/eye", json!({"on": true})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["robot"], "torvalds");
    assert!(
        body["error"].as_str().unwrap().contains("cannot connect"),
        "{body}"
    );
}
