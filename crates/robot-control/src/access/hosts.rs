//! The `Host` allowlist: the service answers only to names that are its own, so a DNS-rebinding
//! page (an attacker's name that resolves to the robot) gets nothing, not even the UI.
//!
//! Allowed, by default:
//! - any IP address (`192.168.1.50`, `[::1]`): an address cannot be rebound; a browser that
//!   sends `Host: 192.168.1.50` connected to that address. This also covers the listen address,
//!   a Docker host's published address, Kubernetes probes and Prometheus scraping a pod IP;
//! - `localhost` and any name under `.localhost` (browsers resolve those to loopback themselves);
//! - the machine's hostname (from the kernel), its first label, and that label under `.local`
//!   (mDNS: `raspberrypi.local`);
//! - every name in `ALLOWED_HOSTS` (comma-separated, exact names, no wildcards).
//!
//! The port is ignored: a reverse proxy or a published container port may change it, and a
//! rebinding attack never needs a different one. A request with no `Host` at all (HTTP/1.0 from
//! a script) passes: every browser sends one.

use axum::http::uri::Authority;
use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One configured name: lower-case, without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// Parses one `ALLOWED_HOSTS` entry: a DNS name or an IP address, without scheme or port.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = normalize(raw.trim());
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if name.is_empty() {
            return Err("an empty host name (leave ALLOWED_HOSTS unset for none)".to_owned());
        }
        if name.contains('*') {
            return Err(format!(
                "{raw:?}: wildcards are not accepted (a wildcard would let DNS rebinding through); list each name"
            ));
        }
        if name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(format!(
                "{raw:?} is not a host name (expected e.g. robot.lan, without scheme or port)"
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The names this service answers to (besides IP addresses and localhost).
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    names: BTreeSet<String>,
}

impl AllowedHosts {
    /// The default names for a machine called `machine_hostname`, plus `extra`.
    pub fn new(extra: &[HostName], machine_hostname: Option<&str>) -> Self {
        let mut names: BTreeSet<String> = extra.iter().map(|n| n.0.clone()).collect();
        if let Some(hostname) = machine_hostname.map(|h| normalize(h.trim()))
            && !hostname.is_empty()
        {
            let first_label = hostname.split('.').next().unwrap_or_default().to_owned();
            names.insert(format!("{first_label}.local"));
            names.insert(first_label);
            names.insert(hostname);
        }
        Self { names }
    }

    /// Whether a request whose `Host` header (or HTTP/2 authority) is `authority` may be served.
    pub fn allows(&self, authority: &str) -> bool {
        let Some(authority) = parse_authority(authority.trim()) else {
            return false;
        };
        let host = authority.host();
        if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok();
        }
        let host = normalize(host);
        host.parse::<Ipv4Addr>().is_ok()
            || host == "localhost"
            || host.ends_with(".localhost")
            || self.names.contains(&host)
    }

    /// For the startup log: what is allowed.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            "IP addresses".to_owned(),
            "localhost".to_owned(),
            "*.localhost".to_owned(),
        ];
        parts.extend(self.names.iter().cloned());
        parts.join(", ")
    }
}

/// `raw` read as a `Host` value or a `host:port` setting is: an [`Authority`] with a host, no
/// userinfo (RFC 9110 §7.2), and a valid port if one is written; `None` for anything else.
pub(crate) fn parse_authority(raw: &str) -> Option<Authority> {
    // `Authority` accepts a userinfo (`user@host`), which neither carries.
    if raw.contains('@') {
        return None;
    }
    let parsed: Authority = raw.parse().ok()?;
    // `Authority` reads the port only when asked, and a bad or empty one reads as none.
    let has_port = parsed.as_str().len() > parsed.host().len();
    (!parsed.host().is_empty() && (!has_port || parsed.port_u16().is_some())).then_some(parsed)
}

/// Lower-case, one trailing dot removed (`Robot.Test.` is `robot.test`).
fn normalize(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// The machine's hostname as the kernel knows it (uname(2)'s nodename, through `gethostname`);
/// `None` when it is empty or not UTF-8.
pub fn machine_hostname() -> Option<String> {
    gethostname::gethostname()
        .into_string()
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> AllowedHosts {
        AllowedHosts::new(&[HostName::parse("Robot.Test").unwrap()], Some("pi4.lan"))
    }

    #[test]
    fn own_names_addresses_and_localhost_are_allowed() {
        let hosts = hosts();
        for authority in [
            "robot.test:6543",
            "ROBOT.TEST",
            "robot.test.:6543",
            "pi4.lan:6543",
            "pi4",
            "pi4.local:80",
            "localhost:6543",
            "app.localhost",
            "127.0.0.1:6543",
            "192.168.1.50",
            "[::1]:6543",
            "[fe80::1]",
        ] {
            assert!(hosts.allows(authority), "{authority}");
        }
    }

    #[test]
    fn other_names_are_refused() {
        let hosts = hosts();
        for authority in [
            "evil.test:6543",
            "robot.test.evil.test",
            "localhost.evil.test",
            "127.0.0.1.nip.io",
            "2130706433",
            "[not-an-address]",
            "",
            ":6543",
            "robot.test:port",
            "robot.test:",
            "robot.test:99999",
            "user@robot.test",
            "robot.test/x",
            "pi4.lan.evil",
        ] {
            assert!(!hosts.allows(authority), "{authority}");
        }
    }

    /// The name the kernel has (Linux also shows it in /proc, where this used to read it) is one
    /// the service answers to.
    #[test]
    #[cfg(target_os = "linux")]
    fn the_machines_own_name_is_allowed() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let hostname = machine_hostname();
        assert_eq!(
            hostname.as_deref(),
            Some(kernel.trim()).filter(|h| !h.is_empty())
        );
        if let Some(name) = hostname {
            assert!(
                AllowedHosts::new(&[], Some(&name)).allows(&format!("{name}:6543")),
                "{name}"
            );
        }
    }

    #[test]
    fn configured_names_are_checked() {
        assert_eq!(
            HostName::parse(" Robot.LAN. ").unwrap().as_str(),
            "robot.lan"
        );
        for bad in [
            "",
            "*",
            "*.lan",
            "http://robot",
            "robot:6543",
            "robot/x",
            "a b",
            "-x.lan",
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
