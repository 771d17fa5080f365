//! What a command does: validate it, send the pin ops to the robot's driver, then update the
//! known state, the metrics and the eye spans. Also the two safety nets the seed did not have:
//! the deadman stop and the stop-everything at shutdown.
//!
//! Commands to one robot are serialized (one in flight per robot), so the recorded state always
//! matches the order the hardware saw. The state is only changed after the driver succeeded: a
//! rejected or failed command leaves it as it was.

use crate::driver::{DriverError, PinOp, SharedDriver};
use crate::error::Error;
use crate::instruments;
use crate::robot::{Direction, RobotId, SERVO_MAX_DEGREES, SERVO_MIN_DEGREES, degrees_to_pulse_us};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tracing::Instrument;

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
    fn is_safe(&self) -> bool {
        matches!(self, Command::Drive(Direction::Stop) | Command::Eye(false))
    }
}

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
struct RobotState {
    direction: Direction,
    eye_on: bool,
    speed: f64,
    servos: Vec<Option<f64>>,
    /// Bumped by every drive command; a deadman timer only fires for the generation it was armed for.
    drive_generation: u64,
    last_error: Option<String>,
}

struct RobotSlot {
    id: RobotId,
    driver: SharedDriver,
    /// Serializes commands to this robot (held across the driver call).
    command_lock: tokio::sync::Mutex<()>,
    /// The known state; only held briefly, so status reads never wait for a slow robot.
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
            state: Mutex::new(RobotState {
                direction: Direction::Stop,
                eye_on: false,
                speed: 1.0,
                servos: vec![None; id.spec().servo_pins.len()],
                drive_generation: 0,
                last_error: None,
            }),
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
        let state = lock(&slot.state).clone();
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
            let result = apply(slot, command, &ops).await;
            if result.is_ok() {
                self.record(slot, command);
            }
            result
        };
        match tokio::time::timeout(self.command_timeout, run).await {
            Ok(Ok(())) => {}
            Ok(Err(source)) => return Err(self.driver_failed(slot, source)),
            Err(_) => {
                return Err(self.driver_failed(slot, DriverError::Timeout(self.command_timeout)));
            }
        }
        Ok(self.status(robot))
    }

    fn driver_failed(&self, slot: &RobotSlot, source: DriverError) -> Error {
        instruments::driver_error(slot.id);
        lock(&slot.state).last_error = Some(source.to_string());
        Error::Driver {
            robot: slot.id,
            source,
        }
    }

    /// Updates the known state and gauges after the driver applied `command`.
    fn record(self: &Arc<Self>, slot: &RobotSlot, command: Command) {
        let robot = slot.id;
        let mut state = lock(&slot.state);
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

    /// Stops the motors `deadman_timeout` from now unless another drive command comes first.
    fn arm_deadman(self: &Arc<Self>, robot: RobotId, generation: u64) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(this.deadman_timeout).await;
                if !this.deadman_expired(robot, generation).await {
                    break;
                }
            }
        });
    }

    /// Returns true when the stop failed and should be retried.
    async fn deadman_expired(self: &Arc<Self>, robot: RobotId, generation: u64) -> bool {
        let slot = self.slot(robot);
        let _serial = slot.command_lock.lock().await;
        {
            let state = lock(&slot.state);
            if state.drive_generation != generation || state.direction == Direction::Stop {
                return false;
            }
        }
        let stop = Command::Drive(Direction::Stop);
        let ops = robot.spec().drive_ops(Direction::Stop);
        match tokio::time::timeout(self.command_timeout, apply(slot, stop, &ops)).await {
            Ok(Ok(())) => {
                let mut state = lock(&slot.state);
                state.direction = Direction::Stop;
                state.drive_generation += 1;
                state.last_error = None;
                drop(state);
                instruments::deadman_stop(robot);
                tracing::warn!(robot = robot.as_str(), timeout = ?self.deadman_timeout, "deadman: no drive command in time, motors stopped");
                false
            }
            Ok(Err(error)) => {
                let _ = self.driver_failed(slot, error);
                true
            }
            Err(_) => {
                let _ = self.driver_failed(slot, DriverError::Timeout(self.command_timeout));
                true
            }
        }
    }

    /// Puts both robots in a known, safe state at startup: stopped, eyes off, full speed.
    /// A robot that cannot be reached is logged and counted; it does not stop the service.
    pub async fn initialize(self: &Arc<Self>) {
        for robot in RobotId::ALL {
            let mut commands = vec![Command::Drive(Direction::Stop), Command::Eye(false)];
            if robot.spec().has_speed_control() {
                commands.push(Command::Speed(1.0));
            }
            for command in commands {
                if let Err(error) = self.execute_uncounted(robot, command).await {
                    tracing::warn!(%error, "cannot put {robot} in a safe state at startup");
                    break;
                }
            }
        }
    }

    /// Refuses further movement, then stops every motor and turns every eye off (both robots at
    /// once, each bounded by the command timeout). Returns true when every robot is known safe.
    /// Calling it again only retries what is not known safe (stopped, eye off, no driver error).
    pub async fn shutdown(self: &Arc<Self>) -> bool {
        let again = self.shutting_down.swap(true, Ordering::SeqCst);
        let results =
            futures::future::join_all(RobotId::ALL.map(|robot| self.make_safe(robot, !again)))
                .await;
        let all_safe = results.iter().all(|safe| *safe);
        if all_safe {
            tracing::info!("all motors stopped and eyes off");
        } else {
            tracing::error!("not every robot could be made safe; see the errors above");
        }
        all_safe
    }

    async fn make_safe(self: &Arc<Self>, robot: RobotId, force: bool) -> bool {
        let status = self.status(robot);
        let unknown = force || status.last_error.is_some();
        let mut safe = true;
        if (status.moving || unknown)
            && let Err(error) = self
                .execute_uncounted(robot, Command::Drive(Direction::Stop))
                .await
        {
            tracing::error!(%error, "cannot stop {robot}'s motors at shutdown");
            safe = false;
        }
        if (status.eye_on || unknown)
            && let Err(error) = self.execute_uncounted(robot, Command::Eye(false)).await
        {
            tracing::error!(%error, "cannot turn {robot}'s eye off at shutdown");
            safe = false;
        }
        safe
    }
}

/// Sends `ops` to the slot's driver; eye changes run inside the seed's `linus-eye` / `torvalds-eye`
/// span (a child of the request span when there is one).
async fn apply(slot: &RobotSlot, command: Command, ops: &[PinOp]) -> Result<(), DriverError> {
    let Command::Eye(on) = command else {
        return slot.driver.apply(ops).await;
    };
    let span = tracing::info_span!(
        "robot eye",
        otel.name = slot.id.eye_span_name(),
        robot = slot.id.as_str(),
        eye.on = on,
        otel.status_code = tracing::field::Empty,
        error.message = tracing::field::Empty,
    );
    let result = slot.driver.apply(ops).instrument(span.clone()).await;
    if let Err(error) = &result {
        span.record("otel.status_code", "ERROR");
        span.record("error.message", error.to_string());
    }
    result
}

/// Validates `command` for `robot` and turns it into pin operations.
fn ops_for(robot: RobotId, command: Command) -> Result<Vec<PinOp>, Error> {
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
