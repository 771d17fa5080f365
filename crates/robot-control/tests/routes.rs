//! Every route against the simulated driver, in process (`router().oneshot`): the right pins
//! change, the state follows, and bad input is refused with a JSON error and nothing changed.

mod common;

use axum::body::Body;
use common::*;
use std::time::Duration;

const DEADMAN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn linus_drive_routes_set_the_motor_pins() {
    let (app, linus, torvalds) = sim_app(DEADMAN);
    // (route, direction, [13, 21, 17, 27])
    let cases = [
        ("/forward", "forward", [true, false, true, false]),
        ("/backward", "backward", [false, true, false, true]),
        ("/left", "left", [false, true, true, false]),
        ("/right", "right", [true, false, false, true]),
        ("/stop", "stop", [false, false, false, false]),
    ];
    for (route, direction, levels) in cases {
        let (status, body) = get(&app, route).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        assert_eq!(body["robot"], "linus");
        assert_eq!(body["direction"], direction, "{route}");
        assert_eq!(body["moving"], direction != "stop");
        let actual = [13, 21, 17, 27].map(|pin| level(&linus, pin));
        assert_eq!(actual, levels.map(Some), "{route}");
    }
    assert!(
        torvalds.pins().is_empty(),
        "Linus routes never touch Torvalds"
    );
}

#[tokio::test]
async fn torvalds_drive_routes_set_the_motor_pins() {
    let (app, linus, torvalds) = sim_app(DEADMAN);
    // (route, direction, [7, 8, 9, 10])
    let cases = [
        ("/north", "forward", [true, false, true, false]),
        ("/south", "backward", [false, true, false, true]),
        ("/west", "left", [false, true, true, false]),
        ("/east", "right", [true, false, false, true]),
        ("/stoptwo", "stop", [false, false, false, false]),
    ];
    for (route, direction, levels) in cases {
        let (status, body) = get(&app, route).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        assert_eq!(body["robot"], "torvalds");
        assert_eq!(body["direction"], direction, "{route}");
        let actual = [7, 8, 9, 10].map(|pin| level(&torvalds, pin));
        assert_eq!(actual, levels.map(Some), "{route}");
    }
    assert!(linus.pins().is_empty());
}

#[tokio::test]
async fn servo_routes_send_pulse_widths_to_pins_22_and_23() {
    let (app, linus, _) = sim_app(DEADMAN);
    let cases = [
        ("/servomin", 22, 1000, "1", -90.0),
        ("/servomid", 22, 1500, "1", 0.0),
        ("/servomax", 22, 2000, "1", 90.0),
        ("/servomin2", 23, 1000, "2", -90.0),
        ("/servomid2", 23, 1500, "2", 0.0),
        ("/servomax2", 23, 2000, "2", 90.0),
    ];
    for (route, pin, pulse, servo, degrees) in cases {
        let (status, body) = get(&app, route).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        assert_eq!(linus.pin(pin).servo_pulse_us, Some(pulse), "{route}");
        assert_eq!(body["servos"][servo], degrees, "{route}: {body}");
    }
}

#[tokio::test]
async fn pwm_routes_set_the_duty_on_both_enable_pins() {
    let (app, linus, _) = sim_app(DEADMAN);
    for (route, duty, range_units) in [
        ("/thirty", 0.3, 300),
        ("/fifty", 0.5, 500),
        ("/full", 1.0, 1000),
    ] {
        let (status, body) = get(&app, route).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        assert_eq!(body["speed"], duty, "{route}");
        assert_eq!(linus.pin(12).pwm_duty, Some(range_units), "{route}");
        assert_eq!(linus.pin(26).pwm_duty, Some(range_units), "{route}");
    }
}

#[tokio::test]
async fn eye_routes_switch_pins_16_and_25() {
    let (app, linus, torvalds) = sim_app(DEADMAN);
    let (status, body) = get(&app, "/linuson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["eye_on"], true);
    assert_eq!(level(&linus, 16), Some(true));
    get(&app, "/torvaldson").await;
    assert_eq!(level(&torvalds, 25), Some(true));
    get(&app, "/linusoff").await;
    assert_eq!(level(&linus, 16), Some(false));
    let (_, body) = get(&app, "/torvaldsoff").await;
    assert_eq!(body["eye_on"], false);
    assert_eq!(level(&torvalds, 25), Some(false));
}

#[tokio::test]
async fn status_shows_both_robots() {
    let (app, _, _) = sim_app(DEADMAN);
    get(&app, "/forward").await;
    get(&app, "/torvaldson").await;
    get(&app, "/fifty").await;
    let (status, body) = get(&app, "/status").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["linus"]["direction"], "forward");
    assert_eq!(body["linus"]["speed"], 0.5);
    assert_eq!(body["linus"]["driver"], "sim");
    assert_eq!(body["linus"]["servos"], json!({"1": null, "2": null}));
    assert_eq!(body["torvalds"]["eye_on"], true);
    assert_eq!(body["torvalds"]["speed_control"], false);
    assert_eq!(body["torvalds"]["servos"], json!({}));
}

