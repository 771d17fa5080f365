//! Attribute values of HTTP client spans (made with `tracing` by the services), as the
//! OpenTelemetry HTTP semantic conventions define them, so every client reports them alike.
//! The span declares the fields (`{ semconv::attribute::NETWORK_PEER_ADDRESS } = Empty`, ...).

use opentelemetry_semantic_conventions::attribute as semconv;

/// `server.address` of a URL: its host, an IPv6 address without brackets.
pub fn server_address(url: &reqwest::Url) -> &str {
    let host = url.host_str().unwrap_or_default();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Records `http.response.status_code`, `network.protocol.version` and `network.peer.*` of a
/// response on `span` (fields the span does not declare are ignored). Integers go in as `i64`:
/// tracing-opentelemetry records other integer types as strings.
pub fn record_response(span: &tracing::Span, response: &reqwest::Response) {
    span.record(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(response.status().as_u16()),
    );
    let version = match response.version() {
        reqwest::Version::HTTP_09 => "0.9",
        reqwest::Version::HTTP_10 => "1.0",
        reqwest::Version::HTTP_11 => "1.1",
        reqwest::Version::HTTP_2 => "2",
        reqwest::Version::HTTP_3 => "3",
        _ => "other",
    };
    span.record(semconv::NETWORK_PROTOCOL_VERSION, version);
    if let Some(peer) = response.remote_addr() {
        span.record(semconv::NETWORK_PEER_ADDRESS, peer.ip().to_string());
        span.record(semconv::NETWORK_PEER_PORT, i64::from(peer.port()));
    }
}
