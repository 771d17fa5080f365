//! Child processes that die with the test: our service binaries and system daemons.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use rustix::process::Signal;
use rustix::process::{Pid, kill_process};

/// A free loopback port (bound, then released; the caller binds it right away).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// The path of a system binary, or a panic naming the package that provides it.
pub fn require_binary(name: &str, apt_package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: run `apt-get update && apt-get install -y {apt_package}` (or `just setup`)")
    })
}

/// A file of the workspace, by its path from the root (e.g. `deploy/jaeger/config.yml`).
pub fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

/// The workspace's `target/` (or `CARGO_TARGET_DIR`): built binaries, test artifacts, reports.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_file("target"))
}

/// A binary of this workspace built by `cargo build` (for tests in other crates than its own,
/// which cannot use `CARGO_BIN_EXE_*`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --bins` first (just test does)",
        path.display()
    );
    path
}

/// One of our services (or any HTTP daemon) running as a child process on a free port.
/// Stopped with SIGTERM (then SIGKILL) on drop.
pub struct ServiceProcess {
    child: Option<Child>,
    addr: SocketAddr,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl ServiceProcess {
    /// Starts `binary` with `LISTEN_ADDR=127.0.0.1:<free port>` plus `env`, and waits until
    /// `/healthz` answers 200 (panics with the process's output after 20 s).
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_with_args(binary, &[], env).await
    }

    pub async fn start_with_args(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut command = Command::new(binary);
        command
            .args(args)
            .env("LISTEN_ADDR", addr.to_string())
            .env("OTEL_SDK_DISABLED", "true")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied());
        Self::spawn(command, addr, "/healthz").await
    }

    /// Starts a third-party daemon (an exporter, Alertmanager) already told to listen on `addr`
    /// by `command`'s arguments, and waits until `ready_path` answers 200.
    pub async fn start_daemon(command: Command, addr: SocketAddr, ready_path: &str) -> Self {
        Self::spawn(command, addr, ready_path).await
    }

    async fn spawn(mut command: Command, addr: SocketAddr, ready_path: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log_path = dir.path().join("output.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        let mut service = Self {
            child: Some(child),
            addr,
            log_path,
            _dir: dir,
        };
        service
            .wait_ready(ready_path, Duration::from_secs(20))
            .await;
        service
    }

    async fn wait_ready(&mut self, ready_path: &str, timeout: Duration) {
        let client = reqwest::Client::new();
        let url = format!("http://{}{ready_path}", self.addr);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "{url}: process exited early with {status}:\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{url} not ready after {timeout:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL: the process ends at once, losing whatever it held in memory.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal(child.id(), Signal::KILL);
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits (at most `timeout`) for the exit; `None` if it did not exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        let _ = signal(child.id(), Signal::TERM);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }
}

/// SIGTERM, a bounded wait, then SIGKILL: no process outlives its test.
pub(crate) fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = signal(child.id(), Signal::TERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends `sig` (`Signal::TERM`, `KILL`, `HUP`, `STOP`, `CONT`, ...) to the process `pid` with kill(2),
/// through rustix: no unsafe code, no kill(1) to spawn. Fails when no such process exists (ESRCH),
/// it may not be signalled (EPERM), or `pid` is not a single process's id (0 or above `i32::MAX`
/// would name a process group or every process).
pub fn signal(pid: u32, sig: Signal) -> std::io::Result<()> {
    let target = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{pid} is not a process id"),
            )
        })?;
    Ok(kill_process(target, sig)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn signal_reaches_the_process() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("start sleep");
        signal(child.id(), Signal::TERM).expect("SIGTERM is delivered");
        let status = child.wait().expect("wait for sleep");
        assert_eq!(status.signal(), Some(Signal::TERM.as_raw()), "{status:?}");
    }

    #[test]
    fn signal_reports_what_it_could_not_do() {
        // SIGCONT throughout: harmless to whatever process it would reach if this went wrong.
        // An exited and reaped child: its pid names no process (until the pid space wraps).
        let mut child = Command::new("true").spawn().expect("start true");
        let pid = child.id();
        child.wait().expect("wait for true");
        assert!(
            signal(pid, Signal::CONT).is_err(),
            "no error for a reaped pid"
        );
        // 0 and values above i32::MAX would name a process group or every process to kill(2).
        for pid in [0, u32::MAX, 1 << 31] {
            let error = signal(pid, Signal::CONT).expect_err("not a process id");
            assert_eq!(
                error.kind(),
                std::io::ErrorKind::InvalidInput,
                "{pid}: {error}"
            );
        }
    }
}
