//! The two robots as hardware: which GPIO pins do what, and which pin writes a command means.
//!
//! This is the only place that knows pin numbers (from the seed's gpiozero setup), so the
//! drivers stay generic ("set pin 13 high") and the routes stay about robots ("Linus forward").

use crate::driver::PinOp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// PWM range programmed on the enable pins: duty 0.0..=1.0 maps to 0..=1000 (0.1 % steps).
pub const PWM_RANGE: u32 = 1000;

/// Servo pulse widths for -90°, 0° and +90° (gpiozero `AngularServo` defaults: 1 ms..2 ms).
pub const SERVO_MIN_PULSE_US: u32 = 1000;
pub const SERVO_MID_PULSE_US: u32 = 1500;
pub const SERVO_MAX_PULSE_US: u32 = 2000;

/// Accepted servo angle range, in degrees.
pub const SERVO_MIN_DEGREES: f64 = -90.0;
pub const SERVO_MAX_DEGREES: f64 = 90.0;

/// Which robot. A closed set: unknown names are rejected before they reach a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RobotId {
    Linus,
    Torvalds,
}

impl RobotId {
    pub const ALL: [RobotId; 2] = [RobotId::Linus, RobotId::Torvalds];

    /// The label value and URL segment.
    pub fn as_str(self) -> &'static str {
        match self {
            RobotId::Linus => "linus",
            RobotId::Torvalds => "torvalds",
        }
    }

    /// The seed's Jaeger span name for an eye change.
    pub fn eye_span_name(self) -> &'static str {
        match self {
            RobotId::Linus => "linus-eye",
            RobotId::Torvalds => "torvalds-eye",
        }
    }

    /// The wiring of this robot.
    pub fn spec(self) -> &'static RobotSpec {
        match self {
            RobotId::Linus => &LINUS,
            RobotId::Torvalds => &TORVALDS,
        }
    }
}

impl fmt::Display for RobotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RobotId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linus" => Ok(RobotId::Linus),
            "torvalds" => Ok(RobotId::Torvalds),
            _ => Err(()),
        }
    }
}

/// One DC motor on an H-bridge: driving `forward` high (and `backward` low) turns it forwards.
#[derive(Debug, Clone, Copy)]
pub struct MotorPins {
    pub forward: u8,
    pub backward: u8,
}

/// The wiring of one robot.
#[derive(Debug)]
pub struct RobotSpec {
    pub left: MotorPins,
    pub right: MotorPins,
    /// H-bridge enable pins driven with PWM to set the speed (empty: always full speed).
    pub enable_pins: &'static [u8],
    pub eye_pin: u8,
    /// Servo 1, servo 2, ... in order.
    pub servo_pins: &'static [u8],
}

/// Linus: motors 13/21 (left) and 17/27 (right), PWM enables 12 and 26, eye 16, servos 22 and 23.
pub static LINUS: RobotSpec = RobotSpec {
    left: MotorPins {
        forward: 13,
        backward: 21,
    },
    right: MotorPins {
        forward: 17,
        backward: 27,
    },
    enable_pins: &[12, 26],
    eye_pin: 16,
    servo_pins: &[22, 23],
};

/// Torvalds: motors 7/8 (left) and 9/10 (right), eye 25; no speed control, no servos.
pub static TORVALDS: RobotSpec = RobotSpec {
    left: MotorPins {
        forward: 7,
        backward: 8,
    },
    right: MotorPins {
        forward: 9,
        backward: 10,
    },
    enable_pins: &[],
    eye_pin: 25,
    servo_pins: &[],
};

/// Where the robot is driving. `Stop` is both a command and the resting state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Forward,
    Backward,
    Left,
    Right,
    Stop,
}

impl Direction {
    pub const ALL: [Direction; 5] = [
        Direction::Forward,
        Direction::Backward,
        Direction::Left,
        Direction::Right,
        Direction::Stop,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
            Direction::Left => "left",
            Direction::Right => "right",
            Direction::Stop => "stop",
        }
    }
}

/// Which way one motor turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spin {
    Forwards,
    Backwards,
    Off,
}

impl RobotSpec {
    /// Pins put in output mode when a driver (re)connects.
    pub fn output_pins(&self) -> Vec<u8> {
        let mut pins = vec![
            self.left.forward,
            self.left.backward,
            self.right.forward,
            self.right.backward,
            self.eye_pin,
        ];
        pins.extend_from_slice(self.enable_pins);
        pins
    }

