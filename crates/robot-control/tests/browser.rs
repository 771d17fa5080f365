//! The UI in a real headless Chromium, driven over WebDriver (`testkit::webdriver`): holding
//! Blink lights the eye only while pressed, holding a D-pad button drives until release, a click
//! moves the robot, servo and speed buttons work, and the page shows the live state.
//!
//! The page is opened as `http://robot.test:PORT` (Chromium resolves `robot.test` to 127.0.0.1):
//! a plain-http, non-trustworthy origin like a robot's LAN name, where browsers send no
//! `Sec-Fetch-*` headers, so the UI works through its UI key alone.
//!
//! Leaves screenshots in `target/artifacts/` (`robot-ui.png`, `robot-ui-phone.png` at 390x844,
//! `robot-ui-desktop.png`); with `UPDATE_SCREENSHOTS=1` the phone one is also written to
//! `docs/images/robot-ui-phone.png`, the picture in the README.

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use testkit::webdriver::{Browser, BrowserOptions, ChromeDriver};
use testkit::{ServiceProcess, eventually};

/// The phone the README picture shows (CSS pixels; an iPhone 12-15's viewport).
const PHONE: (u32, u32) = (390, 844);

/// `target/artifacts`, created.
fn artifacts_dir() -> PathBuf {
    let dir = testkit::target_dir().join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The UI on a phone (at twice its CSS pixels, as a phone shows it); also the README's picture
/// when `UPDATE_SCREENSHOTS=1`.
async fn phone_screenshot(browser: &Browser<'_>, dir: &Path) {
    browser.emulate_phone(PHONE.0, PHONE.1, 2).await;
    let phone = dir.join("robot-ui-phone.png");
    browser.screenshot(&phone).await;
    if std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let committed =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/images/robot-ui-phone.png");
        std::fs::create_dir_all(committed.parent().unwrap()).unwrap();
        std::fs::copy(&phone, &committed).unwrap();
        eprintln!("updated {}", committed.display());
    }
    browser
        .post(
            "/goog/cdp/execute",
            serde_json::json!({"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}}),
        )
        .await;
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
    let started = Instant::now();
    let binary = Path::new(env!("CARGO_BIN_EXE_robot-control"));
    let service = ServiceProcess::start(
        binary,
        &[
            ("ROBOT_DRIVER", "sim"),
            ("DEADMAN_TIMEOUT", "5s"),
            ("ALLOWED_HOSTS", "robot.test"),
        ],
    )
    .await;
    let driver = ChromeDriver::start();
    let options = BrowserOptions {
        host_resolver_rules: Some("MAP robot.test 127.0.0.1".to_owned()),
        ..BrowserOptions::default()
    };
    let browser = Browser::start(&driver, &options).await;
    browser
        .goto(&format!("http://robot.test:{}/", service.addr().port()))
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
    phone_screenshot(&browser, &dir).await;
    browser.resize(1280, 900).await;
    browser.screenshot(&dir.join("robot-ui-desktop.png")).await;

    driver.close_session_blocking();
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "bounded: {:?}",
        started.elapsed()
    );
}
