//! Shared helpers of the reliability suite (issue 9): fault and bad-input scenarios against the
//! real service binaries on loopback.
//!
//! Every scenario test ends by writing one JSON record
//! `{scenario, service, tried, lost, figure, unit, notes, soak}` to
//! `target/reliability/<scenario>.<service>[.soak].json`; `scripts/reliability_report.py` turns
//! the records into RELIABILITY.md. `RELIABILITY_SOAK=1` scales counts and durations up.
//!
//! Everything here is bounded: counts, not wall-clock budgets, drive the loops, and every network
//! read has a hang guard that fails the test instead of waiting forever.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A hang guard for one request: an answer later than this is a hang, not slowness.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// The `ROBOT_TOKEN` the suite starts robot-control with; requests that move a robot send it as
/// a bearer token, as a script would.
pub const ROBOT_TOKEN: &str = "reliability-suite-robot-token";

/// True when `RELIABILITY_SOAK=1` (the `just soak` run).
pub fn soak() -> bool {
    std::env::var("RELIABILITY_SOAK").is_ok_and(|v| v == "1" || v == "true")
}

/// `fast` in the CI run, `soak` under `RELIABILITY_SOAK=1`.
pub fn scaled(fast: u64, soak_value: u64) -> u64 {
    if soak() { soak_value } else { fast }
}

/// A workspace binary (built by `cargo build --workspace --bins`).
pub fn binary(name: &str) -> PathBuf {
    testkit::workspace_binary(name)
}

pub use testkit::target_dir;

/// One row of RELIABILITY.md.
#[derive(Debug, Clone)]
pub struct Record {
    /// Scenario id, e.g. `redis-kill-restart`.
    pub scenario: &'static str,
    pub service: &'static str,
    /// What was tried (requests, inputs, cases).
    pub tried: u64,
    /// What was lost: must be 0 for the test to pass.
    pub lost: u64,
    /// The measured figure (time, ratio, bytes...).
    pub figure: f64,
    pub unit: &'static str,
    pub notes: String,
}

impl Record {
    /// Writes `target/reliability/<scenario>.<service>[.soak].json`.
    pub fn write(&self) {
        let dir = target_dir().join("reliability");
        std::fs::create_dir_all(&dir).expect("create target/reliability");
        let soak = soak();
        let name = format!(
            "{}.{}{}.json",
            self.scenario,
            self.service,
            if soak { ".soak" } else { "" }
        );
        let recorded_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let figure = if self.figure.is_finite() {
            (self.figure * 1000.0).round() / 1000.0
        } else {
            -1.0
        };
        let json = serde_json::json!({
            "scenario": self.scenario,
            "service": self.service,
            "tried": self.tried,
            "lost": self.lost,
            "figure": figure,
            "unit": self.unit,
            "notes": self.notes,
            "soak": soak,
            "recorded_at": recorded_at,
        });
        std::fs::write(
            dir.join(name),
            serde_json::to_string_pretty(&json).expect("json") + "\n",
        )
        .expect("write reliability record");
    }
}

/// Resident memory of a process in bytes (from /proc), `None` once it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Samples a process's RSS every 50 ms in the background; `peak()` is the highest seen.
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid).unwrap_or(0)));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self { peak, stop }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

pub const MIB: f64 = 1024.0 * 1024.0;

/// Sends a signal by name with kill(1) (no unsafe code).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// GET `url` (a hang guard applies) and return the body text.
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client
        .get(url)
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("GET {url} body: {e}"))
}

/// The set of series (name and labels, no value) of a Prometheus exposition.
pub fn series_set(exposition: &str) -> BTreeSet<String> {
    testkit::parse_metrics(exposition)
        .into_iter()
        .map(|(series, _)| series)
        .collect()
}

/// Sum of every series of metric `name` (any labels); 0 when absent.
pub fn metric_sum(exposition: &str, name: &str) -> f64 {
    testkit::parse_metrics(exposition)
        .into_iter()
        .filter(|(series, _)| {
            series == name
                || series
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{'))
        })
        .map(|(_, v)| v)
        .sum()
}

/// What one raw HTTP/1.1 exchange produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawOutcome {
    /// A response: status code and body length read.
    Response { status: u16, body_len: usize },
    /// The server closed (or reset) the connection without a response.
    Closed,
    /// No complete answer within the hang guard.
    Hang,
    /// The connection was refused.
    Refused,
}

