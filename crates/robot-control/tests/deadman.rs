//! The deadman: motors stop when no drive command follows within the timeout (paused tokio time,
//! so the test is exact and instant).

mod common;

use common::*;
use std::time::Duration;
use tokio::time::sleep;

const TIMEOUT: Duration = Duration::from_millis(500);

#[tokio::test(start_paused = true)]
async fn motors_stop_when_drive_commands_stop_coming() {
    let (app, linus, _) = sim_app(TIMEOUT);
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&app, "/status").await.1["linus"]["direction"],
        "forward"
    );
    // A following drive command re-arms the timer.
    assert_eq!(get(&app, "/forward").await.0, StatusCode::OK);
    sleep(Duration::from_millis(400)).await; // 700 ms: 400 ms after the last command
    assert_eq!(
        get(&app, "/status").await.1["linus"]["direction"],
        "forward"
    );
    assert_eq!(level(&linus, 13), Some(true));

    sleep(Duration::from_millis(200)).await; // 900 ms: 600 ms after the last command
    let (_, status) = get(&app, "/status").await;
    assert_eq!(status["linus"]["direction"], "stop");
    assert_eq!(status["linus"]["moving"], false);
    assert_eq!([13, 21, 17, 27].map(|p| level(&linus, p)), [Some(false); 4]);
}

#[tokio::test(start_paused = true)]
async fn other_commands_do_not_keep_the_motors_running() {
    let (app, _, torvalds) = sim_app(TIMEOUT);
    get(&app, "/east").await;
    sleep(Duration::from_millis(300)).await;
    get(&app, "/torvaldson").await;
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&app, "/status").await.1["torvalds"]["direction"],
        "stop"
    );
    assert_eq!([7, 8, 9, 10].map(|p| level(&torvalds, p)), [Some(false); 4]);
    assert_eq!(
        level(&torvalds, 25),
        Some(true),
        "the eye is not the deadman's business"
    );
}

#[tokio::test(start_paused = true)]
async fn a_later_drive_in_a_new_direction_is_not_stopped_by_an_old_timer() {
    let (app, linus, _) = sim_app(TIMEOUT);
    get(&app, "/forward").await;
    sleep(Duration::from_millis(450)).await;
    get(&app, "/left").await;
    sleep(Duration::from_millis(100)).await; // the first timer expired; the second has not
    assert_eq!(get(&app, "/status").await.1["linus"]["direction"], "left");
    assert_eq!(level(&linus, 21), Some(true));
    sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&app, "/status").await.1["linus"]["direction"], "stop");
}

#[tokio::test(start_paused = true)]
async fn a_failed_deadman_stop_is_retried_until_it_works() {
    let (app, linus, _) = sim_app(TIMEOUT);
    get(&app, "/backward").await;
    linus.set_failing(true);
    sleep(Duration::from_millis(1200)).await; // two attempts fail
    assert_eq!(
        level(&linus, 21),
        Some(true),
        "still driving: the driver refused"
    );
    linus.set_failing(false);
    sleep(Duration::from_millis(600)).await;
    assert_eq!([13, 21, 17, 27].map(|p| level(&linus, p)), [Some(false); 4]);
    assert_eq!(get(&app, "/status").await.1["linus"]["direction"], "stop");
}
