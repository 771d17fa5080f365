//! The baseline of the end-to-end runs: web-flask-equivalent's `GET /` handler on the same
//! axum/tokio stack, without any telemetry. `LISTEN_ADDR` (or `--listen-addr`) as the services.

use clap::Parser;
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(about = "Bare axum hello (no telemetry): the baseline of just bench")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:5099")]
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
    println!("bare-hello listening on {}", args.listen_addr);
    if let Err(error) = axum::serve(listener, bench::bare_router()).await {
        eprintln!("error: server failed: {error}");
        std::process::exit(1);
    }
}
