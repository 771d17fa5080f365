//! The robot-control binary: parse configuration, start telemetry, serve.

use robot_control::{Config, run};

#[tokio::main]
async fn main() {
    let config: Config = telemetry::parse_args();
    let guard = telemetry::init_from_env(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    let result = run(config).await;
    drop(guard); // flush spans before exiting
    if let Err(error) = result {
        telemetry::exit_with(error);
    }
}
