//! Span attribute hygiene: secrets in URLs are redacted and long values are cut, so a span never
//! carries a signed URL's signature and a 64 KiB URL cannot make one queued span hold megabytes.
//!
//! - Query values whose key is in the OpenTelemetry HTTP semantic conventions' sensitive list
//!   (plus the names in `OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS`) become `REDACTED`;
//!   the key stays, as the conventions ask (`q=x&sig=REDACTED`). Matching is case-sensitive.
//! - `url.full` loses its userinfo (`https://REDACTED:REDACTED@host/`).
//! - String values longer than `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` /
//!   `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` characters are truncated (the SDK has no such limit, so
//!   the span processor applies it to every span, and the HTTP layer never copies more).

use crate::trace::attribute_limit::truncate;
use crate::trace::installed::{AttributePolicy, attribute_policy as policy};
use std::borrow::Cow;

/// Query keys whose values are redacted by default: the semantic conventions' list (1.42:
/// `X-Amz-*`, `sig`, `X-Goog-Signature`) and the older one (`AWSAccessKeyId`, `Signature`).
pub(crate) const SENSITIVE_QUERY_PARAMETERS: [&str; 7] = [
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// What replaces a redacted value.
pub(crate) const REDACTED: &str = "REDACTED";

impl AttributePolicy {
    fn is_sensitive(&self, raw_key: &str) -> bool {
        let matches = |key: &str| {
            SENSITIVE_QUERY_PARAMETERS.contains(&key)
                || self.extra_sensitive.iter().any(|name| name == key)
        };
        if matches(raw_key) {
            return true;
        }
        // A percent-encoded key (`X%2DAmz%2DSignature`) names the same parameter.
        raw_key.contains('%')
            && matches(&percent_encoding::percent_decode_str(raw_key).decode_utf8_lossy())
    }
}

/// The query string with the values of sensitive keys replaced by `REDACTED` (borrowed when
/// nothing needs redacting).
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let policy = policy();
    let sensitive = |pair: &str| {
        pair.split_once('=')
            .is_some_and(|(key, _)| policy.is_sensitive(key))
    };
    if !query.split('&').any(sensitive) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if policy.is_sensitive(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// A URL for `url.full`: userinfo replaced by `REDACTED:REDACTED`, sensitive query values
/// redacted, the rest as given.
pub fn redact_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let rest = match url.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, rest) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str(REDACTED);
                    out.push(':');
                    out.push_str(REDACTED);
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            rest
        }
        None => url,
    };
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (rest, None),
    };
    match before_fragment.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            out.push_str(&redact_query(query));
        }
        None => out.push_str(before_fragment),
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// `value` cut to the configured limit.
pub(crate) fn limited(value: &str) -> &str {
    truncate(value, policy().value_length_limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_query_values_are_redacted_and_keys_kept() {
        assert_eq!(redact_query("q=rust&page=2"), "q=rust&page=2");
        assert!(matches!(redact_query("q=rust"), Cow::Borrowed(_)));
        assert_eq!(
            redact_query("q=1&sig=abc&AWSAccessKeyId=AK&Signature=s&X-Goog-Signature=g"),
            "q=1&sig=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&X-Goog-Signature=REDACTED"
        );
        assert_eq!(
            redact_query("X%2DAmz%2DSignature=x&SIG=kept"),
            "X%2DAmz%2DSignature=REDACTED&SIG=kept",
            "percent-encoded keys match, matching is case-sensitive"
        );
        assert_eq!(redact_query("sig&sig="), "sig&sig=REDACTED");
    }

    #[test]
    fn urls_lose_userinfo_and_sensitive_values() {
        assert_eq!(
            redact_url("https://user:pw@example.com:8443/a?sig=x&b=1#frag"),
            "https://REDACTED:REDACTED@example.com:8443/a?sig=REDACTED&b=1#frag"
        );
        assert_eq!(
            redact_url("http://example.com/?q=1"),
            "http://example.com/?q=1"
        );
        assert_eq!(
            redact_url("http://example.com?sig=1"),
            "http://example.com?sig=REDACTED"
        );
    }
}
