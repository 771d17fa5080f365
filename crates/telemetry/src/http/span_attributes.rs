//! The HTTP server span's attributes beyond what sampling needs, as the OpenTelemetry HTTP
//! semantic conventions (the version of `opentelemetry-semantic-conventions`) define them.
//!
//! Built only for spans that are recorded, with values redacted and cut to the attribute length
//! limit before they are copied (see `redact`).

use crate::trace::client_span::{protocol_version, server_address};
use crate::trace::redact::{limited, redact_query};
use axum::extract::ConnectInfo;
use http::header::HeaderName;
use http::uri::Authority;
use http::{HeaderMap, Request};
use opentelemetry::trace::Span;
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute as semconv;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Header names as constants: a `&str` name is parsed again on every lookup.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// `url.path`, `url.query`, `network.*`, `server.*`, `client.address`, `user_agent.original`,
/// and `http.request.method_original` for methods reported as `_OTHER`.
/// `template` is the matched route's: a path equal to it (a route without parameters) is kept as
/// that `&'static str` rather than copied.
pub(crate) fn add_request_attributes<B>(
    span: &mut impl Span,
    request: &Request<B>,
    method: &'static str,
    template: Option<&'static str>,
) {
    let uri = request.uri();
    let headers = request.headers();
    let path = limited(uri.path());
    span.set_attribute(KeyValue::new(
        semconv::URL_PATH,
        match template {
            Some(template) if template == path => StringValue::from(template),
            _ => StringValue::from(path.to_owned()),
        },
    ));
    if let Some(query) = uri.query() {
        span.set_attribute(KeyValue::new(
            semconv::URL_QUERY,
            limited(&redact_query(query)).to_owned(),
        ));
    }
    if method == "_OTHER" {
        span.set_attribute(KeyValue::new(
            semconv::HTTP_REQUEST_METHOD_ORIGINAL,
            limited(request.method().as_str()).to_owned(),
        ));
    }
    span.set_attribute(KeyValue::new(
        semconv::NETWORK_PROTOCOL_VERSION,
        protocol_version(request.version()),
    ));
    if let Some(authority) = server_authority(headers, uri) {
        span.set_attribute(KeyValue::new(
            semconv::SERVER_ADDRESS,
            limited(server_address(&authority)).to_owned(),
        ));
        if let Some(port) = authority.port_u16() {
            span.set_attribute(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    let peer_ip: Option<Arc<str>> = peer.map(|addr| ip_string(addr.ip()));
    match forwarded_for(headers) {
        Some(client) => {
            span.set_attribute(KeyValue::new(semconv::CLIENT_ADDRESS, client.to_string()))
        }
        None => {
            if let Some(ip) = &peer_ip {
                span.set_attribute(KeyValue::new(
                    semconv::CLIENT_ADDRESS,
                    StringValue::from(ip.clone()),
                ));
            }
        }
    }
    if let (Some(addr), Some(ip)) = (peer, peer_ip) {
        span.set_attribute(KeyValue::new(
            semconv::NETWORK_PEER_ADDRESS,
            StringValue::from(ip),
        ));
        span.set_attribute(KeyValue::new(
            semconv::NETWORK_PEER_PORT,
            i64::from(addr.port()),
        ));
    }
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.set_attribute(KeyValue::new(
            semconv::USER_AGENT_ORIGINAL,
            limited(agent).to_owned(),
        ));
    }
}

/// The authority the client addressed: `X-Forwarded-Host` (set by a reverse proxy), else the
/// request target's authority (HTTP/2 `:authority`, absolute-form), else `Host`; the first of them
/// that is a valid authority.
fn server_authority(headers: &HeaderMap, uri: &http::Uri) -> Option<Authority> {
    let header = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| Authority::try_from(v.trim()).ok())
    };
    header(X_FORWARDED_HOST)
        .or_else(|| uri.authority().cloned())
        .or_else(|| header(http::header::HOST))
}

/// The original client behind proxies: the first `X-Forwarded-For` entry, when it is an address.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    headers
        .get(X_FORWARDED_FOR)?
        .to_str()
        .ok()?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// An address as text. IPv4 is written digit by digit: `Ipv4Addr`'s `Display` goes through the
/// formatter's padding machinery and cost more than all the other attributes together.
fn ip_string(ip: IpAddr) -> Arc<str> {
    let IpAddr::V4(v4) = ip else {
        return Arc::from(ip.to_string());
    };
    let mut text = [0u8; 15];
    let mut len = 0;
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text[len] = b'.';
            len += 1;
        }
        for (divisor, always) in [(100, false), (10, false), (1, true)] {
            if always || octet >= divisor {
                text[len] = b'0' + octet / divisor % 10;
                len += 1;
            }
        }
    }
    match std::str::from_utf8(&text[..len]) {
        Ok(text) => Arc::from(text),
        Err(_) => Arc::from(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.100.255",
            "192.168.9.99",
            "::1",
            "::ffff:10.0.0.1",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(&*ip_string(ip), ip.to_string());
        }
    }

    #[test]
    fn the_authority_comes_from_the_proxy_then_the_target_then_host() {
        let authority = |headers: &[(&'static str, &str)], uri: &str| {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(*name, value.parse().unwrap());
            }
            let authority = server_authority(&map, &uri.parse().unwrap())?;
            Some((server_address(&authority).to_owned(), authority.port_u16()))
        };
        let found = |host: &str, port| Some((host.to_owned(), port));
        assert_eq!(
            authority(&[("host", "example.com:8080")], "/"),
            found("example.com", Some(8080))
        );
        assert_eq!(authority(&[("host", "[::1]")], "/"), found("::1", None));
        assert_eq!(
            authority(&[("host", "host:notaport")], "/"),
            found("host", None),
            "a port that is not a number is left out"
        );
        assert_eq!(
            authority(
                &[("host", "b:2"), ("x-forwarded-host", "a.example:1, proxy")],
                "/"
            ),
            found("a.example", Some(1))
        );
        assert_eq!(
            authority(&[("host", "b:2")], "http://[::1]:5000/x"),
            found("::1", Some(5000))
        );
        assert_eq!(
            authority(&[("host", "a b"), ("x-forwarded-host", "")], "/"),
            None
        );
    }
}
