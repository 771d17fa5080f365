//! One probe through the library API against local targets: each way a URL can fail.

mod common;

use std::sync::atomic::Ordering;
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
