//! Shared helpers of the reliability suite: fault and bad-input scenarios against the real service
//! binaries on loopback (docs/ARCHITECTURE.md, "Tests: what runs where").
//!
//! Every scenario test ends by writing one JSON record
//! `{scenario, service, tried, lost, figure, unit, notes, soak}` to
//! `target/reliability/<scenario>.<service>[.soak].json`; `scripts/reliability_report.py` turns
//! the records into RELIABILITY.md. `RELIABILITY_SOAK=1` scales counts and durations up.
//!
//! Everything here is bounded: counts, not wall-clock budgets, drive the loops, and every network
//! read has a hang guard that fails the test instead of waiting forever.
//!
//! Modules: [`record`] (the JSON record of a scenario), [`process`] (RSS, liveness),
//! [`scrape`] (answers and /metrics), [`raw_http`] (hostile bytes on a socket), [`black_hole`] (a
//! peer that never answers), [`load`] (bounded concurrent GETs). The fake pigpio daemon, the
//! WebDriver client and `signal` live in testkit.

pub mod black_hole;
pub mod load;
pub mod process;
pub mod raw_http;
pub mod record;
pub mod scrape;

pub use black_hole::BlackHole;
pub use load::{Tally, describe, load};
pub use process::{MIB, RssSampler, alive, rss_bytes};
pub use raw_http::{RawOutcome, raw_exchange, read_response, read_response_to};
pub use record::Record;
pub use scrape::{SpanCounts, get_text, metric_sum, series_set};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A hang guard for one request: an answer later than this is a hang, not slowness.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// The `ROBOT_TOKEN` the suite starts robot-control with; requests that move a robot send it as
/// a bearer token, as a script would.
pub const ROBOT_TOKEN: &str = "reliability-suite-robot-token";

/// True when `RELIABILITY_SOAK=1` (the `just soak` run).
pub fn soak() -> bool {
    std::env::var("RELIABILITY_SOAK").is_ok_and(|v| v == "1" || v == "true")
}

/// `fast` in the CI run, `soak` under `RELIABILITY_SOAK=1`.
pub fn scaled(fast: u64, soak_value: u64) -> u64 {
    if soak() { soak_value } else { fast }
}

/// A workspace binary (built by `cargo build --workspace --bins`).
pub fn binary(name: &str) -> PathBuf {
    testkit::workspace_binary(name)
}

pub use testkit::target_dir;

/// Runs `binary` with a clean environment plus `env` and `args`, and waits (at most 10 s).
pub fn run_config_case(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> testkit::RunOutcome {
    testkit::run_bounded(
        Command::new(binary)
            .env_clear()
            .env("OTEL_SDK_DISABLED", "true")
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .args(args),
        Duration::from_secs(10),
    )
}
