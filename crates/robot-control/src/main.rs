//! The robot-control binary: parse configuration, start telemetry, serve.

use clap::Parser;
use robot_control::Config;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::try_parse() {
        Ok(config) => config,
        Err(error) if !error.use_stderr() => {
            // --help / --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            let message = error.to_string();
            let first_line = message.lines().next().unwrap_or("invalid arguments");
            eprintln!(
                "robot-control: {}",
                first_line.trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let telemetry_config =
        telemetry::TelemetryConfig::from_env(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    let _telemetry = match telemetry_config.and_then(telemetry::init) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("robot-control: {error}");
            return ExitCode::FAILURE;
        }
    };
    match robot_control::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "robot-control stopped");
            eprintln!("robot-control: {error}");
            ExitCode::FAILURE
        }
    }
}
