//! The full-telemetry peer of the end-to-end runs: web-flask-equivalent's `GET /` handler in the
//! stack users assemble (axum-tracing-opentelemetry + tracing-opentelemetry + the OTLP batch
//! exporter + axum-prometheus; see `bench::peers`). Configured like the services: `LISTEN_ADDR`
//! (or `--listen-addr`), the `OTEL_*` variables, `RUST_LOG`. On SIGTERM it stops serving, then
//! shuts the tracer provider down, which exports every span still queued.

use clap::Parser;
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(
    about = "axum-tracing-opentelemetry + OTLP + axum-prometheus: the full-telemetry peer of just bench"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:5097")]
    listen_addr: SocketAddr,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let provider = match bench::peers::init_assembled_tracing() {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("error: cannot set up tracing: {error}");
            std::process::exit(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.listen_addr);
            std::process::exit(2);
        }
    };
    tracing::info!(addr = %args.listen_addr, "peer-assembled-otel listening");
    let served = axum::serve(listener, bench::peers::assembled_router())
        .with_graceful_shutdown(bench::peers::shutdown_signal())
        .await;
    // The batch processor's own thread blocks on the export; off the runtime's workers.
    let flushed = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Err(error) = served {
        eprintln!("error: server failed: {error}");
        std::process::exit(1);
    }
    match flushed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            eprintln!("error: spans not flushed at shutdown: {error}");
            std::process::exit(1);
        }
        Err(error) => {
            eprintln!("error: shutdown task failed: {error}");
            std::process::exit(1);
        }
    }
}
