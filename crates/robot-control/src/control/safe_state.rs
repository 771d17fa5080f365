//! Startup and shutdown safety: both robots are put in a known, safe state (stopped, eyes off)
//! when the service starts, and again when it stops, before and after draining requests.

use super::{Command, Controller};
use crate::robot::{Direction, RobotId};
use std::sync::Arc;
use std::sync::atomic::Ordering;

impl Controller {
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
