//! The deadman: motors that were not told to keep moving stop by themselves.
//!
//! Every drive command other than stop arms a timer for the generation of drive commands it
//! belongs to; a later drive command bumps the generation, so only the timer of the latest one
//! can fire. A stop that fails (robot unreachable) is retried every timeout until it works:
//! a motor must never keep running because one stop got lost.

use super::Controller;
use crate::driver::DriverError;
use crate::instruments;
use crate::robot::{Direction, RobotId};
use std::sync::Arc;

impl Controller {
    /// Stops the motors `deadman_timeout` from now unless another drive command comes first.
    pub(super) fn arm_deadman(self: &Arc<Self>, robot: RobotId, generation: u64) {
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
            let state = slot.state.lock();
            if state.drive_generation != generation || state.direction == Direction::Stop {
                return false;
            }
        }
        let ops = robot.spec().drive_ops(Direction::Stop);
        match tokio::time::timeout(self.command_timeout, slot.driver.apply(&ops)).await {
            Ok(Ok(())) => {
                let mut state = slot.state.lock();
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
}
