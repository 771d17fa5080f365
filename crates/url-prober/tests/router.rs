//! `router()` driven in-process with `oneshot`: the handlers' contract without a socket.

use std::time::{Duration, SystemTime};
use url_prober::probe::{Outcome, ResultKind};
use url_prober::{AppState, ProberConfig, Registry, router};

async fn get(app: &axum::Router, path: &str) -> (u16, serde_json::Value) {
    let reply = testkit::oneshot_get(app, path).await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn queryurl_reports_pending_then_results_and_readyz_follows_the_first_round() {
    let registry = Registry::new();
    let config = ProberConfig::parse("urls: [http://a.test/, http://b.test/]", "test").unwrap();
    registry.set_targets(&config.targets);
    let app = router(AppState::new(registry.clone()));

    let (status, health) = get(&app, "/healthcheck").await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, _) = get(&app, "/readyz").await;
    assert_eq!(status, 503, "not ready before the first round");
    let (status, reports) = get(&app, "/queryurl").await;
    assert_eq!(status, 200);
    assert_eq!(reports[0]["result"], "pending");
    assert_eq!(reports[0]["up"], false);
    assert!(reports[0]["checked_at"].is_null());

    registry.record(
        "http://a.test/",
        Outcome {
            result: ResultKind::Up,
            status: Some(204),
            elapsed: Duration::from_millis(12),
            checked_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            error: None,
        },
    );
    registry.record(
        "http://b.test/",
        Outcome {
            result: ResultKind::Timeout,
            status: None,
            elapsed: Duration::from_millis(2000),
            checked_at: SystemTime::UNIX_EPOCH,
            error: Some("no complete response within 2s".to_owned()),
        },
    );
    let (status, _) = get(&app, "/readyz").await;
    assert_eq!(status, 200);
    let (_, reports) = get(&app, "/queryurl").await;
    assert_eq!(
        reports[0],
        serde_json::json!({
            "url": "http://a.test/", "result": "up", "up": true, "status_code": 204,
            "response_ms": 12.0, "checked_at": "2023-11-14T22:13:20.000Z", "error": null
        })
    );
    assert_eq!(reports[1]["up"], false);
    assert_eq!(reports[1]["result"], "timeout");
    assert_eq!(reports[1]["error"], "no complete response within 2s");
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = router(AppState::default());
    assert_eq!(get(&app, "/nope").await.0, 404);
}
