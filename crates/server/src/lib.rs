//! What every service binary shares around its app, so that each `main.rs` is the same three
//! lines and each service has the same entry points (docs/ARCHITECTURE.md, "One service shape"):
//!
//! - [`main`]: the one `main` of every binary: flags and environment, telemetry, the listening
//!   socket, then the service's `run(config, listener, shutdown)`; exit codes in [`exit`].
//! - [`ServiceConfig`]: what `main` needs to know of a service's configuration.
//! - [`serve`]: serve a router until a shutdown future resolves, then drain (bounded).
//! - [`signal`]: the shutdown future of a real process (SIGINT, SIGTERM).
//!
//! Telemetry itself (traces, metrics, logs) lives in the `telemetry` crate; this crate only
//! starts it and keeps its guard alive until the service has stopped.

mod entrypoint;
pub mod exit;
pub mod serve;
pub mod signal;

pub use entrypoint::{ServiceConfig, Shutdown, main, main_with_args};
pub use serve::{DRAIN_TIMEOUT, ServeError, bind, serve};
pub use signal::shutdown_signal;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
