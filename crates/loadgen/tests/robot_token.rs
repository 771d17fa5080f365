//! With `ROBOT_TOKEN`, loadgen sends it as a bearer token and never reads the UI page; against a
//! robot-control that requires a token loadgen lacks, it reads the page at most once per
//! `--robot-key-refresh` and says why its commands are refused, never echoing a secret.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::*;
use std::time::Duration;
use testkit::{eventually, metric_sum};

const TOKEN: &str = "loadgen-test-robot-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_sent_and_a_missing_one_is_not_retried_in_a_storm() {
    init_metrics();
    let robot = RobotControl::start(Some(TOKEN)).await;

    // With the token: the robots move, the page is never read.
    let loadgen = Loadgen::start(&robot.url(), &["--rate", "40"], &[("ROBOT_TOKEN", TOKEN)]);
    let robot_ref = &robot;
    eventually(
        "40 robot commands applied",
        Duration::from_secs(15),
        || async move {
            (metric_sum(&robot_ref.metrics().await, "robot_commands_total") >= 40.0).then_some(())
        },
    )
    .await;
    let summary = loadgen.summary().await;
    assert_eq!(summary.errors, 0, "{summary:#?}");
    let logs = loadgen.stop();
    assert_eq!(page_reads(&robot.metrics().await), 0.0);
    assert!(!logs.contains(TOKEN), "loadgen logged the token:\n{logs}");

    // Without it: every command is refused (401), and the page (401 too) is read at most once
    // per second, not once per command.
    let loadgen = Loadgen::start(
        &robot.url(),
        &["--rate", "100", "--robot-key-refresh", "1s"],
        &[],
    );
    let loadgen_ref = &loadgen;
    let summary = eventually(
        "300 commands refused",
        Duration::from_secs(15),
        || async move {
            let summary = loadgen_ref.summary().await;
            (robot_answers(&summary, "401") >= 300).then_some(summary)
        },
    )
    .await;
    let seconds = summary.duration_seconds;
    let logs = loadgen.stop();
    let reads = page_reads(&robot.metrics().await);
    assert!(
        reads >= 1.0 && reads <= seconds.ceil() + 1.0,
        "{reads} page reads in {seconds:.1} s at most one a second"
    );
    assert!(
        logs.contains("robot-control requires ROBOT_TOKEN"),
        "loadgen says why:\n{logs}"
    );
}
