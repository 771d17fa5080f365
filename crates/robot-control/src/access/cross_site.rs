//! What a browser itself says about where a request comes from: `Sec-Fetch-Site` and `Origin`.
//!
//! Defence in depth only. Browsers send `Sec-Fetch-*` only to potentially trustworthy origins
//! (https, localhost, 127.0.0.1) and `Origin` not at all on an `<img>` GET, so over plain http on
//! a LAN address a cross-site request usually carries neither; what actually stops it is the UI
//! key or the bearer token ([`super::Access::check_mover`]). When a browser does say "cross-site",
//! or names an origin that is not this service, the request is refused before anything else.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

/// `Err(reason)` when the browser marked the request as coming from another site.
pub(super) fn check(headers: &HeaderMap, authority: Option<&str>) -> Result<(), &'static str> {
    let fetch_site = headers.get("sec-fetch-site").map(|v| v.as_bytes());
    if fetch_site.is_some_and(|v| v.eq_ignore_ascii_case(b"cross-site")) {
        return Err("the browser marked it cross-site (Sec-Fetch-Site)");
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .or(authority);
    let origin = origin.to_str().ok().and_then(split_origin);
    match (origin, host) {
        (Some((scheme, authority)), Some(host)) if same_authority(scheme, &authority, host) => {
            Ok(())
        }
        _ => Err("its Origin does not match the Host"),
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

    fn check_headers(headers: &HeaderMap) -> Result<(), &'static str> {
        check(headers, None)
    }

    fn request(headers: &[(&'static str, &'static str)]) -> HeaderMap {
        headers
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    axum::http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn same_origin_and_headerless_requests_pass() {
        assert!(check_headers(&request(&[("host", "robot:6543")])).is_ok());
        assert!(
            check_headers(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://robot:6543")
            ]))
            .is_ok()
        );
        assert!(
            check_headers(&request(&[
                ("host", "robot"),
                ("origin", "http://robot:80")
            ]))
            .is_ok()
        );
        assert!(
            check_headers(&request(&[
                ("host", "robot:6543"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_ok()
        );
    }

    #[test]
    fn cross_site_requests_are_refused() {
        assert!(
            check_headers(&request(&[
                ("host", "robot:6543"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
        assert!(
            check_headers(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://evil.example")
            ]))
            .is_err()
        );
        assert!(check_headers(&request(&[("host", "robot:6543"), ("origin", "null")])).is_err());
        assert!(
            check_headers(&request(&[
                ("host", "robot:6543"),
                ("origin", "http://robot:6544")
            ]))
            .is_err()
        );
    }
}
