//! The local API's lists — requests, reviews, callback notices — paged by cursor.
//!
//! A list takes `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]) and `after`, a cursor the
//! node issued. Its body stays a JSON array; when more rows follow, a `Link` header (RFC 8288)
//! names the next page with `rel="next"`: the same path and query with `after` set to where this
//! page ended. A client follows that link until it is absent. Paging by cursor rather than by
//! count means a request made or a review decided between two pages neither repeats nor hides a
//! row (see `utbyte_store::Page`).

use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utbyte_http::{Json, Problem, INVALID_QUERY};
use utbyte_store::{Cursor, Page};

use crate::problems;

/// Rows per page when the client does not say.
pub(crate) const DEFAULT_LIMIT: u32 = 50;

/// The most rows a page holds.
pub(crate) const MAX_LIMIT: u32 = 500;

/// The page size asked for, checked.
pub(crate) fn limit(asked: Option<u32>) -> Result<u32, Problem> {
    match asked.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit),
        _ => Err(problems::INVALID_REQUEST
            .with(format!("limit must be 1 to {MAX_LIMIT}"))
            .with_extension("field", "limit")),
    }
}

/// The cursor a page starts after, if the client gave one; only text in a cursor's form is
/// taken (anything else is not quoted back).
pub(crate) fn after(asked: Option<&str>) -> Result<Option<Cursor>, Problem> {
    asked
        .map(|text| {
            Cursor::parse(text).ok_or_else(|| {
                INVALID_QUERY
                    .with(
                        "`after` is not a cursor: 32 lowercase hexadecimal digits, as in the \
                         previous page's `Link` header",
                    )
                    .with_extension("field", "after")
            })
        })
        .transpose()
}

/// One page of a list as the API answers it: the rows, and a link to the next page if there
/// is one.
pub(crate) struct Listed<T> {
    items: Vec<T>,
    next: Option<String>,
}

impl<T> Listed<T> {
    /// `page` as the answer to the request for `uri`.
    pub(crate) fn new(uri: &Uri, page: Page<T>) -> Self {
        Self {
            next: page.next.map(|cursor| next_link(uri, cursor)),
            items: page.items,
        }
    }
}

impl<T: Serialize> IntoResponse for Listed<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.items).into_response();
        // Built from the request's own path and query, which were valid header text when they
        // arrived, and a cursor of hexadecimal digits.
        if let Some(link) = self.next.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LINK, link);
        }
        response
    }
}

/// `<PATH?QUERY&after=CURSOR>; rel="next"`: the request's path and query, any `after` replaced.
fn next_link(uri: &Uri, cursor: Cursor) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("after"))
        .collect();
    let after = format!("after={cursor}");
    query.push(&after);
    format!("<{}?{}>; rel=\"next\"", uri.path(), query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_keeps_the_query_and_replaces_the_cursor() {
        let cursor = Cursor::parse("000000006b0cc900000000000000002a").unwrap();
        let link = |uri: &str| next_link(&uri.parse().unwrap(), cursor);
        assert_eq!(
            link("/v1/requests"),
            "</v1/requests?after=000000006b0cc900000000000000002a>; rel=\"next\""
        );
        assert_eq!(
            link("/v1/reviews?state=decided&after=1.2&limit=20"),
            "</v1/reviews?state=decided&limit=20&after=000000006b0cc900000000000000002a>; rel=\"next\""
        );
        // A parameter that only starts with `after` is kept.
        assert_eq!(
            link("/v1/callbacks?afterwards=1&"),
            "</v1/callbacks?afterwards=1&after=000000006b0cc900000000000000002a>; rel=\"next\""
        );
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(Some(MAX_LIMIT)).unwrap(), MAX_LIMIT);
        for bad in [0, MAX_LIMIT + 1] {
            assert_eq!(limit(Some(bad)).unwrap_err().status, 422);
        }
        assert_eq!(after(None).unwrap(), None);
        assert!(after(Some(&"7".repeat(32))).unwrap().is_some());
        let refused = after(Some("page-two")).unwrap_err();
        assert_eq!(refused.status, 400);
        assert!(!refused.detail.contains("page-two"), "{}", refused.detail);
    }
}
