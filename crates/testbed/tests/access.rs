//! Who may call a node's local API, end to end: Malmö stad's node serves its local API over TLS
//! with a certificate from the city's own CA, takes client certificates from that CA and access
//! tokens and officer assertions from its identity provider; every bad credential, every
//! endpoint owner and every unit and role a client may not claim is refused with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod common;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};
use serde_json::{json, Value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use utbyte_node::access::config::{
    AccessConfig, ClientConfig, DutyName, IssuerConfig, OfficerIssuerConfig, OfficerSource,
};
use utbyte_testbed::access::{client, AUDIENCE, ISSUER};
use utbyte_testbed::loopback::LoopbackFederation;

const MALMO_UNIT: &str = "malmo-ekonomiskt-bistand";

/// The city's own CA, and what it issued.
struct AgencyPki {
    ca: rcgen::Certificate,
    key: KeyPair,
    dir: PathBuf,
}

impl AgencyPki {
    fn new(dir: &Path, name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = params.self_signed(&key).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Self {
            ca,
            key,
            dir: dir.to_owned(),
        }
    }

    /// A certificate for `name`, valid from `days.0` to `days.1` days from now; the server's
    /// names 127.0.0.1 and localhost.
    fn issue(&self, name: &str, serial: u64, days: (i64, i64), server: bool) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(SerialNumber::from(serial));
        let now = OffsetDateTime::now_utc();
        params.not_before = now + Duration::days(days.0);
        params.not_after = now + Duration::days(days.1);
        if server {
            params.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().unwrap()),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ];
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &self.ca, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn write(&self, name: &str, (cert, key): (String, String)) -> (PathBuf, PathBuf) {
        let (c, k) = (
            self.dir.join(format!("{name}.crt")),
            self.dir.join(format!("{name}.key")),
        );
        std::fs::write(&c, cert).unwrap();
        std::fs::write(&k, key).unwrap();
        (c, k)
    }

    fn revocation_list(&self, revoked: u64) -> PathBuf {
        let now = OffsetDateTime::now_utc();
        let crl = CertificateRevocationListParams {
            this_update: now - Duration::hours(1),
            next_update: now + Duration::days(7),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(revoked),
                revocation_time: now - Duration::minutes(5),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.ca, &self.key)
        .unwrap();
        let path = self.dir.join("agency.crl");
        std::fs::write(&path, crl.pem().unwrap()).unwrap();
        path
    }
}

/// A TLS client of the local listener, trusting the city's CA, with a client certificate or
/// none.
fn tls_client(ca: &Path, identity: Option<(String, String)>) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots);
    let tls = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }

    fn refused(&self, status: u16, reason: &str) {
        assert_eq!(
            (self.status, self.reason()),
            (status, reason),
            "{:#}",
            self.body
        );
        let kind = if status == 401 {
            "unauthenticated"
        } else {
            "forbidden"
        };
        assert_eq!(self.body["type"], format!("urn:utbyte:problem:{kind}"));
    }
}

/// A case system's request, as `POST /v1/requests`.
async fn ask(
    client: &reqwest::Client,
    addr: SocketAddr,
    headers: &[(&str, &str)],
    case: Option<&Value>,
) -> Answer {
    send(
        client,
        addr,
        reqwest::Method::POST,
        "/v1/requests",
        headers,
        case,
    )
    .await
}

