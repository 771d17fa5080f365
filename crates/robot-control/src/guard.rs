//! Cross-site request protection for every route that changes a robot.
//!
//! A robot that moves is worth protecting from a random web page the operator visits: without
//! this, `<img src="http://robot:6543/forward">` on any site would drive it (CSRF).
//!
//! The choice, cheap and without tokens or cookies:
//! - The JSON API only accepts `Content-Type: application/json`. A browser cannot send that
//!   cross-origin without a CORS preflight, and this service answers no preflight, so other sites
//!   cannot call it; scripts (curl, Python) are unaffected.
//! - The seed's GET routes (and the form-accepting `/servoarm`, `/motorpwm`) must stay plain
//!   requests so the seed's page works unchanged. They refuse requests that a browser marks as
//!   cross-site: `Sec-Fetch-Site: cross-site`, or an `Origin` header whose host:port differs from the
//!   request's `Host`. Requests without those headers (old browsers, curl, the seed's page) pass.
//!   A reverse proxy in front must keep the `Host` header (`proxy_set_header Host $host`).
//!
//! The UI page is additionally sent with `frame-ancestors 'none'`, so it cannot be clickjacked.

use crate::error::Error;
use axum::extract::Request;
use axum::http::header::{HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware for the state-changing routes (`route_layer(middleware::from_fn(same_origin_only))`).
pub async fn same_origin_only(request: Request, next: Next) -> Result<Response, Error> {
    check(&request)?;
    Ok(next.run(request).await)
}

fn check(request: &Request) -> Result<(), Error> {
    let headers = request.headers();
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site.is_some_and(|v| v.eq_ignore_ascii_case(b"cross-site")) {
        return Err(Error::CrossSite(
            "the browser marked it cross-site (Sec-Fetch-Site)",
        ));
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
    let origin = origin.to_str().ok().and_then(split_origin);
    match (origin, host) {
        (Some((scheme, authority)), Some(host)) if same_authority(scheme, &authority, &host) => {
            Ok(())
        }
        _ => Err(Error::CrossSite("its Origin does not match the Host")),
    }
}

/// `http://host:port` → (`http`, `host:port`); `null` and malformed origins give `None`.
fn split_origin(origin: &str) -> Option<(&str, String)> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    let authority = rest.trim_end_matches('/');
    (!authority.is_empty() && !authority.contains('/'))
        .then(|| (scheme, authority.to_ascii_lowercase()))
}

/// Compares authorities, treating an omitted default port as equal to the explicit one.
fn same_authority(scheme: &str, origin: &str, host: &str) -> bool {
    let default_port = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    let normalize = |a: &str| {
        let a = a.to_ascii_lowercase();
        a.strip_suffix(default_port).map(str::to_owned).unwrap_or(a)
    };
    normalize(origin) == normalize(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().uri("/forward");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn same_origin_and_headerless_requests_pass() {
        assert!(check(&request(&[("host", "robot:6543")])).is_ok());
        assert!(
            check(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://robot:6543")
            ]))
            .is_ok()
        );
        assert!(
            check(&request(&[
                ("host", "robot"),
                ("origin", "http://robot:80")
            ]))
            .is_ok()
        );
        assert!(
            check(&request(&[
                ("host", "robot:6543"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(
            check(&request(&[
                ("host", "robot:6543"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
        assert!(
            check(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://evil.example")
            ]))
            .is_err()
        );
        assert!(check(&request(&[("host", "robot:6543"), ("origin", "null")])).is_err());
        assert!(
            check(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://robot:6544")
            ]))
            .is_err()
        );
    }
}
