//! `router()` driven in-process with `oneshot`: the live summary and the ops routes.

use axum::body::Body;
use http_body_util::BodyExt;
use std::time::Duration;
use tower::ServiceExt;

#[tokio::test]
async fn summary_reports_what_was_recorded_so_far() {
    let state = loadgen::AppState::default();
    state.stats.record(
        "redis-counter",
        "GET redis-counter /",
        "503",
        Duration::from_millis(5),
    );
    let app = loadgen::router(state);
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get("/summary")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let summary: loadgen::Summary = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary.requests, 1);
    assert_eq!(summary.errors_by_status["503"], 1);
    let health = app
        .oneshot(
            axum::http::Request::get("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
