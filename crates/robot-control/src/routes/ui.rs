//! The control page at `/`: one self-contained HTML file compiled into the binary, so the UI needs
//! no static-file directory and no network beyond this service (no CDN).

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("../../assets/index.html");

/// Inline script and style only; talk only to this origin; never inside a frame (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
     style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
