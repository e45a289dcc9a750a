//! The federation's catalog, for the authority's own systems and the portal: the node asks the
//! directory over mutual TLS (as itself) and hands back the directory's answer unchanged, so a
//! case system or a browser never needs a federation certificate to find information.

use crate::access::Who;
use crate::problems;
use crate::state::NodeState;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use utbyte_api::paths;
use utbyte_http::{ExpectedPeer, Problem};

/// Longest query string passed on.
const MAX_QUERY: usize = 2048;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new().route(paths::CATALOG_SEARCH, get(search))
}

/// Searches the federation's catalog at the directory: free text and filters, facets, one page
/// (the directory's `GET /v1/catalog/search`, documented in `docs/catalog-search.md`).
#[utoipa::path(
    operation_id = "catalog_search",
    get,
    path = paths::CATALOG_SEARCH,
    tag = "consumer",
    params(
        ("q" = Option<String>, Query, description = "Free text and filters: `lön provider:skatteverket concept:inkomst provision:luffa purpose:… secrecy:…`"),
        ("page" = Option<u32>, Query, minimum = 1, description = "1-based page; default 1"),
        ("per_page" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Hits per page; default 20, at most 100"),
    ),
    responses(
        (status = 200, description = "The directory's answer: `{total, page, per_page, hits, facets}`", body = serde_json::Value),
        (status = 404, description = "The directory serves no catalog", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown filter, malformed query or page out of range (the directory's problem)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The directory could not be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn search(
    State(state): State<Arc<NodeState>>,
    _who: Who,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY {
        return Err(problems::INVALID_REQUEST
            .with(format!("the query string is longer than {MAX_QUERY} bytes")));
    }
    let path = if query.is_empty() {
        paths::CATALOG_SEARCH.to_owned()
    } else {
        format!("/v1/catalog/search?{query}")
    };
    let directory = &state.directory;
    let response = state
        .client
        .send(
            &directory.endpoint,
            ExpectedPeer {
                authority: &directory.authority,
                fingerprints: None,
            },
            Method::GET,
            &path,
            None,
        )
        .await
        .map_err(|e| problems::DIRECTORY_UNREACHABLE.with(e.to_string()))?;
    let content_type = response
        .headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("application/json"));
    Ok((
        response.status,
        [(header::CONTENT_TYPE, content_type)],
        response.body,
    )
        .into_response())
}
