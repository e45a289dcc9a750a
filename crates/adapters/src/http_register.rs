//! [`HttpRegister`]: a [`Register`] kept in an authority's own REST backend, reached over HTTP/1.1
//! with the contract of `docs/register-backend.md` through the node's [`AgencyClient`] —
//! `https://` verified against the agency's CA when one is configured, plain `http://` otherwise.
//!
//! The adapter trusts the backend with the data, not with the contract: every call has a
//! timeout, every answer is read only up to [`MAX_RESPONSE_BYTES`], and a record that holds a
//! field that was not requested is refused as a whole, so the node's guarantee that only decided
//! fields leave it does not depend on the backend's code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::ACCEPT;
use http::{StatusCode, Uri};
use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utbyte_domain::SubjectId;
use utbyte_store::{Change, ChangeFeed, Record, Register, RegisterBatch, StoreError, StoreFuture};

use crate::client::{describe, AgencyClient};
use crate::contract::{self, check_name, MAX_CHANGES, MAX_FIELDS, MAX_RESPONSE_BYTES};
use crate::AdapterError;

const FETCHING: &str = "fetching a record";
const READING_FLAG: &str = "reading a protected-identity flag";
const READING_CHANGES: &str = "reading the change feed";
const HANDING_BACK: &str = "telling which changes were handled";

/// A register kept in an authority's own REST backend.
///
/// Cheap to clone: clones share one connection pool (keep-alive), so a node needs one per
/// backend. Read-only: [`Register::insert`] fails with [`StoreError::ReadOnly`]. Its change
/// feed is the backend's, when the backend serves one ([`HttpRegister::with_change_feed`]).
#[derive(Clone)]
pub struct HttpRegister {
    client: AgencyClient,
    /// `http[s]://authority[/path]`, without a trailing slash.
    base: String,
    timeout: Duration,
    change_feed: bool,
}

