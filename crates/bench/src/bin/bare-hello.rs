//! The baseline of the end-to-end runs: web-flask-equivalent's `GET /` handler on the same
//! axum/tokio stack, without any telemetry. `LISTEN_ADDR` (or `--listen-addr`) as the services.

#[tokio::main]
async fn main() {
    let name = "bare-hello";
    let addr = bench::serve::listen_addr(
        name,
        "Bare axum hello (no telemetry): the baseline of just bench",
    );
    bench::serve::serve_until_signal(name, addr, bench::bare_router()).await;
}
