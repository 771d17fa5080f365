//! Label values never come from user input: random paths and methods share fixed series,
//! and the rendered /metrics passes `promtool check metrics`.

mod common;

use rand::Rng;
use rand::distr::Alphanumeric;
use testkit::{parse_metrics, promtool_check_metrics, spawn_router};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_paths_do_not_grow_the_series_count() {
    let _guard = telemetry::init(common::config(&[("OTEL_SDK_DISABLED", "true")])).expect("init");
    let base = format!("http://{}", spawn_router(common::app()).await);
    let client = reqwest::Client::new();
    // Warm up every series an unmatched request can create.
    assert_eq!(
        common::status(client.get(format!("{base}/warm-up"))).await,
        404
    );
    let weird = reqwest::Method::from_bytes(b"BREW").unwrap();
    assert_eq!(
        common::status(client.request(weird.clone(), format!("{base}/x"))).await,
        404
    );
    // QUERY is a method the HTTP conventions know: its own label value, one more series at most.
    let query = reqwest::Method::from_bytes(b"QUERY").unwrap();
    assert_eq!(
        common::status(client.request(query, format!("{base}/x"))).await,
        404
    );
    let before = series_names(&common::scrape(&base).await);

    let paths: Vec<String> = (0..10_000)
        .map(|_| {
            let mut rng = rand::rng();
            let segment: String = (&mut rng)
                .sample_iter(Alphanumeric)
                .take(12)
                .map(char::from)
                .collect();
            format!(
                "/{segment}/{}?q={}",
                rng.random::<u32>(),
                rng.random::<u64>()
            )
        })
        .collect();
    let results = futures::future::join_all(paths.chunks(500).map(|chunk| {
        let client = client.clone();
        let base = base.clone();
        let chunk = chunk.to_vec();
        let weird = weird.clone();
        tokio::spawn(async move {
            for (i, path) in chunk.iter().enumerate() {
                let method = if i % 10 == 0 {
                    weird.clone()
                } else {
                    reqwest::Method::GET
                };
                let status = client
                    .request(method, format!("{base}{path}"))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(status, 404);
            }
        })
    }))
    .await;
    results.into_iter().for_each(|r| r.expect("task"));

    let text = common::scrape(&base).await;
    let after = series_names(&text);
    assert_eq!(before, after, "no new series from 10,000 random paths");
    let unmatched_count = testkit::metric_value(
        &text,
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="unmatched",http_response_status_code="404"}"#,
    );
    assert_eq!(
        unmatched_count,
        Some(1.0 + 9_000.0),
        "they were all counted, under one label"
    );
    assert!(
        text.contains(r#"http_request_method="_OTHER""#),
        "unknown methods share _OTHER"
    );
    assert!(
        text.contains(r#"http_request_method="QUERY""#),
        "QUERY is a known method:\n{text}"
    );
    assert!(
        text.contains(
            r#"http_server_active_requests{http_request_method="GET",http_route="unmatched"} 0"#
        ),
        "in-flight gauge returns to 0:\n{text}"
    );
    for process_metric in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(text.contains(process_metric), "{process_metric} missing");
    }
    let problems = promtool_check_metrics(&text);
    assert!(
        problems.is_empty(),
        "promtool check metrics: {problems:#?}\n{text}"
    );
}

fn series_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = parse_metrics(text)
        .into_iter()
        .map(|(series, _)| series)
        .filter(|s| !s.starts_with("process_")) // values move; names do not, but keep the check about HTTP
        .collect();
    names.sort();
    names
}
