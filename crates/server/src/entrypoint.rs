//! The one `main` of every binary in the workspace. Each `src/main.rs` is:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     server::main(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"), my_service::run)
//! }
//! ```
//!
//! and each service exposes `run(config, listener, shutdown)`, which tests call in-process with a
//! listener on port 0 and a shutdown future of their own.

use crate::exit;
use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use telemetry::TelemetryConfig;
use tokio::net::TcpListener;

/// The shutdown future `main` hands to a service: SIGINT or SIGTERM.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What [`main`] needs of a service's configuration (a clap `Parser` reading flags and env).
pub trait ServiceConfig: clap::Parser {
    /// The address to listen on (`LISTEN_ADDR`).
    fn listen_addr(&self) -> SocketAddr;

    /// Checks what the flags alone cannot (files, URLs) and adapts the telemetry settings
    /// (default log filter, histogram buckets) before telemetry starts. An error is a
    /// configuration error: one line on stderr, exit 2.
    fn prepare(&mut self, telemetry: &mut TelemetryConfig) -> Result<(), String> {
        let _ = telemetry;
        Ok(())
    }
}

/// Parses the configuration, starts telemetry, binds `listen_addr`, runs the service until
/// SIGINT/SIGTERM, then flushes telemetry. Exit codes: 0 when it stopped as asked or finished,
/// 2 when it cannot start with this configuration, 1 when it failed afterwards
/// ([`exit`]); every failure is one line on stderr.
pub fn main<C, F, Fut, E>(service_name: &str, version: &str, run: F) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C, TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    main_with_args(std::env::args_os(), service_name, version, run)
}

/// [`main`] with the command line given (the first item is the program name): for tests.
pub fn main_with_args<C, F, Fut, E, I, T>(
    args: I,
    service_name: &str,
    version: &str,
    run: F,
) -> ExitCode
where
    C: ServiceConfig,
    F: FnOnce(C, TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut config = match parse_args::<C, _, _>(args) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return exit::fail(exit::RUNTIME, format!("cannot start tokio: {error}")),
    };
    runtime.block_on(async move {
        let mut telemetry_config = match TelemetryConfig::from_env(service_name, version) {
            Ok(telemetry_config) => telemetry_config,
            Err(error) => return exit::fail(exit::CONFIG, error),
        };
        if let Err(error) = config.prepare(&mut telemetry_config) {
            return exit::fail(exit::CONFIG, error);
        }
        let listener = match crate::bind(config.listen_addr()).await {
            Ok(listener) => listener,
            Err(error) => return exit::fail(exit::CONFIG, error),
        };
        // Inside the runtime: the gRPC exporter needs it.
        let guard = match telemetry::init(telemetry_config) {
            Ok(guard) => guard,
            Err(error) => return exit::fail(exit::CONFIG, error),
        };
        let result = run(config, listener, Box::pin(crate::shutdown_signal())).await;
        drop(guard); // the service has drained: export its last spans (bounded) before exiting
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => exit::fail(exit::RUNTIME, error),
        }
    })
}

/// Flags and environment (clap derive with `env`). A bad value prints `error: <what is wrong>`
/// on one line (exit 2); `--help` and `--version` print as usual (exit 0).
fn parse_args<C, I, T>(args: I) -> Result<C, ExitCode>
where
    C: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    C::try_parse_from(args).map_err(|error| match error.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            let _ = error.print();
            ExitCode::SUCCESS
        }
        _ => {
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or("invalid configuration");
            exit::fail(exit::CONFIG, first.trim_start_matches("error: "))
        }
    })
}
