//! No web page can drive the robots, proven in a real browser (issue 13).
//!
//! Headless Chromium resolves `robot.test` and `evil.test` to 127.0.0.1 (`--host-resolver-rules`),
//! so both are plain-http, non-trustworthy origins, as a robot's LAN name and an attacker's site
//! are: the browser sends no `Sec-Fetch-*` headers to them. robot-control runs with the pigpio
//! driver against two pigpio test servers, so "moved" means a command reached a daemon.
//!
//! 1. The owner opens the UI at `http://robot.test:PORT` and drives both robots by clicks.
//! 2. With the UI still open, the owner visits `http://evil.test:PORT2` in another tab. That
//!    page fires `<img>` GETs at every seed route, auto-submits forms to `/servoarm`,
//!    `/motorpwm` and the JSON API, and sends `fetch(..., {mode: "no-cors"})` POSTs to the JSON
//!    API, at the robot by its name, by 127.0.0.1 and by localhost.
//! 3. DNS rebinding: the attacker's name now resolves to the robot, so the attacker's script runs
//!    in the origin `http://evil.test:PORT` and talks to the robot same-origin: it reads the UI
//!    page for its key, then sends every command, with that key, as GETs and JSON POSTs.
//!
//! Nothing moves: neither pigpio daemon receives a single command, the robots' state is unchanged,
//! and the service counts every attempt as refused. Then the UI still drives the robots.
//! Writes the rows `browser-cross-site` and `dns-rebinding` of RELIABILITY.md.
//!
//! The same with `ROBOT_TOKEN` set: no UI and no move without the login, the UI opened with it
//! drives, and the attacker's page in the logged-in browser moves nothing
//! (`browser-cross-site-token`).
#![allow(clippy::unwrap_used)]

use reliability::{Record, binary};
use robot_control::driver::pigpio::protocol;
use robot_control::routes::seed::SEED_ROUTES;
use serde_json::{Value, json};
use std::time::Duration;
use testkit::webdriver::{Browser, BrowserOptions, ChromeDriver};
use testkit::{FakePigpio, ServiceProcess, eventually};

/// What both attacker scripts aim at, as JavaScript: `seedRoutes` (every seed GET route) and
/// `jsonCommands` (`[path, body]` for the JSON API and the seed's POST routes).
fn targets_js() -> String {
    let seed_routes: Vec<&str> = SEED_ROUTES.iter().map(|(path, _, _)| *path).collect();
    let json_commands = json!([
        ["/api/robots/linus/drive", {"direction": "forward"}],
        ["/api/robots/torvalds/drive", {"direction": "left"}],
        ["/api/robots/linus/eye", {"on": true}],
        ["/api/robots/torvalds/eye", {"on": true}],
        ["/api/robots/linus/servo", {"servo": 1, "degrees": 45}],
        ["/api/robots/linus/speed", {"duty": 0.3}],
        ["/api/stop", {}],
        ["/servoarm", {"degree": 45}],
        ["/motorpwm", {"speed": 3}],
    ]);
    format!(
        "const seedRoutes = {};\nconst jsonCommands = {json_commands};",
        json!(seed_routes)
    )
}

/// The attacker's page: fires every attempt at once and counts the ones whose answer arrived
/// (`window.attack = {tried, completed}`).
fn attack_page(robot_port: u16) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Cute cats</title></head>
<body><h1>Cute cats</h1>
<script>
"use strict";
const targets = ["http://robot.test:{robot_port}", "http://127.0.0.1:{robot_port}", "http://localhost:{robot_port}"];
{targets}
window.attack = {{tried: 0, completed: 0, kinds: {{}}}};
function attempt(kind) {{
  window.attack.tried += 1;
  window.attack.kinds[kind] = (window.attack.kinds[kind] || 0) + 1;
  return window.attack.tried;
}}
function completed() {{ window.attack.completed += 1; }}

// A form POST into its own hidden frame, submitted by script: the page stays, the frame's load
// event says the answer arrived.
function submitForm(action, enctype, fields) {{
  const n = attempt("form " + enctype);
  const frame = document.createElement("iframe");
  frame.name = "sink" + n;
  frame.style.display = "none";
  document.body.appendChild(frame);
  const form = document.createElement("form");
  form.method = "POST";
  form.action = action;
  form.enctype = enctype;
  form.target = frame.name;
  for (const [name, value] of Object.entries(fields)) {{
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }}
  document.body.appendChild(form);
  frame.addEventListener("load", completed, {{once: true}});
  form.submit();
}}

