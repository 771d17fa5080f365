//! The control page at `/`: one self-contained HTML file compiled into the binary, so the UI needs
//! no static-file directory and no network beyond this service (no CDN). It carries the UI key
//! (see [`crate::access`]) in a `<meta>` tag, which only a page of this origin can read.

use crate::access::UiKey;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("../../assets/index.html");
const KEY_PLACEHOLDER: &str = "{{ROBOT_UI_KEY}}";

/// The page with `key` in place (done once per process).
pub fn render(key: &UiKey) -> String {
    PAGE.replace(KEY_PLACEHOLDER, key.as_str())
}

/// Inline script and style only; talk only to this origin; never inside a frame (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn page(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            // It carries the UI key: never stored by a cache, never sent on in a Referer.
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        state.page().clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_key_once() {
        assert_eq!(PAGE.matches(KEY_PLACEHOLDER).count(), 1);
        let key = UiKey::random();
        let page = render(&key);
        assert!(page.contains(&format!(r#"content="{}""#, key.as_str())));
        assert!(!page.contains(KEY_PLACEHOLDER));
    }
}
