//! The directory's OpenAPI document: valid in shape (every operation its own id, mutual TLS
//! required), and the committed copy under `docs/openapi/` is what the directory serves
//! (`UTBYTE_BLESS=1` rewrites it after a deliberate change; `scripts/test` validates the file
//! with `openapi-spec-validator`).

use std::collections::BTreeMap;
use std::path::PathBuf;

fn document() -> serde_json::Value {
    serde_json::to_value(utbyte_directory::server::openapi()).unwrap_or_default()
}

#[test]
fn every_operation_has_its_own_id_and_mutual_tls_is_required() {
    let json = document();
    let mut seen = BTreeMap::new();
    for (path, item) in json["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operation id");
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("`{id}` names both {other} and {method} {path}");
            }
            assert!(
                operation["responses"]["500"].is_object(),
                "{method} {path} does not list the edge's problems"
            );
        }
    }
    assert!(seen.len() >= 9, "{seen:?}");
    assert_eq!(
        json["components"]["securitySchemes"]["federation_certificate"]["type"],
        "mutualTLS"
    );
    assert!(json["servers"][0]["url"].as_str().is_some());
}

#[test]
fn the_committed_document_is_the_served_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi/directory.json");
    let served = utbyte_directory::server::openapi()
        .to_pretty_json()
        .unwrap_or_default()
        + "\n";
    if std::env::var_os("UTBYTE_BLESS").is_some() {
        std::fs::write(&path, &served).unwrap_or_default();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "docs/openapi/directory.json differs from the served document; run \
         UTBYTE_BLESS=1 cargo test -p utbyte-directory --test openapi"
    );
}