for (const target of targets) {{
  // <img> GETs: no Origin header, and over plain http no Sec-Fetch-* either.
  for (const route of seedRoutes) {{
    const n = attempt("img");
    const img = new Image();
    img.onload = img.onerror = completed;
    img.src = target + route + "?attempt=" + n;
  }}
  // Auto-submitted forms: the seed's form routes, and the JSON API with a text/plain body that
  // happens to be JSON.
  submitForm(target + "/servoarm", "application/x-www-form-urlencoded", {{degree: "45"}});
  submitForm(target + "/motorpwm", "application/x-www-form-urlencoded", {{speed: "10"}});
  submitForm(target + "/servoarm", "multipart/form-data", {{degree: "-45"}});
  for (const [path, body] of jsonCommands) {{
    const json = JSON.stringify(body);
    submitForm(target + path, "text/plain", {{[json.slice(0, -1) + ',"x":"']: '"}}'}});
    // no-cors fetch: the browser sends it, with a CORS-safelisted content type, and hides the answer.
    attempt("fetch no-cors");
    fetch(target + path, {{
      method: "POST", mode: "no-cors", credentials: "include",
      headers: {{"Content-Type": "application/json"}}, body: json
    }}).then(completed, completed);
  }}
}}
</script></body></html>"#,
        targets = targets_js(),
    )
}

/// The attacker's script after DNS rebinding, run in the origin `http://evil.test:PORT` (the
/// robot itself): same-origin, so it may set any header and read every answer. Returns the
/// status of each request.
fn rebinding_script() -> String {
    format!(
        r#"
const done = arguments[arguments.length - 1];
{targets}
(async () => {{
  const results = [];
  // Steal the UI key from the page, as the UI itself would read it.
  const page = await fetch("/");
  const text = await page.text();
  const found = text.match(/name="robot-ui-key" content="([^"]+)"/);
  const key = found ? found[1] : "not-found";
  results.push({{request: "GET /", status: page.status, kind: "read"}});
  const status = await fetch("/status");
  results.push({{request: "GET /status", status: status.status, kind: "read"}});
  for (const route of seedRoutes) {{
    const r = await fetch(route + "?rebinding=1", {{headers: {{"X-Robot-Key": key}}}});
    results.push({{request: "GET " + route, status: r.status, kind: "command"}});
  }}
  for (const [path, body] of jsonCommands) {{
    const r = await fetch(path, {{
      method: "POST",
      headers: {{"Content-Type": "application/json", "X-Robot-Key": key}},
      body: JSON.stringify(body)
    }});
    results.push({{request: "POST " + path, status: r.status, kind: "command"}});
  }}
  const form = await fetch("/servoarm", {{
    method: "POST",
    headers: {{"Content-Type": "application/x-www-form-urlencoded", "X-Robot-Key": key}},
    body: "degree=45"
  }});
  results.push({{request: "POST /servoarm (form)", status: form.status, kind: "command"}});
  done({{results, keyFound: !!found}});
}})().catch(error => done({{error: String(error)}}));
"#,
        targets = targets_js(),
    )
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client
        .get(url)
        .timeout(reliability::HANG_GUARD)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metrics(client: &reqwest::Client, robot: &ServiceProcess) -> String {
    reliability::get_text(client, &format!("{}/metrics", robot.url())).await
}

