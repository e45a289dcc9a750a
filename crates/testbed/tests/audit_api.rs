//! The auditor's endpoints on the local API, over HTTP against real nodes: the ledger's status
//! grows with an exchange, verification passes, the subject-access report lists exactly that
//! subject's exchange with proofs that check, statistics count it and measure a review's
//! turnaround, and a bad identifier is a documented problem that does not echo it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use utbyte_ledger::{Hash, InclusionProof};

const MALMO_FK: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

async fn get(addr: SocketAddr, path: &str) -> Response {
    let response = call(addr, "GET", path, &[], None).await;
    assert_eq!(response.status, 200, "{path}: {:#}", response.body);
    response
}

async fn report(addr: SocketAddr, subject: &str) -> Response {
    call(
        addr,
        "POST",
        "/v1/audit/subject",
        &[],
        Some(serde_json::to_vec(&json!({ "subject": subject })).unwrap()),
    )
    .await
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// The response has exactly the members its OpenAPI schema declares.
fn assert_matches_schema(openapi: &Value, schema: &str, body: &Value) {
    let declared = keys(&openapi["components"]["schemas"][schema]["properties"]);
    assert_eq!(keys(body), declared, "{schema}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_sees_the_exchange_in_status_verification_report_and_statistics() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (open, protected) = fk_subjects();
    let (subject, bystander) = (&open[0], &open[1]);

    let before = get(fk, "/v1/audit/status").await.body;
    let stats_before = get(fk, "/v1/audit/stats").await.body;
    let answer = submit(
        malmo,
        "audit-1",
        &luffa_case(subject, &["forman", "belopp"]),
    )
    .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let disclosed_at = answer.body["provider_receipt"]["index"].as_u64().unwrap();

    // Status: the checkpoint covers the new record at once (the node publishes before
    // answering), is signed for this log and carries no cosignatures.
    let status = get(fk, "/v1/audit/status").await.body;
    let size = status["tree_size"].as_u64().unwrap();
    assert!(size > before["tree_size"].as_u64().unwrap(), "{status:#}");
    assert!(size > disclosed_at);
    assert_eq!(status["log_size"], size);
    assert_ne!(status["root_hex"], before["root_hex"]);
    let root_hex = status["root_hex"].as_str().unwrap();
    assert!(root_hex.len() == 64 && root_hex.bytes().all(|b| b.is_ascii_hexdigit()));
    let origin = status["origin"].as_str().unwrap();
    let checkpoint = status["checkpoint"].as_str().unwrap();
    let lines: Vec<&str> = checkpoint.lines().collect();
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], size.to_string());
    let root = Hash::from_base64(lines[2]).unwrap();
    assert_eq!(root.to_hex(), root_hex);
    assert_eq!(status["cosignatures"], json!([]));
    assert!(status["written_at"].as_str().unwrap().ends_with('Z'));
    assert!(status["log_key"].as_str().unwrap().starts_with(origin));

    // Verification: the whole ledger recomputed, every leaf a canonical record.
    let verified = call(fk, "POST", "/v1/audit/verify", &[], None).await;
    assert_eq!(verified.status, 200, "{:#}", verified.body);
    let v = &verified.body;
    assert_eq!(v["verified"], true, "{v:#}");
    assert_eq!(v["origin"], origin);
    assert!(v["tree_size"].as_u64().unwrap() >= size);
    assert_eq!(v["records_checked"], v["tree_size"]);
    assert!(v["files_checked"].as_u64().unwrap() > 0);
    assert!(v["took_ms"].is_u64());
    assert_eq!(v["attempts"], 1);

    // The subject's report lists the disclosure to Malmö, with a proof that checks.
    let found = report(fk, subject).await;
    assert_eq!(found.status, 200, "{:#}", found.body);
    let entries = found.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{:#}", found.body);
    assert_eq!(found.body["next"], Value::Null, "one page holds it all");
    let entry = &entries[0];
    assert_eq!(entry["index"], disclosed_at);
    assert_eq!(entry["event"], "disclosure");
    assert_eq!(entry["actor"]["authority"], "malmo-stad");
    assert_eq!(entry["offering"], "fk-formaner");
    assert_eq!(entry["legal_basis"], "luffa");
    assert!(entry["disclosed_fields"]
        .as_array()
        .unwrap()
        .contains(&json!("forman")));
    let proof: InclusionProof = serde_json::from_value(entry["proof"].clone()).unwrap();
    let leaf: Hash = serde_json::from_value(entry["leaf_hash"].clone()).unwrap();
    let report_root = Hash::from_base64(found.body["root"].as_str().unwrap()).unwrap();
    assert_eq!(proof.tree_size, found.body["tree_size"].as_u64().unwrap());
    proof.verify(&leaf, &report_root).unwrap();
    assert!(
        !found.body.to_string().contains(subject.as_str())
            && !found.body.to_string().contains(&subject.replace('-', "")),
        "the identifier was echoed"
    );
    // Another spelling of the same number is the same subject.
    let respelled = report(fk, &subject.replace('-', "")).await;
    assert_eq!(respelled.body["entries"], found.body["entries"]);
    // Someone else was not looked up.
    let other = report(fk, bystander).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.body["entries"], json!([]));
    assert_ne!(
        other.body["subject_commitment"],
        found.body["subject_commitment"]
    );
    // The recipient's ledger has the receipt for the same subject.
    let received = report(malmo, subject).await;
    let received = received.body["entries"].as_array().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["event"], "receipt");

    // Statistics count the disclosure, per event and per day.
    let stats = get(fk, "/v1/audit/stats").await.body;
    assert_eq!(stats["origin"], origin);
    assert_eq!(stats["entries"], stats["tree_size"]);
    let count = |s: &Value, event: &str| s["by_event"][event].as_u64().unwrap_or(0);
    assert_eq!(
        count(&stats, "disclosure"),
        count(&stats_before, "disclosure") + 1
    );
    // Follow-up days are Swedish days.
    let today =
        utbyte_domain::legal_time::swedish_date(time::OffsetDateTime::now_utc()).to_string();
    assert!(
        stats["by_day_event"][&today]["disclosure"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert_eq!(stats["review_turnaround_seconds"], json!([]));
    assert_eq!(stats["review_turnaround"], Value::Null);

    // A review, decided: its turnaround is measured from the request to the decision.
    let ticket = submit(
        malmo,
        "audit-review",
        &luffa_case(&protected[0], &["forman"]),
    )
    .await;
    assert_eq!(ticket.status, 202, "{:#}", ticket.body);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    let pending = get(fk, "/v1/audit/stats").await.body;
    assert_eq!(pending["open_reviews"], 1);
    let decision = json!({
        "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
        "fields": [{"field": "forman", "outcome": "refuse", "reason": "Skyddsintresset väger tyngst."}]
    });
    let decided = call(
        fk,
        "POST",
        &format!("/v1/reviews/{ticket}/decision"),
        &[],
        Some(serde_json::to_vec(&decision).unwrap()),
    )
    .await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    let stats = get(fk, "/v1/audit/stats").await.body;
    assert_eq!(count(&stats, "review_request"), 1);
    assert_eq!(count(&stats, "review_decision"), 1);
    assert_eq!(stats["open_reviews"], 0);
    let turnaround = stats["review_turnaround_seconds"].as_array().unwrap();
    assert_eq!(turnaround.len(), 1, "{stats:#}");
    assert!(turnaround[0].as_u64().unwrap() < 60);
    assert_eq!(stats["review_turnaround"]["count"], 1);
    assert_eq!(
        stats["review_turnaround"]["median_seconds"],
        turnaround[0].clone()
    );

    // Every response is what the local OpenAPI document declares.
    let openapi = get(fk, "/openapi.json").await.body;
    for (path, method) in [
        ("/v1/audit/status", "get"),
        ("/v1/audit/verify", "post"),
        ("/v1/audit/subject", "post"),
        ("/v1/audit/stats", "get"),
    ] {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{method} {path} is not in the local OpenAPI document"
        );
    }
    assert_matches_schema(&openapi, "AuditStatus", &status);
    assert_matches_schema(&openapi, "VerifyOutcome", v);
    assert_matches_schema(&openapi, "SubjectAccessReport", &found.body);
    assert_matches_schema(&openapi, "ReportEntryView", entry);
    assert_matches_schema(&openapi, "AuditStats", &stats);
    assert_matches_schema(&openapi, "TurnaroundView", &stats["review_turnaround"]);

    // A flipped bit in a published entry bundle is a finding, answered as such.
    let ledger_dir = federation
        .node("forsakringskassan")
        .unwrap()
        .audit()
        .ledger()
        .dir()
        .to_owned();
    let bundle = files_under(&ledger_dir.join("tile/entries"))
        .into_iter()
        .max()
        .unwrap();
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&bundle, &bytes).unwrap();
    let tampered = call(fk, "POST", "/v1/audit/verify", &[], None).await;
    assert_eq!(tampered.status, 200, "{:#}", tampered.body);
    assert_eq!(tampered.body["verified"], false);
    assert_eq!(tampered.body["tree_size"], Value::Null);
    let detail = tampered.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("tile/entries") && detail.contains("differs"),
        "{detail}"
    );
    assert_matches_schema(&openapi, "VerifyOutcome", &tampered.body);
    federation.stop().await;
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(dir).unwrap() {
        let path = item.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_subject_is_a_problem_that_does_not_echo_it() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;

    // A wrong check digit: the documented invalid-subject problem, without the number.
    let invalid = report(fk, "19121212-1213").await;
    assert_problem(&invalid, 422, "invalid-subject");
    let detail = invalid.body["detail"].as_str().unwrap();
    assert!(detail.contains("`subject`"), "{detail}");
    assert!(!detail.contains("1213"), "{detail}");
    // A page size outside 1 to 1000 is refused, naming the field.
    for limit in [0, 1001] {
        let body = json!({ "subject": "19121212-1212", "limit": limit });
        let refused = call(
            fk,
            "POST",
            "/v1/audit/subject",
            &[],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await;
        assert_problem(&refused, 422, "invalid-request");
        assert_eq!(refused.body["field"], "limit", "{:#}", refused.body);
    }
    let openapi = get(fk, "/openapi.json").await.body;
    assert!(openapi["paths"]["/v1/audit/subject"]["post"]["responses"]["422"].is_object());
    let documented = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/problems.md"),
    )
    .unwrap();
    for slug in [
        "invalid-subject",
        "audit-ledger-unreadable",
        "audit-ledger-busy",
    ] {
        assert!(
            documented.contains(&format!("| `{slug}` |")),
            "{slug} is not in docs/problems.md"
        );
    }

    // A body that is not `{"subject": "…"}`: malformed, 400.
    let post = |body: Value| {
        call(
            fk,
            "POST",
            "/v1/audit/subject",
            &[],
            Some(serde_json::to_vec(&body).unwrap()),
        )
    };
    assert_problem(&post(json!({})).await, 400, "malformed-body");
    let number = post(json!({ "subject": 191_212_121_212_u64 })).await;
    assert_problem(&number, 400, "malformed-body");
    assert!(!number.body.to_string().contains("191212121212"));
    assert_problem(
        &post(json!({ "subject": "19121212-1212", "id": 1 })).await,
        400,
        "malformed-body",
    );
    // The identifier never goes in a URL.
    assert_problem(
        &call(fk, "GET", "/v1/audit/subject", &[], None).await,
        405,
        "method-not-allowed",
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_verification_runs_at_a_time_and_stops_when_its_client_leaves() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    // A ledger long enough that a verification takes a while.
    let audit = federation.node("forsakringskassan").unwrap().audit();
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            scope.spawn(move || {
                for i in 0..5000u64 {
                    let (record, subjects) =
                        utbyte_audit::sample::sample_record(t * 5000 + i, "forsakringskassan");
                    audit.record(record, &subjects).unwrap();
                }
            });
        }
    });
    let verify = || call(fk, "POST", "/v1/audit/verify", &[], None);

    // While one runs, a second is refused; the first completes.
    let first = tokio::spawn(verify());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let second = verify().await;
    assert_problem(&second, 429, "audit-verify-running");
    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "{:#}", first.body);
    assert_eq!(first.body["verified"], true);
    // The test asks again 300 ms into a run, and leaves 300 ms into the next: a run must last
    // well beyond that (about 3 s for these 40,000 records on two cores).
    let took = first.body["took_ms"].as_u64().unwrap();
    assert!(
        took > 900,
        "verification took only {took} ms: too short to test overlap"
    );

    // A client that leaves stops its run: the next verification is not refused as running.
    let left = tokio::time::timeout(std::time::Duration::from_millis(300), verify()).await;
    assert!(
        left.is_err(),
        "the verification finished before its client left"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let next = verify().await;
    assert_eq!(next.status, 200, "{:#}", next.body);
    assert_eq!(next.body["verified"], true);
    federation.stop().await;
}
