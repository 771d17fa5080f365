//! The seam between robot logic and GPIO hardware.
//!
//! A driver only knows pins: it applies a batch of [`PinOp`]s in order or fails. The robot logic
//! (which pins, which levels) lives in [`crate::robot`], so both drivers behave identically and the
//! simulated one is a faithful stand-in for tests and for running without hardware.

pub mod pigpio;
mod sim;

pub use pigpio::PigpioDriver;
pub use sim::{PinSnapshot, SimDriver};

use futures::future::BoxFuture;
use std::sync::Arc;

/// One GPIO operation, in the vocabulary of the pigpio daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOp {
    /// Put the pin in output mode.
    SetOutput { pin: u8 },
    /// Drive the pin high or low.
    Write { pin: u8, high: bool },
    /// Set the PWM range (the duty value meaning "always on").
    PwmRange { pin: u8, range: u32 },
    /// Start PWM with `duty` out of the pin's range.
    Pwm { pin: u8, duty: u32 },
    /// Servo pulses of `pulse_us` microseconds (0 = off, else 500..=2500).
    Servo { pin: u8, pulse_us: u32 },
}

/// Why a driver could not apply a batch. The message names the address and the step.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DriverError {
    #[error("cannot connect to pigpio at {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("pigpio at {addr} did not answer: {reason}")]
    Io { addr: String, reason: String },
    #[error("pigpio at {addr} rejected command {command} on gpio {pin}: error {code}")]
    Rejected {
        addr: String,
        command: u32,
        pin: u32,
        code: i32,
    },
    #[error("no answer within {0:?} (robot busy or unreachable)")]
    Timeout(std::time::Duration),
    #[error("simulated driver failure")]
    Simulated,
}

impl DriverError {
    /// The eye span's `error.type`: one value per variant, so a trace query can group failures
    /// (the addresses and codes stay in the status description). docs/semconv/registry.yaml
    /// lists them.
    pub fn error_type(&self) -> &'static str {
        match self {
            DriverError::Connect { .. } => "connect_error",
            DriverError::Io { .. } => "io_error",
            DriverError::Rejected { .. } => "rejected",
            DriverError::Timeout(_) => "timeout",
            DriverError::Simulated => "simulated",
        }
    }
}

/// A GPIO backend for one robot.
///
/// Object-safe (boxed futures) so the service picks a driver at startup from configuration.
pub trait Driver: Send + Sync + 'static {
    /// Applies `ops` in order. On error some ops may have been applied; the next call starts afresh
    /// (a network driver reconnects).
    fn apply<'a>(&'a self, ops: &'a [PinOp]) -> BoxFuture<'a, Result<(), DriverError>>;

    /// `sim` or `pigpio`, shown in the status.
    fn kind(&self) -> &'static str;
}

/// A driver shared by the request handlers, the deadman timer and shutdown.
pub type SharedDriver = Arc<dyn Driver>;
