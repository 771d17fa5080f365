//! Helpers shared by the integration tests: in-process requests and a pigpio-protocol test server.
//! (Each tests/*.rs file uses a subset; processes and ports come from `testkit`.)
#![allow(dead_code)]
// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use robot_control::AppState;
use robot_control::driver::SimDriver;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::AbortHandle;
use tower::ServiceExt;

#[allow(unused_imports)]
pub use axum::http::{Request, StatusCode};
#[allow(unused_imports)]
pub use serde_json::{Value, json};

/// The router over two simulated robots, plus the simulators to inspect pins.
pub fn sim_app(deadman: Duration) -> (Router, Arc<SimDriver>, Arc<SimDriver>) {
    let linus = Arc::new(SimDriver::new());
    let torvalds = Arc::new(SimDriver::new());
    let state = AppState::with_drivers(linus.clone(), torvalds.clone(), deadman);
    (robot_control::router(state), linus, torvalds)
}

/// One request through `router.oneshot`; the body is parsed as JSON when it is JSON.
pub async fn send(app: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("router is infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

pub async fn get(app: &Router, path: &str) -> (StatusCode, Value) {
    let request = Request::get(path)
        .header("host", "robot.test:6543")
        .body(Body::empty())
        .unwrap();
    send(app, request).await
}

pub async fn post_json(app: &Router, path: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("host", "robot.test:6543")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, request).await
}

/// The pin's digital level on a simulator.
pub fn level(sim: &SimDriver, pin: u8) -> Option<bool> {
    sim.pin(pin).high
}

/// A TCP server speaking the pigpio socket protocol: records every 16-byte request verbatim and
/// answers `cmd, p1, p2, 0` (success). `stop` closes the listener and every connection.
pub struct FakePigpio {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<[u8; 16]>>>,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// When set, requests are read but never answered (a hung daemon).
    silent: bool,
}

impl FakePigpio {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), false).await
    }

    /// A daemon that accepts connections but never answers.
    pub async fn start_silent() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), true).await
    }

    pub async fn start_on(addr: SocketAddr, silent: bool) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap();
        let listener: TcpListener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tasks: Arc<Mutex<Vec<AbortHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let requests = requests.clone();
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    let requests = requests.clone();
                    let connection = tokio::spawn(async move {
                        let mut request = [0u8; 16];
                        while stream.read_exact(&mut request).await.is_ok() {
                            requests.lock().unwrap().push(request);
                            if silent {
                                continue;
                            }
                            let mut response = request;
                            response[12..16].copy_from_slice(&0i32.to_le_bytes());
                            if stream.write_all(&response).await.is_err() {
                                break;
                            }
                        }
                    });
                    tasks.lock().unwrap().push(connection.abort_handle());
                }
            })
        };
        tasks.lock().unwrap().push(accept.abort_handle());
        Self {
            addr,
            requests,
            tasks,
            silent,
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<[u8; 16]> {
        self.requests.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }

    /// Closes the listener and every connection (the daemon went away).
    pub async fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
        // Let the runtime drop the aborted tasks (and so close their sockets).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for FakePigpio {
    fn drop(&mut self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// The 16 bytes of a pigpio request `cmd, p1, p2, 0`.
pub fn pigpio_request(cmd: u32, p1: u32, p2: u32) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[0..4].copy_from_slice(&cmd.to_le_bytes());
    bytes[4..8].copy_from_slice(&p1.to_le_bytes());
    bytes[8..12].copy_from_slice(&p2.to_le_bytes());
    bytes
}

pub const WRITE: u32 = 4;
pub const PWM: u32 = 5;
pub const SERVO: u32 = 8;
pub const MODES: u32 = 0;
pub const PRS: u32 = 6;
