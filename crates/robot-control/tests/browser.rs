//! The UI in a real headless Chromium, driven over WebDriver (chromedriver, raw W3C WebDriver
//! HTTP calls): holding Blink lights the eye only while pressed, holding a D-pad button drives
//! until release, a click moves the robot, servo and speed buttons work, and the page shows the
//! live state. Leaves a screenshot in `target/artifacts/robot-ui.png`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`);
//! without them the test fails with that command.

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use testkit::{ServiceProcess, eventually, free_port, require_binary};

const APT: &str = "chromium chromium-driver";
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver in its own process group; on drop the session is closed and the whole group
/// (chromedriver and the Chromium it started) is killed.
struct ChromeDriver {
    child: Child,
    port: u16,
    session: Mutex<Option<String>>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl ChromeDriver {
    fn start(binary: &Path) -> Self {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver: {e}; install with `apt-get install -y {APT}`")
            });
        Self {
            child,
            port,
            session: Mutex::new(None),
            log,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logs(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<char> = text.chars().rev().take(4000).collect();
        tail.into_iter().rev().collect()
    }

    /// A blocking `DELETE /session/{id}` (Drop cannot await).
    fn close_session_blocking(&self) {
        let Some(id) = self.session.lock().unwrap().take() else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut response = Vec::new();
            let _ = stream.read_to_end(&mut response);
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.close_session_blocking();
        // The process group: chromedriver and any Chromium left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session.
struct Browser<'a> {
    driver: &'a ChromeDriver,
    client: reqwest::Client,
    session: String,
}

impl<'a> Browser<'a> {
    async fn start(driver: &'a ChromeDriver, chromium: &Path, profile: &Path) -> Browser<'a> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        eventually(
            "chromedriver /status ready",
            Duration::from_secs(20),
            || {
                let client = client.clone();
                let url = driver.url("/status");
                async move {
                    let value: Value = client.get(url).send().await.ok()?.json().await.ok()?;
                    value["value"]["ready"].as_bool().filter(|ready| *ready)
                }
            },
        )
        .await;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=412,915",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let response: Value = client
            .post(driver.url("/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("POST /session")
            .json()
            .await
            .expect("session JSON");
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {response}\n{}", driver.logs()))
            .to_owned();
        *driver.session.lock().unwrap() = Some(session.clone());
        Browser {
            driver,
            client,
            session,
        }
    }

    /// A session command; panics with the WebDriver error and chromedriver's log on failure.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = self.driver.url(&format!("/session/{}{path}", self.session));
        let mut request = self.client.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success(),
            "{method} {path}: {status} {value}\n{}",
            self.driver.logs()
        );
        value["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Moves the mouse onto the element and presses (and keeps holding) the left button.
    async fn press(&self, css: &str, hold: Duration) {
        let element = self.element(css).await;
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: element}, "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pause", "duration": hold.as_millis() as u64}
                ]}]}),
        )
        .await;
    }

    async fn release(&self) {
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerUp", "button": 0}]}]}),
        )
        .await;
        self.call(reqwest::Method::DELETE, "/actions", None).await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    async fn screenshot(&self, path: &Path) {
        self.script("window.scrollTo(0, 0); return null").await;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 screenshot"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).unwrap();
    }
}

