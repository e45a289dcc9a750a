//! The reference register backend: the contract of `docs/register-backend.md` served over any
//! [`Register`] (typically a `RegisterStore`).
//!
//! It is what the adapter's tests and the load benchmark talk to, and a template for an
//! authority writing its own backend, so it validates its input as a real one should: a
//! malformed subject, offering or field list is a 400 with an RFC 9457 problem body
//! (`application/problem+json`) that never quotes the input. It speaks plain HTTP; in front of
//! the network it belongs behind a proxy that terminates mutual TLS.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use utbyte_domain::SubjectId;
use utbyte_store::{Register, StoreError};

use crate::contract::{check_name, decode, MAX_CHANGES, MAX_FIELDS};

/// Every problem type is this prefix followed by its slug, as everywhere in utbyte.
const PROBLEM_BASE: &str = "urn:utbyte:problem:";

/// The routes of the contract over `register`, with problem answers for every other path and
/// method.
pub fn router(register: Arc<dyn Register>) -> Router {
    Router::new()
        .route("/offerings/{offering}/subjects/{subject}", get(fetch))
        .route(
            "/subjects/{subject}/protected-identity",
            get(protected_identity),
        )
        .route("/changes", get(changes))
        .route("/changes/handled", post(handled))
        .fallback(|| async {
            NO_SUCH_ENDPOINT.with("the backend serves only the register contract")
        })
        .method_not_allowed_fallback(|| async {
            METHOD_NOT_ALLOWED
                .with("the register contract reads with GET; only /changes/handled takes a POST")
        })
        .with_state(register)
}

/// Serves [`router`] on `listener` until the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    register: Arc<dyn Register>,
) -> std::io::Result<()> {
    axum::serve(listener, router(register)).await
}

async fn fetch(
    State(register): State<Arc<dyn Register>>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let Path((offering, subject)) = path.map_err(|_| MALFORMED_PATH.with(PATH_NOT_UTF8))?;
    check_name("offering", &offering)
        .map_err(|error| MALFORMED_OFFERING.with(error.to_string()))?;
    let subject = parse_subject(&subject)?;
    let fields = requested_fields(query.as_deref())?;
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    match register.fetch(&offering, &subject, &fields).await {
        Ok(Some(record)) => Ok(Json(json!({ "fields": record })).into_response()),
        Ok(None) => {
            Err(SUBJECT_NOT_HELD
                .with("the register holds nothing about this subject in this offering"))
        }
        Err(error) => Err(register_error(error)),
    }
}

async fn protected_identity(
    State(register): State<Arc<dyn Register>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let Path(subject) = path.map_err(|_| MALFORMED_PATH.with(PATH_NOT_UTF8))?;
    let subject = parse_subject(&subject)?;
    match register.protected_identity(&subject).await {
        Ok(flag) => Ok(Json(json!({ "protected_identity": flag })).into_response()),
        Err(error) => Err(register_error(error)),
    }
}

async fn changes(
    State(register): State<Arc<dyn Register>>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let (after, limit) = feed_position(query.as_deref())?;
    let feed = register
        .change_feed()
        .ok_or_else(|| NO_CHANGE_FEED.with("this register keeps no change feed"))?;
    let changes = feed
        .changes_after(after, limit)
        .await
        .map_err(register_error)?;
    let changes: Vec<serde_json::Value> = changes
        .iter()
        .map(|change| {
            let at = change
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|error| REGISTER_FAILED.with(error.to_string()))?;
            Ok(json!({
                "seq": change.seq,
                "offering": change.offering,
                "subject": change.subject.as_str(),
                "fields": change.fields,
                "at": at,
                "protected_identity": change.protected_identity,
            }))
        })
        .collect::<Result<_, Problem>>()?;
    Ok(Json(json!({ "changes": changes })).into_response())
}

/// What the node reports it has handled.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Handled {
    through: u64,
}

async fn handled(
    State(register): State<Arc<dyn Register>>,
    body: Result<Json<Handled>, JsonRejection>,
) -> Result<Response, Problem> {
    let Json(handled) = body.map_err(|rejection| {
        MALFORMED_BODY.with(format!(
            "the body is not {{\"through\": <change seq>}}: {}",
            rejection.body_text()
        ))
    })?;
    let feed = register
        .change_feed()
        .ok_or_else(|| NO_CHANGE_FEED.with("this register keeps no change feed"))?;
    let forgotten = feed
        .forget_changes(handled.through)
        .await
        .map_err(register_error)?;
    Ok(Json(json!({ "forgotten": forgotten })).into_response())
}

