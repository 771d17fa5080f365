//! How loadgen's robot commands get past robot-control's access policy
//! (crates/robot-control/src/access): with `ROBOT_TOKEN`, as a bearer token; without it, the
//! way the robot's own UI does it: the key in the UI page's `<meta name="robot-ui-key">` tag,
//! sent as `X-Robot-Key`. Anyone who can open the UI can drive the robots; what the key keeps
//! out is web pages on other origins, which cannot read it.
//!
//! The key changes whenever robot-control restarts, and a command with the old one is refused
//! (403). Such a refusal makes loadgen read the page again, but the page is read at most once
//! per refresh interval (`--robot-key-refresh`): a robot-control that refuses everything (loadgen
//! reaches it by a name not in its `ALLOWED_HOSTS`, or it requires a `ROBOT_TOKEN` loadgen lacks)
//! gets one page read per interval, not one per command.
//!
//! Neither secret is ever shown: both types' `Debug` is redacted, the headers are marked
//! sensitive, and the logs name the page, never its key.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use telemetry::InjectContext;
use tokio::time::Instant;

/// robot-control's header for the UI key.
pub const UI_KEY_HEADER: &str = "x-robot-key";
/// The `<meta>` tag of the UI page that carries the key.
const KEY_META_NAME: &str = "robot-ui-key";

/// A bearer token; never shown (`Debug` prints `<redacted>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Bearer(Arc<str>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(token.trim().into())
    }

    pub fn token(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

/// What a robot command carries to be accepted.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `Authorization: Bearer <ROBOT_TOKEN>`.
    Bearer(Bearer),
    /// `X-Robot-Key: <the UI page's key>`, from the one source of the run.
    UiKey(Arc<UiKeySource>),
}

impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Credential::Bearer(a), Credential::Bearer(b)) => a == b,
            (Credential::UiKey(a), Credential::UiKey(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Credential {}

/// The UI key as read from the page; never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct UiKey(Arc<str>);

impl UiKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UiKey(<redacted>)")
    }
}

/// The key in robot-control's UI page: `<meta name="robot-ui-key" content="...">`. `None` when
/// the tag is missing or its content could not be a header value (visible ASCII, 1..=256).
pub fn key_in_page(html: &str) -> Option<UiKey> {
    let name = format!(r#"name="{KEY_META_NAME}""#);
    html.match_indices("<meta").find_map(|(start, _)| {
        let tag = &html[start..start + html[start..].find('>')?];
        if !tag.contains(&name) {
            return None;
        }
        let content = tag.split(r#"content=""#).nth(1)?.split('"').next()?;
        let valid =
            (1..=256).contains(&content.len()) && content.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| UiKey(content.into()))
    })
}

/// When the page may be read again: at most once per interval.
#[derive(Debug, Clone, Copy)]
struct ReadGate {
    interval: Duration,
    last_read: Option<Instant>,
}

impl ReadGate {
    /// Opens (and records a read at `now`) if the last read is at least the interval ago.
    fn try_pass(&mut self, now: Instant) -> bool {
        let open = self
            .last_read
            .is_none_or(|last| now.duration_since(last) >= self.interval);
        if open {
            self.last_read = Some(now);
        }
        open
    }
}

#[derive(Debug)]
struct KeyState {
    key: Option<UiKey>,
    gate: ReadGate,
}

/// The UI key of one robot-control, read from its page when first needed and again after a
/// refusal, at most once per interval. One read at a time: requests that need the key meanwhile
/// wait for it instead of reading the page too.
pub struct UiKeySource {
    page_url: String,
    /// `page_url` as logs show it (`telemetry::redact_url`: no userinfo, sensitive query values
    /// redacted).
    shown_url: String,
    state: tokio::sync::Mutex<KeyState>,
}

impl fmt::Debug for UiKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiKeySource")
            .field("page", &self.shown_url)
            .finish_non_exhaustive()
    }
}

impl UiKeySource {
    /// The key of the UI page at `robot_url` (the base URL), read at most once per `refresh`.
    pub fn new(robot_url: &str, refresh: Duration) -> Self {
        let page_url = format!("{}/", robot_url.trim_end_matches('/'));
        Self {
            shown_url: telemetry::redact_url(&page_url),
            page_url,
            state: tokio::sync::Mutex::new(KeyState {
                key: None,
                gate: ReadGate {
                    interval: refresh,
                    last_read: None,
                },
            }),
        }
    }

