use url_prober::{Config, run_with};

#[tokio::main]
async fn main() {
    let config: Config = telemetry::parse_args();
    // The probe config comes first: an invalid file is one line and exit 2, and its
    // `log_level` is the default log filter when RUST_LOG is unset.
    let probes = config
        .load_probes()
        .unwrap_or_else(|error| telemetry::exit_with(error));
    let mut telemetry_config =
        telemetry::TelemetryConfig::from_env(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
            .unwrap_or_else(|error| telemetry::exit_with(error));
    if std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
        telemetry_config.log_filter = probes.log_level.filter();
    }
    let guard =
        telemetry::init(telemetry_config).unwrap_or_else(|error| telemetry::exit_with(error));
    let result = run_with(config, probes).await;
    drop(guard); // flush spans before exiting
    if let Err(error) = result {
        telemetry::exit_with(error);
    }
}
