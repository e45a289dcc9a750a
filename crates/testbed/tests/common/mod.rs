//! A loopback federation for the end-to-end tests, and a plain HTTP client for its local APIs.

#![allow(dead_code)] // each test file uses its own part

pub mod line;
pub mod scrape;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use utbyte_rules::rulebook::read_dir;
use utbyte_synthetic::{self as synthetic, OfferingFields, Population};
use utbyte_testbed::access::{case_system, LocalIssuer, CASE_SYSTEM};
use utbyte_testbed::loopback::{LoopbackFederation, Plan};

pub const POPULATION: Population = Population {
    seed: 7,
    persons: 600,
};

pub fn rulebook_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook")
}

pub fn plan(dir: PathBuf, authorities: &[&str]) -> Plan {
    Plan {
        dir,
        rulebook: read_dir(&rulebook_dir()).unwrap(),
        catalog: Some(utbyte_catalog::data::read_dir(&rulebook_dir().join("../catalog")).unwrap()),
        authorities: authorities.iter().map(|a| a.to_string()).collect(),
        population: POPULATION,
        base_port: 0,
        refresh: Duration::from_secs(3600),
        review_poll: Duration::from_millis(200),
        config_lifetime: time::Duration::hours(1),
        limits: utbyte_http::Limits {
            body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(20),
            untimed: utbyte_node::UNTIMED,
        },
        frontends: Default::default(),
        callbacks: Default::default(),
        agency_trust: None,
        recovery: utbyte_node::RecoveryConfig::default(),
        messages: utbyte_node::config::MessagesConfig {
            retry_first_millis: 200,
            retry_max_seconds: 2,
            ..Default::default()
        },
        subscriptions: Default::default(),
        retention: Default::default(),
        issuer: issuer(),
        clients: vec![case_system()],
        access: Default::default(),
        review_units: Default::default(),
        postgres: None,
        instances: 1,
        endpoints: Default::default(),
    }
}

/// The token issuer of every federation this test process starts.
pub fn issuer() -> Arc<LocalIssuer> {
    static ISSUER: OnceLock<Arc<LocalIssuer>> = OnceLock::new();
    Arc::clone(ISSUER.get_or_init(|| Arc::new(LocalIssuer::generate().unwrap())))
}

/// The case system's access token, which [`call`] sends unless the call gives its own
/// `authorization` header.
pub fn case_system_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| issuer().access_token(CASE_SYSTEM).unwrap())
}

pub async fn federation(authorities: &[&str]) -> (tempfile::TempDir, LoopbackFederation) {
    federation_on(Engine::Sqlite, authorities).await
}

/// Where the nodes of a federation keep their exchange state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A federation whose nodes keep their exchange state on `engine`: on PostgreSQL in the test
/// server (`UTBYTE_TEST_POSTGRES`, default `postgres://postgres@127.0.0.1:5432/test`), in
/// schemas of their own (the store's tests sweep old test schemas away).
pub async fn federation_on(
    engine: Engine,
    authorities: &[&str],
) -> (tempfile::TempDir, LoopbackFederation) {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), authorities);
    if engine == Engine::Postgres {
        plan.postgres = Some(scratch_postgres());
    }
    let federation = LoopbackFederation::start(plan).await.unwrap();
    (dir, federation)
}

/// A schema prefix of this process in the test database, named as the store's tests name
/// theirs (`utbyte_test_<unix seconds>_<pid>_<n>`), so their sweep removes it once stale.
pub fn scratch_postgres() -> utbyte_store::Postgres {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let url = std::env::var("UTBYTE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    utbyte_store::Postgres::new(
        url,
        format!("utbyte_test_{seconds}_{}_{n}", std::process::id()),
    )
}

/// Persons of Försäkringskassan's benefit register: (unprotected, protected).
pub fn fk_subjects() -> (Vec<String>, Vec<String>) {
    let offering = OfferingFields {
        offering: "fk-formaner".into(),
        fields: vec!["forman".into(), "belopp".into(), "period".into()],
    };
    let batch = synthetic::batch(&[offering], POPULATION).unwrap();
    let with_benefit: std::collections::HashSet<String> = batch
        .records()
        .iter()
        .filter(|r| r.field == "forman")
        .map(|r| r.subject.as_str().to_owned())
        .collect();
    let (mut open, mut protected) = (Vec::new(), Vec::new());
    for s in batch.subjects() {
        let id = s.subject.as_str().to_owned();
        if !with_benefit.contains(&id)
            || !matches!(s.subject, utbyte_domain::SubjectId::Personnummer(_))
        {
            continue;
        }
        if s.protected_identity {
            protected.push(id);
        } else {
            open.push(id);
        }
    }
    (open, protected)
}

/// Malmö's LUFFA check against Försäkringskassan's benefits.
pub fn luffa_case(subject: &str, fields: &[&str]) -> Value {
    json!({
        "subject": subject,
        "offering": "fk-formaner",
        "fields": fields,
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512",
        "officer": "malmo-h4711",
        "role": "handlaggare",
        "unit": "malmo-ekonomiskt-bistand"
    })
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    /// The `Link` header, which names a list's next page.
    pub link: Option<String>,
    pub body: Value,
}