/// Sends `request` bytes on a new connection and reads one response (hang guard: `timeout`).
/// Reads the head, then the body by Content-Length or chunked framing.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> RawOutcome {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return RawOutcome::Refused;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    // The server may answer (431, 413) and close before it reads everything: keep reading.
    let _ = stream.write_all(request);
    let head_only = request.starts_with(b"HEAD ");
    read_response_to(&mut stream, Instant::now() + timeout, head_only)
}

/// Reads one HTTP/1.1 response from `stream` until `deadline`.
pub fn read_response(stream: &mut TcpStream, deadline: Instant) -> RawOutcome {
    read_response_to(stream, deadline, false)
}

/// Like [`read_response`]; `head_only` for the answer to a HEAD request (no body follows).
pub fn read_response_to(stream: &mut TcpStream, deadline: Instant, head_only: bool) -> RawOutcome {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(pos) = find(&buffer, b"\r\n\r\n") {
            break pos + 4;
        }
        if Instant::now() >= deadline {
            return RawOutcome::Hang;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return RawOutcome::Closed,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return RawOutcome::Hang;
            }
            Err(_) => return RawOutcome::Closed,
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_length: Option<usize> = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    let mut body = buffer[head_end..].to_vec();
    let complete = |body: &[u8]| match (content_length, chunked) {
        (Some(n), _) => body.len() >= n,
        (None, true) => find(body, b"0\r\n\r\n").is_some(),
        (None, false) => false,
    };
    while !head_only && !complete(&body) && status != 101 && status != 204 && status != 304 {
        if Instant::now() >= deadline {
            return RawOutcome::Hang;
        }
        match stream.read(&mut chunk) {
            // Without framing the body ends at EOF.
            Ok(0) if content_length.is_none() && !chunked => break,
            Ok(0) => return RawOutcome::Closed,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(_) => return RawOutcome::Hang,
        }
    }
    RawOutcome::Response {
        status,
        body_len: body.len(),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A TCP endpoint that accepts every connection, reads and discards what arrives, and never
/// answers: a black-holed collector, a hung daemon or a hung probe target.
pub struct BlackHole {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    max_open: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind black hole");
        let addr = listener.local_addr().expect("addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let max_open = Arc::new(AtomicUsize::new(0));
        let (a, o, m) = (accepted.clone(), open.clone(), max_open.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                let o = o.clone();
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt;
                    let mut sink = [0u8; 8192];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            accepted,
            open,
            max_open,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections the peer still holds open.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most connections open at once.
    pub fn max_open(&self) -> usize {
        self.max_open.load(Ordering::SeqCst)
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Status counts of a load run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors (no response), by a short description.
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors.values().sum::<u64>()
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    /// Requests answered with a 2xx.
    pub fn ok(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn per_second(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `count` GETs of `url`, `concurrency` at a time, each under the hang guard.
pub async fn load(client: &reqwest::Client, url: &str, count: u64, concurrency: u64) -> Tally {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, Ordering::Relaxed) < count {
                    match client.get(&url).timeout(HANG_GUARD).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            let complete = response.bytes().await.is_ok();
                            if complete {
                                *tally.statuses.entry(status).or_default() += 1;
                            } else {
                                *tally.errors.entry("truncated body".into()).or_default() += 1;
                            }
                        }
                        Err(e) => *tally.errors.entry(describe(&e)).or_default() += 1,
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.expect("load worker");
        for (s, n) in tally.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        for (e, n) in tally.errors {
            *total.errors.entry(e).or_default() += n;
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// A short, stable description of a reqwest error.
pub fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout (hang guard)".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "no response".into()
    }
}

/// Runs `binary` with a clean environment plus `env` and `args`, and waits (at most 10 s).
pub fn run_config_case(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> testkit::RunOutcome {
    testkit::run_bounded(
        Command::new(binary)
            .env_clear()
            .env("OTEL_SDK_DISABLED", "true")
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .args(args),
        Duration::from_secs(10),
    )
}
