//! Who may do what. The robots move hardware, and they live on a home network where the owner's
//! browser also visits arbitrary web pages.
//!
//! Threat model: anyone on the internet can make the owner's browser send requests to the robot
//! (an `<img>`, a form, `fetch(..., {mode: "no-cors"})`), with none of the browser's cross-site
//! headers over plain http, and can point a name of theirs at the robot's address (DNS
//! rebinding). Devices on the LAN can send anything; only `ROBOT_TOKEN` keeps them out.
//!
//! The policy, outside in:
//! 1. every route answers only to the service's own names ([`hosts`]; 403 otherwise), so a
//!    rebinding page cannot read the UI, its key or any status;
//! 2. with `ROBOT_TOKEN` set, the UI page and every command need it, as a bearer token or as the
//!    password of HTTP Basic (the browser's login prompt; 401). The robots' state (`/status`,
//!    `GET /api/robots...`) stays readable like `/metrics`, which publishes the same values, so
//!    probes and scrapers need no secret;
//! 3. a route that changes a robot also needs proof that the request is not one a web page made
//!    the browser send: the UI key in `X-Robot-Key` (which only the UI page carries) or the token
//!    as a bearer token. Basic credentials and cookies do not count: browsers attach them to any
//!    page's requests. A browser that says the request is cross-site is refused outright.
//!
//! Every refusal is counted in `robot_requests_refused_total{reason}`.

pub mod credentials;
mod cross_site;
pub mod hosts;

pub use credentials::{Presented, Token, UI_KEY_HEADER, UiKey};
pub use hosts::{AllowedHosts, HostName};

use crate::error::Error;
use crate::instruments;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

/// The access policy of one process.
#[derive(Debug, Clone)]
pub struct Access {
    hosts: AllowedHosts,
    token: Option<Token>,
    ui_key: UiKey,
}

impl Access {
    /// A policy with a fresh random UI key.
    pub fn new(hosts: AllowedHosts, token: Option<Token>) -> Self {
        Self {
            hosts,
            token,
            ui_key: UiKey::random(),
        }
    }

    /// The defaults for this machine plus the configured names and token.
    pub fn from_config(config: &crate::Config) -> Self {
        let hostname = hosts::machine_hostname();
        Self::new(
            AllowedHosts::new(&config.allowed_hosts, hostname.as_deref()),
            config.robot_token.clone(),
        )
    }

    pub fn ui_key(&self) -> &UiKey {
        &self.ui_key
    }

    pub fn token_required(&self) -> bool {
        self.token.is_some()
    }

    /// Logs what is protected, and warns when the robots can be driven by anyone who reaches
    /// the port from another machine. Never logs a secret.
    pub fn log_startup(&self, listen_addr: SocketAddr) {
        let hosts = self.hosts.describe();
        if self.token.is_some() {
            tracing::info!(allowed_hosts = %hosts, "ROBOT_TOKEN is set: the UI and every robot command need it");
        } else if listen_addr.ip().is_loopback() {
            tracing::info!(allowed_hosts = %hosts, "no ROBOT_TOKEN: only this machine can reach the service");
        } else {
            tracing::warn!(
                allowed_hosts = %hosts,
                %listen_addr,
                "ROBOT_TOKEN is not set and the service listens beyond loopback: anyone on the \
                 network can drive the robots (web pages cannot). Set ROBOT_TOKEN (e.g. \
                 `openssl rand -hex 32`) or listen on 127.0.0.1"
            );
        }
    }

    /// Step 1: the `Host` is one of ours.
    pub fn check_host(&self, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Error> {
        let host = headers.get(HOST).map(|v| v.to_str().unwrap_or_default());
        match host.or(authority) {
            Some(host) if !self.hosts.allows(host) => Err(refused(Error::HostNotAllowed)),
            _ => Ok(()),
        }
    }

    /// Step 2: the token, when one is configured.
    pub fn check_reader(&self, headers: &HeaderMap) -> Result<(), Error> {
        match &self.token {
            Some(token) if Presented::from_headers(headers, token) == Presented::Nothing => {
                Err(refused(Error::Unauthenticated))
            }
            _ => Ok(()),
        }
    }

    /// Step 3: a request that changes a robot comes from the UI or from a bearer of the token.
    pub fn check_mover(&self, headers: &HeaderMap, authority: Option<&str>) -> Result<(), Error> {
        cross_site::check(headers, authority).map_err(|why| refused(Error::CrossSite(why)))?;
        let bearer = self
            .token
            .as_ref()
            .is_some_and(|token| Presented::from_headers(headers, token) == Presented::Bearer);
        if bearer || self.ui_key.presented_in(headers) {
            Ok(())
        } else {
            Err(refused(Error::NotFromTheUi))
        }
    }
}

/// Counts the refusal by its (fixed) reason.
fn refused(error: Error) -> Error {
    instruments::refused(error.refusal_reason().unwrap_or("other"));
    error
}

/// Which step of the policy a [`guard`] layer applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Step 1, on every route.
    KnownHost,
    /// Step 2, on the UI page and the commands.
    TokenHolder,
    /// Step 3, on the routes that change a robot.
    Mover,
}

