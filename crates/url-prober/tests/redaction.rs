//! Secrets written in the prober's config — `user:password@`, query values, headers — reach the
//! probed service and nothing else: not `/queryurl`, not the `url` label on `/metrics`, not the
//! logs at `log_level: DEBUG`, not the exported spans (`url.full` included), not error messages.

mod common;

use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use std::time::Duration;
use testkit::{ExportedSpan, OtlpGrpcReceiver, ServiceProcess, eventually, metric_value};

const BIN: &str = env!("CARGO_BIN_EXE_url-prober");

/// Every secret of the config below; none may appear in anything the prober shows.
const SECRETS: [&str; 6] = [
    "prober-user",
    "pw-hunter2",
    "qv-s3cr3t",
    "hv-k3y",
    "qv-refused",
    "hv-refused",
];

/// base64("prober-user:pw-hunter2"): the basic credentials reqwest sends for the URL's userinfo.
const BASIC: &str = "Basic cHJvYmVyLXVzZXI6cHctaHVudGVyMg==";

/// 200 only when the request carries all three secrets: proof that the probe still uses them.
async fn guarded_target() -> std::net::SocketAddr {
    let router = Router::new().route(
        "/secure",
        get(|headers: HeaderMap, RawQuery(query): RawQuery| async move {
            let authorized = headers.get("authorization").is_some_and(|v| v == BASIC)
                && headers.get("x-api-key").is_some_and(|v| v == "hv-k3y")
                && query.as_deref() == Some("token=qv-s3cr3t&verbose");
            if authorized {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            }
        }),
    );
    testkit::spawn_router(router).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_urls_and_headers_are_used_by_the_probe_and_shown_nowhere() {
    let target = guarded_target().await;
    let closed = common::closed_port();
    let secret_url =
        format!("http://prober-user:pw-hunter2@{target}/secure?token=qv-s3cr3t&verbose");
    let shown_url = format!("http://{target}/secure?token=REDACTED&verbose");
    let refused_url = format!("http://127.0.0.1:{closed}/?api_key=qv-refused");
    let shown_refused = format!("http://127.0.0.1:{closed}/?api_key=REDACTED");

    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    std::fs::write(
        &config,
        format!(
            "urls:\n  - url: '{secret_url}'\n    headers: {{X-Api-Key: hv-k3y}}\n  \
             - url: '{refused_url}'\n    headers: {{Authorization: Bearer hv-refused}}\n\
             query_interval_in_seconds: 0.3\nrequest_timeout_in_seconds: 0.25\nlog_level: DEBUG\n"
        ),
    )
    .unwrap();
    let config_path = config.to_str().unwrap().to_owned();
    let prober = ServiceProcess::start(
        BIN.as_ref(),
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

    let query = format!("{}/queryurl", prober.url());
    let reports = eventually("both URLs probed", Duration::from_secs(10), || async {
        let reports = common::get_json(&query).await;
        let probed = reports
            .as_array()?
            .iter()
            .filter(|r| r["result"] != "pending");
        (probed.count() == 2).then_some(reports)
    })
    .await;
    let metrics = common::get_text(&format!("{}/metrics", prober.url())).await;
    let is_probe = |s: &ExportedSpan| s.kind == "SPAN_KIND_CLIENT";
    let spans = receiver
        .spans_until(Duration::from_secs(10), |spans| {
            spans.iter().filter(|s| is_probe(s)).count() >= 4
        })
        .await;
    let logs = prober.logs();
    assert!(
        logs.contains("DEBUG") && logs.contains("probed"),
        "debug logs are on: {logs}"
    );
    let shown = [
        ("/queryurl", reports.to_string()),
        ("/metrics", metrics.clone()),
        ("logs", logs),
        ("spans", format!("{spans:?}")),
    ];
    for (place, text) in &shown {
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{place} shows the secret {secret:?}:\n{text}"
            );
        }
    }

    let secure = common::report(&reports, &shown_url).expect("reported under the redacted URL");
    assert_eq!(
        (secure["up"].as_bool(), secure["status_code"].as_u64()),
        (Some(true), Some(200)),
        "the probe sent the userinfo, the query and the header: {secure}"
    );
    let refused =
        common::report(&reports, &shown_refused).expect("reported under the redacted URL");
    assert_eq!(refused["result"], "connect_error", "{refused}");
    assert!(refused["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(
        metric_value(
            &metrics,
            &format!("sample_external_url_up{{url=\"{shown_url}\"}}")
        ),
        Some(1.0),
        "the url label is the redacted URL"
    );
    assert_eq!(
        metric_value(
            &metrics,
            &format!("sample_external_url_up{{url=\"{shown_refused}\"}}")
        ),
        Some(0.0)
    );
    let urls: Vec<String> = spans
        .iter()
        .filter(|s| is_probe(s))
        .filter_map(|s| testkit::span_attribute(s, "url.full"))
        .collect();
    assert!(urls.contains(&shown_url), "url.full redacted: {urls:?}");
    assert!(urls.contains(&shown_refused), "url.full redacted: {urls:?}");
}
