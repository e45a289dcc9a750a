//! End to end over real mutual TLS: every way in that must be refused is refused, with its
//! precise error — unknown CA, expired and revoked certificates, an expired federation
//! configuration, replayed and stale requests, oversized bodies, malformed identifiers, and
//! another authority's review ticket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use utbyte_http::{ClientError, FederationClient, FederationResponse, TlsFailure};
use utbyte_pki::{NodeCredentials, NodeRequest, Revocations, Validity};
use utbyte_testbed::loopback::LoopbackFederation;

const AUTHORITIES: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

fn client(tls: Arc<rustls::ClientConfig>) -> FederationClient {
    FederationClient::new(tls, Duration::from_secs(10), 1 << 20)
}

fn exchange_request(subject: &str, sent_at: OffsetDateTime) -> Value {
    json!({
        "request_id": format!("{:032x}", rand_id()),
        "sent_at": sent_at.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "unit": "malmo-ekonomiskt-bistand",
        "role": "handlaggare",
        "offering": "fk-formaner",
        "fields": ["forman"],
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-1",
        "subject": subject
    })
}

fn rand_id() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    u128::from_le_bytes(bytes)
}

fn problem_type(response: &FederationResponse) -> String {
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    body["type"]
        .as_str()
        .unwrap()
        .trim_start_matches("urn:utbyte:problem:")
        .to_owned()
}

