//! `router()` driven in-process with `oneshot`: the handler's contract without a socket.

use testkit::oneshot_get;
use web_flask_equivalent::{AppState, router, routes};

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

/// The HTTP layer changes no answer: `routes()` (the app without it, what `just bench` serves to
/// show the layer's own cost) answers every path as `router()` does.
#[tokio::test]
async fn the_layer_changes_no_answer() {
    let with_layer = router(AppState::default());
    let without_layer = routes(AppState::default());
    for path in ["/", "/", "/healthz", "/nope"] {
        let expected = oneshot_get(&with_layer, path).await;
        let got = oneshot_get(&without_layer, path).await;
        assert_eq!(got.status, expected.status, "{path}");
        assert_eq!(got.content_type, expected.content_type, "{path}");
        assert_eq!(got.text(), expected.text(), "{path}");
    }
}
