//! What the service knows about each robot: the state it last set successfully, served by
//! `GET /status` and the JSON API without asking the hardware.

use crate::robot::{Direction, RobotId};
use serde::Serialize;
use std::collections::BTreeMap;

/// A robot's state as the service last set it (`GET /status`, `GET /api/robots/{robot}`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RobotStatus {
    pub robot: RobotId,
    /// `sim` or `pigpio`.
    pub driver: &'static str,
    /// `forward`, `backward`, `left`, `right` or `stop`.
    pub direction: Direction,
    pub moving: bool,
    pub eye_on: bool,
    /// Motor PWM duty 0..1 (always 1 without speed control).
    pub speed: f64,
    pub speed_control: bool,
    /// Servo number → last commanded angle (`null` until first commanded).
    pub servos: BTreeMap<String, Option<f64>>,
    /// The last driver failure, cleared by the next successful command.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct RobotState {
    pub(super) direction: Direction,
    pub(super) eye_on: bool,
    pub(super) speed: f64,
    pub(super) servos: Vec<Option<f64>>,
    /// Bumped by every drive command; a deadman timer only fires for the generation it was armed for.
    pub(super) drive_generation: u64,
    pub(super) last_error: Option<String>,
}

impl RobotState {
    /// Stopped, eye off, full speed, servos never commanded: what the service assumes at start
    /// (and makes true on the hardware as soon as the robot answers).
    pub(super) fn initial(robot: RobotId) -> Self {
        Self {
            direction: Direction::Stop,
            eye_on: false,
            speed: 1.0,
            servos: vec![None; robot.spec().servo_pins.len()],
            drive_generation: 0,
            last_error: None,
        }
    }
}