fn tls_failure(result: Result<FederationResponse, ClientError>) -> TlsFailure {
    match result {
        Err(ClientError::Tls { failure, .. }) => failure,
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_from_another_ca_expired_or_revoked_are_refused_at_the_handshake() {
    let (dir, federation) = federation(&AUTHORITIES).await;
    let (open, _) = fk_subjects();
    let body = || {
        Some(serde_json::to_vec(&exchange_request(&open[0], OffsetDateTime::now_utc())).unwrap())
    };
    let path = "/federation/v1/requests";

    // A genuine member gets an answer.
    let genuine = client_as(&federation, "malmo-stad");
    let answer = to_fk(&genuine, &federation, Method::POST, path, body())
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::OK);

    // Another CA's certificate for the same authority.
    let tls = rogue_client_config(&federation, dir.path());
    let refused = to_fk(&client(tls), &federation, Method::POST, path, body()).await;
    assert_eq!(tls_failure(refused), TlsFailure::RefusedUnknownCa);

    // An expired certificate from the right CA.
    let now = OffsetDateTime::now_utc();
    let request = NodeRequest::new("malmo-stad", "212000-1124", "Malmö stad")
        .unwrap()
        .ip_address("127.0.0.1".parse().unwrap())
        .validity(Validity::Between {
            not_before: now - time::Duration::days(10),
            not_after: now - time::Duration::days(1),
        });
    let expired = federation.ca.issue(&request).unwrap();
    let refused = to_fk(
        &client(expired.client_config(&Revocations::new()).unwrap()),
        &federation,
        Method::POST,
        path,
        body(),
    )
    .await;
    assert_eq!(tls_failure(refused), TlsFailure::RefusedExpired);

    // Revoking Malmö's certificate: new connections fail the handshake, and the connection
    // already open is refused request by request.
    let fingerprint = NodeCredentials::load(&federation.dir.join("pki/malmo-stad"))
        .unwrap()
        .certificate
        .fingerprint()
        .to_string();
    federation
        .publisher
        .update(OffsetDateTime::now_utc(), |config| {
            config.revoked.push(fingerprint)
        })
        .unwrap();
    federation
        .node("forsakringskassan")
        .unwrap()
        .refresh()
        .await
        .unwrap();
    let open_connection = to_fk(&genuine, &federation, Method::POST, path, body())
        .await
        .unwrap();
    assert_eq!(open_connection.status, StatusCode::FORBIDDEN);
    assert_eq!(problem_type(&open_connection), "not-a-member");
    let fresh = client_as(&federation, "malmo-stad");
    assert_eq!(
        tls_failure(to_fk(&fresh, &federation, Method::POST, path, body()).await),
        TlsFailure::RefusedRevoked
    );
    // Through Malmö's own node, the case system hears why.
    let via_node = submit(
        federation.node("malmo-stad").unwrap().local_addr,
        "after-revocation",
        &luffa_case(&open[0], &["forman"]),
    )
    .await;
    assert!(via_node.status == 502, "{:#}", via_node.body);
    eprintln!("{:#}", via_node.body);
    let said = via_node.body["tls_failure"]
        .as_str()
        .or(via_node.body["provider_problem"]["type"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        said == "refused-certificate-revoked" || said.ends_with("not-a-member"),
        "{said}"
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_stale_oversized_and_malformed_requests_get_their_precise_errors() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let (open, _) = fk_subjects();
    let malmo = client_as(&federation, "malmo-stad");
    let path = "/federation/v1/requests";

    let original = exchange_request(&open[0], OffsetDateTime::now_utc());
    let request = serde_json::to_vec(&original).unwrap();
    let first = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(request.clone()),
    )
    .await
    .unwrap();
    assert_eq!(first.status, StatusCode::OK);
    let size = federation
        .node("forsakringskassan")
        .unwrap()
        .audit()
        .ledger()
        .size();
    // The very same request again (a recipient recovering after a crash) gets the very same
    // signed answer; the same id with another body is a replay.
    let again = to_fk(&malmo, &federation, Method::POST, path, Some(request))
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "the answer kept for the request id");
    let mut altered = original.clone();
    altered["fields"] = json!(["forman", "belopp"]);
    let replay = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(serde_json::to_vec(&altered).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(problem_type(&replay), "replayed-request");
    assert_eq!(
        federation
            .node("forsakringskassan")
            .unwrap()
            .audit()
            .ledger()
            .size(),
        size,
        "neither the same request again nor a replay is decided again"
    );

    let old = exchange_request(
        &open[0],
        OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    let stale = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(serde_json::to_vec(&old).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        (stale.status, problem_type(&stale)),
        (StatusCode::BAD_REQUEST, "stale-request".into())
    );

    let bad_subject = exchange_request("19121212-1213", OffsetDateTime::now_utc());
    let malformed = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(serde_json::to_vec(&bad_subject).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        (malformed.status, problem_type(&malformed)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid-subject".into())
    );

    let mut huge = exchange_request(&open[0], OffsetDateTime::now_utc());
    huge["case_ref"] = json!("x".repeat(100 * 1024));
    let oversized = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(serde_json::to_vec(&huge).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        (oversized.status, problem_type(&oversized)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large".into())
    );

    let not_json = to_fk(
        &malmo,
        &federation,
        Method::POST,
        path,
        Some(b"{\"request_id\":".to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(
        (not_json.status, problem_type(&not_json)),
        (StatusCode::BAD_REQUEST, "malformed-body".into())
    );

    // The same at the local API.
    let local = federation.node("malmo-stad").unwrap().local_addr;
    for (subject, why) in [
        ("19121212-1213", "checksum"),
        ("19121312-1212", "date"),
        ("20991212-1219", "future"),
        ("abc", "letters"),
    ] {
        let answer = submit(
            local,
            &format!("bad-{why}"),
            &luffa_case(subject, &["forman"]),
        )
        .await;
        assert_problem(&answer, 422, "invalid-subject");
    }
    let mut huge_case = luffa_case(&open[0], &["forman"]);
    huge_case["case_ref"] = json!("x".repeat(100 * 1024));
    assert_problem(
        &submit(local, "huge", &huge_case).await,
        413,
        "body-too-large",
    );
    let mut too_many = luffa_case(&open[0], &["forman"]);
    too_many["fields"] = json!((0..300).map(|i| format!("f{i}")).collect::<Vec<_>>());
    assert_problem(
        &submit(local, "many", &too_many).await,
        422,
        "invalid-request",
    );
    let mut foreign_unit = luffa_case(&open[0], &["forman"]);
    foreign_unit["unit"] = json!("fk-kontroll");
    assert_problem(
        &submit(local, "unit", &foreign_unit).await,
        422,
        "invalid-request",
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_authority_never_sees_anothers_review() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let (_, protected) = fk_subjects();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let answer = submit(malmo, "mine", &luffa_case(&protected[0], &["forman"])).await;
    assert_eq!(answer.status, 202, "{:#}", answer.body);
    let ticket = answer.body["ticket"].as_str().unwrap();
    let path = format!("/federation/v1/reviews/{ticket}");
    let own = to_fk(
        &client_as(&federation, "malmo-stad"),
        &federation,
        Method::GET,
        &path,
        None,
    )
    .await
    .unwrap();
    assert_eq!(own.status, StatusCode::OK);
    let police = to_fk(
        &client_as(&federation, "polismyndigheten"),
        &federation,
        Method::GET,
        &path,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (police.status, problem_type(&police)),
        (StatusCode::NOT_FOUND, "review-not-found".into())
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_federation_configuration_stops_exchanges_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &AUTHORITIES);
    // Long enough to answer once on a loaded machine. The directory signs each copy when a
    // node pulls it, and every node has pulled once `start` returns, so every copy has
    // expired a lifetime after that.
    let lifetime = Duration::from_secs(15);
    plan.config_lifetime = time::Duration::try_from(lifetime).unwrap();
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let signed = std::time::Instant::now();
    let (open, _) = fk_subjects();
    let local = federation.node("malmo-stad").unwrap().local_addr;
    let before = submit(local, "before", &luffa_case(&open[0], &["forman"])).await;
    assert_eq!(before.status, 200, "{:#}", before.body);
    tokio::time::sleep((lifetime + Duration::from_millis(500)).saturating_sub(signed.elapsed()))
        .await;
    let after = submit(local, "after", &luffa_case(&open[0], &["forman"])).await;
    assert_problem(&after, 503, "federation-config-expired");
    assert!(after.body["expired_at"].is_string());
    // The provider refuses too, on its own copy.
    let request =
        serde_json::to_vec(&exchange_request(&open[0], OffsetDateTime::now_utc())).unwrap();
    let provider = to_fk(
        &client_as(&federation, "malmo-stad"),
        &federation,
        Method::POST,
        "/federation/v1/requests",
        Some(request),
    )
    .await
    .unwrap();
    assert_eq!(
        (provider.status, problem_type(&provider)),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "federation-config-expired".into()
        )
    );
    // A fresh configuration from the directory resumes exchanges.
    federation
        .node("malmo-stad")
        .unwrap()
        .refresh()
        .await
        .unwrap();
    federation
        .node("forsakringskassan")
        .unwrap()
        .refresh()
        .await
        .unwrap();
    let resumed = submit(local, "resumed", &luffa_case(&open[0], &["forman"])).await;
    assert_eq!(resumed.status, 200, "{:#}", resumed.body);
    federation.stop().await;
}
