//! How the bench's HTTP binaries (bare-hello and the peers) take their address and serve: like the
//! services (`LISTEN_ADDR` or `--listen-addr`), stopping on SIGINT/SIGTERM so `just bench` can stop
//! a target and read what it flushed. A bind failure exits 2 naming the address, a server failure 1.

use axum::Router;
use clap::{CommandFactory, FromArgMatches};
use std::net::SocketAddr;

/// The command line of every such binary: only the listen address.
#[derive(Debug, clap::Parser)]
struct ListenArgs {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:5099")]
    listen_addr: SocketAddr,
}

/// Parses the command line of the binary `name` (`--help` shows `about`): the listen address.
pub fn listen_addr(name: &'static str, about: &'static str) -> SocketAddr {
    let matches = ListenArgs::command().name(name).about(about).get_matches();
    match ListenArgs::from_arg_matches(&matches) {
        Ok(args) => args.listen_addr,
        Err(error) => error.exit(),
    }
}

/// Binds `addr` (exit 2 if it cannot), serves `app` until SIGINT/SIGTERM, then returns once the
/// open connections are done (exit 1 if serving fails).
pub async fn serve_until_signal(name: &str, addr: SocketAddr, app: Router) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("error: cannot listen on {addr}: {error}");
            std::process::exit(2);
        }
    };
    println!("{name} listening on {addr}");
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await;
    if let Err(error) = served {
        eprintln!("error: server failed: {error}");
        std::process::exit(1);
    }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
