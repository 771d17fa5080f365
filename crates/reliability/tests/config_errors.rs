//! Every invalid configuration (environment, flags, prober YAML), table-driven per binary: one
//! line on stderr naming the problem, exit status 2 (README: "Bad values end the process with one
//! line on stderr and exit status 2"), no panic, no hang.
#![allow(clippy::unwrap_used)]

use reliability::{Record, binary, run_config_case};

/// (flags, environment, what the line must name)
type Case = (Vec<String>, Vec<(String, String)>, String);

fn env_case(var: &str, value: &str, mention: &str) -> Case {
    (
        vec![],
        vec![(var.to_owned(), value.to_owned())],
        mention.to_owned(),
    )
}

/// Cases every binary shares: the listen address and the telemetry variables.
fn common_cases(busy: &std::net::TcpListener) -> Vec<Case> {
    let busy = busy.local_addr().unwrap().to_string();
    vec![
        env_case("LISTEN_ADDR", "not-an-address", "LISTEN_ADDR"),
        env_case("LISTEN_ADDR", "127.0.0.1:99999", "LISTEN_ADDR"),
        env_case("LISTEN_ADDR", &busy, &busy),
        (
            vec!["--no-such-flag".into()],
            vec![],
            "--no-such-flag".into(),
        ),
        (vec!["--listen-addr".into()], vec![], "--listen-addr".into()),
        env_case("LOG_FORMAT", "xml", "LOG_FORMAT"),
        env_case("RUST_LOG", "info,[", "RUST_LOG"),
        env_case("OTEL_SDK_DISABLED", "maybe", "OTEL_SDK_DISABLED"),
        env_case("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"),
        env_case(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "http/json",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        env_case(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "not a url",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ),
        env_case(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ftp://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ),
        env_case(
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "soon",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
        env_case("OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER"),
        (
            vec![],
            vec![
                ("OTEL_TRACES_SAMPLER".into(), "traceidratio".into()),
                ("OTEL_TRACES_SAMPLER_ARG".into(), "2".into()),
            ],
            "OTEL_TRACES_SAMPLER_ARG".into(),
        ),
        env_case("OTEL_BSP_MAX_QUEUE_SIZE", "-5", "OTEL_BSP_MAX_QUEUE_SIZE"),
        env_case("OTEL_BSP_MAX_QUEUE_SIZE", "0", "OTEL_BSP_MAX_QUEUE_SIZE"),
        env_case(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            "lots",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        ),
        env_case("OTEL_BSP_SCHEDULE_DELAY", "1s", "OTEL_BSP_SCHEDULE_DELAY"),
        env_case(
            "OTEL_RESOURCE_ATTRIBUTES",
            "no-equals-sign",
            "OTEL_RESOURCE_ATTRIBUTES",
        ),
    ]
}

fn check_binary(service: &'static str, extra_env: &[(&str, &str)], specific: Vec<Case>) {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut cases = common_cases(&busy);
    cases.extend(specific);
    let bin = binary(service);
    let mut problems = Vec::new();
    for (args, env, mention) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Tracing on (so the telemetry variables are read as in production), plus the case.
        let mut all_env: Vec<(&str, &str)> = vec![("OTEL_SDK_DISABLED", "false")];
        all_env.extend(extra_env.iter().copied());
        all_env.extend(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let outcome = run_config_case(&bin, &args, &all_env);
        let wrong = testkit::config_error_problems(&outcome, mention);
        if !wrong.is_empty() {
            problems.push(format!(
                "{args:?} {env:?}: {}; stderr {:?}",
                wrong.join(", "),
                outcome.stderr.trim()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{service}: {} of {} invalid configurations handled badly:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    Record {
        scenario: "invalid-config",
        service,
        tried: cases.len() as u64,
        lost: 0,
        figure: cases.len() as f64,
        unit: "cases: one line, exit 2, no panic",
        notes: format!(
            "{} cases: listen address, flags, telemetry variables{}",
            cases.len(),
            if service == "url-prober" {
                ", PROBER_CONFIG files"
            } else {
                ", service variables"
            }
        ),
    }
    .write();
}

#[test]
fn web_flask_equivalent_rejects_every_invalid_configuration() {
    check_binary("web-flask-equivalent", &[], vec![]);
}

#[test]
fn redis_counter_rejects_every_invalid_configuration() {
    check_binary(
        "redis-counter",
        &[],
        vec![
            env_case("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL"),
            env_case("REDIS_URL", "redis://:secret@", "REDIS_URL"),
            env_case("REDIS_URL", "redis://127.0.0.1:70000", "REDIS_URL"),
            env_case("REDIS_POOL_SIZE", "0", "REDIS_POOL_SIZE"),
            env_case("REDIS_POOL_SIZE", "100000", "REDIS_POOL_SIZE"),
            env_case("REDIS_COMMAND_TIMEOUT", "fast", "REDIS_COMMAND_TIMEOUT"),
            env_case("SIMULATED_LATENCY_MAX", "-1s", "SIMULATED_LATENCY_MAX"),
        ],
    );
}

#[test]
fn robot_control_rejects_every_invalid_configuration() {
    check_binary(
        "robot-control",
        &[],
        vec![
            env_case("ROBOT_DRIVER", "gpiozero", "ROBOT_DRIVER"),
            env_case("LINUS_PIGPIO_ADDR", "raspberrypi", "LINUS_PIGPIO_ADDR"),
            env_case("TORVALDS_PIGPIO_ADDR", "host:0", "TORVALDS_PIGPIO_ADDR"),
            env_case("DEADMAN_TIMEOUT", "0s", "DEADMAN_TIMEOUT"),
            env_case("DEADMAN_TIMEOUT", "soon", "DEADMAN_TIMEOUT"),
            env_case("PIGPIO_TIMEOUT", "-1s", "PIGPIO_TIMEOUT"),
            env_case("ALLOWED_HOSTS", "*", "ALLOWED_HOSTS"),
            env_case("ALLOWED_HOSTS", "http://robot.lan", "ALLOWED_HOSTS"),
            env_case("ROBOT_TOKEN", "short-secret", "ROBOT_TOKEN"),
        ],
    );
}

#[test]
fn url_prober_rejects_every_invalid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(&str, &str, &str)> = vec![
        ("empty", "", "empty"),
        ("syntax", "urls: [http://a/\n", "prober config"),
        ("not-a-map", "- http://a/\n", "prober config"),
        ("urls-not-list", "urls: 5\n", "urls"),
        ("urls-empty", "urls: []\n", "urls"),
        ("ftp", "urls:\n  - ftp://a/\n", "urls[0]"),
        ("not-a-url", "urls:\n  - 'http://'\n", "urls[0]"),
        (
            "duplicate",
            "urls:\n  - http://a/\n  - http://a/\n",
            "urls[1]",
        ),
        (
            "unknown-key",
            "urls:\n  - http://a/\nurl: http://b/\n",
            "url",
        ),
        (
            "negative-timeout",
            "urls:\n  - http://a/\nrequest_timeout_in_seconds: -1\n",
            "request_timeout_in_seconds",
        ),
        (
            "zero-interval",
            "urls:\n  - http://a/\nquery_interval_in_seconds: 0\n",
            "query_interval_in_seconds",
        ),
        (
            "nan-interval",
            "urls:\n  - http://a/\nquery_interval_in_seconds: .nan\n",
            "query_interval_in_seconds",
        ),
        (
            "timeout-over-interval",
            "urls:\n  - http://a/\nrequest_timeout_in_seconds: 30\nquery_interval_in_seconds: 15\n",
            "request_timeout_in_seconds",
        ),
        (
            "text-timeout",
            "urls:\n  - http://a/\nrequest_timeout_in_seconds: soon\n",
            "request_timeout_in_seconds",
        ),
        (
            "log-level",
            "urls:\n  - http://a/\nlog_level: LOUD\n",
            "log_level",
        ),
        (
            "status-class",
            "urls:\n  - url: http://a/\n    expected_status: 6xx\n",
            "expected_status",
        ),
        (
            "method",
            "urls:\n  - url: http://a/\n    method: BREW\n",
            "method",
        ),
        (
            "header-name",
            "urls:\n  - url: http://a/\n    headers: {'bad header': x}\n",
            "headers",
        ),
        (
            "per-url-timeout",
            "urls:\n  - url: http://a/\n    timeout_in_seconds: 0\n",
            "timeout_in_seconds",
        ),
        ("url-missing", "urls:\n  - method: GET\n", "url"),
    ];
    let mut cases: Vec<Case> = vec![
        env_case(
            "PROBER_CONFIG",
            "/nonexistent/prober.yml",
            "/nonexistent/prober.yml",
        ),
        env_case("PROBER_CONFIG", "/", "prober config"),
    ];
    for (name, text, mention) in files {
        let path = dir.path().join(format!("{name}.yml"));
        std::fs::write(&path, text).unwrap();
        cases.push(env_case(
            "PROBER_CONFIG",
            &path.display().to_string(),
            mention,
        ));
    }
    check_binary("url-prober", &[], cases);
}
