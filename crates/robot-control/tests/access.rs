//! The access policy through the whole router (issue 13): the Host allowlist on every route,
//! the UI key on every route that changes a robot (the seed's GETs included), and `ROBOT_TOKEN`
//! for the UI page and every command. Each refusal leaves every pin as it was.
//! (The same in a real browser: crates/reliability/tests/browser_attacks.rs.)

// Test helpers: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use axum::Router;
use axum::body::Body;
use base64::Engine;
use common::*;
use robot_control::access::{Access, AllowedHosts, HostName};
use robot_control::driver::SimDriver;
use robot_control::routes::seed::SEED_ROUTES;
use std::sync::Arc;
use std::time::Duration;

const DEADMAN: Duration = Duration::from_secs(30);

/// The app under `access`, and the UI key its page carries.
fn app_with(access: Access) -> (Router, String, Arc<SimDriver>, Arc<SimDriver>) {
    let key = access.ui_key().as_str().to_owned();
    let linus = Arc::new(SimDriver::new());
    let torvalds = Arc::new(SimDriver::new());
    let state = robot_control::AppState::with_drivers(linus.clone(), torvalds.clone(), DEADMAN)
        .with_access(access);
    (robot_control::router(state), key, linus, torvalds)
}

/// No `ROBOT_TOKEN`, `robot.test` allowed: the default for a home network.
fn open_app() -> (Router, String, Arc<SimDriver>, Arc<SimDriver>) {
    app_with(Access::new(
        AllowedHosts::new(&[HostName::parse("robot.test").unwrap()], None),
        None,
    ))
}

