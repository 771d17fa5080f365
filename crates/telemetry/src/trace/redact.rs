//! Span attribute hygiene: secrets in URLs are redacted and long values are cut, so a span never
//! carries a signed URL's signature and a 64 KiB URL cannot make one queued span hold megabytes.
//!
//! # URLs: one rule set
//!
//! Every URL this workspace shows — `url.full` and `url.query` on spans, everything url-prober
//! shows of a configured URL (its `url` label, `/queryurl`, logs, errors), and redis-counter's
//! `REDIS_URL` in its logs and errors — is redacted here, by
//! these rules (the OpenTelemetry HTTP semantic conventions' for `url.full`, where they say what to
//! do):
//!
//! - **Credentials are removed**: `https://user:pw@host/` is shown as `https://host/`. The
//!   conventions' MUST (`url.full` never contains credentials) holds; their suggested placeholder
//!   (`https://REDACTED:REDACTED@host/`) is not used, because a shown URL is also url-prober's
//!   metric label and `/queryurl` key, which name the URL as a reader knows it, and one form serves
//!   both.
//! - **Sensitive query values become `REDACTED`, their keys stay** (`q=x&sig=REDACTED`), as the
//!   conventions ask. Sensitive are the keys on the conventions' list
//!   (`SENSITIVE_QUERY_PARAMETERS`) and those named in
//!   `OTEL_INSTRUMENTATION_HTTP_SENSITIVE_QUERY_PARAMETERS` ([`SensitiveQuery::Listed`]), matched
//!   case-sensitively, a percent-encoded key as its decoded name. A caller that cannot tell which
//!   values are secret treats every key as sensitive ([`SensitiveQuery::All`]): url-prober, whose
//!   URLs are written by an operator and whose query values are often keys of an API (`token`,
//!   `api_key`) that no list names; and redis-counter, since redis-rs reads a unix socket's
//!   password from the query (`?pass=`).
//! - **The fragment is removed.** It is never sent, so it tells nothing about the request, and it
//!   is where the OAuth implicit grant puts its `access_token`. The conventions would keep it
//!   ("if it is known, it SHOULD be included"); the conventions also ask that sensitive content be
//!   scrubbed where it can be recognised, and a fragment's cannot be.
//!
//! The rules work on the text, not on a parsed URL, so a shown URL stays as it was written (no
//! trailing slash added) and an invalid one can still be quoted in an error message; they follow
//! the WHATWG URL rules that `url` (reqwest's parser) applies to http(s): the authority runs from the
//! slashes after the scheme (`/` or `\`, any number) to the first `/`, `\`, `?` or `#`, and its
//! userinfo up to its last `@`. Redacting a redacted URL changes nothing.
//!
//! # Long values
//!
//! String values longer than `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` /
//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` characters are truncated (the SDK has no such limit, so the
//! span processor applies it to every span, and the HTTP layer never copies more).

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

/// Which query keys have their values redacted (the module's documentation has the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensitiveQuery {
    /// The keys on the semantic conventions' list and the configured ones: what spans show.
    Listed,
    /// Every key: for URLs whose values may all be secret (url-prober's configured URLs).
    All,
}

impl SensitiveQuery {
    fn covers(self, key: &str) -> bool {
        match self {
            SensitiveQuery::All => true,
            SensitiveQuery::Listed => policy().is_sensitive(key),
        }
    }
}

/// The query string with the values of sensitive keys replaced by `REDACTED` (borrowed when
/// nothing needs redacting).
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    redact_query_with(query, SensitiveQuery::Listed)
}

fn redact_query_with(query: &str, sensitive: SensitiveQuery) -> Cow<'_, str> {
    let redacted = |pair: &str| {
        pair.split_once('=')
            .is_some_and(|(key, value)| sensitive.covers(key) && value != REDACTED)
    };
    if !query.split('&').any(redacted) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if sensitive.covers(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

/// A URL as spans show it (`url.full`): without credentials and fragment, the values of the
/// listed sensitive query keys `REDACTED` (the module's documentation has the rules).
pub fn redact_url(url: &str) -> String {
    redact_url_with(url, SensitiveQuery::Listed)
}

/// A URL without credentials and fragment, the values of the `sensitive` query keys `REDACTED`.
pub fn redact_url_with(url: &str, sensitive: SensitiveQuery) -> String {
    let without_fragment = url.split_once('#').map_or(url, |(before, _)| before);
    let (before_query, query) = match without_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (without_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    push_without_userinfo(&mut out, before_query);
    if let Some(query) = query {
        out.push('?');
        out.push_str(&redact_query_with(query, sensitive));
    }
    out
}

/// `scheme://user:password@host/path` → `scheme://host/path` (also `//user@host/path`).
fn push_without_userinfo(out: &mut String, text: &str) {
    let authority_start = match text.split_once(':') {
        Some((scheme, rest)) if is_scheme(scheme) => {
            scheme.len() + 1 + rest.len() - rest.trim_start_matches(['/', '\\']).len()
        }
        // A network-path reference; anything else without a scheme has no authority.
        _ if text.starts_with("//") => 2,
        _ => {
            out.push_str(text);
            return;
        }
    };
    let rest = &text[authority_start..];
    let authority_end = rest.find(['/', '\\']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            out.push_str(&text[..authority_start]);
            out.push_str(&rest[at + 1..]);
        }
        None => out.push_str(text),
    }
}

/// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
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
    fn urls_lose_credentials_fragment_and_sensitive_values() {
        assert_eq!(
            redact_url("https://user:pw@example.com:8443/a?sig=x&b=1#frag"),
            "https://example.com:8443/a?sig=REDACTED&b=1"
        );
        assert_eq!(
            redact_url("http://example.com/?q=1"),
            "http://example.com/?q=1"
        );
        assert_eq!(
            redact_url("http://example.com?sig=1"),
            "http://example.com?sig=REDACTED"
        );
        assert_eq!(redact_url("//u:p@example.com/x"), "//example.com/x");
        assert_eq!(redact_url("/relative?sig=1#f"), "/relative?sig=REDACTED");
        assert_eq!(redact_url("/a:b@c/"), "/a:b@c/", "no scheme, no authority");
    }

    #[test]
    fn every_value_can_be_sensitive() {
        let all = |url| redact_url_with(url, SensitiveQuery::All);
        assert_eq!(
            all("http://a/x?token=s&flag&b=&c=d=e"),
            "http://a/x?token=REDACTED&flag&b=REDACTED&c=REDACTED"
        );
        assert_eq!(all("http://a/?k=v#access_token=s"), "http://a/?k=REDACTED");
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        for url in [
            "https://u:p@a.example:8443/x?sig=s&q=1&t=2#f",
            "http:\\\\u:p@a\\x?k=v",
            "http://a/",
        ] {
            for sensitive in [SensitiveQuery::Listed, SensitiveQuery::All] {
                let once = redact_url_with(url, sensitive);
                assert_eq!(redact_url_with(&once, sensitive), once, "{url}");
            }
        }
    }
}
