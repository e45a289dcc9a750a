//! A JSON body extractor whose rejections are problems, not axum's plain-text messages.

use crate::problem::{types, Problem};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `axum::Json`, answering a body it cannot take with a precise problem: 413 when it is over
/// the limit, 415 when it is not declared JSON, 400 when it does not parse into `T` (saying
/// where).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(problem_of(&rejection)),
        }
    }
}

fn problem_of(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => types::UNSUPPORTED_MEDIA_TYPE
            .with("send the body with `Content-Type: application/json`"),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            types::BODY_TOO_LARGE.with(rejection.body_text())
        }
        _ => types::MALFORMED_BODY.with(rejection.body_text()),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
