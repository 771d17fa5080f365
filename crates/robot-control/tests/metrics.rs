//! The robot metrics of docs/METRICS.md, rendered by the real telemetry recorder (installed once:
//! this file is its own process) and checked by `promtool check metrics`.

mod common;

use common::*;
use std::time::Duration;

fn series(text: &str, name: &str) -> Option<f64> {
    testkit::metric_value(text, name)
}

#[tokio::test]
async fn robot_series_follow_the_commands() {
    let config = telemetry::TelemetryConfig::from_lookup("robot-control", "0.0.0-test", |key| {
        (key == "OTEL_SDK_DISABLED").then(|| "true".to_owned())
    })
    .unwrap();
    let _guard = telemetry::init(config).unwrap();

    let (app, linus, _) = sim_app(Duration::from_millis(100));
    for path in [
        "/forward",
        "/forward",
        "/linuson",
        "/servomax",
        "/servomin2",
        "/fifty",
        "/stop",
        "/east",
    ] {
        assert_eq!(get(&app, path).await.0, StatusCode::OK, "{path}");
    }
    // A refused command and an unknown robot are not counted, and make no new label values.
    assert_eq!(
        post_json(&app, "/api/robots/linus/speed", json!({"duty": 2}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        post_json(&app, "/api/robots/bob/eye", json!({"on": true}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    // A driver failure is counted for its robot.
    linus.set_failing(true);
    assert_eq!(
        get(&app, "/backward").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    linus.set_failing(false);
    // Refused by the access policy: a foreign Host, no credentials, a browser's cross-site
    // request (with the token), a command without the UI key or a bearer token.
    let refused = [
        ("host", "evil.test", None, None),
        ("token", TEST_HOST, None, None),
        (
            "cross_site",
            TEST_HOST,
            Some(format!("Bearer {TEST_TOKEN}")),
            Some("cross-site"),
        ),
        (
            "not_from_ui",
            TEST_HOST,
            Some("Basic b3duZXI6cm9ib3QtY29udHJvbC10ZXN0LXRva2Vu".to_owned()),
            None,
        ),
    ];
    for (reason, host, authorization, fetch_site) in &refused {
        let mut request = Request::get("/forward").header("host", *host);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(fetch_site) = fetch_site {
            request = request.header("sec-fetch-site", *fetch_site);
        }
        let (status, body) = send(&app, request.body(axum::body::Body::empty()).unwrap()).await;
        assert!(status.is_client_error(), "{reason}: {status} {body}");
    }
    // Torvalds's /east is stopped by the deadman (100 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;

    let (status, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().expect("text exposition").to_owned();
    let expected = [
        (
            r#"robot_commands_total{robot="linus",command="forward"}"#,
            2.0,
        ),
        (r#"robot_commands_total{robot="linus",command="stop"}"#, 1.0),
        (
            r#"robot_commands_total{robot="linus",command="eye_on"}"#,
            1.0,
        ),
        (
            r#"robot_commands_total{robot="linus",command="servo"}"#,
            2.0,
        ),
        (r#"robot_commands_total{robot="linus",command="pwm"}"#, 1.0),
        (
            r#"robot_commands_total{robot="linus",command="backward"}"#,
            0.0,
        ),
        (
            r#"robot_commands_total{robot="torvalds",command="right"}"#,
            1.0,
        ),
        (
            r#"robot_commands_total{robot="torvalds",command="eye_off"}"#,
            0.0,
        ),
        (r#"robot_eye_on{robot="linus"}"#, 1.0),
        (r#"robot_motor_speed{robot="linus"}"#, 0.5),
        (
            r#"robot_servo_position_degrees{robot="linus",servo="1"}"#,
            90.0,
        ),
        (
            r#"robot_servo_position_degrees{robot="linus",servo="2"}"#,
            -90.0,
        ),
        (r#"robot_deadman_stops_total{robot="torvalds"}"#, 1.0),
        (r#"robot_deadman_stops_total{robot="linus"}"#, 0.0),
        (r#"robot_driver_errors_total{robot="linus"}"#, 1.0),
        (r#"robot_driver_errors_total{robot="torvalds"}"#, 0.0),
        (r#"robot_requests_refused_total{reason="host"}"#, 1.0),
        (r#"robot_requests_refused_total{reason="token"}"#, 1.0),
        (r#"robot_requests_refused_total{reason="cross_site"}"#, 1.0),
        (r#"robot_requests_refused_total{reason="not_from_ui"}"#, 1.0),
    ];
    for (name, value) in expected {
        assert_eq!(series(&text, name), Some(value), "{name} in\n{text}");
    }
    for name in [
        "robot_commands_total",
        "robot_eye_on",
        "robot_motor_speed",
        "robot_servo_position_degrees",
        "robot_deadman_stops_total",
        "robot_driver_errors_total",
        "robot_requests_refused_total",
    ] {
        assert!(text.contains(&format!("# HELP {name} ")), "HELP for {name}");
    }
    assert!(
        !text.contains("bob"),
        "unknown robots never become label values"
    );
    assert!(
        !text.contains(r#"robot="torvalds",command="servo""#),
        "Torvalds has no servo commands"
    );
    assert!(
        text.contains(r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/forward",http_response_status_code="200"} 2"#),
        "{text}"
    );
    let complaints = testkit::promtool_check_metrics(&text);
    assert!(
        complaints.is_empty(),
        "promtool check metrics: {complaints:?}"
    );
}
