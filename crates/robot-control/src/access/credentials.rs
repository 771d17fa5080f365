//! The two secrets: `ROBOT_TOKEN` (configured, for people and scripts) and the UI key (random per
//! process, embedded in the UI page), and how a request presents them.
//!
//! Neither is ever logged or echoed: [`Token`]'s `Debug` is redacted, a bad `ROBOT_TOKEN` is
//! reported without its value, and comparisons take the same time whatever the input.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use std::fmt;

/// The header the UI sends its key in. A web page elsewhere cannot add a custom header to a
/// request to this service: that needs a CORS preflight, which this service never answers.
pub const UI_KEY_HEADER: &str = "x-robot-key";

/// Shortest accepted `ROBOT_TOKEN`: long enough not to be guessed over a LAN.
pub const TOKEN_MIN_LEN: usize = 16;

/// `ROBOT_TOKEN`: visible ASCII (it travels in a header), at least [`TOKEN_MIN_LEN`] characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(text: &str) -> Result<Self, String> {
        if text.len() < TOKEN_MIN_LEN {
            return Err(format!(
                "must be at least {TOKEN_MIN_LEN} characters (e.g. `openssl rand -hex 32`)"
            ));
        }
        if text.len() > 1024 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "must be at most 1024 visible ASCII characters, no spaces (e.g. `openssl rand -hex 32`)"
                    .to_owned(),
            );
        }
        Ok(Self(text.to_owned()))
    }

    fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// clap's parser for `ROBOT_TOKEN`: an empty value is no token (Compose's `${ROBOT_TOKEN:-}`
/// passes an unset variable as empty). clap's own error would quote the rejected value, this
/// one never does.
#[derive(Debug, Clone, Copy)]
pub struct TokenParser;

impl TypedValueParser for TokenParser {
    type Value = Option<Token>;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Option<Token>, clap::Error> {
        let reason = match value.to_str() {
            Some("") => return Ok(None),
            Some(text) => match Token::new(text) {
                Ok(token) => return Ok(Some(token)),
                Err(reason) => reason,
            },
            None => "must be ASCII text".to_owned(),
        };
        Err(clap::Error::raw(
            ErrorKind::InvalidValue,
            format!("invalid ROBOT_TOKEN (--robot-token): it {reason}; the value is not shown\n"),
        ))
    }
}

/// The per-process secret the UI page carries; 256 random bits, hex.
#[derive(Clone)]
pub struct UiKey(String);

impl UiKey {
    pub fn random() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `headers` carry this key in [`UI_KEY_HEADER`].
    pub fn presented_in(&self, headers: &HeaderMap) -> bool {
        headers
            .get(UI_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| constant_time_eq(self.0.as_bytes(), v.trim().as_bytes()))
    }
}

impl fmt::Debug for UiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UiKey(<redacted>)")
    }
}

/// How a request presented `ROBOT_TOKEN`, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Bearer <token>`: only a deliberate client sends that.
    Bearer,
    /// HTTP Basic with the token as its password (what a browser sends after its login prompt, and
    /// then also on requests other pages make it send, so it never moves a robot by itself).
    Basic,
    /// Missing or wrong.
    Nothing,
}

impl Presented {
    pub fn from_headers(headers: &HeaderMap, token: &Token) -> Self {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return Presented::Nothing;
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") && token.matches(credentials) {
            return Presented::Bearer;
        }
        if scheme.eq_ignore_ascii_case("basic")
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials)
            && let Ok(decoded) = String::from_utf8(decoded)
            && let Some((_user, password)) = decoded.split_once(':')
            && token.matches(password)
        {
            return Presented::Basic;
        }
        Presented::Nothing
    }
}

/// Equal-length inputs are compared in full, so the time taken says nothing about where they
/// differ (the length is not secret: the minimum is documented).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TOKEN: &str = "correct-horse-battery-staple";

    fn presented(authorization: &str) -> Presented {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        Presented::from_headers(&headers, &Token::new(TOKEN).unwrap())
    }

    fn basic(user_password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
    }

    #[test]
    fn bearer_and_basic_are_recognised() {
        assert_eq!(presented(&format!("Bearer {TOKEN}")), Presented::Bearer);
        assert_eq!(presented(&format!("bearer  {TOKEN} ")), Presented::Bearer);
        assert_eq!(
            presented(&basic(&format!("anyone:{TOKEN}"))),
            Presented::Basic
        );
        assert_eq!(presented(&basic(&format!(":{TOKEN}"))), Presented::Basic);
    }

    #[test]
    fn wrong_or_malformed_credentials_are_nothing() {
        for value in [
            "Bearer wrong-token-of-some-length".to_owned(),
            format!("Bearer {TOKEN}x"),
            format!("Token {TOKEN}"),
            TOKEN.to_owned(),
            basic(&format!("{TOKEN}:")),
            basic(TOKEN),
            "Basic !!!not-base64".to_owned(),
        ] {
            assert_eq!(presented(&value), Presented::Nothing, "{value}");
        }
    }

    #[test]
    fn tokens_are_validated_and_never_shown() {
        assert!(Token::new("short").is_err());
        assert!(Token::new("sixteen chars ok").is_err(), "no spaces");
        assert!(Token::new("0123456789abcdef").is_ok());
        let token = Token::new(TOKEN).unwrap();
        assert!(!format!("{token:?}").contains(TOKEN));
        let error = TokenParser
            .parse_ref(
                &clap::Command::new("t"),
                None,
                std::ffi::OsStr::new("tooshort-secret"),
            )
            .unwrap_err()
            .to_string();
        assert!(!error.contains("tooshort-secret"), "{error}");
        assert!(error.contains("ROBOT_TOKEN"), "{error}");
    }

    #[test]
    fn ui_keys_are_random_and_checked_exactly() {
        let key = UiKey::random();
        assert_eq!(key.as_str().len(), 64);
        assert_ne!(key.as_str(), UiKey::random().as_str());
        let mut headers = HeaderMap::new();
        assert!(!key.presented_in(&headers));
        headers.insert(UI_KEY_HEADER, HeaderValue::from_str(key.as_str()).unwrap());
        assert!(key.presented_in(&headers));
        headers.insert(UI_KEY_HEADER, HeaderValue::from_static("0000"));
        assert!(!key.presented_in(&headers));
    }
}
