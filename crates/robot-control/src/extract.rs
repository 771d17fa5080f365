//! Request extractors whose rejections are our [`Error`], so a malformed body, a wrong content type
//! or an unknown robot answers with the same JSON error shape as everything else.

use crate::error::Error;
use crate::robot::RobotId;
use axum::extract::{Form, FromRequest, FromRequestParts, Json, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON body; requires `Content-Type: application/json` (which also makes a cross-site browser
/// request non-simple, see [`crate::access`]).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(Error::Request {
                status: rejection.status(),
                message: rejection.body_text(),
            }),
        }
    }
}

/// A JSON or an HTML-form body (the Flask sibling's `/servoarm` and `/motorpwm` took forms).
#[derive(Debug)]
pub struct JsonOrForm<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if is_form(request.headers()) {
            match Form::<T>::from_request(request, state).await {
                Ok(Form(value)) => Ok(Self(value)),
                Err(rejection) => Err(Error::Request {
                    status: rejection.status(),
                    message: rejection.body_text(),
                }),
            }
        } else {
            JsonBody::<T>::from_request(request, state)
                .await
                .map(|JsonBody(value)| Self(value))
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// Rejects a request without `Content-Type: application/json`, for JSON routes without a body.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), Error> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(Error::Request {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "Expected request with `Content-Type: application/json`".to_owned(),
        })
    }
}

/// The `{robot}` path segment, checked against the known robots (404 otherwise).
#[derive(Debug, Clone, Copy)]
pub struct Robot(pub RobotId);

impl<S: Send + Sync> FromRequestParts<S> for Robot {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| Error::Request {
                status: rejection.status(),
                message: rejection.body_text(),
            })?;
        name.parse()
            .map(Robot)
            .map_err(|()| Error::UnknownRobot(name))
    }
}