async fn send(
    client: &reqwest::Client,
    addr: SocketAddr,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let mut request = client.request(method, format!("https://localhost:{}{path}", addr.port()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer { status, body }
}

fn malmo_case(subject: &str, officer: &str, role: &str) -> Value {
    let mut case = luffa_case(subject, &["forman"]);
    case["officer"] = officer.into();
    case["role"] = role.into();
    case
}

fn access(pki: &AgencyPki, crl: PathBuf, jwks: PathBuf) -> AccessConfig {
    let (certificate, key) = pki.write("server", pki.issue("localhost", 100, (-1, 30), true));
    let bounded = ClientConfig {
        units: vec![MALMO_UNIT.into()],
        roles: vec!["handlaggare".into()],
        ..client("arende", &[DutyName::Request], OfficerSource::Trusted)
    };
    let jwks = jwks.to_string_lossy().into_owned();
    AccessConfig {
        certificate: Some(certificate),
        key: Some(key),
        plain_http: false,
        client_ca: Some(pki.dir.join("ca.pem")),
        client_crls: vec![crl],
        hosts: Vec::new(),
        tokens: Some(IssuerConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks: jwks.clone(),
        }),
        officers: Some(OfficerIssuerConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks,
            unit_claim: "unit".into(),
            roles_claim: "roles".into(),
            max_age_seconds: 300,
        }),
        clients: vec![
            bounded,
            client(
                "handlaggarstod",
                &[DutyName::Request],
                OfficerSource::Asserted,
            ),
            client("granskning", &[DutyName::Audit], OfficerSource::Trusted),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_of_the_local_api_is_authenticated_and_kept_to_its_duties() {
    let dir = tempfile::tempdir().unwrap();
    let pki = AgencyPki::new(&dir.path().join("malmo-pki"), "Malmö stad CA");
    let crl = pki.revocation_list(3);
    let mut plan = plan(dir.path().join("f"), &["forsakringskassan", "malmo-stad"]);
    let jwks = plan.dir.join("access").join("jwks.json");
    plan.access
        .insert("malmo-stad".into(), access(&pki, crl, jwks));
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let ca = pki.dir.join("ca.pem");
    let (open, _) = fk_subjects();
    let get = reqwest::Method::GET;
    let case = malmo_case(&open[0], "malmo-h4711", "handlaggare");

    // Without credentials: the health check answers, a request does not.
    let anonymous = tls_client(&ca, None);
    let health = send(&anonymous, malmo, get.clone(), "/healthz", &[], None).await;
    assert_eq!(health.status, 200);
    let refused = ask(
        &anonymous,
        malmo,
        &[("idempotency-key", "a-1")],
        Some(&case),
    )
    .await;
    refused.refused(401, "credentials-missing");

    // The case system's certificate: answered, within its unit and role only.
    let arende = tls_client(&ca, Some(pki.issue("arende", 1, (-1, 30), false)));
    let answered = ask(&arende, malmo, &[("idempotency-key", "a-2")], Some(&case)).await;
    assert_eq!(answered.status, 200, "{:#}", answered.body);
    assert!(answered.body["values"]["forman"].is_string());
    let as_analyst = malmo_case(&open[0], "malmo-h4711", "utredare");
    ask(
        &arende,
        malmo,
        &[("idempotency-key", "a-3")],
        Some(&as_analyst),
    )
    .await
    .refused(403, "role-not-allowed");
    let mut other_unit = case.clone();
    other_unit["unit"] = "malmo-annan".into();
    ask(
        &arende,
        malmo,
        &[("idempotency-key", "a-4")],
        Some(&other_unit),
    )
    .await
    .refused(403, "unit-not-allowed");
    // Its duty is requests: not the review queue, the ledger or the callbacks.
    for path in ["/v1/reviews", "/v1/audit/status", "/v1/callbacks"] {
        send(&arende, malmo, get.clone(), path, &[], None)
            .await
            .refused(403, "duty-not-allowed");
    }

    // Bad certificates, each with its reason.
    for (certificate, reason) in [
        (
            pki.issue("arende", 2, (-30, -1), false),
            "certificate-expired",
        ),
        (
            pki.issue("arende", 3, (-1, 30), false),
            "certificate-revoked",
        ),
        (
            AgencyPki::new(&dir.path().join("other"), "Someone else's CA").issue(
                "arende",
                1,
                (-1, 30),
                false,
            ),
            "certificate-unknown-issuer",
        ),
    ] {
        let client = tls_client(&ca, Some(certificate));
        ask(&client, malmo, &[("idempotency-key", "a-5")], Some(&case))
            .await
            .refused(401, reason);
    }
    let stranger = tls_client(&ca, Some(pki.issue("kalkylark", 9, (-1, 30), false)));
    send(&stranger, malmo, get.clone(), "/v1/offerings", &[], None)
        .await
        .refused(403, "client-unknown");

    // Access tokens: the auditors' system reads the ledger and nothing else.
    let issuer = issuer();
    let bearer = |token: String| format!("Bearer {token}");
    let granskning = bearer(issuer.access_token("granskning").unwrap());
    let status = send(
        &anonymous,
        malmo,
        get.clone(),
        "/v1/audit/status",
        &[("authorization", &granskning)],
        None,
    )
    .await;
    assert_eq!(status.status, 200, "{:#}", status.body);
    ask(
        &anonymous,
        malmo,
        &[("authorization", &granskning), ("idempotency-key", "a-6")],
        Some(&case),
    )
    .await
    .refused(403, "duty-not-allowed");
    let signer = issuer.issuer();
    let expired = signer
        .sign(
            "at+jwt",
            object(json!({"sub": "granskning", "aud": AUDIENCE, "exp": now() - 600})),
        )
        .unwrap();
    let elsewhere = signer
        .access_token("granskning", "utbyte:skatteverket", 300)
        .unwrap();
    let id_token = signer
        .officer_assertion("malmo-h4711", MALMO_UNIT, &["handlaggare"], AUDIENCE, 300)
        .unwrap();
    let (head, rest) = granskning
        .trim_start_matches("Bearer ")
        .split_once('.')
        .unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_claims = base64url(&json!({"sub": "granskning", "client_id": "arende", "aud": AUDIENCE, "iss": ISSUER, "exp": now() + 300}).to_string());
    let forged = format!("{head}.{forged_claims}.{signature}");
    for (token, reason) in [
        (expired, "token-expired"),
        (elsewhere, "token-wrong-audience"),
        (id_token, "token-wrong-type"),
        (forged, "token-forged"),
        ("nonsense".to_owned(), "token-malformed"),
    ] {
        send(
            &anonymous,
            malmo,
            get.clone(),
            "/v1/audit/status",
            &[("authorization", &bearer(token))],
            None,
        )
        .await
        .refused(401, reason);
    }
    send(
        &anonymous,
        malmo,
        get.clone(),
        "/v1/audit/status",
        &[("authorization", "Basic Z3JhbnNrbmluZzp4")],
        None,
    )
    .await
    .refused(401, "credentials-unsupported");

    // A client whose officers are asserted: the assertion must name the very officer, and is
    // good once.
    let stod = bearer(issuer.access_token("handlaggarstod").unwrap());
    ask(
        &anonymous,
        malmo,
        &[("authorization", &stod), ("idempotency-key", "s-1")],
        Some(&case),
    )
    .await
    .refused(401, "assertion-missing");
    let for_someone_else = issuer
        .officer_assertion("malmo-h0001", MALMO_UNIT, &["handlaggare"])
        .unwrap();
    ask(
        &anonymous,
        malmo,
        &[
            ("authorization", &stod),
            ("utbyte-officer-assertion", &for_someone_else),
            ("idempotency-key", "s-2"),
        ],
        Some(&case),
    )
    .await
    .refused(403, "officer-not-vouched");
    let not_in_role = issuer
        .officer_assertion("malmo-h4711", MALMO_UNIT, &["utredare"])
        .unwrap();
    ask(
        &anonymous,
        malmo,
        &[
            ("authorization", &stod),
            ("utbyte-officer-assertion", &not_in_role),
            ("idempotency-key", "s-3"),
        ],
        Some(&case),
    )
    .await
    .refused(403, "role-not-vouched");
    let assertion = issuer
        .officer_assertion("malmo-h4711", MALMO_UNIT, &["handlaggare"])
        .unwrap();
    let vouched = ask(
        &anonymous,
        malmo,
        &[
            ("authorization", &stod),
            ("utbyte-officer-assertion", &assertion),
            ("idempotency-key", "s-4"),
        ],
        Some(&case),
    )
    .await;
    assert_eq!(vouched.status, 200, "{:#}", vouched.body);
    // Both ledgers name the system that vouched for the officer, and how.
    for authority in ["malmo-stad", "forsakringskassan"] {
        let actor = last_record(&federation, authority).actor;
        assert_eq!(
            (actor.client.as_deref(), actor.vouch.as_deref()),
            (Some("handlaggarstod"), Some("assertion")),
            "{authority}"
        );
    }
    // The request is its client's: another client that may request does not find it.
    let own = send(
        &anonymous,
        malmo,
        get.clone(),
        "/v1/requests/s-4",
        &[("authorization", &stod)],
        None,
    )
    .await;
    assert_eq!(own.status, 200, "{:#}", own.body);
    let other = send(&arende, malmo, get.clone(), "/v1/requests/s-4", &[], None).await;
    assert_eq!(other.status, 404, "{:#}", other.body);
    let listed = send(&arende, malmo, get.clone(), "/v1/requests", &[], None).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["idempotency_key"] != "s-4"),
        "{:#}",
        listed.body
    );
    // Which is the node's to say, not the caller's.
    let mut claiming = case.clone();
    claiming["vouched_by"] = json!({"client": "portal", "vouch": "session"});
    let fresh = issuer
        .officer_assertion("malmo-h4711", MALMO_UNIT, &["handlaggare"])
        .unwrap();
    let claimed = ask(
        &anonymous,
        malmo,
        &[
            ("authorization", &stod),
            ("utbyte-officer-assertion", &fresh),
            ("idempotency-key", "s-6"),
        ],
        Some(&claiming),
    )
    .await;
    assert_eq!(claimed.status, 422, "{:#}", claimed.body);
    assert_eq!(claimed.body["field"], "vouched_by");
    ask(
        &anonymous,
        malmo,
        &[
            ("authorization", &stod),
            ("utbyte-officer-assertion", &assertion),
            ("idempotency-key", "s-5"),
        ],
        Some(&case),
    )
    .await
    .refused(401, "token-replayed");

    // A page that rebinds a name to the node is told it has the wrong host.
    let rebound = send(
        &arende,
        malmo,
        get.clone(),
        "/v1/offerings",
        &[("host", "evil.example")],
        None,
    )
    .await;
    assert_eq!(rebound.status, 421, "{:#}", rebound.body);
    assert_eq!(rebound.body["type"], "urn:utbyte:problem:host-not-allowed");

    // Every refusal is counted by reason, with no credential in a label.
    let metrics = reqwest_text(&anonymous, malmo, "/metrics").await;
    for reason in [
        "credentials-missing",
        "certificate-revoked",
        "token-replayed",
        "duty-not-allowed",
    ] {
        assert!(
            metrics.contains(&format!(
                "utbyte_access_refusals_total{{reason=\"{reason}\"}}"
            )),
            "{reason} not counted"
        );
    }
    assert!(!metrics.contains(&assertion[..20]));
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_competent_reviewer_of_the_reviewing_unit_of_this_authority_decides() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &["forsakringskassan", "malmo-stad"]);
    plan.review_units
        .insert("fk-formaner".into(), vec!["fk-kontroll".into()]);
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let (_, protected) = fk_subjects();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let review = submit(malmo, "rev-1", &luffa_case(&protected[0], &["forman"])).await;
    assert_eq!(review.status, 202, "{:#}", review.body);
    let ticket = review.body["ticket"].as_str().unwrap().to_owned();
    let decide = |unit: &'static str, role: &'static str| {
        let ticket = ticket.clone();
        async move {
            let decision = json!({
                "reviewer": {"officer": "r-1", "unit": unit, "role": role},
                "fields": [{"field": "forman", "outcome": "disclose", "reason": "Behovet väger tyngre."}]
            });
            call(
                fk,
                "POST",
                &format!("/v1/reviews/{ticket}/decision"),
                &[],
                Some(serde_json::to_vec(&decision).unwrap()),
            )
            .await
        }
    };
    // Another unit of Försäkringskassan, and a unit of another authority.
    for unit in ["fk-sjukforsakring", MALMO_UNIT] {
        let refused = decide(unit, "jurist").await;
        assert_eq!(refused.status, 403, "{:#}", refused.body);
        assert_eq!(refused.body["reason"], "unit-not-reviewer");
    }
    // The right unit, but a role the rulebook gives no competence to review.
    let refused = decide("fk-kontroll", "handlaggare").await;
    assert_eq!(refused.status, 403, "{:#}", refused.body);
    assert_eq!(refused.body["reason"], "role-not-reviewer");
    let decided = decide("fk-kontroll", "jurist").await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    // Without credentials the queue is not even listed.
    let anonymous = call(fk, "GET", "/v1/reviews", &[("authorization", "")], None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["reason"], "credentials-missing");
    federation.stop().await;
}

async fn reqwest_text(client: &reqwest::Client, addr: SocketAddr, path: &str) -> String {
    client
        .get(format!("https://localhost:{}{path}", addr.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn now() -> u64 {
    utbyte_access::issuer::now()
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
