//! The baseline of the end-to-end runs: web-flask-equivalent's `GET /` handler on the same
//! axum/tokio stack, without any telemetry. `LISTEN_ADDR` (or `--listen-addr`) as the services.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Bare axum hello (no telemetry): the baseline of just bench")]
struct Args {
    #[command(flatten)]
    listen: bench::serve::ListenArgs,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    bench::serve::serve_until_signal("bare-hello", args.listen.listen_addr, bench::bare_router())
        .await;
}