#[tokio::test]
async fn servoarm_takes_json_or_form_and_refuses_bad_angles() {
    let (app, linus, _) = sim_app(DEADMAN);
    let (status, body) = post_json(&app, "/servoarm", json!({"degree": 45})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(linus.pin(22).servo_pulse_us, Some(1750));
    assert_eq!(body["servos"]["1"], 45.0);

    let form = Request::post("/servoarm")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("degree=-45&servo=2"))
        .unwrap();
    let (status, body) = send(&app, form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(linus.pin(23).servo_pulse_us, Some(1250));

    for bad in [
        json!({"degree": 91}),
        json!({"degree": -90.5}),
        json!({"degree": 10, "servo": 3}),
    ] {
        let (status, body) = post_json(&app, "/servoarm", bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    for bad in [json!({"degree": "left"}), json!({}), json!({"deg": 1})] {
        let (status, body) = post_json(&app, "/servoarm", bad.clone()).await;
        assert!(status.is_client_error(), "{bad}: {status}");
        assert!(body["error"].is_string(), "{body}");
    }
    let nan = Request::post("/servoarm")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("degree=NaN"))
        .unwrap();
    assert_eq!(send(&app, nan).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let malformed = Request::post("/servoarm")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from("{degree:"))
        .unwrap();
    assert_eq!(send(&app, malformed).await.0, StatusCode::BAD_REQUEST);
    let text = Request::post("/servoarm")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "text/plain")
        .body(Body::from("45"))
        .unwrap();
    assert_eq!(send(&app, text).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Nothing of the refused requests reached the servos.
    assert_eq!(linus.pin(22).servo_pulse_us, Some(1750));
    assert_eq!(linus.pin(23).servo_pulse_us, Some(1250));
    let (_, status) = get(&app, "/api/robots/linus").await;
    assert_eq!(status["servos"], json!({"1": 45.0, "2": -45.0}));
}

#[tokio::test]
async fn motorpwm_maps_speed_0_to_10_onto_the_duty() {
    let (app, linus, _) = sim_app(DEADMAN);
    let (status, body) = post_json(&app, "/motorpwm", json!({"speed": 7})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["speed"], 0.7);
    assert_eq!(linus.pin(12).pwm_duty, Some(700));
    for bad in [json!({"speed": 11}), json!({"speed": -1})] {
        let (status, body) = post_json(&app, "/motorpwm", bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("between 0 and 10"),
            "{body}"
        );
    }
    assert_eq!(linus.pin(12).pwm_duty, Some(700));
    assert_eq!(get(&app, "/api/robots/linus").await.1["speed"], 0.7);
}

#[tokio::test]
async fn json_api_commands_every_robot_part() {
    let (app, linus, torvalds) = sim_app(DEADMAN);
    let (status, body) = post_json(
        &app,
        "/api/robots/torvalds/drive",
        json!({"direction": "left"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["direction"], "left");
    assert_eq!(
        [7, 8, 9, 10].map(|p| level(&torvalds, p)),
        [Some(false), Some(true), Some(true), Some(false)]
    );

    let (status, body) = post_json(&app, "/api/robots/linus/eye", json!({"on": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(level(&linus, 16), Some(true));

    let (status, body) = post_json(
        &app,
        "/api/robots/linus/servo",
        json!({"servo": 2, "degrees": 90}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(linus.pin(23).servo_pulse_us, Some(2000));

    let (status, body) = post_json(&app, "/api/robots/linus/speed", json!({"duty": 0.25})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(linus.pin(26).pwm_duty, Some(250));

    let (status, body) = get(&app, "/api/robots/torvalds").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["direction"], "left");
    let (status, body) = get(&app, "/api/robots").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(2));

    let (status, body) = post_json(&app, "/api/stop", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!([7, 8, 9, 10].map(|p| level(&torvalds, p)), [Some(false); 4]);
    assert_eq!([13, 21, 17, 27].map(|p| level(&linus, p)), [Some(false); 4]);
}

#[tokio::test]
async fn json_api_refuses_bad_input_and_changes_nothing() {
    let (app, linus, torvalds) = sim_app(DEADMAN);
    post_json(&app, "/api/robots/linus/speed", json!({"duty": 0.5})).await;
    let before = (linus.pins(), torvalds.pins(), get(&app, "/status").await.1);

    let (status, body) = post_json(
        &app,
        "/api/robots/bob/drive",
        json!({"direction": "forward"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"].as_str().unwrap().contains("unknown robot"),
        "{body}"
    );
    assert_eq!(get(&app, "/api/robots/bob").await.0, StatusCode::NOT_FOUND);

    let cases = [
        (
            "/api/robots/linus/drive",
            json!({"direction": "up"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/linus/drive",
            json!({"direction": "forward", "x": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/linus/eye",
            json!({"on": "yes"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/linus/servo",
            json!({"servo": 1, "degrees": 180}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/linus/servo",
            json!({"servo": 0, "degrees": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/torvalds/servo",
            json!({"servo": 1, "degrees": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/linus/speed",
            json!({"duty": 1.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/robots/torvalds/speed",
            json!({"duty": 0.5}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (path, body, expected) in cases {
        let (status, response) = post_json(&app, path, body.clone()).await;
        assert_eq!(status, expected, "{path} {body}: {response}");
        assert!(response["error"].is_string(), "{path}: {response}");
    }

    // Not JSON: a browser's simple request (form or text) is refused.
    let form = Request::post("/api/robots/linus/drive")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("direction=forward"))
        .unwrap();
    let (status, body) = send(&app, form).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body["error"].is_string());
    let no_type = Request::post("/api/stop")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, no_type).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );

    // Too large.
    let huge = format!(
        r#"{{"direction":"forward","pad":"{}"}}"#,
        "x".repeat(64 * 1024)
    );
    let request = Request::post("/api/robots/linus/drive")
        .header("authorization", format!("Bearer {TEST_TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (status, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    assert_eq!(
        (linus.pins(), torvalds.pins(), get(&app, "/status").await.1),
        before
    );
}

#[tokio::test]
async fn a_failing_driver_answers_503_naming_the_robot_and_keeps_the_state() {
    let (app, linus, _) = sim_app(DEADMAN);
    get(&app, "/linuson").await;
    linus.set_failing(true);
    let (status, body) = get(&app, "/linusoff").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["robot"], "linus");
    assert!(body["error"].as_str().unwrap().contains("linus"), "{body}");
    let (_, state) = get(&app, "/api/robots/linus").await;
    assert_eq!(state["eye_on"], true, "state unchanged by a failed command");
    assert!(state["last_error"].is_string());
    // Torvalds is unaffected.
    assert_eq!(get(&app, "/north").await.0, StatusCode::OK);

    linus.set_failing(false);
    let (status, body) = get(&app, "/linusoff").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["eye_on"], false);
    assert_eq!(body["last_error"], Value::Null);
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let (app, _, _) = sim_app(DEADMAN);
    let (status, body) = get(&app, "/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    let (status, body) = get(&app, "/servoarm").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"].is_string());
    let (status, _) = post_json(&app, "/forward", json!({})).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_ui_page_and_ops_routes_are_served() {
    let (app, _, _) = sim_app(DEADMAN);
    let page_request = || {
        Request::get("/")
            .header("host", TEST_HOST)
            .header("authorization", format!("Bearer {TEST_TOKEN}"))
            .body(Body::empty())
            .unwrap()
    };
    let response = tower::ServiceExt::oneshot(app.clone(), page_request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(
        headers["cache-control"], "no-store",
        "the page carries the UI key"
    );
    let (_, page) = send(&app, page_request()).await;
    let page = page.as_str().unwrap();
    for needle in [
        "name=\"viewport\"",
        "name=\"robot-ui-key\"",
        "data-blink=\"linus\"",
        "data-blink=\"torvalds\"",
        "data-drive=\"forward\"",
        "/status",
    ] {
        assert!(page.contains(needle), "page lacks {needle}");
    }
    assert!(!page.contains("https://"), "no external resources");
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
}
