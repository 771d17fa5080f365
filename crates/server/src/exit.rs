//! Exit codes and the one-line error every binary prints on its way out.
//!
//! - [`CONFIG`] (2): the process cannot start with this configuration: a bad flag or variable,
//!   an invalid file, an address it cannot listen on. One line on stderr names the problem.
//! - [`RUNTIME`] (1): it started, then failed.
//! - 0: it stopped because it was asked to (SIGINT/SIGTERM) or finished its work.

use std::fmt::Display;
use std::process::ExitCode;

/// Exit status for a configuration the process cannot start with.
pub const CONFIG: u8 = 2;
/// Exit status for a failure after startup.
pub const RUNTIME: u8 = 1;

/// Prints `error: {message}` as one line on stderr and returns the exit code `code`.
pub fn fail(code: u8, message: impl Display) -> ExitCode {
    eprintln!("error: {}", one_line(&message));
    ExitCode::from(code)
}

fn one_line(message: &impl Display) -> String {
    message.to_string().replace(['\n', '\r'], " ")
}
