//! How a configured URL is shown. The URL a probe requests may hold secrets — `user:password@`,
//! `?token=...` — so everything the prober shows (the `url` label, `/queryurl`, logs, span
//! attributes, error messages) uses [`redact_url`]'s form instead.
//!
//! The rules are telemetry's, the one rule set for every URL the workspace shows (telemetry's
//! `trace/redact.rs` says what they are and why): the userinfo and the fragment removed, query
//! values `REDACTED`, the keys kept so the URL stays recognisable. The prober asks for every
//! query value to be redacted, not only those of the listed sensitive keys: an operator's URL
//! often carries an API key under a name no list knows (`token`, `api_key`).

/// `text`, a URL as written (valid or not), without what may be secret.
///
/// It works on the text rather than a parsed URL, so the shown form stays as written (no added
/// trailing slash) and an invalid URL can be quoted in an error message.
pub fn redact_url(text: &str) -> String {
    telemetry::redact_url_with(text, telemetry::SensitiveQuery::All)
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
