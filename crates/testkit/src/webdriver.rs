//! A real headless Chromium driven over W3C WebDriver (chromedriver, raw HTTP calls): for tests
//! of what a browser actually does (the robot UI, and what other web pages can make it send).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y chromium chromium-driver`);
//! without them the test fails with that command.

use crate::{eventually, free_port, require_binary};
use base64::Engine;
use rustix::process::{Pid, Signal, kill_process_group};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

const APT: &str = "chromium chromium-driver";
/// The W3C WebDriver key of an element reference.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How the browser is started.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    pub width: u32,
    pub height: u32,
    /// Chromium's `--host-resolver-rules`, e.g. `MAP robot.test 127.0.0.1`: names that resolve
    /// to loopback but are plain-http, non-trustworthy origins, as a LAN name would be.
    pub host_resolver_rules: Option<String>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        Self {
            width: 412,
            height: 915,
            host_resolver_rules: None,
        }
    }
}

/// chromedriver in its own process group; on drop the session is closed and the whole group
/// (chromedriver and the Chromium it started) is killed.
pub struct ChromeDriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    session: Mutex<Option<String>>,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl ChromeDriver {
    /// Starts chromedriver on a free port (panics naming the packages when missing).
    pub fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let chromium = require_binary("chromium", APT);
        let binary = require_binary("chromedriver", APT);
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let child = Command::new(&binary)
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
            chromium,
            session: Mutex::new(None),
            log,
            dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The tail of chromedriver's log, for failure messages.
    pub fn logs(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<char> = text.chars().rev().take(4000).collect();
        tail.into_iter().rev().collect()
    }

    /// A blocking `DELETE /session/{id}` (Drop cannot await).
    pub fn close_session_blocking(&self) {
        let Some(id) = self.session.lock().expect("session lock").take() else {
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
        // The process group (chromedriver leads its own): chromedriver and any Chromium left behind.
        if let Some(group) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            let _ = kill_process_group(group, Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver session (one browser with its own fresh profile).
pub struct Browser<'a> {
    driver: &'a ChromeDriver,
    client: reqwest::Client,
    session: String,
}

impl<'a> Browser<'a> {
    pub async fn start(driver: &'a ChromeDriver, options: &BrowserOptions) -> Browser<'a> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client");
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
        let profile = driver.dir.path().join("profile");
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--window-size={},{}", options.width, options.height),
            format!("--user-data-dir={}", profile.display()),
        ];
        if let Some(rules) = &options.host_resolver_rules {
            args.push(format!("--host-resolver-rules={rules}"));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": driver.chromium.display().to_string(), "args": args}
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
        *driver.session.lock().expect("session lock") = Some(session.clone());
        Browser {
            driver,
            client,
            session,
        }
    }

    /// A session command; panics with the WebDriver error and chromedriver's log on failure.
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Navigates the current window to `url` (returns when the page has loaded).
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// Opens a new tab and switches to it; returns its handle.
    pub async fn new_tab(&self) -> String {
        let created = self.post("/window/new", json!({"type": "tab"})).await;
        let handle = created["handle"]
            .as_str()
            .expect("window handle")
            .to_owned();
        self.post("/window", json!({"handle": handle})).await;
        handle
    }

    pub async fn element(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    /// Runs `script` (a function body; `return` gives the result) in the current page.
    pub async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Runs `script` with a callback as its last argument (`arguments[arguments.length - 1]`);
    /// the value passed to the callback is the result.
    pub async fn script_async(&self, script: &str) -> Value {
        self.post("/execute/async", json!({"script": script, "args": []}))
            .await
    }

    /// Moves the mouse onto the element and presses (and keeps holding) the left button.
    pub async fn press(&self, css: &str, hold: Duration) {
        let element = self.element(css).await;
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": {ELEMENT: element}, "x": 0, "y": 0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pause", "duration": u64::try_from(hold.as_millis()).unwrap_or(u64::MAX)}
                ]}]}),
        )
        .await;
    }

    pub async fn release(&self) {
        self.post(
            "/actions",
            json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [{"type": "pointerUp", "button": 0}]}]}),
        )
        .await;
        self.call(reqwest::Method::DELETE, "/actions", None).await;
    }

    pub async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.post(&format!("/element/{element}/click"), json!({}))
            .await;
    }

    /// Resizes the window (the viewport follows; headless has no browser chrome).
    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// Emulates a phone screen through the DevTools protocol: a `width` x `height` CSS-pixel
    /// viewport at `scale` device pixels per CSS pixel, with mobile layout rules.
    pub async fn emulate_phone(&self, width: u32, height: u32, scale: u32) {
        self.post(
            "/goog/cdp/execute",
            json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                "width": width, "height": height, "deviceScaleFactor": scale, "mobile": true
            }}),
        )
        .await;
    }

    /// Writes a PNG of the viewport, scrolled to the top, to `path`.
    pub async fn screenshot(&self, path: &Path) {
        self.script("window.scrollTo(0, 0); return null").await;
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64 screenshot"))
            .expect("valid base64");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}
