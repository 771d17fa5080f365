//! url-prober against hostile targets: one that hangs (accepts, never answers), one that
//! resets every connection, one that drips its headers, one that sends an endless body, one
//! that redirects to itself. Each is `up=0`, probes stay one at a time per URL (no pile-up),
//! the endless body is not read past the cap, memory stays bounded, and `/queryurl` keeps
//! answering promptly. And secrets in the prober's config (userinfo, query values, headers)
//! reach the configured origin only: not a redirect's other origin, not `/queryurl`, `/metrics`,
//! the DEBUG logs or the exported spans.
#![allow(clippy::unwrap_used)]

use reliability::{BlackHole, MIB, Record, RssSampler, binary, get_text, scaled};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::ServiceProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RSS_BOUND: u64 = 256 * 1024 * 1024;
/// The prober's own caps, so this test follows them when they change.
const MAX_BODY_BYTES: u64 = url_prober::probe::MAX_BODY_BYTES as u64;
const MAX_REDIRECTS: u64 = url_prober::probe::MAX_REDIRECTS as u64;

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Reset,
    DripHeaders,
    EndlessBody,
    RedirectLoop,
}

/// A hostile HTTP target: counts connections, peak concurrent connections and bytes it sent.
struct Hostile {
    url: String,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    max_open: Arc<AtomicUsize>,
    sent: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a request head (up to the blank line); returns it as text.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

async fn hostile(behaviour: Behaviour) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/{behaviour:?}");
    let accepted = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let max_open = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let task = {
        let (accepted, open, max_open, sent, url) = (
            accepted.clone(),
            open.clone(),
            max_open.clone(),
            sent.clone(),
            url.clone(),
        );
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                max_open.fetch_max(now, Ordering::SeqCst);
                let (open, sent, url) = (open.clone(), sent.clone(), url.clone());
                tokio::spawn(async move {
                    read_head(&mut stream).await;
                    match behaviour {
                        Behaviour::Reset => {
                            // Zero linger: the close is an immediate RST (nothing blocks).
                            #[allow(deprecated)]
                            let _ = stream.set_linger(Some(Duration::ZERO));
                            drop(stream);
                        }
                        Behaviour::DripHeaders => {
                            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n").await;
                            for _ in 0..600 {
                                if stream.write_all(b"x").await.is_err() {
                                    break;
                                }
                                sent.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                        Behaviour::EndlessBody => {
                            let head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                            if stream.write_all(head).await.is_ok() {
                                let mut chunk = b"10000\r\n".to_vec();
                                chunk.extend(std::iter::repeat_n(b'z', 0x10000));
                                chunk.extend_from_slice(b"\r\n");
                                while stream.write_all(&chunk).await.is_ok() {
                                    sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                                }
                            }
                        }
                        Behaviour::RedirectLoop => loop {
                            let answer = format!(
                                "HTTP/1.1 302 Found\r\nlocation: {url}\r\ncontent-length: 0\r\n\r\n"
                            );
                            if stream.write_all(answer.as_bytes()).await.is_err() {
                                break;
                            }
                            sent.fetch_add(1, Ordering::Relaxed);
                            read_head(&mut stream).await;
                            let mut probe = [0u8; 1];
                            if stream.peek(&mut probe).await.unwrap_or(0) == 0 {
                                break;
                            }
                        },
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        })
    };
    Hostile {
        url,
        accepted,
        open,
        max_open,
        sent,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_targets_are_down_bounded_and_never_pile_up() {
    let duration = Duration::from_secs(scaled(6, 60));
    let interval = 0.5;
    let timeout = 0.4;
    let hang = BlackHole::start().await;
    let hang_url = format!("{}/hang", hang.url());
    let targets = [
        hostile(Behaviour::Reset).await,
        hostile(Behaviour::DripHeaders).await,
        hostile(Behaviour::EndlessBody).await,
        hostile(Behaviour::RedirectLoop).await,
    ];
    let mut urls: Vec<String> = targets.iter().map(|t| t.url.clone()).collect();
    urls.push(hang_url.clone());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    let yaml: String = urls.iter().map(|u| format!("  - {u}\n")).collect();
    std::fs::write(
        &config,
        format!(
            "urls:\n{yaml}request_timeout_in_seconds: {timeout}\nquery_interval_in_seconds: {interval}\n"
        ),
    )
    .unwrap();
    let process = ServiceProcess::start(
        &binary("url-prober"),
        &[
            ("PROBER_CONFIG", &config.display().to_string()),
            ("RUST_LOG", "warn"),
        ],
    )
    .await;
    let pid = process.pid().unwrap();
    let rss = RssSampler::start(pid);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut slowest_query = Duration::ZERO;
    let mut queries = 0u64;
    while started.elapsed() < duration {
        let asked = Instant::now();
        let text = get_text(&client, &format!("{}/queryurl", process.url())).await;
        slowest_query = slowest_query.max(asked.elapsed());
        queries += 1;
        assert!(
            text.starts_with('{') || text.starts_with('['),
            "/queryurl JSON: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics = get_text(&client, &format!("{}/metrics", process.url())).await;
    let peak = rss.peak();

    let mut details = Vec::new();
    let mut wrongly_up = Vec::new();
    for url in &urls {
        let up = testkit::metric_value(
            &metrics,
            &format!(r#"sample_external_url_up{{url="{url}"}}"#),
        );
        if up != Some(0.0) {
            wrongly_up.push(format!("{url}: sample_external_url_up = {up:?}"));
        }
        let probes = testkit::parse_metrics(&metrics)
            .into_iter()
            .filter(|(s, _)| {
                s.starts_with("probe_results_total{") && s.contains(&format!(r#"url="{url}""#))
            })
            .map(|(_, v)| v)
            .sum::<f64>();
        let most = elapsed / interval + 2.0;
        assert!(
            probes >= 2.0 && probes <= most,
            "{url}: {probes} probes in {elapsed:.1} s at one per {interval} s (at most {most:.0}): none skipped, none piled up"
        );
        details.push((url.clone(), probes));
    }
    assert!(
        hang.max_open() <= 2,
        "the hung target saw {} connections open at once: probes pile up",
        hang.max_open()
    );
    for target in &targets {
        // One probe at a time per URL. A redirect loop's hops are sequential connections of that
        // one probe (no reuse), and the server may see a hop's close after the next hop's connect.
        let allowed = if target.url.ends_with("RedirectLoop") {
            url_prober::probe::MAX_REDIRECTS + 1
        } else {
            2
        };
        assert!(
            target.max_open.load(Ordering::SeqCst) <= allowed,
            "{}: {} connections open at once (at most {allowed})",
            target.url,
            target.max_open.load(Ordering::SeqCst)
        );
        assert!(
            target.accepted.load(Ordering::SeqCst) >= 2,
            "{} was probed",
            target.url
        );
    }
    let probes_of = |url: &str| {
        details
            .iter()
            .find(|(u, _)| u == url)
            .map(|(_, p)| *p)
            .unwrap()
    };
    // The endless body: never read much past the cap per probe (plus socket buffers).
    let endless = &targets[2];
    let endless_probes = probes_of(&endless.url);
    let sent = endless.sent.load(Ordering::Relaxed) as f64;
    let allowed = (endless_probes + 1.0) * (MAX_BODY_BYTES as f64 + 8.0 * MIB);
    assert!(
        sent <= allowed,
        "endless body: {:.1} MiB sent for {endless_probes} probes",
        sent / MIB
    );
    // The redirect loop: at most MAX_REDIRECTS + 1 requests per probe.
    let redirects = &targets[3];
    let redirect_answers = redirects.sent.load(Ordering::Relaxed) as f64;
    let loop_probes = probes_of(&redirects.url);
    assert!(
        redirect_answers <= (loop_probes + 1.0) * (MAX_REDIRECTS + 1) as f64,
        "redirect loop: {redirect_answers} redirects for {loop_probes} probes"
    );
    assert!(
        peak < RSS_BOUND,
        "url-prober RSS peaked at {:.1} MiB",
        peak as f64 / MIB
    );
    assert!(
        wrongly_up.is_empty(),
        "hostile targets must be up=0, but: {wrongly_up:?}"
    );
    drop(process);
    let open_after: usize = targets
        .iter()
        .map(|t| t.open.load(Ordering::SeqCst))
        .sum::<usize>()
        + hang.open();
    let total_probes: f64 = details.iter().map(|(_, p)| *p).sum();
    Record {
        scenario: "prober-hostile-targets",
        service: "url-prober",
        tried: total_probes as u64,
        lost: 0,
        figure: peak as f64 / MIB,
        unit: "MiB peak RSS",
        notes: format!(
            "{elapsed:.0} s, 5 targets (hang, reset, drip headers, endless body, redirect loop), timeout {timeout} s, \
             interval {interval} s: all up=0; probes per target {:?}; at most 2 connections open at once per target (redirect loop: one probe's hops); \
             endless body sent {:.1} MiB over {endless_probes} probes; {redirect_answers} redirects over {loop_probes} probes; \
             /queryurl answered {queries} times, slowest {} ms; {} connections left open after exit",
            details.iter().map(|(_, p)| *p as u64).collect::<Vec<_>>(),
            sent / MIB,
            slowest_query.as_millis(),
            open_after,
        ),
    }
    .write();
}

/// A loopback HTTP server that records every request head and answers `answer(head)`.
struct Recorder {
    addr: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    async fn start(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let (recorded, answer) = (heads.clone(), Arc::new(answer));
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (recorded, answer) = (recorded.clone(), answer.clone());
                tokio::spawn(async move {
                    let head = read_head(&mut stream).await;
                    let reply = answer(&head);
                    recorded.lock().expect("lock").push(head);
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { addr, heads, task }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

fn reply(status: &str, extra_header: &str) -> String {
    format!("HTTP/1.1 {status}\r\n{extra_header}content-length: 0\r\nconnection: close\r\n\r\n")
}

/// The configured header as the target sees it (lower-cased by hyper).
const API_KEY_HEADER: &str = "x-api-key: hv-k3y"; // secrets-check: allow (test fixture)
/// Every secret of the config below (and the basic credentials the userinfo becomes); none may
/// show anywhere or reach another origin.
const SECRETS: [&str; 7] = [
    "prober-user",
    "cHJvYmVyLXVzZXI6cHctaHVudGVyMg==",
    "pw-hunter2",
    "qv-s3cr3t",
    "hv-k3y",
    "qv-refused",
    "hv-refused",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_the_config_reach_the_configured_origin_only_and_show_nowhere() {
    let elsewhere = Recorder::start(|_| reply("200 OK", "")).await;
    let landing = format!("http://{}/land", elsewhere.addr);
    // 200 only with all three secrets; /away redirects to another origin.
    let origin = Recorder::start(move |head| {
        let head = head.to_ascii_lowercase();
        if head.starts_with("get /away") {
            reply("302 Found", &format!("location: {landing}\r\n"))
        } else if head.starts_with("get /secure?token=qv-s3cr3t&verbose ")
            && head.contains(&format!(
                "authorization: basic {}",
                SECRETS[1].to_ascii_lowercase()
            ))
            && head.contains(API_KEY_HEADER)
        {
            reply("200 OK", "")
        } else {
            reply("401 Unauthorized", "")
        }
    })
    .await;
    let closed = testkit::free_port();
    let at = origin.addr;
    let shown = [
        format!("http://{at}/secure?token=REDACTED&verbose"),
        format!("http://{at}/away?token=REDACTED"),
        format!("http://127.0.0.1:{closed}/?api_key=REDACTED"),
    ];

    let mut receiver = testkit::OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    std::fs::write(
        &config,
        [
            "urls:\n".to_owned(),
            format!("- url: 'http://prober-user:pw-hunter2@{at}/secure?token=qv-s3cr3t&verbose'\n  headers: {{X-Api-Key: hv-k3y}}\n"), // secrets-check: allow (test fixture)
            format!("- url: 'http://prober-user:pw-hunter2@{at}/away?token=qv-s3cr3t'\n  headers: {{X-Api-Key: hv-k3y}}\n"), // secrets-check: allow (test fixture)
            format!("- url: 'http://127.0.0.1:{closed}/?api_key=qv-refused'\n  headers: {{Authorization: Bearer hv-refused}}\n"), // secrets-check: allow (test fixture)
            "query_interval_in_seconds: 0.3\nrequest_timeout_in_seconds: 0.25\nlog_level: DEBUG\n".to_owned(),
        ]
        .concat(),
    )
    .unwrap();
    let config_path = config.display().to_string();
    let process = ServiceProcess::start(
        &binary("url-prober"),
        &[
            ("PROBER_CONFIG", &config_path),
            // Empty: the config's `log_level: DEBUG` decides, as in a deployment without RUST_LOG.
            ("RUST_LOG", ""),
            ("OTEL_SDK_DISABLED", "false"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let query = format!("{}/queryurl", process.url());
    testkit::eventually(
        "every URL probed, a redirect followed",
        Duration::from_secs(10),
        || async {
            let reports: serde_json::Value =
                serde_json::from_str(&get_text(&client, &query).await).ok()?;
            let probed = reports.as_array()?.iter();
            let all = probed.filter(|r| r["result"] != "pending").count() == 3;
            (all && !elsewhere.heads().is_empty()).then_some(())
        },
    )
    .await;
    // More rounds: every probe, hop and log line of them is checked below.
    tokio::time::sleep(Duration::from_secs(scaled(2, 30))).await;
    let reports = get_text(&client, &query).await;
    let metrics = get_text(&client, &format!("{}/metrics", process.url())).await;
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            spans
                .iter()
                .filter(|s| s.kind == "SPAN_KIND_CLIENT")
                .count()
                >= 6
        })
        .await;
    let logs = process.logs();
    assert!(
        logs.contains("DEBUG") && logs.contains("probed"),
        "debug logs are on: {logs}"
    );

    let places = [
        ("/queryurl", reports),
        ("/metrics", metrics.clone()),
        ("logs", logs),
        ("spans", format!("{spans:?}")),
        (
            "requests redirected to another origin",
            elsewhere.heads().join("\n"),
        ),
    ];
    let leaks: Vec<String> = places
        .iter()
        .flat_map(|(place, text)| {
            SECRETS
                .iter()
                .filter(|secret| text.contains(*secret))
                .map(move |secret| format!("{place} shows {secret:?}:\n{text}"))
        })
        .collect();
    assert!(leaks.is_empty(), "{leaks:#?}");

    // The configured origin got every secret: the probe still uses them.
    let up = |url: &str| {
        testkit::metric_value(
            &metrics,
            &format!("sample_external_url_up{{url=\"{url}\"}}"),
        )
    };
    assert_eq!(up(&shown[0]), Some(1.0), "{metrics}");
    assert_eq!(
        up(&shown[1]),
        Some(1.0),
        "redirected and answered: {metrics}"
    );
    assert_eq!(up(&shown[2]), Some(0.0), "{metrics}");
    let full_urls: Vec<String> = spans
        .iter()
        .filter_map(|s| testkit::span_attribute(s, "url.full"))
        .collect();
    for url in &shown {
        assert!(full_urls.contains(url), "url.full {url}: {full_urls:?}");
    }
    let probes = reliability::metric_sum(&metrics, "probe_results_total");
    let redirected = elsewhere.heads().len();
    Record {
        scenario: "prober-secret-redaction",
        service: "url-prober",
        tried: probes as u64,
        lost: leaks.len() as u64,
        figure: redirected as f64,
        unit: "requests redirected to another origin, none carrying a secret",
        notes: format!(
            "3 URLs with userinfo, query values and headers (7 secrets with the basic credentials), log_level DEBUG: /queryurl, /metrics, the logs, \
             {} exported spans and {redirected} redirected requests checked for each secret: 0 shown, 0 forwarded; \
             the configured origin got all of them (up=1)",
            spans.len()
        ),
    }
    .write();
}
