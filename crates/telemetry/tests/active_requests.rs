//! `http_server_active_requests` counts the requests a handler is working on, and a request whose
//! client went away (its future dropped mid-handler) leaves the count like one that finished.

mod common;

use axum::Router;
use axum::routing::get;
use std::time::Duration;
use testkit::{eventually, metric_value, spawn_router};

const HELD: &str =
    r#"http_server_active_requests{http_request_method="GET",http_route="/hold/{id}"}"#;
const QUICK: &str = r#"http_server_active_requests{http_request_method="GET",http_route="/quick"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_dropped_by_their_clients_leave_the_gauge() {
    let _guard = telemetry::init(common::config(&[("OTEL_SDK_DISABLED", "true")])).expect("init");
    let app = Router::new()
        // Never answers: only the client leaving ends these requests.
        .route("/hold/{id}", get(std::future::pending::<&'static str>))
        .route("/quick", get(|| async { "done\n" }))
        .merge(telemetry::ops_router(telemetry::always_ready))
        .layer(telemetry::HttpLayer::new());
    let base = format!("http://{}", spawn_router(app).await);
    let client = reqwest::Client::new();
    assert_eq!(
        common::status(client.get(format!("{base}/quick"))).await,
        200
    );

    // Five requests in the handler at once.
    let held: Vec<_> = (0..5)
        .map(|i| {
            let request = client.get(format!("{base}/hold/{i}")).send();
            tokio::spawn(request)
        })
        .collect();
    let text = scrape_until(&base, "5 requests in flight", |text| {
        metric_value(text, HELD) == Some(5.0)
    })
    .await;
    assert_eq!(metric_value(&text, QUICK), Some(0.0), "{text}");

    // The clients give up: their connections close and the server drops the requests.
    for request in &held {
        request.abort();
    }
    let text = scrape_until(&base, "0 in flight once their clients left", |text| {
        metric_value(text, HELD) == Some(0.0)
    })
    .await;
    assert_eq!(metric_value(&text, QUICK), Some(0.0), "{text}");
}

async fn scrape_until(base: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
    let done = &done;
    eventually(what, Duration::from_secs(10), || async move {
        let text = common::scrape(base).await;
        done(&text).then_some(text)
    })
    .await
}
