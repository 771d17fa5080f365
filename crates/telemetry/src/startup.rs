//! Startup helpers shared by every service's `main`: configuration errors end the process with
//! one line on stderr and a non-zero exit, never a panic or a screen of usage text.

use std::fmt::Display;

/// Parses command-line flags and environment (clap derive with `env`); on a bad value prints
/// `error: <what is wrong>` on one line and exits with status 2. `--help`/`--version` work as usual.
pub fn parse_args<C: clap::Parser>() -> C {
    match C::try_parse() {
        Ok(config) => config,
        Err(error) => match error.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                error.exit()
            }
            _ => {
                let rendered = error.to_string();
                let first = rendered.lines().next().unwrap_or("invalid configuration");
                exit_with(first.trim_start_matches("error: "))
            }
        },
    }
}

/// Prints `error: {message}` on one line and exits with status 2 (bad configuration).
pub fn exit_with(message: impl Display) -> ! {
    let one_line = message.to_string().replace('\n', " ");
    eprintln!("error: {one_line}");
    std::process::exit(2)
}

/// `init` from the process environment, exiting with a one-line error when a variable is bad.
pub fn init_from_env(service_name: &str, version: &str) -> crate::TelemetryGuard {
    crate::TelemetryConfig::from_env(service_name, version)
        .and_then(crate::init)
        .unwrap_or_else(|error| exit_with(error))
}
