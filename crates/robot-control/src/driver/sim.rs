//! The simulated driver: no hardware, every pin's state observable.
//!
//! It is the default (`ROBOT_DRIVER=sim`) so the service, its UI and its telemetry run anywhere,
//! and tests assert on exactly which pins a route changed. A switch makes it fail on demand, to
//! exercise the 503 path without a network.

use super::{Driver, DriverError, PinOp};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the simulated hardware shows on one pin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinSnapshot {
    pub output: bool,
    /// Last digital level written (`None`: never written).
    pub high: Option<bool>,
    pub pwm_range: Option<u32>,
    pub pwm_duty: Option<u32>,
    pub servo_pulse_us: Option<u32>,
}

#[derive(Debug, Default)]
pub struct SimDriver {
    pins: Mutex<BTreeMap<u8, PinSnapshot>>,
    failing: AtomicBool,
}

impl SimDriver {
    pub fn new() -> Self {
        Self::default()
    }

    /// The state of `pin` (all defaults if never touched).
    pub fn pin(&self, pin: u8) -> PinSnapshot {
        self.pins.lock().get(&pin).copied().unwrap_or_default()
    }

    /// Every pin touched so far.
    pub fn pins(&self) -> BTreeMap<u8, PinSnapshot> {
        self.pins.lock().clone()
    }

    /// While set, every `apply` fails with [`DriverError::Simulated`] and changes nothing.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl Driver for SimDriver {
    fn apply<'a>(&'a self, ops: &'a [PinOp]) -> BoxFuture<'a, Result<(), DriverError>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(DriverError::Simulated);
            }
            let mut pins = self.pins.lock();
            for op in ops {
                match *op {
                    PinOp::SetOutput { pin } => pins.entry(pin).or_default().output = true,
                    PinOp::Write { pin, high } => {
                        let state = pins.entry(pin).or_default();
                        state.output = true;
                        state.high = Some(high);
                        state.pwm_duty = None;
                    }
                    PinOp::PwmRange { pin, range } => {
                        pins.entry(pin).or_default().pwm_range = Some(range)
                    }
                    PinOp::Pwm { pin, duty } => {
                        let state = pins.entry(pin).or_default();
                        state.output = true;
                        state.pwm_duty = Some(duty);
                    }
                    PinOp::Servo { pin, pulse_us } => {
                        let state = pins.entry(pin).or_default();
                        state.output = true;
                        state.servo_pulse_us = Some(pulse_us);
                    }
                }
            }
            Ok(())
        })
    }

    fn kind(&self) -> &'static str {
        "sim"
    }
}
