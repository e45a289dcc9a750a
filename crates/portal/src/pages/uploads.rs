//! Files attached in the browser. The compose page's script uploads each file with tus 1.0
//! to `/portal/uploads`, and these routes relay it, body streamed, to the node's own tus
//! endpoint as the signed-in officer: the node seals every chunk as it arrives, keeps the
//! upload for that officer only, and knows the offset to resume from after a broken line. The
//! portal keeps nothing of the file. A relayed request must carry the session's CSRF token in
//! `X-CSRF-Token`, as forms carry it in a field.

use crate::identity::Role;
use crate::session::Signed;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utbyte_api::paths;

/// Where the browser uploads; an upload's own address is below it.
pub(crate) const UPLOADS: &str = "/portal/uploads";

/// The request headers tus uses; nothing else of the browser's request reaches the node.
const PASSED: [HeaderName; 6] = [
    HeaderName::from_static("tus-resumable"),
    HeaderName::from_static("upload-length"),
    HeaderName::from_static("upload-metadata"),
    HeaderName::from_static("upload-offset"),
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
];

const CSRF_HEADER: &str = "x-csrf-token";

/// `POST /portal/uploads` (create) and `OPTIONS` (what the node supports).
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    request: Request,
) -> Response {
    relay(&state, &signed, request, paths::UPLOADS.to_owned()).await
}

/// `HEAD`, `PATCH` and `DELETE` of one upload.
pub(crate) async fn upload(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    relay(&state, &signed, request, paths::with(paths::UPLOAD, &id)).await
}

async fn relay(state: &AppState, signed: &Signed, request: Request, target: String) -> Response {
    if signed.require(Role::Officer).is_err() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let token = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if signed.check_csrf(token).is_err() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (parts, body) = request.into_parts();
    let mut relayed = axum::http::Request::builder()
        .method(parts.method)
        .uri(target);
    for name in &PASSED {
        if let Some(value) = parts.headers.get(name) {
            relayed = relayed.header(name, value);
        }
    }
    let Ok(relayed) = relayed.body(Body::new(body)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut response = signed.api(state).forward(relayed).await;
    // The node names the upload by its own path; the browser reaches it here.
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(paths::UPLOADS))
        .and_then(|rest| HeaderValue::from_str(&format!("{UPLOADS}{rest}")).ok());
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