/// `after` (a change seq, 0 for the oldest kept) and `limit` (1 to [`MAX_CHANGES`]): the only
/// query parameters of a read of the change feed, each exactly once.
fn feed_position(query: Option<&str>) -> Result<(u64, u32), Problem> {
    let (mut after, mut limit) = (None, None);
    for parameter in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (slot, value) = match parameter.split_once('=') {
            Some(("after", value)) if after.is_none() => (&mut after, value),
            Some(("limit", value)) if limit.is_none() => (&mut limit, value),
            _ => {
                return Err(MALFORMED_POSITION
                    .with("the query is `after=<change seq>&limit=<1 to 1000>`, each once"))
            }
        };
        *slot = Some(
            value
                .parse::<u64>()
                .map_err(|_| MALFORMED_POSITION.with("`after` and `limit` are whole numbers"))?,
        );
    }
    let limit = match limit {
        Some(limit @ 1..) if limit <= u64::from(MAX_CHANGES) => limit as u32,
        None => MAX_CHANGES,
        Some(_) => return Err(MALFORMED_POSITION.with(format!("`limit` is 1 to {MAX_CHANGES}"))),
    };
    Ok((after.unwrap_or(0), limit))
}

const PATH_NOT_UTF8: &str = "a path segment is not percent-encoded UTF-8";

/// Any written form `SubjectId` parses without a reference date: the canonical one the adapter
/// sends, and the 12-digit forms without separator. A 10-digit personnummer is refused, because
/// its century cannot be known here.
fn parse_subject(text: &str) -> Result<SubjectId, Problem> {
    text.parse()
        .map_err(|error| MALFORMED_SUBJECT.with(format!("the subject is not valid: {error}")))
}

/// The field ids of a query that is exactly `fields=` followed by comma-separated,
/// percent-encoded ids (none at all for an empty list), each id counted once.
fn requested_fields(query: Option<&str>) -> Result<BTreeSet<String>, Problem> {
    let mut list = None;
    for parameter in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match parameter.split_once('=') {
            Some(("fields", value)) if list.is_none() => list = Some(value),
            Some(("fields", _)) => {
                return Err(MALFORMED_FIELDS.with("the `fields` parameter is given more than once"))
            }
            _ => return Err(MALFORMED_FIELDS.with("the only query parameter accepted is `fields`")),
        }
    }
    let list = list.ok_or_else(|| {
        MALFORMED_FIELDS.with("the `fields` parameter is missing; send `?fields=` to ask for none")
    })?;
    let mut fields = BTreeSet::new();
    if list.is_empty() {
        return Ok(fields);
    }
    for (position, encoded) in list.split(',').enumerate() {
        let field = decode(encoded).ok_or_else(|| {
            MALFORMED_FIELDS.with(format!(
                "field id {} of the list is not percent-encoded UTF-8",
                position + 1
            ))
        })?;
        check_name("field", &field).map_err(|error| MALFORMED_FIELDS.with(error.to_string()))?;
        fields.insert(field);
        if fields.len() > MAX_FIELDS {
            return Err(TOO_MANY_FIELDS.with(format!(
                "more than {MAX_FIELDS} distinct fields were requested; ask in several requests"
            )));
        }
    }
    Ok(fields)
}

/// A register's own error. Its messages never carry identifiers or values, and the caller is the
/// node of the same authority, so the operator reading the node's log gets the reason.
fn register_error(error: StoreError) -> Problem {
    match error {
        StoreError::InvalidName {
            what: "offering", ..
        } => MALFORMED_OFFERING.with(error.to_string()),
        StoreError::InvalidName { .. } => MALFORMED_FIELDS.with(error.to_string()),
        error => REGISTER_FAILED.with(error.to_string()),
    }
}

/// A kind of problem: its slug, HTTP status and fixed title.
#[derive(Clone, Copy)]
struct ProblemType {
    slug: &'static str,
    status: StatusCode,
    title: &'static str,
}

impl ProblemType {
    fn with(self, detail: impl Into<String>) -> Problem {
        Problem {
            kind: self,
            detail: detail.into(),
        }
    }
}

