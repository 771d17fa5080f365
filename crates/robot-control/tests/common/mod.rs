//! Helpers shared by the integration tests: in-process requests. (Each tests/*.rs file uses a
//! subset; processes, ports and the pigpio test server come from `testkit`.)
#![allow(dead_code)]
// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use robot_control::access::{Access, AllowedHosts, HostName, Token};
use robot_control::driver::SimDriver;
use robot_control::{AppState, Config};
use std::sync::Arc;
use std::time::Duration;

#[allow(unused_imports)]
pub use axum::http::{Request, StatusCode};
#[allow(unused_imports)]
pub use serde_json::{Value, json};

/// The `ROBOT_TOKEN` of the in-process apps; [`get`] and [`post_json`] send it as a bearer token,
/// like a script would.
pub const TEST_TOKEN: &str = "robot-control-test-token";
/// The name the in-process apps are reached by (in `ALLOWED_HOSTS`).
pub const TEST_HOST: &str = "robot.test:6543";

/// The access policy of the in-process apps: `robot.test` allowed, [`TEST_TOKEN`] required.
pub fn test_access() -> Access {
    Access::new(
        AllowedHosts::new(&[HostName::parse("robot.test").unwrap()], None),
        Some(Token::new(TEST_TOKEN).unwrap()),
    )
}

/// `config` with the access settings of [`test_access`] (`ALLOWED_HOSTS`, `ROBOT_TOKEN`).
pub fn with_test_access(config: Config) -> Config {
    Config {
        allowed_hosts: vec![HostName::parse("robot.test").unwrap()],
        robot_token: Some(Token::new(TEST_TOKEN).unwrap()),
        ..config
    }
}

/// The router over two simulated robots, plus the simulators to inspect pins.
pub fn sim_app(deadman: Duration) -> (Router, Arc<SimDriver>, Arc<SimDriver>) {
    let linus = Arc::new(SimDriver::new());
    let torvalds = Arc::new(SimDriver::new());
    let state =
        AppState::with_drivers(linus.clone(), torvalds.clone(), deadman).with_access(test_access());
    (robot_control::router(state), linus, torvalds)
}

/// One request through `router.oneshot`; the body is parsed as JSON when it is JSON.
pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let reply = testkit::oneshot(app, request).await;
    let value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| Value::String(reply.text()));
    (StatusCode::from_u16(reply.status).unwrap(), value)
}

/// `GET path` as a script holding the token would send it.
pub async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
    let request = Request::get(path)
        .header("host", TEST_HOST)
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

/// `POST path` with a JSON body, as a script holding the token would send it.
pub async fn post_json(app: &Router, path: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("host", TEST_HOST)
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

/// The pin's digital level on a simulator.
pub fn level(sim: &SimDriver, pin: u8) -> Option<bool> {
    sim.pin(pin).high
}
