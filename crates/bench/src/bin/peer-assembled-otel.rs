//! The full-telemetry peer of the end-to-end runs: web-flask-equivalent's `GET /` handler in the
//! stack users assemble (axum-tracing-opentelemetry + tracing-opentelemetry + the OTLP batch
//! exporter + axum-prometheus; see `bench::peers`). Configured like the services: `LISTEN_ADDR`
//! (or `--listen-addr`), the `OTEL_*` variables, `RUST_LOG`. On SIGTERM it stops serving, then
//! shuts the tracer provider down, which exports every span still queued.

#[tokio::main]
async fn main() {
    let name = "peer-assembled-otel";
    let addr = bench::serve::listen_addr(
        name,
        "axum-tracing-opentelemetry + OTLP + axum-prometheus: the full-telemetry peer of just bench",
    );
    let provider = match bench::peers::init_assembled_tracing() {
        Ok(provider) => provider,
        Err(error) => {
            eprintln!("error: cannot set up tracing: {error}");
            std::process::exit(2);
        }
    };
    bench::serve::serve_until_signal(name, addr, bench::peers::assembled_router()).await;
    // The batch processor's shutdown blocks until the last export is done: off the runtime.
    match tokio::task::spawn_blocking(move || provider.shutdown()).await {
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
