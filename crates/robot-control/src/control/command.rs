//! The commands a client can give a robot, and how each becomes pin operations once validated
//! (so an out-of-range angle or a servo the robot lacks never reaches a driver).

use crate::driver::PinOp;
use crate::error::Error;
use crate::instruments;
use crate::robot::{Direction, RobotId, SERVO_MAX_DEGREES, SERVO_MIN_DEGREES, degrees_to_pulse_us};

/// What a client can ask a robot to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    Drive(Direction),
    Eye(bool),
    /// Servo number (from 1) and angle in degrees, -90..=90.
    Servo {
        servo: u8,
        degrees: f64,
    },
    /// Motor PWM duty, 0..=1.
    Speed(f64),
}

impl Command {
    /// The `command` label of `robot_commands_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Command::Drive(direction) => direction.as_str(),
            Command::Eye(true) => instruments::COMMAND_EYE_ON,
            Command::Eye(false) => instruments::COMMAND_EYE_OFF,
            Command::Servo { .. } => instruments::COMMAND_SERVO,
            Command::Speed(_) => instruments::COMMAND_PWM,
        }
    }

    /// Commands that make a robot safer are still accepted while shutting down.
    pub(super) fn is_safe(&self) -> bool {
        matches!(self, Command::Drive(Direction::Stop) | Command::Eye(false))
    }
}

/// Validates `command` for `robot` and turns it into pin operations.
pub(super) fn ops_for(robot: RobotId, command: Command) -> Result<Vec<PinOp>, Error> {
    let spec = robot.spec();
    match command {
        Command::Drive(direction) => Ok(spec.drive_ops(direction)),
        Command::Eye(on) => Ok(spec.eye_ops(on)),
        Command::Servo { servo, degrees } => {
            let pin = spec.servo_pin(servo).ok_or_else(|| {
                Error::Invalid(match spec.servo_pins.len() {
                    0 => format!("{robot} has no servos"),
                    n => format!("{robot} has servos 1..={n}, not {servo}"),
                })
            })?;
            if !(degrees.is_finite() && (SERVO_MIN_DEGREES..=SERVO_MAX_DEGREES).contains(&degrees))
            {
                return Err(Error::Invalid(format!(
                    "servo angle must be between {SERVO_MIN_DEGREES} and {SERVO_MAX_DEGREES} degrees, got {degrees}"
                )));
            }
            Ok(vec![PinOp::Servo {
                pin,
                pulse_us: degrees_to_pulse_us(degrees),
            }])
        }
        Command::Speed(duty) => {
            if !spec.has_speed_control() {
                return Err(Error::Invalid(format!(
                    "{robot} has no motor speed control"
                )));
            }
            if !(duty.is_finite() && (0.0..=1.0).contains(&duty)) {
                return Err(Error::Invalid(format!(
                    "duty must be between 0 and 1, got {duty}"
                )));
            }
            Ok(spec.speed_ops(duty))
        }
    }
}
