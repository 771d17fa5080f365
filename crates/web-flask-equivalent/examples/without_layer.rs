//! web-flask-equivalent as its binary serves it (same configuration, telemetry, allocator and
//! server), minus `telemetry::HttpLayer`: `just bench` runs it beside the service with metrics
//! only, so the cost of the layer itself is read from one run rather than guessed from the
//! difference to a bare axum binary. Not a way to run the service: its requests are not measured.

fn main() -> std::process::ExitCode {
    server::main(
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        |_config: web_flask_equivalent::Config, listener, shutdown| async move {
            let app = web_flask_equivalent::routes(web_flask_equivalent::AppState::default());
            server::serve(listener, app, shutdown).await
        },
    )
}
