//! Startup settings: every option is a flag and an environment variable (README, "Configuration"), so
//! Compose, Kubernetes and the tests configure the service the same way.

use crate::access::credentials::TokenParser;
use crate::access::hosts::parse_authority;
use crate::access::{HostName, Token};
use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "robot-control",
    version,
    about = "Drive the Linus and Torvalds robots over HTTP."
)]
pub struct Config {
    /// Address the HTTP server (UI, API, /metrics) listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:6543")]
    pub listen_addr: SocketAddr,

    /// GPIO backend: `sim` (no hardware) or `pigpio` (remote pigpio daemons).
    #[arg(long = "robot-driver", env = "ROBOT_DRIVER", value_enum, default_value_t = DriverKind::Sim)]
    pub driver: DriverKind,

    /// host:port of Linus's pigpio daemon.
    #[arg(long, env = "LINUS_PIGPIO_ADDR", default_value = "127.0.0.1:8888", value_parser = parse_host_port)]
    pub linus_pigpio_addr: String,

    /// host:port of Torvalds's pigpio daemon.
    #[arg(long, env = "TORVALDS_PIGPIO_ADDR", default_value = "127.0.0.1:8888", value_parser = parse_host_port)]
    pub torvalds_pigpio_addr: String,

    /// Motors stop when no drive command arrives for this long (e.g. `2s`, `500ms`).
    #[arg(long, env = "DEADMAN_TIMEOUT", default_value = "2s", value_parser = parse_positive_duration)]
    pub deadman_timeout: Duration,

    /// Bound on connecting to a pigpio daemon and on each of its answers (e.g. `1s`).
    #[arg(long, env = "PIGPIO_TIMEOUT", default_value = "1s", value_parser = parse_positive_duration)]
    pub pigpio_timeout: Duration,

    /// More names this service is reached by (comma-separated, e.g. `robot.lan,robot`), besides
    /// IP addresses, localhost and the machine's hostname; any other `Host` is refused (403).
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',', value_parser = HostName::parse)]
    pub allowed_hosts: Vec<HostName>,

    /// Secret required by the UI page and every robot command (as a bearer token, or the
    /// password of HTTP Basic auth); at least 16 visible characters. Unset or empty: none (the
    /// robots move only from their own UI). Prefer the environment variable: a flag shows in the
    /// process list.
    // `std::option::Option`, spelt out: clap's derive then takes the field as one value that
    // TokenParser parses (empty -> None, as Compose's `${ROBOT_TOKEN:-}` passes an unset
    // variable), not as an optional argument whose empty value would be an invalid token.
    #[arg(long, env = "ROBOT_TOKEN", hide_env_values = true, value_parser = TokenParser,
          default_value = "", hide_default_value = true)]
    pub robot_token: std::option::Option<Token>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    Sim,
    Pigpio,
}

impl DriverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Sim => "sim",
            DriverKind::Pigpio => "pigpio",
        }
    }
}

impl Config {
    /// The defaults, as if started with no flags and no environment (for tests and embedding).
    pub fn defaults() -> Self {
        Self {
            listen_addr: SocketAddr::from(([0, 0, 0, 0], 6543)),
            driver: DriverKind::Sim,
            linus_pigpio_addr: "127.0.0.1:8888".to_owned(),
            torvalds_pigpio_addr: "127.0.0.1:8888".to_owned(),
            deadman_timeout: Duration::from_secs(2),
            pigpio_timeout: Duration::from_secs(1),
            allowed_hosts: Vec::new(),
            robot_token: None,
        }
    }

    /// Bounds one command end to end: waiting for the robot's previous command, reconnecting
    /// (connect + setup) and the command itself.
    pub fn command_timeout(&self) -> Duration {
        self.pigpio_timeout * 4
    }
}

fn parse_positive_duration(raw: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e} (expected e.g. 2s or 500ms)"))?;
    if duration.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// `host:port` (a name, an IPv4 address or a bracketed IPv6 one; a port from 1 to 65535), read as
/// the authority of a URL would be.
fn parse_host_port(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    match parse_authority(raw) {
        Some(authority) if authority.port_u16().is_some_and(|port| port != 0) => Ok(raw.to_owned()),
        _ => Err("expected host:port, e.g. 192.168.0.22:8888".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let parsed = Config::try_parse_from(["robot-control"]).unwrap();
        let defaults = Config::defaults();
        assert_eq!(parsed.listen_addr, defaults.listen_addr);
        assert_eq!(parsed.driver, DriverKind::Sim);
        assert_eq!(parsed.linus_pigpio_addr, "127.0.0.1:8888");
        for addr in ["pi.lan:8888", "192.168.0.22:8888", "[fe80::1]:8888"] {
            assert_eq!(parse_host_port(addr).as_deref(), Ok(addr));
        }
        assert_eq!(parsed.deadman_timeout, Duration::from_secs(2));
        assert!(parsed.allowed_hosts.is_empty());
        assert!(parsed.robot_token.is_none());
    }

    #[test]
    fn an_empty_token_means_none() {
        let parsed = Config::try_parse_from(["robot-control", "--robot-token", ""]).unwrap();
        assert!(parsed.robot_token.is_none());
    }

    #[test]
    fn hosts_are_a_list_and_the_token_is_never_shown() {
        let token = "0123456789abcdef0123";
        let parsed = Config::try_parse_from([
            "robot-control",
            "--allowed-hosts",
            "Robot.LAN,robot",
            "--robot-token",
            token,
        ])
        .unwrap();
        let names: Vec<&str> = parsed.allowed_hosts.iter().map(HostName::as_str).collect();
        assert_eq!(names, ["robot.lan", "robot"]);
        assert!(parsed.robot_token.is_some());
        assert!(!format!("{parsed:?}").contains(token));
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            ["--deadman-timeout", "0s"],
            ["--deadman-timeout", "soon"],
            ["--linus-pigpio-addr", "no-port"],
            ["--linus-pigpio-addr", "host:0"],
            ["--linus-pigpio-addr", ":8888"],
            ["--linus-pigpio-addr", "host:65536"],
            ["--linus-pigpio-addr", "a:1:2"],
            ["--linus-pigpio-addr", "user@host:8888"],
            ["--robot-driver", "gpiozero"],
            ["--listen-addr", "6543"],
            ["--allowed-hosts", "*"],
            ["--allowed-hosts", "robot.lan:6543"],
            ["--robot-token", "too-short"],
        ] {
            let mut argv = vec!["robot-control"];
            argv.extend(args);
            assert!(Config::try_parse_from(&argv).is_err(), "{args:?}");
        }
    }
}