impl HttpRegister {
    /// An adapter for the backend at `base_url` (`http://host[:port][/path]`), giving every
    /// call `timeout` from sending the request to the end of the answer, over a client of its
    /// own that trusts no CA (so plain `http://` only). Needs a Tokio runtime when called, not
    /// when constructed.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, AdapterError> {
        Self::with_client(base_url, timeout, AgencyClient::new(None)?)
    }

    /// An adapter over `client`: `https://` base URLs are accepted when the client trusts an
    /// agency CA, and the backend's certificate is verified against it.
    pub fn with_client(
        base_url: &str,
        timeout: Duration,
        client: AgencyClient,
    ) -> Result<Self, AdapterError> {
        let base = parse_base_url(base_url, client.speaks_https())?;
        if timeout.is_zero() {
            return Err(AdapterError::ZeroTimeout);
        }
        Ok(Self {
            client,
            base,
            timeout,
            change_feed: false,
        })
    }

    /// The same adapter, following the backend's change feed (`GET /changes`), which a backend
    /// of the contract's second version serves.
    pub fn with_change_feed(mut self) -> Self {
        self.change_feed = true;
        self
    }

    async fn read_changes(&self, after: u64, limit: u32) -> Result<Vec<Change>, StoreError> {
        let limit = limit.clamp(1, MAX_CHANGES);
        let path = contract::changes_path(after, limit);
        let Some(body) = self.get(READING_CHANGES, &path, false).await? else {
            return Err(unexpected_status(READING_CHANGES, StatusCode::NOT_FOUND));
        };
        let answer: ChangesAnswer = parse(READING_CHANGES, &body)?;
        if answer.changes.len() > limit as usize {
            return Err(backend(
                READING_CHANGES,
                format!(
                    "it sent {} changes; {limit} were asked for",
                    answer.changes.len()
                ),
            ));
        }
        let mut previous = after;
        answer
            .changes
            .into_iter()
            .map(|change| {
                if change.seq <= previous {
                    return Err(backend(
                        READING_CHANGES,
                        "its changes are not in increasing order after the one asked for"
                            .to_owned(),
                    ));
                }
                previous = change.seq;
                check_name("offering", &change.offering)?;
                if change.fields.is_empty() {
                    return Err(backend(
                        READING_CHANGES,
                        "a change names no field".to_owned(),
                    ));
                }
                for field in &change.fields {
                    check_name("field", field)?;
                }
                let subject = change.subject.parse().map_err(|_| {
                    backend(
                        READING_CHANGES,
                        "a change's subject is not valid".to_owned(),
                    )
                })?;
                let mut fields = change.fields;
                fields.sort();
                fields.dedup();
                Ok(Change {
                    seq: change.seq,
                    offering: change.offering,
                    subject,
                    fields,
                    at: change.at,
                    protected_identity: change.protected_identity,
                })
            })
            .collect()
    }

    /// Tells the backend the changes through `through` were handled; it may forget them.
    async fn hand_back(&self, through: u64) -> Result<u64, StoreError> {
        let url = format!("{}{}", self.base, contract::HANDLED_PATH);
        let body = serde_json::json!({ "through": through }).to_string();
        let exchange = async {
            let response = self
                .client
                .http()
                .post(url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|error| {
                    backend(
                        HANDING_BACK,
                        format!("cannot reach it: {}", describe(error)),
                    )
                })?;
            match response.status() {
                StatusCode::OK => {
                    let body = response.bytes().await.map_err(|error| {
                        backend(
                            HANDING_BACK,
                            format!("its answer broke off: {}", describe(error)),
                        )
                    })?;
                    let answer: HandledAnswer = parse(HANDING_BACK, &body)?;
                    Ok(answer.forgotten)
                }
                status => Err(unexpected_status(HANDING_BACK, status)),
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| StoreError::BackendTimeout {
                operation: HANDING_BACK,
                timeout: self.timeout,
            })?
    }

    async fn fetch_record(
        &self,
        offering: &str,
        subject: &SubjectId,
        fields: &[&str],
    ) -> Result<Option<Record>, StoreError> {
        check_name("offering", offering)?;
        let requested: BTreeSet<&str> = fields.iter().copied().collect();
        for field in &requested {
            check_name("field", field)?;
        }
        if requested.len() > MAX_FIELDS {
            return Err(StoreError::TooManyFields {
                requested: requested.len(),
                limit: MAX_FIELDS,
            });
        }
        let path = contract::record_path(offering, subject, requested.iter().copied());
        let Some(body) = self.get(FETCHING, &path, true).await? else {
            return Ok(None);
        };
        let answer: FieldsAnswer = parse(FETCHING, &body)?;
        let unrequested = answer
            .fields
            .keys()
            .filter(|field| !requested.contains(field.as_str()))
            .count();
        if unrequested > 0 {
            // Not filtered out: a backend that sends what was not asked for has a fault that
            // must be fixed, and dropping the fields silently would hide it.
            return Err(backend(
                FETCHING,
                format!(
                    "its answer holds {unrequested} field(s) that were not requested; the whole \
                     answer was discarded"
                ),
            ));
        }
        Ok(Some(Record::new(answer.fields)))
    }

    async fn read_flag(&self, subject: &SubjectId) -> Result<bool, StoreError> {
        let path = contract::protected_identity_path(subject);
        let body = self.get(READING_FLAG, &path, false).await?;
        let Some(body) = body else {
            return Err(unexpected_status(READING_FLAG, StatusCode::NOT_FOUND));
        };
        let answer: FlagAnswer = parse(READING_FLAG, &body)?;
        Ok(answer.protected_identity)
    }

    /// GETs `path` below the base URL within the timeout: the body of a 200, or `None` for a 404
    /// when `not_found_is_none`. Any other status is an error, whose body is not read.
    async fn get(
        &self,
        operation: &'static str,
        path: &str,
        not_found_is_none: bool,
    ) -> Result<Option<Bytes>, StoreError> {
        // The path holds the subject: errors below describe the failure, never the URI.
        let url = format!("{}{path}", self.base);
        let exchange = async {
            let mut response = self
                .client
                .http()
                .get(url)
                .header(ACCEPT, "application/json")
                .send()
                .await
                .map_err(|error| {
                    backend(operation, format!("cannot reach it: {}", describe(error)))
                })?;
            let status = response.status();
            let wanted =
                status == StatusCode::OK || (not_found_is_none && status == StatusCode::NOT_FOUND);
            if !wanted {
                return Err(unexpected_status(operation, status));
            }
            // A 404's body is read (and ignored) too, so its connection can be reused. Read
            // chunk by chunk: a declared length can lie, the cap must hold on what arrives.
            let too_large = || {
                backend(
                    operation,
                    format!("its answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                )
            };
            if response
                .content_length()
                .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
            {
                return Err(too_large());
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = response.chunk().await.map_err(|error| {
                backend(
                    operation,
                    format!("its answer broke off: {}", describe(error)),
                )
            })? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status == StatusCode::OK).then(|| Bytes::from(body)))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| StoreError::BackendTimeout {
                operation,
                timeout: self.timeout,
            })?
    }
}

impl Register for HttpRegister {
    fn fetch<'a>(
        &'a self,
        offering: &'a str,
        subject: &'a SubjectId,
        fields: &'a [&'a str],
    ) -> StoreFuture<'a, Option<Record>> {
        Box::pin(self.fetch_record(offering, subject, fields))
    }

    fn protected_identity<'a>(&'a self, subject: &'a SubjectId) -> StoreFuture<'a, bool> {
        Box::pin(self.read_flag(subject))
    }

    fn insert<'a>(&'a self, _batch: &'a RegisterBatch) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(StoreError::ReadOnly) })
    }

    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        self.change_feed.then_some(self as &dyn ChangeFeed)
    }
}

