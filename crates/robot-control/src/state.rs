//! The shared application state handed to every handler: the robots' controller.

use crate::config::{Config, DriverKind};
use crate::control::Controller;
use crate::driver::{PigpioDriver, SharedDriver, SimDriver};
use crate::robot::RobotId;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AppState {
    controller: Arc<Controller>,
}

impl AppState {
    /// Builds the drivers `config` asks for. Nothing is connected yet (pigpio connects lazily).
    pub fn new(config: &Config) -> Self {
        let driver = |robot: RobotId, addr: &str| -> SharedDriver {
            match config.driver {
                DriverKind::Sim => Arc::new(SimDriver::new()),
                DriverKind::Pigpio => Arc::new(PigpioDriver::new(
                    addr,
                    config.pigpio_timeout,
                    robot.spec().setup_ops(),
                )),
            }
        };
        let controller = Controller::new(
            driver(RobotId::Linus, &config.linus_pigpio_addr),
            driver(RobotId::Torvalds, &config.torvalds_pigpio_addr),
            config.deadman_timeout,
            config.command_timeout(),
        );
        Self {
            controller: Arc::new(controller),
        }
    }

    /// With drivers built by the caller (tests keep an `Arc<SimDriver>` to inspect the pins).
    pub fn with_drivers(
        linus: SharedDriver,
        torvalds: SharedDriver,
        deadman_timeout: Duration,
    ) -> Self {
        let command_timeout = Config::defaults().command_timeout();
        Self {
            controller: Arc::new(Controller::new(
                linus,
                torvalds,
                deadman_timeout,
                command_timeout,
            )),
        }
    }

    pub fn controller(&self) -> &Arc<Controller> {
        &self.controller
    }
}
