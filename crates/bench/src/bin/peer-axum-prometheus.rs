//! The metrics peer of the end-to-end runs: web-flask-equivalent's `GET /` handler behind
//! axum-prometheus 0.10 (as its README sets it up), `/metrics` rendered by its handle.
//! `LISTEN_ADDR` (or `--listen-addr`) as the services; stops on SIGTERM.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "axum + axum-prometheus: the metrics peer of just bench")]
struct Args {
    #[command(flatten)]
    listen: bench::serve::ListenArgs,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    bench::serve::serve_until_signal(
        "peer-axum-prometheus",
        args.listen.listen_addr,
        bench::peers::prometheus_router(),
    )
    .await;
}