impl ChangeFeed for HttpRegister {
    fn changes_after(&self, after: u64, limit: u32) -> StoreFuture<'_, Vec<Change>> {
        Box::pin(self.read_changes(after, limit))
    }

    fn forget_changes(&self, through: u64) -> StoreFuture<'_, u64> {
        Box::pin(self.hand_back(through))
    }
}

impl fmt::Debug for HttpRegister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRegister")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Checks a base URL and returns it without a trailing slash, ready for a path to be appended.
/// `https://` only when the client can verify it (`https`).
fn parse_base_url(url: &str, https: bool) -> Result<String, AdapterError> {
    let invalid = |reason: String| AdapterError::InvalidBaseUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url
        .parse()
        .map_err(|error| invalid(format!("it is not a URL ({error})")))?;
    let scheme = match uri.scheme_str() {
        Some("http") => "http",
        Some("https") if https => "https",
        Some("https") => {
            return Err(invalid(
                "its scheme is `https`, but no agency CA bundle is configured to verify the \
                 backend's certificate with (set `agency_ca_bundle`, or use http://)"
                    .to_owned(),
            ))
        }
        Some(scheme) => {
            return Err(invalid(format!(
                "its scheme is `{scheme}`; a backend is reached over http:// or https://"
            )))
        }
        None => {
            return Err(invalid(
                "it has no scheme; write http://host:port".to_owned(),
            ))
        }
    };
    let Some(authority) = uri.authority() else {
        return Err(invalid("it names no host".to_owned()));
    };
    if authority.as_str().contains('@') {
        return Err(invalid(
            "it holds user information; credentials do not belong in a URL".to_owned(),
        ));
    }
    if authority.host().is_empty() {
        return Err(invalid("it names no host".to_owned()));
    }
    if uri.query().is_some() {
        return Err(invalid(
            "it has a query; a base URL ends with its path".to_owned(),
        ));
    }
    let path = uri.path().trim_end_matches('/');
    Ok(format!("{scheme}://{authority}{path}"))
}

/// The answer to a record fetch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsAnswer {
    #[serde(deserialize_with = "unique_fields")]
    fields: BTreeMap<String, Value>,
}

/// The answer to a read of the change feed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesAnswer {
    changes: Vec<ChangeItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeItem {
    seq: u64,
    offering: String,
    subject: String,
    fields: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    at: time::OffsetDateTime,
    protected_identity: bool,
}

