//! The catalog as members reach it: the directory serves search, entries, concepts, needs and
//! the DCAT-AP-SE/SKOS exports over mutual TLS, described in its OpenAPI document; a node's
//! local API passes searches on for the authority's own systems and the portal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use http::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;
use utbyte_http::{ExpectedPeer, FederationClient};
use utbyte_pki::{NodeCredentials, Revocations};
use utbyte_testbed::loopback::DIRECTORY_AUTHORITY;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_search_and_export_the_catalog_at_the_directory() {
    let (_dir, federation) = federation(&["skatteverket", "forsakringskassan"]).await;
    let creds = NodeCredentials::load(&federation.dir.join("pki/skatteverket")).unwrap();
    let client = FederationClient::new(
        creds.client_config(&Revocations::new()).unwrap(),
        Duration::from_secs(10),
        8 << 20,
    );
    let endpoint = format!("https://{}", federation.directory_addr);
    let get = |path: String| {
        let (client, endpoint) = (&client, &endpoint);
        async move {
            let expected = ExpectedPeer {
                authority: DIRECTORY_AUTHORITY,
                fingerprints: None,
            };
            client
                .send(endpoint, expected, Method::GET, &path, None)
                .await
                .unwrap()
        }
    };
    let json = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap();

    // "lön" is no offering's word, but it labels the income concept Skatteverket's fields link to.
    let found = get("/v1/catalog/search?q=l%C3%B6n".into()).await;
    assert_eq!(found.status, StatusCode::OK);
    let found = json(&found.body);
    let hits: Vec<&str> = found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["offering"].as_str().unwrap())
        .collect();
    assert!(hits.contains(&"skv-inkomst"), "{found:#}");
    assert!(
        found["facets"]["provider"].is_array() || found["facets"]["provider"].is_object(),
        "{found:#}"
    );

    let bad = get("/v1/catalog/search?q=colour%3Ablue".into()).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(&bad.body)["type"], "urn:utbyte:problem:invalid-search");

    let entry = json(&get("/v1/catalog/offerings/fk-formaner".into()).await.body);
    assert!(
        entry["legal_bases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["provision"] == "luffa"),
        "{entry:#}"
    );
    assert_eq!(
        get("/v1/catalog/offerings/nothing".into()).await.status,
        StatusCode::NOT_FOUND
    );

    let dcat = get("/v1/catalog/export/dcat.jsonld".into()).await;
    assert_eq!(dcat.status, StatusCode::OK);
    assert_eq!(dcat.headers["content-type"], "application/ld+json");
    json(&dcat.body);
    let rdf = get("/v1/catalog/export/skos.rdf".into()).await;
    assert_eq!(rdf.headers["content-type"], "application/rdf+xml");
    assert!(String::from_utf8_lossy(&rdf.body).contains("skos"));

    let needs = json(&get("/v1/catalog/needs".into()).await.body);
    assert!(!needs.as_array().unwrap().is_empty());
    let openapi = json(&get("/openapi.json".into()).await.body);
    assert!(openapi["paths"]["/v1/catalog/search"]["get"].is_object());

    // A node's own systems search through its local API; the node asks the directory as itself
    // and passes the answer on unchanged, problems included.
    let local = federation.node("forsakringskassan").unwrap().local_addr;
    let through = call(
        local,
        "GET",
        "/v1/catalog/search?q=l%C3%B6n&per_page=5",
        &[],
        None,
    )
    .await;
    assert_eq!(through.status, 200, "{:#}", through.body);
    let direct = json(
        &get("/v1/catalog/search?q=l%C3%B6n&per_page=5".into())
            .await
            .body,
    );
    assert_eq!(through.body, direct);
    let bad = call(local, "GET", "/v1/catalog/search?q=owner:x", &[], None).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["type"], "urn:utbyte:problem:invalid-search");
    let local_api = call(local, "GET", "/openapi.json", &[], None).await;
    assert!(local_api.body["paths"]["/v1/catalog/search"]["get"].is_object());
    federation.stop().await;
}
