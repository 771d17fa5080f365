//! The metrics peer of the end-to-end runs: web-flask-equivalent's `GET /` handler behind
//! axum-prometheus 0.10 (as its README sets it up), `/metrics` rendered by its handle.
//! `LISTEN_ADDR` (or `--listen-addr`) as the services; stops on SIGTERM.

#[tokio::main]
async fn main() {
    let name = "peer-axum-prometheus";
    let addr = bench::serve::listen_addr(
        name,
        "axum + axum-prometheus: the metrics peer of just bench",
    );
    bench::serve::serve_until_signal(name, addr, bench::peers::prometheus_router()).await;
}
