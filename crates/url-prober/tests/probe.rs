//! One probe through the library API against local targets: each way a URL can fail.

mod common;

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Redirect;
use axum::routing::get;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url_prober::ProberConfig;
use url_prober::config::Target;
use url_prober::probe::{ResultKind, client, probe};

fn target(yaml_entry: &str) -> Target {
    let config = ProberConfig::parse(
        &format!("urls:\n  - {yaml_entry}\nrequest_timeout_in_seconds: 0.5\nquery_interval_in_seconds: 1\n"),
        "test",
    )
    .expect("valid config");
    config.targets[0].clone()
}

#[tokio::test]
async fn a_healthy_target_is_up_with_a_plausible_latency() {
    let addr = common::http_target().await;
    let outcome = probe(&client().unwrap(), &target(&format!("http://{addr}/"))).await;
    assert_eq!(outcome.result, ResultKind::Up, "{outcome:?}");
    assert_eq!(outcome.status, Some(200));
    assert!(outcome.elapsed < Duration::from_millis(400), "{outcome:?}");
    assert!(outcome.elapsed > Duration::ZERO);
    assert_eq!(outcome.error, None);
}

#[tokio::test]
async fn a_target_that_never_answers_times_out_in_time() {
    let (addr, accepted) = common::hanging_target().await;
    let started = Instant::now();
    let outcome = probe(&client().unwrap(), &target(&format!("http://{addr}/"))).await;
    let took = started.elapsed();
    assert_eq!(outcome.result, ResultKind::Timeout, "{outcome:?}");
    assert!(!outcome.up());
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(
        took < Duration::from_millis(800),
        "bounded by the timeout: {took:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    assert!(outcome.error.unwrap().contains("0.5s"));
}

#[tokio::test]
async fn a_500_a_closed_port_and_a_redirect_loop_are_down() {
    let addr = common::http_target().await;
    let client = client().unwrap();
    let failing = probe(&client, &target(&format!("http://{addr}/fail"))).await;
    assert_eq!(failing.result, ResultKind::UnexpectedStatus);
    assert_eq!(failing.status, Some(500));

    let port = common::closed_port();
    let closed = probe(&client, &target(&format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(closed.result, ResultKind::ConnectError, "{closed:?}");
    assert_eq!(closed.status, None);
    assert!(closed.error.unwrap().contains("onnection refused"));

    let looping = probe(&client, &target(&format!("http://{addr}/loop"))).await;
    assert_eq!(looping.result, ResultKind::Error, "{looping:?}");
}

#[tokio::test]
async fn expected_status_overrides_and_head_are_honoured() {
    let addr = common::http_target().await;
    let client = client().unwrap();
    let created_only_200 = target(&format!(
        "{{url: 'http://{addr}/created', expected_status: [200]}}"
    ));
    assert_eq!(
        probe(&client, &created_only_200).await.result,
        ResultKind::UnexpectedStatus
    );
    let failing_expected = target(&format!(
        "{{url: 'http://{addr}/fail', expected_status: 5xx, method: HEAD}}"
    ));
    let outcome = probe(&client, &failing_expected).await;
    assert_eq!(outcome.result, ResultKind::Up, "{outcome:?}");
    assert_eq!(outcome.status, Some(500));
}

#[tokio::test]
async fn an_endless_body_is_not_up_and_is_read_only_up_to_the_cap() {
    let addr = common::http_target().await;
    let outcome = probe(
        &client().unwrap(),
        &target(&format!("http://{addr}/endless")),
    )
    .await;
    // A 200 whose body never ends is not a complete answer: down, and promptly (not at the timeout).
    assert_eq!(outcome.result, ResultKind::Error, "{outcome:?}");
    assert_eq!(outcome.status, Some(200));
    assert!(outcome.error.unwrap().contains("longer than 16 MiB"));
}

/// Records the headers of every request it gets at `/land`; `/away` redirects to `elsewhere`'s
/// `/land`, `/here` to its own.
async fn redirecting_target(
    elsewhere: Option<std::net::SocketAddr>,
) -> (std::net::SocketAddr, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let landed = seen.clone();
    let router = Router::new()
        .route(
            "/land",
            get(move |headers: HeaderMap| async move {
                landed.lock().expect("lock").push(headers);
                "landed\n"
            }),
        )
        .route("/here", get(|| async { Redirect::temporary("/land") }))
        .route(
            "/away",
            get(move || async move {
                match elsewhere {
                    Some(addr) => Redirect::temporary(&format!("http://{addr}/land")),
                    None => Redirect::temporary("/land"),
                }
            }),
        );
    (testkit::spawn_router(router).await, seen)
}

#[tokio::test]
async fn configured_headers_and_credentials_stay_with_the_configured_origin_on_redirects() {
    let (other, other_saw) = redirecting_target(None).await;
    let (origin, origin_saw) = redirecting_target(Some(other)).await;
    let client = client().unwrap();
    let with_credentials = |path: &str| {
        target(&format!(
            "{{url: 'http://user:pw-hunter2@{origin}{path}?token=qv-s3cr3t', headers: {{X-Api-Key: hv-k3y}}}}" // secrets-check: allow (test fixture)
        ))
    };

    let same_origin = probe(&client, &with_credentials("/here")).await;
    assert_eq!(same_origin.result, ResultKind::Up, "{same_origin:?}");
    let landed = origin_saw
        .lock()
        .unwrap()
        .pop()
        .expect("landed on the origin");
    assert_eq!(landed["x-api-key"], "hv-k3y", "kept on the same origin");
    assert!(
        landed.contains_key("authorization"),
        "kept on the same origin"
    );

    let cross_origin = probe(&client, &with_credentials("/away")).await;
    assert_eq!(cross_origin.result, ResultKind::Up, "{cross_origin:?}");
    let landed = other_saw
        .lock()
        .unwrap()
        .pop()
        .expect("landed on the other server");
    assert!(
        !landed.contains_key("x-api-key"),
        "a configured header followed the redirect to another origin: {landed:?}"
    );
    assert!(
        !landed.contains_key("authorization"),
        "the URL's credentials followed the redirect to another origin: {landed:?}"
    );
    let leaked: Vec<_> = landed
        .values()
        .filter(|v| v.to_str().is_ok_and(|v| v.contains("qv-s3cr3t")))
        .collect();
    assert!(
        leaked.is_empty(),
        "the query went along (Referer?): {leaked:?}"
    );
}

#[tokio::test]
async fn error_messages_do_not_show_the_url() {
    let addr = common::http_target().await;
    let client = client().unwrap();
    let closed = common::closed_port();
    for url in [
        format!("http://user:pw-hunter2@127.0.0.1:{closed}/?token=qv-s3cr3t"), // secrets-check: allow (test fixture)
        format!("http://user:pw-hunter2@{addr}/loop?token=qv-s3cr3t"), // secrets-check: allow (test fixture)
        "http://user:pw-hunter2@no-such-host.invalid/?token=qv-s3cr3t".to_owned(), // secrets-check: allow (test fixture)
    ] {
        let outcome = probe(&client, &target(&format!("'{url}'"))).await;
        let error = outcome.error.expect("not up");
        for secret in ["pw-hunter2", "qv-s3cr3t", "user"] {
            assert!(!error.contains(secret), "{url}: {error}");
        }
    }
}
