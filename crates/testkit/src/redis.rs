//! A real `redis-server` on a free loopback port, with a data directory that survives restarts
//! so tests can kill Redis and bring it back on the same port without losing acknowledged writes.

use crate::process::{Signal, require_binary, signal, stop_child};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts redis-server with append-only persistence and waits until it answers PING.
    ///
    /// Redis write()s the AOF before it sends the replies of that event-loop turn, so a SIGKILL of
    /// the process loses nothing it acknowledged; fsync (`always`) would only add protection against
    /// a machine crash, at the price of slow writes on a busy test machine, so `everysec` it is.
    pub fn start() -> Self {
        let binary = require_binary("redis-server", "redis-server");
        let mut server = Self {
            binary,
            port: crate::free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.restart();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port and data directory (after `kill` or `stop`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.path().to_string_lossy()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .args([
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the crash case. Writes acknowledged before it are in the AOF (see `start`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal(child.id(), Signal::KILL);
            let _ = child.wait();
        }
    }

    /// SIGTERM: a clean stop.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::from_secs(5));
        }
    }

    /// Sends one command over RESP and returns the first reply line (`+PONG`, `:42`, `$2`...),
    /// or `None` when the server is not reachable.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        while stream.read(&mut byte).ok()? == 1 {
            if byte[0] == b'\n' {
                break;
            }
            reply.push(byte[0]);
        }
        let line = String::from_utf8_lossy(&reply).trim_end().to_owned();
        if line.starts_with('$') && line != "$-1" {
            // Bulk string: read the payload line too.
            let mut payload = Vec::new();
            while stream.read(&mut byte).ok()? == 1 {
                if byte[0] == b'\n' {
                    break;
                }
                payload.push(byte[0]);
            }
            return Some(String::from_utf8_lossy(&payload).trim_end().to_owned());
        }
        Some(line)
    }

    /// The integer value of `key` (0 when missing).
    pub fn get_int(&self, key: &str) -> i64 {
        match self.command(&["GET", key]).as_deref() {
            Some("$-1") | None => 0,
            Some(value) => value
                .parse()
                .unwrap_or_else(|_| panic!("{key} is not an integer: {value}")),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