/// `target/artifacts`, created.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits (bounded) until `/status` satisfies `check` for `robot`.
async fn wait_status(
    service: &ServiceProcess,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("{}/status", service.url());
    eventually(what, Duration::from_secs(10), || {
        let client = client.clone();
        let url = url.clone();
        let check = &check;
        async move {
            let status: Value = client.get(url).send().await.ok()?.json().await.ok()?;
            check(&status).then_some(status)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_drives_both_robots_in_a_real_browser() {
    let chromium = require_binary("chromium", APT);
    let chromedriver = require_binary("chromedriver", APT);
    let started = Instant::now();

    let binary = Path::new(env!("CARGO_BIN_EXE_robot-control"));
    let service = ServiceProcess::start(
        binary,
        &[("ROBOT_DRIVER", "sim"), ("DEADMAN_TIMEOUT", "5s")],
    )
    .await;
    let driver = ChromeDriver::start(&chromedriver);
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::start(&driver, &chromium, profile.path()).await;

    browser
        .post("/url", json!({"url": format!("{}/", service.url())}))
        .await;
    eventually(
        "the page shows the live state",
        Duration::from_secs(10),
        || async {
            let direction = browser
                .script("return document.getElementById('state-linus').dataset.direction || null")
                .await;
            (direction == "stop").then_some(())
        },
    )
    .await;

    // Blink: the eye is on while the button is held, off after release.
    browser
        .press("#blink-linus", Duration::from_millis(300))
        .await;
    wait_status(&service, "Linus's eye on while Blink is held", |s| {
        s["linus"]["eye_on"] == true
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = wait_status(&service, "still on", |_| true).await;
    assert_eq!(held["linus"]["eye_on"], true, "stays on while pressed");
    assert_eq!(held["torvalds"]["eye_on"], false);
    eventually(
        "the page shows the eye on",
        Duration::from_secs(5),
        || async {
            let on = browser
                .script("return document.getElementById('eye-linus').classList.contains('on')")
                .await;
            (on == true).then_some(())
        },
    )
    .await;
    browser.release().await;
    wait_status(&service, "Linus's eye off after release", |s| {
        s["linus"]["eye_on"] == false
    })
    .await;

    browser
        .press("#blink-torvalds", Duration::from_millis(200))
        .await;
    wait_status(&service, "Torvalds's eye on", |s| {
        s["torvalds"]["eye_on"] == true
    })
    .await;
    browser.release().await;
    wait_status(&service, "Torvalds's eye off", |s| {
        s["torvalds"]["eye_on"] == false
    })
    .await;

    // D-pad, held: Torvalds drives north until release (the page keeps the deadman fed).
    browser
        .press("#torvalds-forward", Duration::from_millis(300))
        .await;
    wait_status(&service, "Torvalds driving forward", |s| {
        s["torvalds"]["direction"] == "forward"
    })
    .await;
    browser.release().await;
    wait_status(&service, "Torvalds stopped on release", |s| {
        s["torvalds"]["direction"] == "stop"
    })
    .await;

    // D-pad, clicked: the robot moves (counted), then stops as the button is released.
    browser.click("#linus-right").await;
    let client = reqwest::Client::new();
    eventually(
        "a click moved Linus right",
        Duration::from_secs(5),
        || async {
            let text = client
                .get(format!("{}/metrics", service.url()))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let moved = testkit::metric_value(
                &text,
                r#"robot_commands_total{robot="linus",command="right"}"#,
            )?;
            (moved >= 1.0).then_some(())
        },
    )
    .await;
    wait_status(&service, "Linus stopped after the click", |s| {
        s["linus"]["direction"] == "stop"
    })
    .await;

    // Servo and speed buttons.
    browser.click("#linus-servo1-max").await;
    browser.click("#linus-servo2-min").await;
    browser.click("#linus-speed-50").await;
    wait_status(&service, "servos and speed set", |s| {
        s["linus"]["servos"]["1"] == 90.0
            && s["linus"]["servos"]["2"] == -90.0
            && s["linus"]["speed"] == 0.5
    })
    .await;
    eventually(
        "the page shows the servo angle",
        Duration::from_secs(5),
        || async {
            let text = browser
                .script("return document.getElementById('state-linus').textContent")
                .await;
            text.as_str()
                .is_some_and(|t| t.contains("90°") && t.contains("50%"))
                .then_some(())
        },
    )
    .await;

    let dir = artifacts_dir();
    browser.screenshot(&dir.join("robot-ui.png")).await;
    browser
        .post("/window/rect", json!({"width": 1280, "height": 900}))
        .await;
    browser.screenshot(&dir.join("robot-ui-desktop.png")).await;

    driver.close_session_blocking();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "bounded: {:?}",
        started.elapsed()
    );
}
