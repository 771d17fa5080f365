//! The real binary on a free port with a temp PROBER_CONFIG: every kind of target, the schedule,
//! `/queryurl`, `/metrics` (checked by promtool), config errors, and reload on SIGHUP.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use testkit::{ServiceProcess, eventually, metric_value, promtool_check_metrics};

const BIN: &str = env!("CARGO_BIN_EXE_url-prober");

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("prober.yml");
    // Write then rename, so a reload never reads a half-written file.
    let tmp = dir.join("prober.yml.tmp");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, &path).expect("rename config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_target_is_reported_and_hanging_targets_do_not_pile_up() {
    let http = common::http_target().await;
    let (hanging, accepted) = common::hanging_target().await;
    let closed = common::closed_port();
    let healthy = format!("http://{http}/");
    let failing = format!("http://{http}/fail");
    let never = format!("http://{hanging}/");
    let refused = format!("http://127.0.0.1:{closed}/");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "urls:\n  - {healthy}\n  - {failing}\n  - url: {never}\n    timeout_in_seconds: 0.3\n  - {refused}\n\
             request_timeout_in_seconds: 0.4\nquery_interval_in_seconds: 0.5\nlog_level: DEBUG\n"
        ),
    );
    let started = Instant::now();
    let prober =
        ServiceProcess::start(BIN.as_ref(), &[("PROBER_CONFIG", config.to_str().unwrap())]).await;
    let query = format!("{}/queryurl", prober.url());
    let reports = eventually("all four URLs probed", Duration::from_secs(5), || async {
        let reports = common::get_json(&query).await;
        [&healthy, &failing, &never, &refused]
            .iter()
            .all(|url| common::report(&reports, url).is_some())
            .then_some(reports)
    })
    .await;
    // The hanging URL is down within its timeout plus a small margin after start.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let up = common::report(&reports, &healthy).unwrap();
    assert_eq!(up["up"], true, "{up}");
    assert_eq!(up["result"], "up");
    assert_eq!(up["status_code"], 200);
    let ms = up["response_ms"].as_f64().unwrap();
    assert!(ms > 0.0 && ms < 300.0, "plausible latency: {ms}");
    assert!(up["checked_at"].as_str().unwrap().ends_with('Z'), "{up}");
    assert!(up["error"].is_null());

    let failed = common::report(&reports, &failing).unwrap();
    assert_eq!(
        (failed["up"].as_bool(), failed["result"].as_str()),
        (Some(false), Some("unexpected_status"))
    );
    assert_eq!(failed["status_code"], 500);

    let hung = common::report(&reports, &never).unwrap();
    assert_eq!(
        (hung["up"].as_bool(), hung["result"].as_str()),
        (Some(false), Some("timeout")),
        "{hung}"
    );
    let hung_ms = hung["response_ms"].as_f64().unwrap();
    assert!(
        (300.0..450.0).contains(&hung_ms),
        "bounded by its 0.3 s timeout: {hung_ms}"
    );
    assert!(hung["status_code"].is_null());

    let refused_report = common::report(&reports, &refused).unwrap();
    assert_eq!(
        (
            refused_report["up"].as_bool(),
            refused_report["result"].as_str()
        ),
        (Some(false), Some("connect_error"))
    );
    assert!(
        refused_report["error"]
            .as_str()
            .unwrap()
            .contains("refused")
    );

    let ready = reqwest::get(format!("{}/readyz", prober.url()))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "ready after the first round");
    let health = common::get_json(&format!("{}/healthcheck", prober.url())).await;
    assert_eq!(health["status"], "ok");

    // Let the schedule run a few rounds: one probe per tick at most, never a pile-up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let connections = accepted.load(Ordering::SeqCst);
    let max_ticks = (elapsed / 0.5).floor() as usize + 1;
    assert!(
        (3..=max_ticks).contains(&connections),
        "{connections} connections to the hanging target in {elapsed:.2}s (at most {max_ticks})"
    );

    let metrics = common::get_text(&format!("{}/metrics", prober.url())).await;
    let series =
        |name: &str, url: &str| metric_value(&metrics, &format!("{name}{{url=\"{url}\"}}"));
    assert_eq!(series("sample_external_url_up", &healthy), Some(1.0));
    assert_eq!(series("sample_external_url_up", &failing), Some(0.0));
    assert_eq!(series("sample_external_url_up", &never), Some(0.0));
    assert_eq!(series("sample_external_url_up", &refused), Some(0.0));
    assert!(series("sample_external_url_response_ms", &never).unwrap() >= 300.0);
    assert_eq!(
        series("probe_skipped_total", &never),
        Some(0.0),
        "timeout < interval: no tick is skipped"
    );
    let timeouts = metric_value(
        &metrics,
        &format!("probe_results_total{{url=\"{never}\",result=\"timeout\"}}"),
    )
    .unwrap();
    let ups = metric_value(
        &metrics,
        &format!("probe_results_total{{url=\"{never}\",result=\"up\"}}"),
    )
    .unwrap();
    assert!(timeouts >= 3.0 && ups == 0.0, "{timeouts} {ups}");
    let count = series("probe_duration_seconds_count", &healthy).unwrap();
    assert!(count >= 3.0, "{count}");
    assert!(metrics.contains("# TYPE probe_duration_seconds histogram"));
    assert!(metrics.contains("# HELP sample_external_url_up "));
    assert!(
        metrics.contains("service_info{service=\"url-prober\""),
        "telemetry's families are still there"
    );

    let problems = promtool_check_metrics(&metrics);
    let unexpected: Vec<_> = problems
        .iter()
        .filter(|p| !p.starts_with("sample_external_url_"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "promtool check metrics: {problems:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_a_new_config_and_keeps_the_old_one_when_the_new_one_is_invalid() {
    let http = common::http_target().await;
    let first = format!("http://{http}/");
    let second = format!("http://{http}/created");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("urls: ['{first}']\nquery_interval_in_seconds: 0.2\n"),
    );
    let prober =
        ServiceProcess::start(BIN.as_ref(), &[("PROBER_CONFIG", config.to_str().unwrap())]).await;
    let query = format!("{}/queryurl", prober.url());
    let hup = || {
        testkit::signal(prober.pid().expect("running"), testkit::Signal::HUP).expect("send SIGHUP");
    };
    eventually("the first URL probed", Duration::from_secs(5), || async {
        common::report(&common::get_json(&query).await, &first).map(|_| ())
    })
    .await;

    // A new URL is probed after SIGHUP, the old one keeps its results.
    write_config(
        dir.path(),
        &format!("urls: ['{first}', '{second}']\nquery_interval_in_seconds: 0.2\n"),
    );
    hup();
    eventually("the added URL probed", Duration::from_secs(5), || async {
        let reports = common::get_json(&query).await;
        common::report(&reports, &second).map(|r| assert_eq!(r["up"], true, "{r}"))
    })
    .await;

    // An invalid file is logged and ignored: both URLs are still probed.
    write_config(
        dir.path(),
        &format!("urls: ['{first}']\nquery_interval_in_seconds: 0\n"),
    );
    hup();
    eventually(
        "the reload error logged",
        Duration::from_secs(5),
        || async {
            prober
                .logs()
                .contains("query_interval_in_seconds: must be > 0")
                .then_some(())
        },
    )
    .await;
    let metrics = common::get_text(&format!("{}/metrics", prober.url())).await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"url_prober_config_reloads_total{result="error"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&metrics, r#"url_prober_config_reloads_total{result="ok"}"#),
        Some(1.0)
    );
    let before = metric_value(
        &metrics,
        &format!("probe_duration_seconds_count{{url=\"{second}\"}}"),
    )
    .unwrap();
    eventually(
        "the kept URL still probed",
        Duration::from_secs(5),
        || async {
            let metrics = common::get_text(&format!("{}/metrics", prober.url())).await;
            let now = metric_value(
                &metrics,
                &format!("probe_duration_seconds_count{{url=\"{second}\"}}"),
            )?;
            (now > before).then_some(())
        },
    )
    .await;

    // Removing a URL drops its result and its series.
    write_config(
        dir.path(),
        &format!("urls: ['{second}']\nquery_interval_in_seconds: 0.2\n"),
    );
    hup();
    eventually("the removed URL gone", Duration::from_secs(5), || async {
        let reports = common::get_json(&query).await;
        let metrics = common::get_text(&format!("{}/metrics", prober.url())).await;
        (reports.as_array().unwrap().len() == 1 && !metrics.contains(&format!("url=\"{first}\"")))
            .then_some(())
    })
    .await;
}