/// Middleware applying one [`Check`]:
/// `middleware::from_fn_with_state((state, Check::KnownHost), access::guard)`.
pub async fn guard(
    State((state, check)): State<(AppState, Check)>,
    request: Request,
    next: Next,
) -> Result<Response, Error> {
    let (access, headers) = (state.access(), request.headers());
    let authority = request.uri().authority().map(|a| a.as_str());
    match check {
        Check::KnownHost => access.check_host(headers, authority)?,
        Check::TokenHolder => access.check_reader(headers)?,
        Check::Mover => access.check_mover(headers, authority)?,
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use base64::Engine;

    const TOKEN: &str = "0123456789abcdef-token";

    fn access(token: bool) -> Access {
        Access::new(
            AllowedHosts::new(&[HostName::parse("robot.test").unwrap()], None),
            token.then(|| Token::new(TOKEN).unwrap()),
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    axum::http::HeaderName::from_static(k),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn without_a_token_only_the_ui_key_moves() {
        let access = access(false);
        let key = access.ui_key().as_str();
        let host = ("host", "robot.test:6543");
        assert!(access.check_host(&headers(&[host]), None).is_ok());
        assert!(access.check_reader(&headers(&[host])).is_ok());
        assert!(matches!(
            access.check_mover(&headers(&[host]), None),
            Err(Error::NotFromTheUi)
        ));
        let with_key = headers(&[host, ("x-robot-key", key)]);
        assert!(access.check_mover(&with_key, None).is_ok());
        // A bearer "token" means nothing when none is configured.
        let bearer = format!("Bearer {TOKEN}");
        let bearer = headers(&[host, ("authorization", &bearer)]);
        assert!(access.check_mover(&bearer, None).is_err());
        // Even with the key: a browser saying cross-site is refused.
        let cross = headers(&[host, ("x-robot-key", key), ("sec-fetch-site", "cross-site")]);
        assert!(matches!(
            access.check_mover(&cross, None),
            Err(Error::CrossSite(_))
        ));
    }

    #[test]
    fn foreign_hosts_are_refused_everywhere() {
        let access = access(false);
        let evil = headers(&[("host", "evil.test:6543")]);
        assert!(matches!(
            access.check_host(&evil, None),
            Err(Error::HostNotAllowed)
        ));
        assert!(
            access
                .check_host(&HeaderMap::new(), Some("evil.test"))
                .is_err()
        );
        assert!(
            access.check_host(&HeaderMap::new(), None).is_ok(),
            "no Host at all"
        );
    }

    #[test]
    fn with_a_token_basic_reads_and_only_bearer_or_basic_plus_key_moves() {
        let access = access(true);
        let key = ("x-robot-key", access.ui_key().as_str());
        let bearer = format!("Bearer {TOKEN}");
        let bearer = ("authorization", bearer.as_str());
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("me:{TOKEN}"))
        );
        let basic = ("authorization", basic.as_str());
        assert!(matches!(
            access.check_reader(&HeaderMap::new()),
            Err(Error::Unauthenticated)
        ));
        assert!(access.check_reader(&headers(&[basic])).is_ok());
        assert!(access.check_reader(&headers(&[bearer])).is_ok());
        assert!(access.check_mover(&headers(&[bearer]), None).is_ok());
        assert!(matches!(
            access.check_mover(&headers(&[basic]), None),
            Err(Error::NotFromTheUi)
        ));
        assert!(access.check_mover(&headers(&[basic, key]), None).is_ok());
    }

    /// Everything `log` logged, as text.
    fn captured_logs(log: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn startup_warns_when_others_can_drive_and_never_logs_a_secret() {
        let open = access(false);
        let lan = captured_logs(|| open.log_startup("0.0.0.0:6543".parse().unwrap()));
        assert!(
            lan.contains("WARN") && lan.contains("ROBOT_TOKEN is not set"),
            "{lan}"
        );
        let local = captured_logs(|| open.log_startup("127.0.0.1:6543".parse().unwrap()));
        assert!(!local.contains("WARN"), "{local}");
        let locked = access(true);
        let logs = captured_logs(|| locked.log_startup("[::]:6543".parse().unwrap()));
        assert!(
            !logs.contains("WARN") && logs.contains("ROBOT_TOKEN is set"),
            "{logs}"
        );
        for logs in [lan, local, logs] {
            assert!(!logs.contains(TOKEN), "{logs}");
            assert!(
                !logs.contains(open.ui_key().as_str()) && !logs.contains(locked.ui_key().as_str())
            );
        }
    }
}
