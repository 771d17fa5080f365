//! The one error type of the service, and the one place errors become HTTP responses.
//!
//! Every failure a client can see is a JSON body `{"error": "..."}` with a status that says whose
//! fault it is: 4xx for input (the robot state is unchanged), 503 when a robot's driver failed.

use crate::driver::DriverError;
use crate::robot::RobotId;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown robot {0:?}: expected linus or torvalds")]
    UnknownRobot(String),
    /// Well-formed input the robot cannot do (out of range, no such servo, ...).
    #[error("{0}")]
    Invalid(String),
    /// The request itself is unusable (malformed body, wrong content type, too large).
    #[error("{message}")]
    Request { status: StatusCode, message: String },
    #[error("cross-site request refused: {0}")]
    CrossSite(&'static str),
    /// The `Host` is not one of this service's names (DNS rebinding, or a name to add).
    #[error(
        "this service does not answer to that Host name; if it is this machine's, add it to ALLOWED_HOSTS"
    )]
    HostNotAllowed,
    #[error(
        "ROBOT_TOKEN is set: send it as `Authorization: Bearer <token>` (or as the password of HTTP Basic auth)"
    )]
    Unauthenticated,
    /// A robot-changing request with neither the UI key nor the token as a bearer token.
    #[error(
        "moving a robot needs its own UI (reload the page) or `Authorization: Bearer <ROBOT_TOKEN>`"
    )]
    NotFromTheUi,
    #[error("robot {robot} is unavailable: {source}")]
    Driver {
        robot: RobotId,
        #[source]
        source: DriverError,
    },
    #[error("robot-control is shutting down; commands are refused")]
    ShuttingDown,
    #[error("no such route")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error(transparent)]
    Server(#[from] server::ServeError),
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::UnknownRobot(_) | Error::NotFound => StatusCode::NOT_FOUND,
            Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Request { status, .. } => *status,
            Error::CrossSite(_) | Error::HostNotAllowed | Error::NotFromTheUi => {
                StatusCode::FORBIDDEN
            }
            Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::Driver { .. } | Error::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `reason` label of `robot_requests_refused_total` for an access refusal.
    pub fn refusal_reason(&self) -> Option<&'static str> {
        match self {
            Error::HostNotAllowed => Some(crate::instruments::REFUSED_HOST),
            Error::Unauthenticated => Some(crate::instruments::REFUSED_TOKEN),
            Error::NotFromTheUi => Some(crate::instruments::REFUSED_NOT_FROM_UI),
            Error::CrossSite(_) => Some(crate::instruments::REFUSED_CROSS_SITE),
            _ => None,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            Error::Driver { robot, .. } => json!({"error": self.to_string(), "robot": robot}),
            _ => json!({"error": self.to_string()}),
        };
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Error::Unauthenticated) {
            // Makes a browser show its login prompt (any user name, the token as password).
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="robot-control", charset="UTF-8""#),
            );
        }
        response
    }
}