#[test]
fn every_invalid_config_exits_2_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("urls: [http://a/]\nbogus: 1\n", "unknown field `bogus`"),
        ("urls: []\n", "urls: must list at least one URL"),
        ("urls: [file:///etc/passwd]\n", "urls[0]: "),
        (
            "urls: [http://a/, http://b/, http://a/]\n",
            "urls[2]: http://a/ is a duplicate of urls[0]",
        ),
        (
            "urls: [http://a/, http://b/, {url: http://c/, timeout_in_seconds: 0}]\n",
            "urls[2].timeout_in_seconds: must be > 0",
        ),
        (
            "urls: [http://a/]\nquery_interval_in_seconds: 0\n",
            "query_interval_in_seconds: must be > 0",
        ),
        (
            "urls: [http://a/]\nrequest_timeout_in_seconds: 9\nquery_interval_in_seconds: 3\n",
            "request_timeout_in_seconds: must be <= query_interval_in_seconds",
        ),
        ("urls: [http://a/]\nlog_level: CHATTY\n", "log_level: "),
        (
            "urls:\n  - http://a/\n\tlog_level: INFO\n",
            "tab character that violates indentation at line 3",
        ),
    ];
    for (text, expected) in cases {
        let path = write_config(dir.path(), text);
        let output = run_bounded(
            std::process::Command::new(BIN)
                .env("PROBER_CONFIG", &path)
                .env("LISTEN_ADDR", "127.0.0.1:0")
                .env("OTEL_SDK_DISABLED", "true"),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: prober config {}: ", path.display())),
            "{stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{text:?} should say {expected:?}: {stderr}"
        );
    }
    let output = run_bounded(
        std::process::Command::new(BIN)
            .env("PROBER_CONFIG", dir.path().join("missing.yml"))
            .env("LISTEN_ADDR", "127.0.0.1:0"),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read the file"));
}

/// Runs the binary expecting it to exit; kills it (and fails) if it is still running after 10 s.
fn run_bounded(command: &mut std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run binary");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "the binary accepted the config and kept running: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}
