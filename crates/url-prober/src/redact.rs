//! How a configured URL is shown. The URL a probe requests may hold secrets — `user:password@`,
//! `?token=...` — so everything the prober shows (the `url` label, `/queryurl`, logs, span
//! attributes, error messages) uses [`redact_url`]'s form instead: the userinfo and the fragment
//! removed, every query value replaced by `REDACTED` (the OpenTelemetry HTTP semantic
//! conventions' placeholder for `url.full`), the query keys kept so the URL stays recognisable.

/// What every query value is replaced with.
pub const REDACTED: &str = "REDACTED";

/// `text`, a URL as written (valid or not), without what may be secret.
///
/// It works on the text rather than a parsed URL so the shown form stays as written (no added
/// trailing slash) and so an invalid URL can be quoted in an error message. It follows the WHATWG
/// URL rules the probe's parser (`url`) applies to http(s): the authority runs from the `//`
/// after the scheme to the first `/`, `\`, `?` or `#`, and its userinfo up to its last `@`.
pub fn redact_url(text: &str) -> String {
    let without_fragment = text.split('#').next().unwrap_or_default();
    let (before_query, query) = match without_fragment.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (without_fragment, None),
    };
    let mut shown = without_userinfo(before_query);
    if let Some(query) = query {
        shown.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}={REDACTED}"),
                None => pair.to_owned(),
            })
            .collect();
        shown.push_str(&pairs.join("&"));
    }
    shown
}

/// `scheme://user:password@host/path` → `scheme://host/path`.
fn without_userinfo(text: &str) -> String {
    let Some(colon) = text.find(':') else {
        return text.to_owned();
    };
    let after_scheme = &text[colon + 1..];
    let slashes = after_scheme.len() - after_scheme.trim_start_matches(['/', '\\']).len();
    let authority_start = colon + 1 + slashes;
    let rest = &text[authority_start..];
    let authority_end = rest.find(['/', '\\']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &text[..authority_start], &rest[at + 1..]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_and_fragment_go_query_values_are_redacted_and_keys_stay() {
        let cases = [
            ("http://a.example/", "http://a.example/"),
            ("http://a.example", "http://a.example"),
            ("https://u:p@a.example:8443/x", "https://a.example:8443/x"),
            ("http://u@a/", "http://a/"),
            ("http://u:p@ss@a/", "http://a/"),
            ("http://u:p%40ss@a/", "http://a/"), // secrets-check: allow (test fixture)
            (
                "http://a/x?token=s&flag&b=&c=d=e",
                "http://a/x?token=REDACTED&flag&b=REDACTED&c=REDACTED",
            ),
            ("http://a/?k=v#access_token=s", "http://a/?k=REDACTED"),
            ("http://a/p@th?x=1", "http://a/p@th?x=REDACTED"),
            ("http://u:p@a?q=1", "http://a?q=REDACTED"),
            ("http:\\\\u:p@a\\x", "http:\\\\a\\x"),
            ("http:/u:p@a/", "http:/a/"),
            ("http://u:p@:99999/?t=s", "http://:99999/?t=REDACTED"),
            ("http://", "http://"),
        ];
        for (written, shown) in cases {
            assert_eq!(redact_url(written), shown, "{written}");
        }
    }

    /// The text rules agree with the parser the probe uses on every tricky form: what the
    /// parser would send as credentials or query values is never in the shown form.
    #[test]
    fn the_shown_form_has_no_credentials_or_query_values_by_the_probes_own_parser() {
        for written in [
            "http://user:secret@a.example/",
            "http://user:sec@ret@a.example/x", // secrets-check: allow (test fixture)
            "http://user:secret@a.example?token=secret",
            "https://user:secret@a.example:99/p?x=secret&y=secret#secret",
            "http:\\\\user:secret@a.example\\p?x=secret",
            "http:/user:secret@a.example/p",
            "HTTP://user:secret@A.EXAMPLE/p?x=secret",
            "http://user:secret@[::1]:8080/?x=secret",
        ] {
            let sent = reqwest::Url::parse(written).expect(written);
            assert!(sent.password().is_some(), "{written}");
            let shown_text = redact_url(written);
            for secret in ["user", "sec"] {
                assert!(!shown_text.contains(secret), "{written} → {shown_text}");
            }
            let shown = reqwest::Url::parse(&shown_text).expect(&shown_text);
            assert_eq!(shown.username(), "", "{written} → {shown_text}");
            assert_eq!(shown.host(), sent.host(), "{written} → {shown_text}");
            assert_eq!(shown.port(), sent.port(), "{written} → {shown_text}");
            assert_eq!(shown.path(), sent.path(), "{written} → {shown_text}");
        }
    }
}