/// One HTTP/1.1 request to a local API, as the case system unless `headers` has an
/// `authorization` (an empty one sends none).
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Response {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let bearer = format!("Bearer {}", case_system_token());
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("authorization"))
    {
        request = request.header("authorization", bearer.as_str());
    }
    for (name, value) in headers {
        if !(name.eq_ignore_ascii_case("authorization") && value.is_empty()) {
            request = request.header(*name, *value);
        }
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let link = response
        .headers()
        .get("link")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Response {
        status,
        content_type,
        link,
        body,
    }
}

pub async fn submit(addr: SocketAddr, key: &str, case: &Value) -> Response {
    call(
        addr,
        "POST",
        "/v1/requests",
        &[("idempotency-key", key)],
        Some(serde_json::to_vec(case).unwrap()),
    )
    .await
}

/// Asserts a problem+json answer of the given type and status.
pub fn assert_problem(response: &Response, status: u16, slug: &str) {
    assert_eq!(response.status, status, "{:#}", response.body);
    assert_eq!(response.content_type, "application/problem+json");
    assert_eq!(
        response.body["type"],
        format!("urn:utbyte:problem:{slug}"),
        "{:#}",
        response.body
    );
    assert!(response.body["detail"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
}

/// Waits (up to 10 s) until the node's background poll has fetched the answer to the request
/// with `key` from the provider. Listing does not ask the provider, so this does not race the
/// background poll as `GET /v1/requests/{key}` would.
pub async fn wait_answered(addr: SocketAddr, key: &str) {
    for _ in 0..100 {
        let listed = call(addr, "GET", "/v1/requests?limit=500", &[], None).await;
        let answered = listed
            .body
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["idempotency_key"] == key && r["state"] == "answered");
        if answered {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("request `{key}` was not answered within 10 s");
}

/// A Försäkringskassan jurist discloses `field` of review `ticket`, with a written reason.
pub async fn disclose_in_review(fk: SocketAddr, ticket: &str, field: &str) -> Response {
    let decision = json!({
        "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
        "fields": [{"field": field, "outcome": "disclose",
                    "reason": "Behovet av uppgiften väger tyngre än skyddsintresset."}]
    });
    let path = format!("/v1/reviews/{ticket}/decision");
    call(
        fk,
        "POST",
        &path,
        &[],
        Some(serde_json::to_vec(&decision).unwrap()),
    )
    .await
}

/// A client configuration for Malmö stad with a certificate from another CA (under `dir`),
/// trusting the federation's CA: what an impostor would dial with.
pub fn rogue_client_config(
    federation: &LoopbackFederation,
    dir: &std::path::Path,
) -> std::sync::Arc<rustls::ClientConfig> {
    let rogue_ca = utbyte_pki::FederationCa::init(
        &dir.join("rogue-ca"),
        "rogue",
        utbyte_pki::Validity::Days(3650),
    )
    .unwrap();
    let rogue = utbyte_testbed::loopback::credentials(
        &rogue_ca,
        &dir.join("rogue"),
        "malmo-stad",
        "212000-1124",
        "Malmö stad",
    )
    .unwrap();
    utbyte_pki::client_config(
        federation.ca.certificate(),
        &rogue.certificate,
        &rogue.key,
        &utbyte_pki::Revocations::new(),
    )
    .unwrap()
}

/// The newest record in `authority`'s ledger.
pub fn last_record(
    federation: &utbyte_testbed::loopback::LoopbackFederation,
    authority: &str,
) -> utbyte_audit::AuditRecord {
    let audit = federation.node(authority).unwrap().audit();
    let size = audit.ledger().size();
    utbyte_audit::AuditRecord::from_leaf(&audit.ledger().entry(size - 1).unwrap()).unwrap()
}

/// A federation client with `authority`'s own node certificate.
pub fn client_as(
    federation: &LoopbackFederation,
    authority: &str,
) -> utbyte_http::FederationClient {
    let creds =
        utbyte_pki::NodeCredentials::load(&federation.dir.join("pki").join(authority)).unwrap();
    utbyte_http::FederationClient::new(
        creds
            .client_config(&utbyte_pki::Revocations::new())
            .unwrap(),
        Duration::from_secs(10),
        1 << 20,
    )
}

/// Malmö's node speaking to Försäkringskassan's federation listener with its own certificate.
pub async fn as_malmo(
    federation: &LoopbackFederation,
    method: http::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> utbyte_http::FederationResponse {
    to_fk(
        &client_as(federation, "malmo-stad"),
        federation,
        method,
        path,
        body,
    )
    .await
    .unwrap()
}

/// One request to Försäkringskassan's federation listener, dialled with `client`.
pub async fn to_fk(
    client: &utbyte_http::FederationClient,
    federation: &LoopbackFederation,
    method: http::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<utbyte_http::FederationResponse, utbyte_http::ClientError> {
    let endpoint = federation
        .publisher
        .config()
        .member("forsakringskassan")
        .unwrap()
        .endpoint
        .clone();
    let expected = utbyte_http::ExpectedPeer {
        authority: "forsakringskassan",
        fingerprints: None,
    };
    client.send(&endpoint, expected, method, path, body).await
}

pub fn exchange_request(request_id: &str, subject: &str) -> Value {
    json!({
        "request_id": request_id,
        "sent_at": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        "unit": "malmo-ekonomiskt-bistand",
        "role": "handlaggare",
        "officer": "malmo-h4711",
        "offering": "fk-formaner",
        "fields": ["forman"],
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-1",
        "subject": subject
    })
}