const MALFORMED_SUBJECT: ProblemType = ProblemType {
    slug: "malformed-subject",
    status: StatusCode::BAD_REQUEST,
    title: "The subject is not a valid personnummer, samordningsnummer or organisationsnummer",
};
const MALFORMED_OFFERING: ProblemType = ProblemType {
    slug: "malformed-offering",
    status: StatusCode::BAD_REQUEST,
    title: "The offering id is not a valid id",
};
const MALFORMED_FIELDS: ProblemType = ProblemType {
    slug: "malformed-fields",
    status: StatusCode::BAD_REQUEST,
    title: "The requested fields are not a valid list of field ids",
};
const MALFORMED_PATH: ProblemType = ProblemType {
    slug: "malformed-path",
    status: StatusCode::BAD_REQUEST,
    title: "The path cannot be read",
};
const TOO_MANY_FIELDS: ProblemType = ProblemType {
    slug: "too-many-fields",
    status: StatusCode::BAD_REQUEST,
    title: "More fields were requested than one request may ask for",
};
const SUBJECT_NOT_HELD: ProblemType = ProblemType {
    slug: "subject-not-held",
    status: StatusCode::NOT_FOUND,
    title: "The register holds nothing about the subject in the offering",
};
const NO_SUCH_ENDPOINT: ProblemType = ProblemType {
    slug: "not-found",
    status: StatusCode::NOT_FOUND,
    title: "No such resource",
};
const METHOD_NOT_ALLOWED: ProblemType = ProblemType {
    slug: "method-not-allowed",
    status: StatusCode::METHOD_NOT_ALLOWED,
    title: "Method not allowed on this resource",
};
const MALFORMED_POSITION: ProblemType = ProblemType {
    slug: "malformed-position",
    status: StatusCode::BAD_REQUEST,
    title: "The position in the change feed cannot be read",
};
const MALFORMED_BODY: ProblemType = ProblemType {
    slug: "malformed-body",
    status: StatusCode::BAD_REQUEST,
    title: "The body is not what the contract prescribes",
};
const NO_CHANGE_FEED: ProblemType = ProblemType {
    slug: "no-change-feed",
    status: StatusCode::NOT_FOUND,
    title: "The register keeps no change feed",
};
const REGISTER_FAILED: ProblemType = ProblemType {
    slug: "register-failed",
    status: StatusCode::INTERNAL_SERVER_ERROR,
    title: "The register failed",
};

/// One problem occurrence (RFC 9457): `{type, title, status, detail}`.
struct Problem {
    kind: ProblemType,
    detail: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("{PROBLEM_BASE}{}", self.kind.slug),
            "title": self.kind.title,
            "status": self.kind.status.as_u16(),
            "detail": self.detail,
        });
        (
            self.kind.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn fields(query: &str) -> Result<Vec<String>, String> {
        requested_fields(Some(query))
            .map(|set| set.into_iter().collect())
            .map_err(|problem| format!("{}: {}", problem.kind.slug, problem.detail))
    }

    #[test]
    fn the_field_list_is_decoded_id_by_id() {
        assert_eq!(fields("fields=namn,a%2Cb,namn").unwrap(), ["a,b", "namn"]);
        assert_eq!(fields("fields=").unwrap(), Vec::<String>::new());
        assert_eq!(fields("fields=a+b").unwrap(), ["a+b"]);
    }

    #[test]
    fn a_malformed_field_list_is_named_without_quoting_it() {
        assert_eq!(
            fields("").unwrap_err(),
            "malformed-fields: the `fields` parameter is missing; send `?fields=` to ask for none"
        );
        assert_eq!(
            fields("fields=a&fields=b").unwrap_err(),
            "malformed-fields: the `fields` parameter is given more than once"
        );
        assert_eq!(
            fields("fields=a&subject=x").unwrap_err(),
            "malformed-fields: the only query parameter accepted is `fields`"
        );
        assert_eq!(
            fields("fields=a,%ff").unwrap_err(),
            "malformed-fields: field id 2 of the list is not percent-encoded UTF-8"
        );
        assert_eq!(
            fields("fields=a,,b").unwrap_err(),
            "malformed-fields: invalid field id: it is empty"
        );
        let many: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
        assert!(fields(&format!("fields={}", many.join(",")))
            .unwrap_err()
            .starts_with("too-many-fields: more than 256 distinct fields"));
        let repeated = vec!["f"; 1000].join(",");
        assert_eq!(fields(&format!("fields={repeated}")).unwrap(), ["f"]);
    }

    #[test]
    fn the_feed_position_is_after_and_limit_each_once() {
        let position =
            |query: &str| feed_position(Some(query)).map_err(|problem| problem.kind.slug);
        assert_eq!(position("after=7&limit=10"), Ok((7, 10)));
        assert_eq!(position("limit=1"), Ok((0, 1)));
        assert_eq!(position(""), Ok((0, MAX_CHANGES)));
        for bad in [
            "after=-1",
            "limit=0",
            "limit=1001",
            "after=1&after=2",
            "since=1",
            "after=x",
        ] {
            assert_eq!(position(bad), Err("malformed-position"), "{bad}");
        }
    }

    #[test]
    fn a_malformed_subject_is_refused_without_echoing_it() {
        let problem = parse_subject("121212-1212").err().unwrap();
        assert_eq!(problem.kind.slug, "malformed-subject");
        assert!(!problem.detail.contains("1212"), "{}", problem.detail);
        assert!(parse_subject("191212121212").is_ok());
        assert!(parse_subject("19121212-1212").is_ok());
    }
}
