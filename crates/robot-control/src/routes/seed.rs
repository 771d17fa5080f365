//! The seed's routes: one GET per action (`/forward`, `/linuson`, ...), plus the Flask sibling's
//! `GET /status`, `POST /servoarm` and `POST /motorpwm`. Each answers with the robot's new status.

use crate::control::{Command, RobotStatus};
use crate::error::Error;
use crate::extract::JsonOrForm;
use crate::robot::{Direction, RobotId};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::collections::BTreeMap;

use Command::{Drive, Eye, Servo, Speed};
use Direction::{Backward, Forward, Left, Right, Stop};
use RobotId::{Linus, Torvalds};

/// Every seed GET route and what it does.
pub const SEED_ROUTES: &[(&str, RobotId, Command)] = &[
    ("/forward", Linus, Drive(Forward)),
    ("/backward", Linus, Drive(Backward)),
    ("/left", Linus, Drive(Left)),
    ("/right", Linus, Drive(Right)),
    ("/stop", Linus, Drive(Stop)),
    ("/north", Torvalds, Drive(Forward)),
    ("/south", Torvalds, Drive(Backward)),
    ("/west", Torvalds, Drive(Left)),
    ("/east", Torvalds, Drive(Right)),
    ("/stoptwo", Torvalds, Drive(Stop)),
    (
        "/servomin",
        Linus,
        Servo {
            servo: 1,
            degrees: -90.0,
        },
    ),
    (
        "/servomid",
        Linus,
        Servo {
            servo: 1,
            degrees: 0.0,
        },
    ),
    (
        "/servomax",
        Linus,
        Servo {
            servo: 1,
            degrees: 90.0,
        },
    ),
    (
        "/servomin2",
        Linus,
        Servo {
            servo: 2,
            degrees: -90.0,
        },
    ),
    (
        "/servomid2",
        Linus,
        Servo {
            servo: 2,
            degrees: 0.0,
        },
    ),
    (
        "/servomax2",
        Linus,
        Servo {
            servo: 2,
            degrees: 90.0,
        },
    ),
    ("/thirty", Linus, Speed(0.3)),
    ("/fifty", Linus, Speed(0.5)),
    ("/full", Linus, Speed(1.0)),
    ("/linuson", Linus, Eye(true)),
    ("/linusoff", Linus, Eye(false)),
    ("/torvaldson", Torvalds, Eye(true)),
    ("/torvaldsoff", Torvalds, Eye(false)),
];

/// The routes that change a robot (the caller adds the access checks).
pub fn commands() -> Router<AppState> {
    let mut router = Router::new();
    for &(path, robot, command) in SEED_ROUTES {
        router = router.route(path, seed_route(robot, command));
    }
    router
        .route("/servoarm", post(servo_arm))
        .route("/motorpwm", post(motor_pwm))
}

/// Read-only routes.
pub fn queries() -> Router<AppState> {
    Router::new().route("/status", get(status))
}

fn seed_route(robot: RobotId, command: Command) -> MethodRouter<AppState> {
    get(move |State(state): State<AppState>| async move {
        state.controller().execute(robot, command).await.map(Json)
    })
}

/// `GET /status`: both robots, keyed by name.
async fn status(State(state): State<AppState>) -> Json<BTreeMap<RobotId, RobotStatus>> {
    Json(
        RobotId::ALL
            .into_iter()
            .map(|robot| (robot, state.controller().status(robot)))
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServoArm {
    /// -90..=90.
    degree: f64,
    /// Linus's servo 1 (default) or 2.
    #[serde(default = "first_servo")]
    servo: u8,
}

fn first_servo() -> u8 {
    1
}

/// `POST /servoarm` `{"degree": 45}` (or form `degree=45`): Linus's servo to an angle.
async fn servo_arm(
    State(state): State<AppState>,
    JsonOrForm(body): JsonOrForm<ServoArm>,
) -> Result<Json<RobotStatus>, Error> {
    let command = Servo {
        servo: body.servo,
        degrees: body.degree,
    };
    state.controller().execute(Linus, command).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MotorPwm {
    /// 0..=10, tenths of full speed.
    speed: f64,
}

/// `POST /motorpwm` `{"speed": 5}` (or form `speed=5`): Linus's motor duty = speed / 10.
async fn motor_pwm(
    State(state): State<AppState>,
    JsonOrForm(body): JsonOrForm<MotorPwm>,
) -> Result<Json<RobotStatus>, Error> {
    if !(body.speed.is_finite() && (0.0..=10.0).contains(&body.speed)) {
        return Err(Error::Invalid(format!(
            "speed must be between 0 and 10, got {}",
            body.speed
        )));
    }
    state
        .controller()
        .execute(Linus, Speed(body.speed / 10.0))
        .await
        .map(Json)
}
