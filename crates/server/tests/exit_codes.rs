//! The exit-code contract of every binary (crate docs, `exit`): 2 when the process cannot start
//! with its configuration, 1 when it fails after starting. One test, because telemetry can be
//! started once per process.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::ExitCode;
use tokio::net::TcpListener;

#[derive(Debug, clap::Parser)]
struct Config {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen_addr: SocketAddr,
    #[arg(long)]
    refuse: bool,
}

impl server::ServiceConfig for Config {
    fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    fn prepare(&mut self, _: &mut telemetry::TelemetryConfig) -> Result<(), String> {
        if self.refuse {
            return Err("--refuse: this configuration is refused".into());
        }
        Ok(())
    }
}

fn main_with(args: &[&str], run: fn() -> Result<(), String>) -> ExitCode {
    let mut argv = vec!["service"];
    argv.extend(args);
    server::main_with_args(
        argv,
        "exit-codes-test",
        "0.0.0",
        move |_: Config, _: TcpListener, _| async move { run() },
    )
}

#[test]
fn configuration_errors_exit_2_and_failures_after_startup_exit_1() {
    let never_runs = || -> Result<(), String> { panic!("run must not start") };
    assert_eq!(
        main_with(&["--no-such-flag"], never_runs),
        ExitCode::from(2)
    );
    assert_eq!(main_with(&["--refuse"], never_runs), ExitCode::from(2));
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    assert_eq!(
        main_with(&["--listen-addr", &busy], never_runs),
        ExitCode::from(2)
    );
    assert_eq!(main_with(&["--help"], never_runs), ExitCode::SUCCESS);
    // Started (telemetry up, listening), then failed: a runtime failure.
    let fails = || -> Result<(), String> { Err("the robot caught fire".into()) };
    assert_eq!(main_with(&[], fails), ExitCode::from(1));
}
