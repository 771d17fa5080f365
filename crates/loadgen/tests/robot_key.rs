//! Without `ROBOT_TOKEN`, loadgen drives the real robot-control the way its UI does: with the
//! key from the UI page. When robot-control restarts (a new key), the first refused command
//! makes loadgen read the page once more, and the robots move again; the key is never logged.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use std::time::Duration;
use testkit::{eventually, metric_sum};

const COMMANDS: &str = "robot_commands_total";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_drives_the_robots_with_the_ui_key_and_recovers_after_a_restart() {
    init_metrics();
    let mut robot = RobotControl::start(None).await;
    let loadgen = Loadgen::start(
        &robot.url(),
        &["--rate", "40", "--robot-key-refresh", "1s"],
        &[],
    );

    // The robots move, and no command was refused.
    let robot_ref = &robot;
    eventually(
        "40 robot commands applied",
        Duration::from_secs(15),
        || async move { (metric_sum(&robot_ref.metrics().await, COMMANDS) >= 40.0).then_some(()) },
    )
    .await;
    let summary = loadgen.summary().await;
    assert!(robot_answers(&summary, "200") >= 40, "{summary:#?}");
    assert_eq!(
        summary.errors,
        0,
        "every command accepted: {summary:#?}\n{}",
        loadgen.logs()
    );
    assert_eq!(
        page_reads(&robot.metrics().await),
        1.0,
        "the UI page read once"
    );
    let key = ui_key(&robot).await;
    let reads_before = page_reads(&robot.metrics().await);

    // robot-control restarts: a new key, the old one refused.
    robot.restart().await;
    let restarted = metric_sum(&robot.metrics().await, COMMANDS);
    let robot_ref = &robot;
    eventually(
        "40 more robot commands applied after the restart",
        Duration::from_secs(15),
        || async move {
            (metric_sum(&robot_ref.metrics().await, COMMANDS) >= restarted + 40.0).then_some(())
        },
    )
    .await;
    let summary = loadgen.summary().await;
    let refused = robot_answers(&summary, "403");
    println!("after the restart: {refused} commands refused with the stale key");
    let metrics = robot.metrics().await;
    // The page is read once more, however many commands the old key had refused: no storm.
    assert_eq!(
        page_reads(&metrics) - reads_before,
        1.0,
        "one more page read after the restart ({refused} commands refused)"
    );
    assert!(
        (1..=40).contains(&refused),
        "a stale key is refused, then replaced within about a second: {refused} refused\n{summary:#?}"
    );

    let logs = loadgen.stop();
    let new_key = ui_key(&robot).await;
    assert_ne!(key, new_key);
    for key in [key, new_key] {
        assert!(
            !logs.contains(key.as_str()),
            "loadgen logged the UI key:\n{logs}"
        );
    }
}

/// The key of robot-control's UI page, as the test reads it.
async fn ui_key(robot: &RobotControl) -> loadgen::robot_auth::UiKey {
    let page = reqwest::get(robot.url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    loadgen::robot_auth::key_in_page(&page).unwrap()
}
