//! The JSON API for scripts: one resource per robot, one POST per kind of command.
//!
//! ```text
//! GET  /api/robots                    [status, status]
//! GET  /api/robots/{robot}            status
//! POST /api/robots/{robot}/drive      {"direction": "forward|backward|left|right|stop"}
//! POST /api/robots/{robot}/eye        {"on": true}
//! POST /api/robots/{robot}/servo      {"servo": 1, "degrees": 45}
//! POST /api/robots/{robot}/speed      {"duty": 0.5}
//! POST /api/stop                      stops every robot's motors
//! ```
//! Bodies must be `Content-Type: application/json`; unknown fields are rejected; an unknown robot
//! is a 404. Every command answers with the robot's new status.

use crate::control::{Command, RobotStatus};
use crate::error::Error;
use crate::extract::{JsonBody, Robot, require_json_content_type};
use crate::robot::{Direction, RobotId};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The routes that change a robot (the caller adds the access checks).
pub fn commands() -> Router<AppState> {
    Router::new()
        .route("/api/robots/{robot}/drive", post(drive))
        .route("/api/robots/{robot}/eye", post(eye))
        .route("/api/robots/{robot}/servo", post(servo))
        .route("/api/robots/{robot}/speed", post(speed))
        .route("/api/stop", post(stop_all))
}

/// Read-only routes.
pub fn queries() -> Router<AppState> {
    Router::new()
        .route("/api/robots", get(list))
        .route("/api/robots/{robot}", get(show))
}

async fn list(State(state): State<AppState>) -> Json<Vec<RobotStatus>> {
    Json(
        RobotId::ALL
            .into_iter()
            .map(|r| state.controller().status(r))
            .collect(),
    )
}

async fn show(State(state): State<AppState>, Robot(robot): Robot) -> Json<RobotStatus> {
    Json(state.controller().status(robot))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriveRequest {
    direction: Direction,
}

async fn drive(
    State(state): State<AppState>,
    Robot(robot): Robot,
    JsonBody(body): JsonBody<DriveRequest>,
) -> Result<Json<RobotStatus>, Error> {
    run(&state, robot, Command::Drive(body.direction)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EyeRequest {
    on: bool,
}

async fn eye(
    State(state): State<AppState>,
    Robot(robot): Robot,
    JsonBody(body): JsonBody<EyeRequest>,
) -> Result<Json<RobotStatus>, Error> {
    run(&state, robot, Command::Eye(body.on)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServoRequest {
    servo: u8,
    degrees: f64,
}

async fn servo(
    State(state): State<AppState>,
    Robot(robot): Robot,
    JsonBody(body): JsonBody<ServoRequest>,
) -> Result<Json<RobotStatus>, Error> {
    let command = Command::Servo {
        servo: body.servo,
        degrees: body.degrees,
    };
    run(&state, robot, command).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeedRequest {
    duty: f64,
}

async fn speed(
    State(state): State<AppState>,
    Robot(robot): Robot,
    JsonBody(body): JsonBody<SpeedRequest>,
) -> Result<Json<RobotStatus>, Error> {
    run(&state, robot, Command::Speed(body.duty)).await
}

/// Stops every robot; answers 503 naming the first robot that could not be stopped (the others
/// are still tried).
async fn stop_all(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<RobotStatus>>, Error> {
    require_json_content_type(&headers)?;
    let mut statuses = Vec::new();
    let mut first_error = None;
    for robot in RobotId::ALL {
        match state
            .controller()
            .execute(robot, Command::Drive(Direction::Stop))
            .await
        {
            Ok(status) => statuses.push(status),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(Json(statuses)),
    }
}

async fn run(
    state: &AppState,
    robot: RobotId,
    command: Command,
) -> Result<Json<RobotStatus>, Error> {
    state.controller().execute(robot, command).await.map(Json)
}