fn refused(metrics: &str, reason: &str) -> f64 {
    testkit::metric_value(
        metrics,
        &format!(r#"robot_requests_refused_total{{reason="{reason}"}}"#),
    )
    .unwrap_or(0.0)
}

/// Waits until `daemon` saw a command switching something on.
async fn wait_for_high_write(daemon: &FakePigpio, what: &str) {
    eventually(what, Duration::from_secs(10), || async {
        daemon
            .requests()
            .iter()
            .any(protocol::is_high_write)
            .then_some(())
    })
    .await;
}

async fn wait_status(
    client: &reqwest::Client,
    robot: &ServiceProcess,
    what: &str,
    check: impl Fn(&Value) -> bool,
) {
    let url = format!("{}/status", robot.url());
    eventually(what, Duration::from_secs(10), || {
        let (client, url, check) = (client.clone(), url.clone(), &check);
        async move { check(&get_json(&client, &url).await).then_some(()) }
    })
    .await;
}

/// Holds the UI's D-pad button until the robot drives that way, then lets go.
async fn hold_to_drive(
    browser: &Browser<'_>,
    client: &reqwest::Client,
    robot: &ServiceProcess,
    name: &str,
    direction: &str,
) {
    browser
        .press(&format!("#{name}-{direction}"), Duration::from_millis(300))
        .await;
    wait_status(
        client,
        robot,
        &format!("{name} driving {direction} from the UI"),
        |s| s[name]["direction"] == direction,
    )
    .await;
    browser.release().await;
}

/// The robot under attack: robot-control with the pigpio driver on two pigpio test servers,
/// reached as `robot.test`, and the attacker's web server with [`attack_page`].
struct Scene {
    linus: FakePigpio,
    torvalds: FakePigpio,
    robot: ServiceProcess,
    evil: std::net::SocketAddr,
    client: reqwest::Client,
}

impl Scene {
    async fn start(extra_env: &[(&str, &str)]) -> Self {
        let linus = FakePigpio::start().await;
        let torvalds = FakePigpio::start().await;
        let (linus_addr, torvalds_addr) = (linus.addr.to_string(), torvalds.addr.to_string());
        let mut env = vec![
            ("ROBOT_DRIVER", "pigpio"),
            ("LINUS_PIGPIO_ADDR", linus_addr.as_str()),
            ("TORVALDS_PIGPIO_ADDR", torvalds_addr.as_str()),
            ("DEADMAN_TIMEOUT", "3s"),
            ("ALLOWED_HOSTS", "robot.test"),
        ];
        env.extend_from_slice(extra_env);
        let robot = ServiceProcess::start(&binary("robot-control"), &env).await;
        let evil_page = attack_page(robot.addr().port());
        let evil = testkit::spawn_router(axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let page = evil_page.clone();
                async move { axum::response::Html(page) }
            }),
        ))
        .await;
        Self {
            linus,
            torvalds,
            robot,
            evil,
            client: reqwest::Client::new(),
        }
    }

    fn port(&self) -> u16 {
        self.robot.addr().port()
    }

    /// Chromium resolving both names to 127.0.0.1: plain-http, non-trustworthy origins.
    fn browser_options() -> BrowserOptions {
        BrowserOptions {
            host_resolver_rules: Some(
                "MAP robot.test 127.0.0.1, MAP evil.test 127.0.0.1".to_owned(),
            ),
            ..BrowserOptions::default()
        }
    }

    /// With the UI open in `browser`: both robots driven by clicks, a servo set, every command
    /// landed at the daemons.
    async fn drive_both_from_the_ui(&self, browser: &Browser<'_>) {
        let (client, robot) = (&self.client, &self.robot);
        hold_to_drive(browser, client, robot, "linus", "forward").await;
        hold_to_drive(browser, client, robot, "torvalds", "right").await;
        browser.click("#linus-servo1-max").await;
        wait_status(client, robot, "both stopped, servo at 90", |s| {
            s["linus"]["direction"] == "stop"
                && s["torvalds"]["direction"] == "stop"
                && s["linus"]["servos"]["1"] == 90.0
        })
        .await;
        wait_for_high_write(&self.linus, "Linus's daemon told to drive").await;
        wait_for_high_write(&self.torvalds, "Torvalds's daemon told to drive").await;
        // Anything still in flight from the clicks lands before a count starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// The robots' state and the service's metrics now.
    async fn snapshot(&self) -> (Value, String) {
        let status = get_json(&self.client, &format!("{}/status", self.robot.url())).await;
        (status, metrics(&self.client, &self.robot).await)
    }

    /// A [`Self::snapshot`] to compare with, and the daemons' request logs emptied.
    async fn start_counting(&self) -> (Value, String) {
        let snapshot = self.snapshot().await;
        self.linus.clear();
        self.torvalds.clear();
        snapshot
    }

    /// Opens the attacker's page in a new tab of `browser` and waits until every attempt has
    /// its answer; `window.attack` of the page.
    async fn visit_the_attack_page(&self, browser: &Browser<'_>) -> Value {
        browser.new_tab().await;
        browser
            .goto(&format!("http://evil.test:{}/", self.evil.port()))
            .await;
        eventually(
            "every cross-site attempt answered",
            Duration::from_secs(30),
            || async {
                let attack = browser.script("return window.attack || null").await;
                let tried = attack["tried"].as_u64()?;
                (tried > 0 && attack["completed"].as_u64() == Some(tried)).then_some(attack)
            },
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_elsewhere_cannot_move_the_robots() {
    let scene = Scene::start(&[]).await;
    let (linus, torvalds, robot, client) =
        (&scene.linus, &scene.torvalds, &scene.robot, &scene.client);
    let port = scene.port();
    let driver = ChromeDriver::start();
    let browser = Browser::start(&driver, &Scene::browser_options()).await;

    // 1. The owner's UI, at the robot's LAN-like name, drives both robots by clicks.
    let ui = format!("http://robot.test:{port}/");
    browser.goto(&ui).await;
    scene.drive_both_from_the_ui(&browser).await;

    let (before, metrics_before) = scene.start_counting().await;

    // 2. Cross-site: the UI stays open; the owner visits the attacker's page in another tab.
    let attack = scene.visit_the_attack_page(&browser).await;
    let cross_site_tried = attack["tried"].as_u64().unwrap();

    // 3. DNS rebinding: the attacker's name now points at the robot; its script runs in that
    //    origin and talks to the robot same-origin.
    browser.goto(&format!("http://evil.test:{port}/")).await;
    let rebinding = browser.script_async(&rebinding_script()).await;
    let results = rebinding["results"]
        .as_array()
        .unwrap_or_else(|| panic!("rebinding script failed: {rebinding}"));
    let rebinding_tried = results.len() as u64 + 1; // + the navigation itself
    let answered: Vec<(String, u64)> = results
        .iter()
        .map(|r| {
            (
                r["request"].as_str().unwrap().to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();

    // Give a command that slipped through time to reach a daemon.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (linus_sent, torvalds_sent) = (linus.requests(), torvalds.requests());
    let (after, metrics_after) = scene.snapshot().await;

    assert!(
        linus_sent.is_empty() && torvalds_sent.is_empty(),
        "web pages moved the robots: Linus's daemon got {} commands, Torvalds's {}; \
         cross-site attempts {attack}; rebinding answers {answered:?}",
        linus_sent.len(),
        torvalds_sent.len()
    );
    assert_eq!(before, after, "the robots' state changed");
    let moved = |text: &str| reliability::metric_sum(text, "robot_commands_total");
    assert_eq!(
        moved(&metrics_before),
        moved(&metrics_after),
        "robot_commands_total counted a command from a web page"
    );
    assert!(
        answered.iter().all(|(_, status)| *status == 403),
        "the robot answered a rebinding page: {answered:?}"
    );
    assert_eq!(
        rebinding["keyFound"], false,
        "the rebinding page read the UI key"
    );
    // Every attempt reached the service and was refused there (not dropped by the browser).
    let refused_by = |reasons: &[&str]| {
        reasons
            .iter()
            .map(|r| refused(&metrics_after, r) - refused(&metrics_before, r))
            .sum::<f64>()
    };
    let cross_site_refused = refused_by(&["not_from_ui", "cross_site"]);
    assert!(
        cross_site_refused >= cross_site_tried as f64,
        "{cross_site_tried} cross-site attempts, {cross_site_refused} refused"
    );
    let rebinding_refused = refused_by(&["host"]);
    assert!(
        rebinding_refused >= rebinding_tried as f64,
        "{rebinding_tried} rebinding requests, {rebinding_refused} refused"
    );

    // 4. The owner's UI still drives the robots (the zero above is not a dead robot).
    browser.goto(&ui).await;
    hold_to_drive(&browser, client, robot, "linus", "left").await;
    wait_for_high_write(linus, "Linus's daemon told to drive again").await;
    driver.close_session_blocking();

    let kinds: Vec<String> = attack["kinds"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    let kinds = kinds.join(", ");
    let (no_key, said_cross_site) = (refused_by(&["not_from_ui"]), refused_by(&["cross_site"]));
    Record {
        scenario: "browser-cross-site",
        service: "robot-control",
        tried: cross_site_tried,
        lost: (linus_sent.len() + torvalds_sent.len()) as u64,
        figure: 0.0,
        unit: "robot moves (pigpio commands sent)",
        notes: format!(
            "headless Chromium, plain-http origins robot.test / evil.test; a page at evil.test fires \
             <img> GETs at every seed route, auto-submitted forms (urlencoded, multipart, text/plain \
             JSON) and no-cors fetch POSTs at the robot by name, 127.0.0.1 and localhost while the \
             UI is open in another tab ({kinds}); all refused: {no_key} without the UI key, \
             {said_cross_site} marked cross-site by the browser (127.0.0.1, localhost, Origin); \
             0 pigpio commands, state unchanged; the UI still drives both robots"
        ),
    }
    .write();
    Record {
        scenario: "dns-rebinding",
        service: "robot-control",
        tried: rebinding_tried,
        lost: 0,
        figure: 0.0,
        unit: "robot moves (pigpio commands sent)",
        notes: format!(
            "the attacker's script in origin evil.test:<robot port> (the robot under another name): \
             navigation, reads of / (for the UI key) and /status, every seed route with a key, the \
             JSON API and a form POST, same-origin; all answered 403 by the Host allowlist \
             ({rebinding_refused} refused), key not read, 0 pigpio commands"
        ),
    }
    .write();
}

/// With `ROBOT_TOKEN`, in a real browser: the UI is not even served without the login, and
/// nothing moves; opened with the login in the URL (`http://me:TOKEN@robot.test:PORT/`, what the
/// browser's login prompt fills in) it drives both robots by clicks (the page's requests then
/// must not be relative to its URL, which carries the login: Chromium refuses those). The
/// browser keeps the login for the robot's origin, and a browser may attach it to requests other
/// pages make, which is why a login alone never moves a robot: the attacker's page, in another
/// tab of the logged-in browser, moves nothing. Writes the row `browser-cross-site-token` of
/// RELIABILITY.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_only_the_logged_in_ui_moves_the_robots() {
    const TOKEN: &str = "browser-test-robot-token";
    let scene = Scene::start(&[("ROBOT_TOKEN", TOKEN)]).await;
    let (linus, torvalds, robot, client) =
        (&scene.linus, &scene.torvalds, &scene.robot, &scene.client);
    let port = scene.port();
    let driver = ChromeDriver::start();
    let browser = Browser::start(&driver, &Scene::browser_options()).await;
    let has_ui = || async {
        browser
            .script("return document.getElementById('linus-forward') !== null")
            .await
            == true
    };

    // 1. Without the login: 401, no UI to click (headless Chromium cannot show the prompt).
    //    (At startup the driver sets the pins up and low; "moved" is anything switched on.)
    let metrics_before = metrics(client, robot).await;
    browser.goto(&format!("http://robot.test:{port}/")).await;
    assert!(!has_ui().await, "the UI was served without the login");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics_after = metrics(client, robot).await;
    assert!(
        refused(&metrics_after, "token") > refused(&metrics_before, "token"),
        "the page without the login was refused as reason=token"
    );
    let moved = |text: &str| reliability::metric_sum(text, "robot_commands_total");
    assert_eq!(moved(&metrics_before), moved(&metrics_after));
    assert!(
        !linus.requests().iter().any(protocol::is_high_write)
            && !torvalds.requests().iter().any(protocol::is_high_write),
        "a robot moved without the login"
    );

    // 2. With the login in the URL: the UI loads and drives both robots by clicks.
    let logged_in = format!("http://me:{TOKEN}@robot.test:{port}/"); // secrets-check: allow (test fixture)
    browser.goto(&logged_in).await;
    assert!(has_ui().await, "the UI with the login");
    scene.drive_both_from_the_ui(&browser).await;

    // 3. The logged-in browser visits the attacker's page in another tab.
    let (before, metrics_before) = scene.start_counting().await;
    let attack = scene.visit_the_attack_page(&browser).await;
    let tried = attack["tried"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (linus_sent, torvalds_sent) = (linus.requests(), torvalds.requests());
    let (after, metrics_after) = scene.snapshot().await;
    assert!(
        linus_sent.is_empty() && torvalds_sent.is_empty(),
        "a web page moved the robots through the browser's login: Linus's daemon got {} \
         commands, Torvalds's {}; attempts {attack}",
        linus_sent.len(),
        torvalds_sent.len()
    );
    assert_eq!(before, after, "the robots' state changed");
    let refused_by =
        |reason: &str| refused(&metrics_after, reason) - refused(&metrics_before, reason);
    let (no_login, no_key, said_cross_site) = (
        refused_by("token"),
        refused_by("not_from_ui"),
        refused_by("cross_site"),
    );
    assert!(
        no_login + no_key + said_cross_site >= tried as f64,
        "{tried} attempts, {} refused",
        no_login + no_key + said_cross_site
    );

    // 4. The login stays with the browser: the UI at its plain address still drives.
    browser.goto(&format!("http://robot.test:{port}/")).await;
    hold_to_drive(&browser, client, robot, "linus", "left").await;
    wait_for_high_write(linus, "Linus's daemon told to drive again").await;
    driver.close_session_blocking();

    Record {
        scenario: "browser-cross-site-token",
        service: "robot-control",
        tried,
        lost: (linus_sent.len() + torvalds_sent.len()) as u64,
        figure: 0.0,
        unit: "robot moves (pigpio commands sent)",
        notes: format!(
            "ROBOT_TOKEN set, headless Chromium: without the login the UI is not served (401) and \
             nothing moves; opened as http://me:TOKEN@robot.test:<port>/ it drives both robots by \
             clicks; then the same logged-in browser opens the attacker's page (the attempts of \
             browser-cross-site): all refused ({no_login} without the login, {no_key} with the \
             browser's login but without the UI key, {said_cross_site} marked cross-site), 0 pigpio \
             commands, state unchanged; the UI still drives"
        ),
    }
    .write();
}
