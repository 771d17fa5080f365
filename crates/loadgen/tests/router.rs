//! `router()` driven in-process with `oneshot`: the live summary and the ops routes.

use std::time::Duration;
use testkit::oneshot_get;

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
    let reply = oneshot_get(&app, "/summary").await;
    assert_eq!(reply.status, 200);
    let summary: loadgen::Summary = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(summary.requests, 1);
    assert_eq!(summary.errors_by_status["503"], 1);
    assert_eq!(oneshot_get(&app, "/healthz").await.status, 200);
}
