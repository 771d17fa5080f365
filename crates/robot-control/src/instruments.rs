//! The robot metrics of docs/METRICS.md: names, HELP text and the fixed label values.
//!
//! Dashboards and alert rules use these names, so they are spelled once, here. Label values come
//! from closed enums (robot, command), never from request input, so the series count is bounded.

use crate::robot::{Direction, RobotId};

pub const COMMANDS: &str = "robot_commands_total";
pub const EYE_ON: &str = "robot_eye_on";
pub const MOTOR_SPEED: &str = "robot_motor_speed";
pub const SERVO_POSITION: &str = "robot_servo_position_degrees";
pub const DEADMAN_STOPS: &str = "robot_deadman_stops_total";
pub const DRIVER_ERRORS: &str = "robot_driver_errors_total";
pub const REQUESTS_REFUSED: &str = "robot_requests_refused_total";

/// The `command` label of `robot_commands_total`: the directions plus these.
pub const COMMAND_SERVO: &str = "servo";
pub const COMMAND_PWM: &str = "pwm";
pub const COMMAND_EYE_ON: &str = "eye_on";
pub const COMMAND_EYE_OFF: &str = "eye_off";

/// The `reason` label of `robot_requests_refused_total` (see [`crate::access`]).
pub const REFUSED_HOST: &str = "host";
pub const REFUSED_TOKEN: &str = "token";
pub const REFUSED_NOT_FROM_UI: &str = "not_from_ui";
pub const REFUSED_CROSS_SITE: &str = "cross_site";
const REFUSAL_REASONS: [&str; 4] = [
    REFUSED_HOST,
    REFUSED_TOKEN,
    REFUSED_NOT_FROM_UI,
    REFUSED_CROSS_SITE,
];

/// Registers HELP text and creates every counter series (adding 0, so calling it again resets
/// nothing), so panels and alerts have data before the first command. Harmless without a recorder.
pub fn describe() {
    metrics::describe_counter!(COMMANDS, "Robot commands applied, by robot and command.");
    metrics::describe_gauge!(EYE_ON, "1 while the robot's eye LED is on, else 0.");
    metrics::describe_gauge!(
        MOTOR_SPEED,
        "Motor PWM duty cycle, 0..1 (1 for robots without speed control)."
    );
    metrics::describe_gauge!(
        SERVO_POSITION,
        "Last commanded servo angle in degrees, -90..90, by robot and servo."
    );
    metrics::describe_counter!(
        DEADMAN_STOPS,
        "Motor stops forced because no drive command arrived within the deadman timeout."
    );
    metrics::describe_counter!(
        DRIVER_ERRORS,
        "Commands that failed in the GPIO driver (pigpio unreachable, timed out or rejected)."
    );
    metrics::describe_counter!(
        REQUESTS_REFUSED,
        "Requests refused by the access policy: host (not one of this service's names), token \
         (ROBOT_TOKEN missing or wrong), not_from_ui (a robot command without the UI key or the \
         bearer token), cross_site (the browser said so)."
    );
    for reason in REFUSAL_REASONS {
        metrics::counter!(REQUESTS_REFUSED, "reason" => reason).increment(0);
    }

    for robot in RobotId::ALL {
        let spec = robot.spec();
        let mut commands: Vec<&'static str> = Direction::ALL.iter().map(|d| d.as_str()).collect();
        commands.extend([COMMAND_EYE_ON, COMMAND_EYE_OFF]);
        if !spec.servo_pins.is_empty() {
            commands.push(COMMAND_SERVO);
        }
        if spec.has_speed_control() {
            commands.push(COMMAND_PWM);
        }
        for command in commands {
            metrics::counter!(COMMANDS, "robot" => robot.as_str(), "command" => command)
                .increment(0);
        }
        metrics::counter!(DEADMAN_STOPS, "robot" => robot.as_str()).increment(0);
        metrics::counter!(DRIVER_ERRORS, "robot" => robot.as_str()).increment(0);
    }
}

pub fn command(robot: RobotId, command: &'static str) {
    metrics::counter!(COMMANDS, "robot" => robot.as_str(), "command" => command).increment(1);
}

pub fn eye(robot: RobotId, on: bool) {
    metrics::gauge!(EYE_ON, "robot" => robot.as_str()).set(if on { 1.0 } else { 0.0 });
}

pub fn speed(robot: RobotId, duty: f64) {
    metrics::gauge!(MOTOR_SPEED, "robot" => robot.as_str()).set(duty);
}

pub fn servo(robot: RobotId, servo: u8, degrees: f64) {
    let servo = match servo {
        1 => "1",
        2 => "2",
        _ => return,
    };
    metrics::gauge!(SERVO_POSITION, "robot" => robot.as_str(), "servo" => servo).set(degrees);
}

pub fn deadman_stop(robot: RobotId) {
    metrics::counter!(DEADMAN_STOPS, "robot" => robot.as_str()).increment(1);
}

pub fn driver_error(robot: RobotId) {
    metrics::counter!(DRIVER_ERRORS, "robot" => robot.as_str()).increment(1);
}

pub fn refused(reason: &'static str) {
    metrics::counter!(REQUESTS_REFUSED, "reason" => reason).increment(1);
}
