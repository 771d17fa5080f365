use redis_counter::{Config, run, telemetry_config};

#[tokio::main]
async fn main() {
    let config: Config = telemetry::parse_args();
    let guard = telemetry_config()
        .and_then(telemetry::init)
        .unwrap_or_else(|error| telemetry::exit_with(error));
    let result = run(config).await;
    drop(guard); // flush spans before exiting
    if let Err(error) = result {
        telemetry::exit_with(error);
    }
}
