//! A live OTLP receiver for the end-to-end runs: gRPC and HTTP/protobuf, decoding and counting
//! every export and keeping nothing (a collector that is never the bottleneck).
//! `GET /stats` on the HTTP port answers `{"requests": .., "spans": ..}`.

use clap::Parser;

// The sink shares the cores with the services it measures: mimalloc (as the services use, see
// the `server` crate) keeps its share small.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(about = "OTLP sink: receives spans over gRPC and HTTP, counts and discards them")]
struct Args {
    /// OTLP/gRPC listen address.
    #[arg(long, env = "SINK_GRPC_ADDR", default_value = "127.0.0.1:4317")]
    grpc_addr: SocketAddr,
    /// OTLP/HTTP listen address (`POST /v1/traces`), also `GET /stats` and `GET /healthz`.
    #[arg(long, env = "SINK_HTTP_ADDR", default_value = "127.0.0.1:4318")]
    http_addr: SocketAddr,
}

fn bind_error(addr: SocketAddr, error: std::io::Error) -> ! {
    eprintln!("error: cannot listen on {addr}: {error}");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let stats = Arc::new(bench::SinkStats::default());
    let grpc = tokio::net::TcpListener::bind(args.grpc_addr)
        .await
        .unwrap_or_else(|e| bind_error(args.grpc_addr, e));
    let http = tokio::net::TcpListener::bind(args.http_addr)
        .await
        .unwrap_or_else(|e| bind_error(args.http_addr, e));
    println!(
        "otlp-sink: gRPC on {}, HTTP on {} (stats at /stats)",
        args.grpc_addr, args.http_addr
    );
    let grpc = tokio::spawn(bench::serve_grpc(grpc, stats.clone()));
    let http = tokio::spawn(async move { axum::serve(http, bench::http_router(stats)).await });
    tokio::select! {
        result = grpc => eprintln!("error: gRPC server ended: {result:?}"),
        result = http => eprintln!("error: HTTP server ended: {result:?}"),
    }
    std::process::exit(1);
}
