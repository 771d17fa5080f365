//! `router()` driven in-process with `oneshot`: the handler's contract without a socket.

use testkit::oneshot_get;
use web_flask_equivalent::{AppState, router};

#[tokio::test]
async fn visits_count_up_from_one() {
    let app = router(AppState::default());
    for expected in 1..=3 {
        let reply = oneshot_get(&app, "/").await;
        assert_eq!(reply.status, 200);
        assert!(
            reply.content_type.starts_with("text/plain"),
            "{}",
            reply.content_type
        );
        assert_eq!(reply.text(), format!("Visit number {expected}\n"));
    }
}

#[tokio::test]
async fn health_is_up_and_unknown_paths_are_404() {
    let app = router(AppState::default());
    assert_eq!(oneshot_get(&app, "/healthz").await.status, 200);
    assert_eq!(oneshot_get(&app, "/nope").await.status, 404);
}