/// The answer to a report of handled changes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HandledAnswer {
    forgotten: u64,
}

/// The answer to a protected-identity lookup.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagAnswer {
    protected_identity: bool,
}

/// A JSON object whose members all have different names. JSON allows duplicates and parsers
/// differ on which one wins; a field given twice is refused instead of guessed at.
fn unique_fields<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Value>, D::Error> {
    struct Fields;

    impl<'de> Visitor<'de> for Fields {
        type Value = BTreeMap<String, Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object from field id to value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = BTreeMap::new();
            while let Some((field, value)) = map.next_entry::<String, Value>()? {
                if fields.insert(field, value).is_some() {
                    return Err(A::Error::custom("a field is given twice"));
                }
            }
            Ok(fields)
        }
    }

    deserializer.deserialize_map(Fields)
}

/// Parses an answer. serde_json's messages for a wrong type quote the offending value, which may
/// be personal data, so the error names the kind of fault and its position only.
fn parse<T: DeserializeOwned>(operation: &'static str, body: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(body).map_err(|error| {
        use serde_json::error::Category;
        let fault = match error.classify() {
            Category::Eof => "ends before its JSON does",
            Category::Data => "is JSON, but not the shape the contract prescribes",
            Category::Syntax | Category::Io => "is not valid JSON",
        };
        backend(
            operation,
            format!(
                "its answer {fault} (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })
}

fn backend(operation: &'static str, reason: String) -> StoreError {
    StoreError::Backend { operation, reason }
}

fn unexpected_status(operation: &'static str, status: StatusCode) -> StoreError {
    // The backend's error body is not quoted: it is outside utbyte's control and may name the
    // subject.
    backend(operation, format!("it answered with status {status}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn reason(url: &str) -> String {
        match parse_base_url(url, false) {
            Err(AdapterError::InvalidBaseUrl { reason, .. }) => reason,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn base_urls_are_normalised_or_refused_with_the_reason() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080", false).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            parse_base_url("http://backend.local/register/v1/", false).unwrap(),
            "http://backend.local/register/v1"
        );
        assert_eq!(
            parse_base_url("https://backend.local/register/", true).unwrap(),
            "https://backend.local/register"
        );
        assert!(reason("ftp://backend.local").starts_with("its scheme is `ftp`"));
        assert!(reason("https://backend.local").starts_with("its scheme is `https`"));
        assert!(reason("backend.local:8080").starts_with("it has no scheme"));
        assert!(reason("/register").starts_with("it has no scheme"));
        assert!(reason("http://user:pw@backend.local").starts_with("it holds user information"));
        assert!(reason("http://backend.local/?x=1").starts_with("it has a query"));
        assert!(reason("http://back end").starts_with("it is not a URL"));
        assert_eq!(
            HttpRegister::new("http://backend.local", Duration::ZERO).err(),
            Some(AdapterError::ZeroTimeout)
        );
    }

    #[test]
    fn answers_outside_the_contract_are_refused_without_quoting_them() {
        let message = |body: &str| {
            parse::<FieldsAnswer>(FETCHING, body.as_bytes())
                .err()
                .map(|e| e.to_string())
        };
        assert!(parse::<FieldsAnswer>(FETCHING, br#"{"fields":{"a":1}}"#).is_ok());
        let wrong_type = message(r#"{"fields":"19121212-1212"}"#).unwrap();
        assert!(wrong_type.contains("not the shape the contract prescribes"));
        assert!(!wrong_type.contains("1212"), "{wrong_type}");
        assert!(message(r#"{"fields":{"a":1,"a":2}}"#)
            .unwrap()
            .contains("not the shape"));
        assert!(message(r#"{"fields":{},"extra":1}"#)
            .unwrap()
            .contains("not the shape"));
        assert!(message(r#"{"fields":{"a":"#)
            .unwrap()
            .contains("ends before"));
        assert!(message("<html>").unwrap().contains("is not valid JSON"));
        assert!(parse::<FlagAnswer>(READING_FLAG, br#"{"protected_identity":"yes"}"#).is_err());
    }
}
