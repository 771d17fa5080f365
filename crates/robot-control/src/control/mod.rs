//! What a command does: validate it, send the pin ops to the robot's driver, then update the
//! known state, the metrics and the eye spans.
//!
//! Commands to one robot are serialized (one in flight per robot), so the recorded state always
//! matches the order the hardware saw. The state is only changed after the driver succeeded: a
//! rejected or failed command leaves it as it was.
//!
//! Modules: [`command`] (what can be asked, validated into pin ops), [`known_state`] (what the
//! service last set), and the two safety nets the seed did not have: [`deadman`] (motors stop
//! when drive commands stop coming) and [`safe_state`] (stopped and dark at startup and shutdown).

mod command;
mod deadman;
mod known_state;
mod safe_state;

pub use command::Command;
pub use known_state::RobotStatus;

use crate::driver::{DriverError, SharedDriver};
use crate::error::Error;
use crate::instruments;
use crate::robot::{Direction, RobotId};
use command::ops_for;
use known_state::RobotState;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Instrument;

struct RobotSlot {
    id: RobotId,
    driver: SharedDriver,
    /// Serializes commands to this robot (held across the driver call).
    command_lock: tokio::sync::Mutex<()>,
    /// The known state; only held briefly, so status reads never wait for a slow robot.
    /// (parking_lot: a panic elsewhere cannot poison it and stop the deadman or shutdown.)
    state: Mutex<RobotState>,
}

/// Both robots, their drivers and the safety settings. Shared by handlers and timers.
pub struct Controller {
    slots: [RobotSlot; 2],
    deadman_timeout: Duration,
    command_timeout: Duration,
    shutting_down: AtomicBool,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("deadman_timeout", &self.deadman_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// `command_timeout` bounds one command end to end, including waiting for the robot's previous
    /// command: a dead robot answers 503 in bounded time.
    pub fn new(
        linus: SharedDriver,
        torvalds: SharedDriver,
        deadman_timeout: Duration,
        command_timeout: Duration,
    ) -> Self {
        let slot = |id: RobotId, driver: SharedDriver| RobotSlot {
            id,
            driver,
            command_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(RobotState::initial(id)),
        };
        // The gauges start at the state above.
        for robot in RobotId::ALL {
            instruments::eye(robot, false);
            instruments::speed(robot, 1.0);
        }
        Self {
            slots: [
                slot(RobotId::Linus, linus),
                slot(RobotId::Torvalds, torvalds),
            ],
            deadman_timeout,
            command_timeout,
            shutting_down: AtomicBool::new(false),
        }
    }

    pub fn deadman_timeout(&self) -> Duration {
        self.deadman_timeout
    }

    fn slot(&self, robot: RobotId) -> &RobotSlot {
        match robot {
            RobotId::Linus => &self.slots[0],
            RobotId::Torvalds => &self.slots[1],
        }
    }

    pub fn status(&self, robot: RobotId) -> RobotStatus {
        let slot = self.slot(robot);
        let state = slot.state.lock().clone();
        RobotStatus {
            robot,
            driver: slot.driver.kind(),
            direction: state.direction,
            moving: state.direction != Direction::Stop,
            eye_on: state.eye_on,
            speed: state.speed,
            speed_control: robot.spec().has_speed_control(),
            servos: state
                .servos
                .iter()
                .enumerate()
                .map(|(i, degrees)| ((i + 1).to_string(), *degrees))
                .collect(),
            last_error: state.last_error,
        }
    }

    /// Validates `command`, applies it, and returns the robot's new status.
    pub async fn execute(
        self: &Arc<Self>,
        robot: RobotId,
        command: Command,
    ) -> Result<RobotStatus, Error> {
        let status = self.execute_uncounted(robot, command).await?;
        instruments::command(robot, command.label());
        Ok(status)
    }

    /// [`execute`](Self::execute) without counting it as a client command (startup, shutdown).
    async fn execute_uncounted(
        self: &Arc<Self>,
        robot: RobotId,
        command: Command,
    ) -> Result<RobotStatus, Error> {
        if self.shutting_down.load(Ordering::SeqCst) && !command.is_safe() {
            return Err(Error::ShuttingDown);
        }
        let ops = ops_for(robot, command)?;
        let slot = self.slot(robot);
        let run = async {
            let _serial = slot.command_lock.lock().await;
            let result = slot.driver.apply(&ops).await;
            if result.is_ok() {
                self.record(slot, command);
            }
            result
        };
        // The eye span covers the wait for the robot and the timeout too: a driver that never
        // answers ends it failed, like one that refuses, rather than leaving a span that just
        // stops when the timeout drops the driver's future.
        let span = eye_span(slot.id, command);
        let outcome = tokio::time::timeout(self.command_timeout, run)
            .instrument(span.clone())
            .await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(source)) => Some(source),
            Err(_) => Some(DriverError::Timeout(self.command_timeout)),
        };
        if let Some(source) = failure {
            telemetry::record_error(&span, source.error_type(), &source);
            return Err(self.driver_failed(slot, source));
        }
        Ok(self.status(robot))
    }

    fn driver_failed(&self, slot: &RobotSlot, source: DriverError) -> Error {
        instruments::driver_error(slot.id);
        slot.state.lock().last_error = Some(source.to_string());
        Error::Driver {
            robot: slot.id,
            source,
        }
    }

    /// Updates the known state and gauges after the driver applied `command`.
    fn record(self: &Arc<Self>, slot: &RobotSlot, command: Command) {
        let robot = slot.id;
        let mut state = slot.state.lock();
        state.last_error = None;
        match command {
            Command::Drive(direction) => {
                state.direction = direction;
                state.drive_generation += 1;
                if direction != Direction::Stop {
                    self.arm_deadman(robot, state.drive_generation);
                }
            }
            Command::Eye(on) => {
                state.eye_on = on;
                instruments::eye(robot, on);
            }
            Command::Servo { servo, degrees } => {
                if let Some(slot) = usize::from(servo)
                    .checked_sub(1)
                    .and_then(|i| state.servos.get_mut(i))
                {
                    *slot = Some(degrees);
                }
                instruments::servo(robot, servo, degrees);
            }
            Command::Speed(duty) => {
                state.speed = duty;
                instruments::speed(robot, duty);
            }
        }
    }
}

/// The seed's `linus-eye` / `torvalds-eye` span for an eye change (a child of the request span
/// when there is one), named with the attributes of our registry (docs/semconv/registry.yaml);
/// no span for other commands.
fn eye_span(robot: RobotId, command: Command) -> tracing::Span {
    let Command::Eye(on) = command else {
        return tracing::Span::none();
    };
    tracing::info_span!(
        "robot eye",
        otel.name = robot.eye_span_name(),
        robot.name = robot.as_str(),
        robot.eye.on = on,
    )
}