fn request(method: &str, path: &str, headers: &[(&str, String)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let body = if method == "POST" {
        Body::from("{}")
    } else {
        Body::empty()
    };
    builder.body(body).unwrap()
}

fn host(value: &str) -> (&'static str, String) {
    ("host", value.to_owned())
}

/// HTTP Basic credentials with `token` (what a browser sends after its login prompt).
fn basic(token: &str) -> (&'static str, String) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("owner:{token}"));
    ("authorization", format!("Basic {encoded}"))
}

fn nothing_moved(linus: &SimDriver, torvalds: &SimDriver) -> bool {
    linus.pins().is_empty() && torvalds.pins().is_empty()
}

#[tokio::test]
async fn every_route_refuses_a_foreign_host_name() {
    let (app, key, linus, torvalds) = open_app();
    let mut paths: Vec<&str> = SEED_ROUTES.iter().map(|(path, _, _)| *path).collect();
    paths.extend([
        "/",
        "/status",
        "/api/robots",
        "/metrics",
        "/healthz",
        "/readyz",
        "/nowhere",
    ]);
    for path in paths {
        // A DNS-rebinding page: same-origin for the browser, so it may even send the key.
        let rebound = request(
            "GET",
            path,
            &[host("evil.test:6543"), ("x-robot-key", key.clone())],
        );
        let (status, body) = send(&app, rebound).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("ALLOWED_HOSTS"),
            "{path}: {body}"
        );
        assert!(!body.to_string().contains(&key), "{path} leaked the key");
    }
    let json_post = Request::post("/api/robots/linus/drive")
        .header("host", "evil.test:6543")
        .header("content-type", "application/json")
        .header("x-robot-key", &key)
        .body(Body::from(r#"{"direction":"forward"}"#))
        .unwrap();
    assert_eq!(send(&app, json_post).await.0, StatusCode::FORBIDDEN);
    assert!(nothing_moved(&linus, &torvalds));

    // Its own names, IP addresses and localhost are served.
    for name in [
        "robot.test:6543",
        "ROBOT.TEST.",
        "127.0.0.1:6543",
        "[::1]:6543",
        "192.168.1.50",
        "localhost:6543",
    ] {
        let (status, _) = send(&app, request("GET", "/status", &[host(name)])).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
}

#[tokio::test]
async fn without_a_token_only_the_ui_key_moves_the_robots() {
    let (app, key, linus, torvalds) = open_app();
    // The page carries the key that works.
    let (status, page) = send(&app, request("GET", "/", &[host(TEST_HOST)])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.as_str()
            .unwrap()
            .contains(&format!(r#"content="{key}""#)),
        "the UI page carries the UI key"
    );

    // What another page can make a browser send: plain GETs and form POSTs, no custom header.
    for (path, _, _) in SEED_ROUTES {
        let (status, body) = send(&app, request("GET", path, &[host(TEST_HOST)])).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body["error"].as_str().unwrap().contains("UI"), "{body}");
    }
    let form = Request::post("/servoarm")
        .header("host", TEST_HOST)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("degree=45"))
        .unwrap();
    assert_eq!(send(&app, form).await.0, StatusCode::FORBIDDEN);
    let wrong_key = request(
        "GET",
        "/forward",
        &[host(TEST_HOST), ("x-robot-key", "0".repeat(64))],
    );
    assert_eq!(send(&app, wrong_key).await.0, StatusCode::FORBIDDEN);
    let stale_bearer = request(
        "GET",
        "/forward",
        &[
            host(TEST_HOST),
            ("authorization", format!("Bearer {TEST_TOKEN}")),
        ],
    );
    assert_eq!(
        send(&app, stale_bearer).await.0,
        StatusCode::FORBIDDEN,
        "no token is configured: a bearer token means nothing"
    );
    assert!(nothing_moved(&linus, &torvalds));

    // The UI's own requests: the key in X-Robot-Key.
    let with_key = |method: &str, path: &str| {
        request(
            method,
            path,
            &[host(TEST_HOST), ("x-robot-key", key.clone())],
        )
    };
    let (status, body) = send(&app, with_key("GET", "/forward")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(level(&linus, 13), Some(true));
    let drive = Request::post("/api/robots/torvalds/drive")
        .header("host", TEST_HOST)
        .header("content-type", "application/json")
        .header("x-robot-key", &key)
        .body(Body::from(r#"{"direction":"left"}"#))
        .unwrap();
    assert_eq!(send(&app, drive).await.0, StatusCode::OK);
    assert_eq!(level(&torvalds, 8), Some(true));

    // A browser that says "cross-site" is refused even with the key.
    let cross = request(
        "GET",
        "/stop",
        &[
            host(TEST_HOST),
            ("x-robot-key", key.clone()),
            ("sec-fetch-site", "cross-site".to_owned()),
        ],
    );
    let (status, body) = send(&app, cross).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"].as_str().unwrap().contains("cross-site"),
        "{body}"
    );
    let foreign_origin = request(
        "GET",
        "/stop",
        &[
            host(TEST_HOST),
            ("x-robot-key", key.clone()),
            ("origin", "http://evil.test:8000".to_owned()),
        ],
    );
    assert_eq!(send(&app, foreign_origin).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        level(&linus, 13),
        Some(true),
        "still driving: the stops were refused"
    );

    // Reads need nothing.
    assert_eq!(
        send(&app, request("GET", "/status", &[host(TEST_HOST)]))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn with_a_token_the_page_and_every_command_need_it() {
    let (app, key, linus, torvalds) = sim_app_with_key();
    // No credentials: 401 with a Basic challenge (the browser's login prompt), never the token.
    for path in ["/", "/forward", "/linuson", "/servomax"] {
        let response =
            tower::ServiceExt::oneshot(app.clone(), request("GET", path, &[host(TEST_HOST)]))
                .await
                .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm="),
            "{path}"
        );
        let (_, body) = send(&app, request("GET", path, &[host(TEST_HOST)])).await;
        assert!(!body.to_string().contains(TEST_TOKEN), "{path}: {body}");
    }
    let wrong = request(
        "GET",
        "/",
        &[host(TEST_HOST), basic("not-the-token-at-all")],
    );
    assert_eq!(send(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    let json_post = Request::post("/api/robots/linus/eye")
        .header("host", TEST_HOST)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"on":true}"#))
        .unwrap();
    assert_eq!(send(&app, json_post).await.0, StatusCode::UNAUTHORIZED);
    // The state stays readable, like /metrics which publishes the same values: probes and
    // Prometheus need no secret.
    for path in [
        "/healthz",
        "/readyz",
        "/status",
        "/api/robots",
        "/api/robots/linus",
    ] {
        let (status, _) = send(&app, request("GET", path, &[host(TEST_HOST)])).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // (No metrics recorder in this process: 503, but not 401.)
    let (status, _) = send(&app, request("GET", "/metrics", &[host(TEST_HOST)])).await;
    assert_ne!(status, StatusCode::UNAUTHORIZED);

    // After the login prompt the browser sends Basic: it loads the page, and with the page's key
    // drives...
    let (status, page) = send(
        &app,
        request("GET", "/", &[host(TEST_HOST), basic(TEST_TOKEN)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.as_str().unwrap().contains(&key));
    // ...but Basic alone never moves a robot: the browser attaches it to other pages' requests too.
    let ambient = request("GET", "/forward", &[host(TEST_HOST), basic(TEST_TOKEN)]);
    assert_eq!(send(&app, ambient).await.0, StatusCode::FORBIDDEN);
    assert!(nothing_moved(&linus, &torvalds));
    let ui = request(
        "GET",
        "/forward",
        &[
            host(TEST_HOST),
            basic(TEST_TOKEN),
            ("x-robot-key", key.clone()),
        ],
    );
    assert_eq!(send(&app, ui).await.0, StatusCode::OK);
    assert_eq!(level(&linus, 13), Some(true));
    // The key without the token is not enough.
    let key_only = request("GET", "/stop", &[host(TEST_HOST), ("x-robot-key", key)]);
    assert_eq!(send(&app, key_only).await.0, StatusCode::UNAUTHORIZED);

    // curl with the token: `-H "Authorization: Bearer $ROBOT_TOKEN"`.
    let (status, body) = get(&app, "/north").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(level(&torvalds, 7), Some(true));
}

/// [`sim_app`]'s policy (token required), with its key.
fn sim_app_with_key() -> (Router, String, Arc<SimDriver>, Arc<SimDriver>) {
    app_with(test_access())
}
