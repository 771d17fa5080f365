use loadgen::{Config, print_summary, run};

#[tokio::main]
async fn main() {
    let config: Config = telemetry::parse_args();
    let mut telemetry_config =
        telemetry::TelemetryConfig::from_env(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .unwrap_or_else(|error| telemetry::exit_with(error));
    // stdout carries the summary: only warnings and errors are logged unless RUST_LOG says more.
    if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
        telemetry_config.log_filter = "warn".to_owned();
    }
    let guard =
        telemetry::init(telemetry_config).unwrap_or_else(|error| telemetry::exit_with(error));
    let json = config.json;
    let result = run(config).await;
    drop(guard); // flush spans (and their log lines) before the summary
    match result {
        Ok(summary) => print_summary(&summary, json),
        Err(error) => telemetry::exit_with(error),
    }
}
