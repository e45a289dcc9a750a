//! RFC 9457 problem details: the one shape every utbyte error takes on the wire.
//!
//! A problem's `type` is a stable URI naming what went wrong ([`ProblemType`]); clients branch on
//! it, never on the wording of `title` or `detail`. Each crate declares the problem types it can
//! answer with as constants, and `docs/problems.md` lists them all.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of a problem document.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Every utbyte problem type is this prefix followed by its slug.
pub const PROBLEM_BASE: &str = "urn:utbyte:problem:";

/// Declares a [`ProblemType`] constant: `problem_type!(NAME, "slug", status, "title");`.
#[macro_export]
macro_rules! problem_type {
    ($name:ident, $slug:literal, $status:literal, $title:literal) => {
        pub const $name: $crate::ProblemType = $crate::ProblemType {
            slug: $slug,
            status: $status,
            title: $title,
        };
    };
}

/// A kind of problem: its slug, HTTP status and a short, fixed title.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub status: u16,
    pub title: &'static str,
}

impl ProblemType {
    /// An occurrence of this problem, explained by `detail`.
    pub fn with(self, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title.to_owned(),
            status: self.status,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    /// The full type URI.
    pub fn uri(self) -> String {
        format!("{PROBLEM_BASE}{}", self.slug)
    }
}

/// Problem types the HTTP edge itself answers with.
pub mod types {
    use super::ProblemType;

    pub const NOT_FOUND: ProblemType = ProblemType {
        slug: "not-found",
        status: 404,
        title: "No such resource",
    };
    pub const METHOD_NOT_ALLOWED: ProblemType = ProblemType {
        slug: "method-not-allowed",
        status: 405,
        title: "Method not allowed on this resource",
    };
    pub const BODY_TOO_LARGE: ProblemType = ProblemType {
        slug: "body-too-large",
        status: 413,
        title: "The request body is larger than this endpoint accepts",
    };
    pub const UNSUPPORTED_MEDIA_TYPE: ProblemType = ProblemType {
        slug: "unsupported-media-type",
        status: 415,
        title: "The request body is not of the media type this endpoint takes",
    };
    pub const MALFORMED_BODY: ProblemType = ProblemType {
        slug: "malformed-body",
        status: 400,
        title: "The request body is not the JSON this endpoint expects",
    };
    pub const TIMEOUT: ProblemType = ProblemType {
        slug: "timeout",
        status: 503,
        title: "The request took longer than this endpoint allows",
    };
    pub const INTERNAL: ProblemType = ProblemType {
        slug: "internal",
        status: 500,
        title: "Internal error",
    };
}

/// One problem occurrence (RFC 9457 section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; stable, for clients to branch on.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem; the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person to read.
    pub detail: String,
    /// Members particular to the problem type (e.g. the expiry of a configuration).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// Adds an extension member.
    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(name.to_owned(), value.into());
        self
    }

    /// Whether this problem is of type `kind`.
    pub fn is(&self, kind: ProblemType) -> bool {
        self.kind.strip_prefix(PROBLEM_BASE) == Some(kind.slug)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.title, self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        response
    }
}
