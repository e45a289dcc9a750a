//! Query-string and path extractors whose rejections are problems, like [`crate::Json`]'s:
//! axum's own answer a malformed `?limit=x` or an undecodable path segment in plain text.

use crate::problem::{Problem, ProblemType};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A query parameter is missing, unknown or not of its type.
pub const INVALID_QUERY: ProblemType = ProblemType {
    slug: "invalid-query",
    status: 400,
    title: "The query string is not what this endpoint takes",
};

/// A path parameter cannot be read (not UTF-8 once decoded, or not of its type).
pub const INVALID_PATH: ProblemType = ProblemType {
    slug: "invalid-path",
    status: 400,
    title: "A path parameter is not what this endpoint takes",
};

/// `axum::extract::Query`, answering a query it cannot take with `invalid-query` (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <axum::extract::Query<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| INVALID_QUERY.with(crate::json::reworded(&rejection.body_text())))
    }
}

/// `axum::extract::Path`, answering a parameter it cannot take with `invalid-path` (400).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <axum::extract::Path<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| INVALID_PATH.with(crate::json::reworded(&rejection.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        #[allow(dead_code)]
        limit: Option<u32>,
    }

    async fn answer(uri: &str) -> (u16, String, String) {
        let app = Router::new()
            .route("/q", get(|Query(_): Query<Page>| async { "ok" }))
            .route(
                "/p/{n}",
                get(|Path(n): Path<u32>| async move { n.to_string() }),
            );
        let response = app
            .oneshot(
                axum::http::Request::get(uri)
                    .body(Body::empty())
                    .unwrap_or_default(),
            )
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        (status, kind, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_bad_query_is_a_problem() {
        for uri in ["/q?limit=x", "/q?limit=-1", "/q?unknown=1"] {
            let (status, kind, body) = answer(uri).await;
            assert_eq!(status, 400, "{uri}");
            assert_eq!(kind, "application/problem+json", "{uri}");
            assert!(
                body.contains("urn:utbyte:problem:invalid-query"),
                "{uri}: {body}"
            );
        }
        assert_eq!(answer("/q?limit=5").await.0, 200);
    }

    #[tokio::test]
    async fn a_bad_path_parameter_is_a_problem() {
        let (status, kind, body) = answer("/p/abc").await;
        assert_eq!((status, kind.as_str()), (400, "application/problem+json"));
        assert!(body.contains("urn:utbyte:problem:invalid-path"), "{body}");
        assert_eq!(answer("/p/%FF").await.0, 400);
        assert_eq!(answer("/p/7").await.2, "7");
    }
}
