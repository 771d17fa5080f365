//! One trace across two services: the prober's client span and web-flask-equivalent's server
//! span, both exported to one OTLP/gRPC receiver; failed probes (an unexpected status, nobody
//! listening) with their `error.type`; every span as our registry lists it.

use std::time::Duration;
use telemetry::semconv::attribute as a;
use testkit::semconv::{HTTP_CLIENT, registry};
use testkit::{
    ExportedSpan, OtlpGrpcReceiver, ServiceProcess, free_port, span_attribute, workspace_binary,
};

const BIN: &str = env!("CARGO_BIN_EXE_url-prober");

/// The target service's binary, built now so the test never runs a stale or missing one
/// (a no-op when it is fresh).
fn web_binary() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "web-flask-equivalent"])
        .status()
        .expect("run cargo build -p web-flask-equivalent");
    assert!(
        status.success(),
        "cargo build -p web-flask-equivalent failed"
    );
    workspace_binary("web-flask-equivalent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probing_one_of_our_services_is_one_trace_across_both() {
    let web_bin = web_binary();
    let mut receiver = OtlpGrpcReceiver::start().await;
    let endpoint = receiver.endpoint();
    let otel: [(&str, &str); 4] = [
        ("OTEL_SDK_DISABLED", "false"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let web = ServiceProcess::start(&web_bin, &otel).await;
    // Credentials and a signature in the URL: the probe uses them, its span shows the URL as the
    // prober shows it everywhere (no userinfo, every query value redacted).
    let target = format!("http://user:secret@{}/?sig=SIGNATURE&page=1", web.addr());
    // Two that fail: a page web-flask-equivalent does not have (404), and a port nobody listens on.
    let missing = format!("http://{}/missing", web.addr());
    let closed = format!("http://127.0.0.1:{}/", free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prober.yml");
    std::fs::write(
        &config,
        format!("urls: ['{target}', '{missing}', '{closed}']\nquery_interval_in_seconds: 0.5\n"),
    )
    .unwrap();
    let mut env = otel.to_vec();
    let config_path = config.to_str().unwrap().to_owned();
    env.push(("PROBER_CONFIG", &config_path));
    let _prober = ServiceProcess::start(BIN.as_ref(), &env).await;

    let pair = |spans: &[ExportedSpan]| -> Option<(ExportedSpan, ExportedSpan)> {
        spans
            .iter()
            .filter(|s| s.name == "GET" && s.kind == "SPAN_KIND_CLIENT")
            .find_map(|client| {
                spans
                    .iter()
                    .find(|s| s.name == "GET /" && s.parent_span_id == client.span_id)
                    .map(|server| (client.clone(), server.clone()))
            })
    };
    let probe_of = |spans: &[ExportedSpan], url: &str| -> Option<ExportedSpan> {
        spans
            .iter()
            .find(|s| span_attribute(s, a::URL_FULL).as_deref() == Some(url))
            .cloned()
    };
    let spans = receiver
        .spans_until(Duration::from_secs(15), |spans| {
            pair(spans).is_some()
                && probe_of(spans, &missing).is_some()
                && probe_of(spans, &closed).is_some()
        })
        .await;
    let Some((client, server)) = pair(&spans) else {
        let names: Vec<_> = spans
            .iter()
            .map(|s| (&s.name, &s.kind, &s.parent_span_id))
            .collect();
        panic!("no client span with a server child; received {names:?}");
    };
    assert_eq!(client.trace_id, server.trace_id, "one trace");
    assert_eq!(client.parent_span_id, "", "each probe starts its own trace");
    assert_eq!(server.kind, "SPAN_KIND_SERVER");
    assert_eq!(
        span_attribute(&client, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        span_attribute(&client, "url.full"),
        Some(format!("http://{}/?sig=REDACTED&page=REDACTED", web.addr()))
    );
    HTTP_CLIENT.assert_followed(
        &client.attributes,
        &[
            (a::ERROR_TYPE, "the probe succeeded"),
            (a::HTTP_REQUEST_METHOD_ORIGINAL, "GET is a known method"),
            (a::HTTP_REQUEST_RESEND_COUNT, "no redirect or retry"),
        ],
    );
    assert_eq!(
        span_attribute(&client, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        span_attribute(&client, "server.port"),
        Some(web.addr().port().to_string())
    );
    assert_eq!(
        span_attribute(&client, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(span_attribute(&client, "error.type"), None);
    assert!(client.start_time_unix_nano <= server.start_time_unix_nano);
    assert!(client.end_time_unix_nano >= server.end_time_unix_nano);

    // Failed probes: status Error, and error.type the unexpected status or why there was none.
    for (url, error_type) in [(&missing, "404"), (&closed, "connect_error")] {
        let span = probe_of(&spans, url).unwrap_or_else(|| panic!("no probe of {url}"));
        assert_eq!(
            span_attribute(&span, a::ERROR_TYPE).as_deref(),
            Some(error_type),
            "{span:#?}"
        );
        assert_eq!(
            span.status.as_ref().map(|s| s.code.as_str()),
            Some("STATUS_CODE_ERROR")
        );
    }

    // Every span of both services, the failed probes too: only what the registry lists for it.
    for span in &spans {
        let group = match span.kind.as_str() {
            "SPAN_KIND_SERVER" => "span.http.server",
            "SPAN_KIND_CLIENT" => "span.url_prober.probe.client",
            _ => panic!("a span the registry has no group for: {span:#?}"),
        };
        registry().assert_span(group, span);
        registry().assert_resource(&span.resource);
    }
}
