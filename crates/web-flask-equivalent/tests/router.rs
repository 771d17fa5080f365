//! `router()` driven in-process with `oneshot`: the handler's contract without a socket.

use axum::body::Body;
use http_body_util::BodyExt;
use tower::ServiceExt;
use web_flask_equivalent::{AppState, router};

#[tokio::test]
async fn visits_count_up_from_one() {
    let app = router(AppState::default());
    for expected in 1..=3 {
        let response = app
            .clone()
            .oneshot(axum::http::Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("Visit number {expected}\n"));
    }
}

#[tokio::test]
async fn health_is_up_and_unknown_paths_are_404() {
    let app = router(AppState::default());
    let health = app
        .clone()
        .oneshot(
            axum::http::Request::get("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let missing = app
        .oneshot(
            axum::http::Request::get("/nope")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
