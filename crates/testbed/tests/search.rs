//! Federated search end to end: a Malmö officer asks once and every source the rulebook lets
//! the officer ask answers side by side, each an ordinary exchange recorded in both ledgers;
//! a source that does not answer is marked timed out without delaying the others past the
//! deadline; what every source would refuse is refused before anyone is asked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::*;
use serde_json::{json, Value};

const MALMO: &str = "malmo-stad";
const SILENT: &str = "kronofogden";

fn question(subject: &str, deadline_ms: u32) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "subject": subject,
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512",
        "officer": "malmo-h4711",
        "role": "handlaggare",
        "unit": "malmo-ekonomiskt-bistand",
        "deadline_ms": deadline_ms,
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_question_reaches_every_permitted_source_and_a_silent_one_does_not_hold_it_up() {
    let dir = tempfile::tempdir().unwrap();
    // Kronofogden's published address accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let authorities = [
        MALMO,
        "forsakringskassan",
        "skatteverket",
        SILENT,
        "polismyndigheten",
    ];
    let mut plan = plan(dir.path().join("f"), &authorities);
    plan.endpoints.insert(
        SILENT.to_owned(),
        format!("https://{}", silent.local_addr().unwrap()),
    );
    let federation = utbyte_testbed::loopback::LoopbackFederation::start(plan)
        .await
        .unwrap();
    let malmo = federation.node(MALMO).unwrap().local_addr;
    let (open, _) = fk_subjects();

    let audit = federation.node(MALMO).unwrap().audit();
    let search = |key: &'static str, body: Vec<u8>| async move {
        call(
            malmo,
            "POST",
            "/v1/search",
            &[("idempotency-key", key)],
            Some(body),
        )
        .await
    };

    // What every source would refuse is refused before anyone is asked.
    let before = audit.ledger().size();
    assert_problem(
        &search("sok-0", question("19121212-1213", 1500)).await,
        422,
        "invalid-subject",
    );
    assert_problem(
        &search("sok-0", question(&open[0], 50)).await,
        422,
        "invalid-request",
    );
    let long = "k".repeat(64);
    let too_long = call(
        malmo,
        "POST",
        "/v1/search",
        &[("idempotency-key", long.as_str())],
        Some(question(&open[0], 1500)),
    )
    .await;
    assert_eq!(too_long.status, 400, "{:#}", too_long.body);
    assert_eq!(audit.ledger().size(), before, "nothing was asked");

    let started = Instant::now();
    let found = search("sok-1", question(&open[0], 1500)).await;
    let took = started.elapsed();
    assert_eq!(found.status, 200, "{:#}", found.body);
    let sources = found.body["sources"].as_array().unwrap().clone();
    let by_offering = |id: &str| -> Value {
        sources
            .iter()
            .find(|s| s["offering"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no source {id}: {sources:#?}"))
    };
    // Every offering of a member the rulebook lets Malmö's officer ask under LUFFA for this
    // purpose, and none other (the police's suspicions are not one; Bolagsverket has no node
    // here).
    let offerings: Vec<&str> = sources
        .iter()
        .map(|s| s["offering"].as_str().unwrap())
        .collect();
    assert_eq!(
        offerings,
        [
            "fk-formaner",
            "kfm-skulder",
            "skv-folkbokforing",
            "skv-inkomst"
        ]
    );
    // Försäkringskassan answers at once with what the pre-assessment discloses.
    let fk = by_offering("fk-formaner");
    assert_eq!(fk["status"], "answered");
    assert_eq!(fk["provider"], "forsakringskassan");
    let disclosed: Vec<&str> = fk["answer"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "disclose")
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(disclosed, ["forman", "belopp", "period"]);
    let values: Vec<&String> = fk["answer"]["values"].as_object().unwrap().keys().collect();
    assert_eq!(values.len(), disclosed.len(), "{fk:#}");
    // Skatteverket's registers need a needs assessment there: routed to its reviewers.
    for id in ["skv-folkbokforing", "skv-inkomst"] {
        let skv = by_offering(id);
        assert_eq!(skv["status"], "review", "{skv:#}");
        assert!(skv["answer"]["ticket"].is_string());
        assert_eq!(skv["answer"]["values"], json!({}));
    }
    // Kronofogden never answers: marked, and nobody waited past the deadline for it.
    let silent = by_offering("kfm-skulder");
    assert_eq!(silent["status"], "timed_out");
    assert_eq!(silent["request"], "sok-1~kfm-skulder");
    assert!(silent.get("answer").is_none());
    assert!(took.as_millis() >= 1500, "{took:?}");
    assert!(took.as_millis() < 1500 + 1000, "{took:?}");
    for id in ["fk-formaner", "skv-folkbokforing", "skv-inkomst"] {
        assert!(by_offering(id)["elapsed_ms"].as_u64().unwrap() < 1500);
    }
    let counted = common::scrape::scrape(malmo).await;
    let sources_ended =
        |outcome: &str| counted.get("utbyte_search_sources_total", &[("outcome", outcome)]);
    assert_eq!(sources_ended("answered"), 1.0);
    assert_eq!(sources_ended("review"), 2.0);
    assert_eq!(sources_ended("timed_out"), 1.0);

    // Each is an ordinary exchange: kept under its key and recorded in Malmö's ledger.
    let mut receipts = Vec::new();
    for id in ["fk-formaner", "skv-folkbokforing", "skv-inkomst"] {
        let source = by_offering(id);
        let key = source["request"].as_str().unwrap();
        assert_eq!(key, format!("sok-1~{id}"));
        let kept = call(malmo, "GET", &format!("/v1/requests/{key}"), &[], None).await;
        assert!(matches!(kept.status, 200 | 202), "{:#}", kept.body);
        assert_eq!(kept.body["receipt"], source["answer"]["receipt"]);
        receipts.push(source["answer"]["receipt"]["index"].as_u64().unwrap());
    }
    receipts.sort_unstable();
    receipts.dedup();
    assert_eq!(receipts.len(), 3);
    assert!(receipts.iter().all(|i| *i < audit.ledger().size()));

    // The same search again reads the answers kept: nothing is decided or recorded again.
    let size = audit.ledger().size();
    let again = search("sok-1", question(&open[0], 1500)).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    let fk_again = again.body["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["offering"] == "fk-formaner")
        .cloned()
        .unwrap();
    assert_eq!(fk_again["answer"], fk["answer"]);
    assert_eq!(audit.ledger().size(), size);
}

/// A subject with protected identity is never disclosed automatically: every source that
/// would have answered routes the question to its reviewers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_subject_is_routed_to_review_at_every_source() {
    let (_dir, federation) = federation(&[MALMO, "forsakringskassan"]).await;
    let malmo = federation.node(MALMO).unwrap().local_addr;
    let (_, protected) = fk_subjects();
    let found = call(
        malmo,
        "POST",
        "/v1/search",
        &[("idempotency-key", "sok-skyddad")],
        Some(question(&protected[0], 5000)),
    )
    .await;
    assert_eq!(found.status, 200, "{:#}", found.body);
    let sources = found.body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{sources:#?}");
    assert_eq!(sources[0]["offering"], "fk-formaner");
    assert_eq!(sources[0]["status"], "review");
    assert_eq!(sources[0]["answer"]["values"], json!({}));
}