    /// What a driver sends on every new connection: output modes, then the PWM range.
    pub fn setup_ops(&self) -> Vec<PinOp> {
        let mut ops: Vec<PinOp> = self
            .output_pins()
            .into_iter()
            .map(|pin| PinOp::SetOutput { pin })
            .collect();
        ops.extend(self.enable_pins.iter().map(|&pin| PinOp::PwmRange {
            pin,
            range: PWM_RANGE,
        }));
        ops
    }

    /// The pin writes for a drive command (gpiozero `Robot` semantics: left turns spin the left
    /// motor backwards). Per motor the pin going low is written first, so both H-bridge inputs are
    /// never high at once.
    pub fn drive_ops(&self, direction: Direction) -> Vec<PinOp> {
        let (left, right) = match direction {
            Direction::Forward => (Spin::Forwards, Spin::Forwards),
            Direction::Backward => (Spin::Backwards, Spin::Backwards),
            Direction::Left => (Spin::Backwards, Spin::Forwards),
            Direction::Right => (Spin::Forwards, Spin::Backwards),
            Direction::Stop => (Spin::Off, Spin::Off),
        };
        let mut ops = motor_ops(self.left, left);
        ops.extend(motor_ops(self.right, right));
        ops
    }

    pub fn eye_ops(&self, on: bool) -> Vec<PinOp> {
        vec![PinOp::Write {
            pin: self.eye_pin,
            high: on,
        }]
    }

    /// Duty on every enable pin, in units of [`PWM_RANGE`].
    pub fn speed_ops(&self, duty: f64) -> Vec<PinOp> {
        let duty = duty_to_range(duty);
        self.enable_pins
            .iter()
            .map(|&pin| PinOp::Pwm { pin, duty })
            .collect()
    }

    /// `None` when the robot has no such servo (servos are numbered from 1).
    pub fn servo_pin(&self, servo: u8) -> Option<u8> {
        let index = usize::from(servo).checked_sub(1)?;
        self.servo_pins.get(index).copied()
    }

    pub fn has_speed_control(&self) -> bool {
        !self.enable_pins.is_empty()
    }
}

fn motor_ops(motor: MotorPins, spin: Spin) -> Vec<PinOp> {
    let low = |pin| PinOp::Write { pin, high: false };
    let high = |pin| PinOp::Write { pin, high: true };
    match spin {
        Spin::Forwards => vec![low(motor.backward), high(motor.forward)],
        Spin::Backwards => vec![low(motor.forward), high(motor.backward)],
        Spin::Off => vec![low(motor.forward), low(motor.backward)],
    }
}

/// 0.0..=1.0 → 0..=[`PWM_RANGE`]; the caller has validated the range.
pub fn duty_to_range(duty: f64) -> u32 {
    // Clamped and rounded, so the cast cannot truncate or wrap.
    (duty.clamp(0.0, 1.0) * f64::from(PWM_RANGE)).round() as u32
}

/// -90..=90 degrees → 1000..=2000 µs; the caller has validated the range.
pub fn degrees_to_pulse_us(degrees: f64) -> u32 {
    let span = f64::from(SERVO_MAX_PULSE_US - SERVO_MID_PULSE_US);
    let offset = degrees.clamp(SERVO_MIN_DEGREES, SERVO_MAX_DEGREES) / SERVO_MAX_DEGREES * span;
    (f64::from(SERVO_MID_PULSE_US) + offset).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servo_angles_map_to_gpiozero_pulse_widths() {
        assert_eq!(degrees_to_pulse_us(-90.0), SERVO_MIN_PULSE_US);
        assert_eq!(degrees_to_pulse_us(0.0), SERVO_MID_PULSE_US);
        assert_eq!(degrees_to_pulse_us(90.0), SERVO_MAX_PULSE_US);
        assert_eq!(degrees_to_pulse_us(45.0), 1750);
    }

    #[test]
    fn duty_maps_to_the_pwm_range() {
        assert_eq!(duty_to_range(0.3), 300);
        assert_eq!(duty_to_range(1.0), PWM_RANGE);
        assert_eq!(duty_to_range(0.0), 0);
    }

    #[test]
    fn servos_are_numbered_from_one() {
        assert_eq!(LINUS.servo_pin(1), Some(22));
        assert_eq!(LINUS.servo_pin(2), Some(23));
        assert_eq!(LINUS.servo_pin(0), None);
        assert_eq!(LINUS.servo_pin(3), None);
        assert_eq!(TORVALDS.servo_pin(1), None);
    }
}
