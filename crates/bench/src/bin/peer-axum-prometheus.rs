//! The metrics peer of the end-to-end runs: web-flask-equivalent's `GET /` handler behind
//! axum-prometheus 0.10 (as its README sets it up), `/metrics` rendered by its handle.
//! `LISTEN_ADDR` (or `--listen-addr`) as the services; stops on SIGTERM.

use clap::Parser;
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(about = "axum + axum-prometheus: the metrics peer of just bench")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:5098")]
    listen_addr: SocketAddr,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let listener = match tokio::net::TcpListener::bind(args.listen_addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {}: {error}", args.listen_addr);
            std::process::exit(2);
        }
    };
    println!("peer-axum-prometheus listening on {}", args.listen_addr);
    let served = axum::serve(listener, bench::peers::prometheus_router())
        .with_graceful_shutdown(bench::peers::shutdown_signal())
        .await;
    if let Err(error) = served {
        eprintln!("error: server failed: {error}");
        std::process::exit(1);
    }
}
