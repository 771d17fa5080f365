//! The shared application state handed to every handler: the robots' controller, the access
//! policy, and the UI page rendered with this process's UI key.

use crate::access::Access;
use crate::config::{Config, DriverKind};
use crate::control::Controller;
use crate::driver::{PigpioDriver, SharedDriver, SimDriver};
use crate::robot::RobotId;
use axum::body::Bytes;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AppState {
    controller: Arc<Controller>,
    access: Arc<Access>,
    page: Bytes,
}

impl AppState {
    /// Builds the drivers and the access policy `config` asks for. Nothing is connected yet
    /// (pigpio connects lazily).
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
        Self::assemble(Arc::new(controller), Access::from_config(config))
    }

    /// With drivers built by the caller (tests keep an `Arc<SimDriver>` to inspect the pins) and
    /// the default access policy (no token, no extra host names); see [`Self::with_access`].
    pub fn with_drivers(
        linus: SharedDriver,
        torvalds: SharedDriver,
        deadman_timeout: Duration,
    ) -> Self {
        let defaults = Config::defaults();
        let controller =
            Controller::new(linus, torvalds, deadman_timeout, defaults.command_timeout());
        Self::assemble(Arc::new(controller), Access::from_config(&defaults))
    }

    /// The same robots under another access policy.
    pub fn with_access(self, access: Access) -> Self {
        Self::assemble(self.controller, access)
    }

    fn assemble(controller: Arc<Controller>, access: Access) -> Self {
        let page = crate::routes::ui::render(access.ui_key());
        Self {
            controller,
            access: Arc::new(access),
            page: Bytes::from(page),
        }
    }

    pub fn controller(&self) -> &Arc<Controller> {
        &self.controller
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    /// The UI page, carrying the UI key.
    pub fn page(&self) -> &Bytes {
        &self.page
    }
}
