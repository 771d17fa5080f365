//! The one error type of this crate: everything that can go wrong while setting telemetry up.

/// Why telemetry could not be set up. Each message names the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid {name}={value:?}: {reason}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("telemetry is already initialized in this process")]
    AlreadyInitialized,
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    #[error("cannot install the Prometheus recorder: {0}")]
    Metrics(String),
}

impl TelemetryError {
    pub(crate) fn invalid(name: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidSetting {
            name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