    /// The key to send: the one known, or a fresh read of the page when none is known and the
    /// last read is an interval ago; `None` otherwise (the command goes without, and is refused).
    pub async fn key(&self, client: &reqwest::Client, timeout: Duration) -> Option<UiKey> {
        let mut state = self.state.lock().await;
        if state.key.is_none() && state.gate.try_pass(Instant::now()) {
            state.key = self.read(client, timeout).await;
        }
        state.key.clone()
    }

    /// A command sent with `used` was refused with 403: the key is probably stale (robot-control
    /// restarted). Reads the page again, unless another request already replaced that key or
    /// the last read is less than an interval ago.
    pub async fn refused(&self, client: &reqwest::Client, timeout: Duration, used: Option<&UiKey>) {
        let mut state = self.state.lock().await;
        if state.key.as_ref() == used && state.gate.try_pass(Instant::now()) {
            state.key = self.read(client, timeout).await;
        }
    }

    /// GETs the UI page in its own client span (shaped like every other request's) and takes
    /// the key out of it.
    async fn read(&self, client: &reqwest::Client, timeout: Duration) -> Option<UiKey> {
        let page_request = crate::plan::PlannedRequest {
            target: "robot-control",
            method: reqwest::Method::GET,
            url: self.page_url.clone(),
            path: "/",
            body: None,
            credential: None,
        };
        let span = crate::driver::request_span(&page_request);
        let read = async {
            let response = client
                .get(&self.page_url)
                .timeout(timeout)
                .inject_context()
                .send()
                .await?;
            span.record_response(&response);
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.text().await?))
        };
        let outcome = span.instrument(read).await;
        let failed = |error_type: &str| span.set_error(error_type);
        match outcome {
            Ok((status, page)) if status.is_success() => {
                let key = key_in_page(&page);
                if key.is_none() {
                    failed("no_ui_key");
                    tracing::warn!(url = %self.shown_url, "robot-control's UI page has no robot-ui-key tag: robot commands will be refused");
                }
                key
            }
            Ok((status, _)) => {
                failed(status.as_str());
                let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
                    ": robot-control requires ROBOT_TOKEN; give loadgen the same"
                } else if status == reqwest::StatusCode::FORBIDDEN {
                    ": is the robot URL's host name in robot-control's ALLOWED_HOSTS?"
                } else {
                    ""
                };
                tracing::warn!(url = %self.shown_url, %status, "cannot read robot-control's UI key{hint}");
                None
            }
            Err(error) => {
                failed(if error.is_timeout() {
                    "timeout"
                } else {
                    "error"
                });
                tracing::warn!(url = %self.shown_url, %error, "cannot read robot-control's UI key");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_read_from_its_meta_tag_only() {
        let page = r#"<!doctype html><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width">
            <meta name="robot-ui-key" content="0123abcd">
            </head>"#;
        assert_eq!(key_in_page(page).unwrap().as_str(), "0123abcd");
        for page in [
            "<html>no tag</html>",
            r#"<meta name="viewport" content="width=device-width">"#,
            r#"<meta name="robot-ui-key" content="">"#,
            r#"<meta name="robot-ui-key" content="two words">"#,
            r#"<meta name="robot-ui-key" content="unterminated"#,
        ] {
            assert!(key_in_page(page).is_none(), "{page}");
        }
        let long = format!(
            r#"<meta name="robot-ui-key" content="{}">"#,
            "a".repeat(257)
        );
        assert!(key_in_page(&long).is_none());
    }

    #[test]
    fn secrets_are_never_shown() {
        let key = key_in_page(r#"<meta name="robot-ui-key" content="secret-ui-key">"#).unwrap();
        assert!(!format!("{key:?}").contains("secret"));
        assert!(!format!("{:?}", Bearer::new("secret-token")).contains("secret"));
    }

    #[test]
    fn the_page_is_read_at_most_once_per_interval() {
        let mut gate = ReadGate {
            interval: Duration::from_secs(5),
            last_read: None,
        };
        let start = Instant::now();
        let mut reads = Vec::new();
        // A refusal every 100 ms for 12 s: reads at 0, 5 and 10 s only.
        for tick in 0..120u32 {
            let now = start + Duration::from_millis(100) * tick;
            if gate.try_pass(now) {
                reads.push(now.duration_since(start).as_millis());
            }
        }
        assert_eq!(reads, [0, 5_000, 10_000]);
    }
}
