//! End to end over real mutual TLS on loopback: disclosure with minimisation, review round trip,
//! refusal, idempotency, and both ledgers recording the same answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use utbyte_audit::{AuditRecord, EventKind};

const MALMO_FK: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

/// Receipts in `authority`'s ledger.
fn count_receipts(
    federation: &utbyte_testbed::loopback::LoopbackFederation,
    authority: &str,
) -> usize {
    let audit = federation.node(authority).unwrap().audit();
    (0..audit.ledger().size())
        .filter(|&i| {
            AuditRecord::from_leaf(&audit.ledger().entry(i).unwrap())
                .unwrap()
                .event
                == EventKind::Receipt
        })
        .count()
}

/// Malmö stad and Försäkringskassan, two instances of each on one PostgreSQL database; one such
/// federation at a time (two at once would open more connections than the test server takes),
/// held while the guard lives.
async fn two_instances_on_postgres() -> (
    tokio::sync::MutexGuard<'static, ()>,
    tempfile::TempDir,
    utbyte_testbed::loopback::LoopbackFederation,
) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let guard = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &MALMO_FK);
    plan.postgres = Some(scratch_postgres());
    plan.instances = 2;
    let federation = utbyte_testbed::loopback::LoopbackFederation::start(plan)
        .await
        .unwrap();
    (guard, dir, federation)
}

/// Awaits every future, concurrently.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_assessed_request_discloses_only_the_permitted_fields_and_both_sides_record_it() {
    a_pre_assessed_request_discloses_only_the_permitted_fields_on(Engine::Sqlite).await;
}

/// The same with every node's exchange state in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_pre_assessed_request_discloses_only_the_permitted_fields() {
    a_pre_assessed_request_discloses_only_the_permitted_fields_on(Engine::Postgres).await;
}

async fn a_pre_assessed_request_discloses_only_the_permitted_fields_on(engine: Engine) {
    let (_dir, federation) = federation_on(engine, &MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let case = luffa_case(
        &open[0],
        &["forman", "belopp", "period", "diagnos", "lakarintyg"],
    );
    let answer = submit(malmo, "case-1", &case).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let body = &answer.body;
    assert_eq!(body["status"], "answered");
    let values = body["values"].as_object().unwrap();
    assert!(values.contains_key("forman"), "{body:#}");
    for secret in ["diagnos", "lakarintyg"] {
        assert!(
            !values.contains_key(secret),
            "{secret} left the provider: {body:#}"
        );
        let verdict = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == secret)
            .unwrap();
        assert_eq!(verdict["outcome"], "refuse");
        assert!(
            verdict["citations"][0]
                .as_str()
                .unwrap()
                .contains("SFS 2024:307"),
            "{verdict:#}"
        );
    }
    // The provider recorded a disclosure, the recipient a receipt of the same answer bytes,
    // pointing at the provider's entry.
    let provided = last_record(&federation, "forsakringskassan");
    let received = last_record(&federation, "malmo-stad");
    assert_eq!(provided.event, EventKind::Disclosure);
    assert_eq!(received.event, EventKind::Receipt);
    assert_eq!(provided.payload_sha256, received.payload_sha256);
    assert_eq!(
        received.refers_to,
        Some(body["provider_receipt"]["index"].as_u64().unwrap())
    );
    assert_eq!(provided.actor.authority, "malmo-stad");
    // Both ledgers name the system that vouched for the officer, and how: here the case
    // system, trusted to name its officers itself.
    for record in [&provided, &received] {
        assert_eq!(
            (
                record.actor.client.as_deref(),
                record.actor.vouch.as_deref()
            ),
            (Some(utbyte_testbed::access::CASE_SYSTEM), Some("client")),
            "{:?}",
            record.event
        );
    }

    // A retry with the same key is answered from the record, not asked again.
    let size = federation
        .node("forsakringskassan")
        .unwrap()
        .audit()
        .ledger()
        .size();
    let again = submit(malmo, "case-1", &case).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, answer.body);
    assert_eq!(
        federation
            .node("forsakringskassan")
            .unwrap()
            .audit()
            .ledger()
            .size(),
        size
    );
    // The same key for another request is refused.
    let other = luffa_case(&open[1], &["forman"]);
    assert_problem(
        &submit(malmo, "case-1", &other).await,
        422,
        "idempotency-key-reused",
    );
    // And a request without a key is refused.
    let no_key = call(
        malmo,
        "POST",
        "/v1/requests",
        &[],
        Some(serde_json::to_vec(&case).unwrap()),
    )
    .await;
    assert_problem(&no_key, 400, "idempotency-key-missing");
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_identity_goes_to_review_and_the_reviewers_decision_is_delivered() {
    protected_identity_goes_to_review_on(Engine::Sqlite).await;
}

/// The same with every node's exchange state, the review queue among it, in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_protected_identity_goes_to_review_and_the_decision_is_delivered() {
    protected_identity_goes_to_review_on(Engine::Postgres).await;
}

async fn protected_identity_goes_to_review_on(engine: Engine) {
    let (_dir, federation) = federation_on(engine, &MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (_, protected) = fk_subjects();
    let subject = protected
        .first()
        .expect("the population has a protected person with a benefit");
    let case = luffa_case(subject, &["forman", "belopp", "diagnos"]);
    let answer = submit(malmo, "review-1", &case).await;
    assert_eq!(answer.status, 202, "{:#}", answer.body);
    assert_eq!(answer.body["status"], "review");
    assert!(answer.body["values"].as_object().unwrap().is_empty());
    let ticket = answer.body["ticket"].as_str().unwrap().to_owned();

    let queue = call(fk, "GET", "/v1/reviews", &[], None).await;
    assert_eq!(queue.status, 200);
    assert!(queue
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["ticket"] == ticket.as_str()));
    let shown = call(fk, "GET", &format!("/v1/reviews/{ticket}"), &[], None).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.body["protected_identity"], true);
    let under_review: Vec<String> = shown.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "review")
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        under_review.contains(&"forman".to_owned()),
        "{:#}",
        shown.body
    );

    // A decision without a reason is refused and changes nothing.
    let mut fields: Vec<_> = under_review
        .iter()
        .map(|f| json!({"field": f, "outcome": "refuse", "reason": ""}))
        .collect();
    let decide = |fields: &Vec<serde_json::Value>| {
        serde_json::to_vec(&json!({
            "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
            "fields": fields
        }))
        .unwrap()
    };
    let path = format!("/v1/reviews/{ticket}/decision");
    assert_problem(
        &call(fk, "POST", &path, &[], Some(decide(&fields))).await,
        422,
        "invalid-review-decision",
    );
    for f in &mut fields {
        let disclose = f["field"] == "forman";
        f["outcome"] = json!(if disclose { "disclose" } else { "refuse" });
        f["reason"] = json!("Behovet av uppgiften väger tyngre än skyddsintresset i detta ärende.");
    }
    let decided = call(fk, "POST", &path, &[], Some(decide(&fields))).await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    assert_eq!(decided.body["state"], "decided");
    assert_problem(
        &call(fk, "POST", &path, &[], Some(decide(&fields))).await,
        409,
        "review-already-decided",
    );

    // The recipient's node fetches the decision (here on the case system's polls, several at
    // once, racing the background round): every poll gets the answer, recorded once.
    let receipts_before = count_receipts(&federation, "malmo-stad");
    let polls = (0..6).map(|_| call(malmo, "GET", "/v1/requests/review-1", &[], None));
    let fetched = futures_join_all(polls).await;
    for poll in &fetched {
        assert_eq!(poll.status, 200, "{:#}", poll.body);
        assert_eq!(poll.body["receipt"], fetched[0].body["receipt"]);
    }
    assert_eq!(
        count_receipts(&federation, "malmo-stad"),
        receipts_before + 1
    );
    let fetched = &fetched[0];
    let values = fetched.body["values"].as_object().unwrap();
    assert_eq!(values.keys().collect::<Vec<_>>(), vec!["forman"]);
    let forman = fetched.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "forman")
        .unwrap()
        .clone();
    assert!(forman["reason"].as_str().unwrap().contains("väger tyngre"));
    let provided = last_record(&federation, "forsakringskassan");
    assert_eq!(provided.event, EventKind::ReviewDecision);
    assert_eq!(provided.actor.role, "jurist");
    assert_eq!(
        provided.actor.client.as_deref(),
        Some(utbyte_testbed::access::CASE_SYSTEM)
    );
    let received = last_record(&federation, "malmo-stad");
    assert_eq!(received.event, EventKind::Receipt);
    assert_eq!(received.payload_sha256, provided.payload_sha256);
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_legal_basis_is_refused_and_the_refusal_recorded() {
    let (_dir, federation) = federation(&["skatteverket", "polismyndigheten"]).await;
    let police = federation.node("polismyndigheten").unwrap().local_addr;
    let case = json!({
        "subject": "19121212-1212",
        "offering": "skv-inkomst",
        "fields": ["lon", "arbetsgivare", "f-skatt"],
        "purpose": "myndighetsgemensam-insats",
        "legal_basis": "sfs-2016-774",
        "case_ref": "5000-K123456-26",
        "officer": "pm-analytiker-9",
        "role": "underrattelseanalytiker",
        "unit": "pm-noa"
    });
    let answer = submit(police, "refusal-1", &case).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert!(answer.body["values"].as_object().unwrap().is_empty());
    assert!(answer.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["outcome"] == "refuse"));
    let provided = last_record(&federation, "skatteverket");
    assert_eq!(provided.event, EventKind::Refusal);
    assert_eq!(provided.why.unwrap().legal_basis, "sfs-2016-774");
    federation.stop().await;
}

/// The requesting node holds an ended request — its answer, with the values disclosed — for
/// `[retention] requests_days`, then forgets it: the case system can no longer fetch it, and
/// the same key again is a new exchange. The ledgers keep both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_held_for_its_retention_and_then_forgotten() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let node = federation.node("malmo-stad").unwrap();
    let malmo = node.local_addr;
    let (open, _) = fk_subjects();
    let case = luffa_case(&open[0], &["forman"]);
    let first = submit(malmo, "kept-1", &case).await;
    assert_eq!(first.status, 200, "{:#}", first.body);
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        node.forget_past_retention(now + time::Duration::days(29))
            .await
            .unwrap(),
        utbyte_node::retention::Forgotten::default()
    );
    let fetched = call(malmo, "GET", "/v1/requests/kept-1", &[], None).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body["values"], first.body["values"]);
    assert_eq!(
        node.forget_past_retention(now + time::Duration::days(31))
            .await
            .unwrap(),
        utbyte_node::retention::Forgotten {
            requests: 1,
            ..Default::default()
        }
    );
    let gone = call(malmo, "GET", "/v1/requests/kept-1", &[], None).await;
    assert_problem(&gone, 404, "request-not-found");
    let again = submit(malmo, "kept-1", &case).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    // A new exchange, recorded anew.
    assert_ne!(
        again.body["receipt"]["index"],
        first.body["receipt"]["index"]
    );
    assert!(again.body["receipt"]["index"].is_u64());
    assert_eq!(again.body["values"], first.body["values"]);
    federation.stop().await;
}

/// Two instances of the provider on one database, each sent the same reviewer's decision on
/// the same review at once, several times over: one decision stands and is recorded once in the
/// ledger; every other attempt is told the review is decided or being decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_decided_at_two_instances_at_once_is_recorded_once() {
    const TICKETS: usize = 6;
    const AT_ONCE: usize = 4;
    let (_one_at_a_time, _dir, federation) = two_instances_on_postgres().await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    // Both instances listen here; each call's own connection reaches either.
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (_, protected) = fk_subjects();
    let case = luffa_case(&protected[0], &["forman"]);
    for n in 0..TICKETS {
        let answer = submit(malmo, &format!("twice-{n}"), &case).await;
        assert_eq!(answer.status, 202, "{:#}", answer.body);
        let ticket = answer.body["ticket"].as_str().unwrap().to_owned();
        let decision = serde_json::to_vec(&json!({
            "reviewer": {"officer": "fk-jurist-1", "unit": "fk-kontroll", "role": "jurist"},
            "fields": [{"field": "forman", "outcome": "disclose",
                        "reason": "Behovet väger tyngre än skyddsintresset."}]
        }))
        .unwrap();
        let path = format!("/v1/reviews/{ticket}/decision");
        let attempts = (0..AT_ONCE).map(|_| {
            let (path, decision) = (path.clone(), decision.clone());
            async move { call(fk, "POST", &path, &[], Some(decision)).await }
        });
        let answered = futures_join_all(attempts).await;
        let decided = answered.iter().filter(|a| a.status == 200).count();
        assert_eq!(decided, 1, "ticket {n}");
        for refused in answered.iter().filter(|a| a.status != 200) {
            assert_eq!(refused.status, 409, "{:#}", refused.body);
            let kind = refused.body["type"].as_str().unwrap();
            assert!(
                kind.ends_with("review-already-decided") || kind.ends_with("review-being-decided"),
                "{kind}"
            );
        }
    }
    for instance in federation.instances("forsakringskassan") {
        let audit = instance.audit_log();
        let size = tokio::task::spawn_blocking(move || audit.settle())
            .await
            .unwrap()
            .unwrap();
        let ledger = instance.audit().ledger();
        let decisions = (0..size)
            .map(|i| AuditRecord::from_leaf(&ledger.entry(i).unwrap()).unwrap())
            .filter(|record| record.event == EventKind::ReviewDecision)
            .count();
        assert_eq!(decisions, TICKETS);
    }
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_describes_itself_in_openapi_3_1() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let local = call(
        federation.node("malmo-stad").unwrap().local_addr,
        "GET",
        "/openapi.json",
        &[],
        None,
    )
    .await;
    assert_eq!(local.status, 200);
    assert!(local.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(local.body["paths"]["/v1/requests"]["post"].is_object());
    assert!(local.body["paths"]["/v1/reviews/{ticket}/decision"]["post"].is_object());
    let unknown = call(
        federation.node("malmo-stad").unwrap().local_addr,
        "GET",
        "/nowhere",
        &[],
        None,
    )
    .await;
    assert_problem(&unknown, 404, "not-found");
    federation.stop().await;
}

/// Two instances of each node on one PostgreSQL database, sharing their addresses: every
/// request is answered whichever instances take it, a retry under the same key is answered from
/// the first attempt's record, and every answer's receipts prove in every instance's replica of
/// both ledgers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_node_answer_for_each_other() {
    let (_one_at_a_time, _dir, federation) = two_instances_on_postgres().await;
    assert_eq!(federation.instances("malmo-stad").count(), 2);
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let mut answers = Vec::new();
    for (n, subject) in open.iter().take(12).enumerate() {
        let answer = submit(
            malmo,
            &format!("two-{n}"),
            &luffa_case(subject, &["forman"]),
        )
        .await;
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        answers.push(answer.body);
    }
    // Asked again, under the same keys: the same answers, with no new record.
    for (n, subject) in open.iter().take(12).enumerate() {
        let again = submit(
            malmo,
            &format!("two-{n}"),
            &luffa_case(subject, &["forman"]),
        )
        .await;
        assert_eq!(again.body, answers[n]);
    }
    for (authority, receipt) in [
        ("forsakringskassan", "provider_receipt"),
        ("malmo-stad", "receipt"),
    ] {
        for instance in federation.instances(authority) {
            let audit = instance.audit_log();
            let size = tokio::task::spawn_blocking(move || audit.settle())
                .await
                .unwrap()
                .unwrap();
            let ledger = instance.audit().ledger();
            assert_eq!(ledger.size(), size);
            for answer in &answers {
                let index = answer[receipt]["index"].as_u64().unwrap();
                let entry = ledger.entry(index).unwrap();
                let proof = ledger.inclusion_proof(index, size).unwrap();
                let root = ledger.root_at(size).unwrap();
                proof
                    .verify(&utbyte_ledger::leaf_hash(&entry), &root)
                    .unwrap();
            }
        }
    }
    // Both instances sign with one key: their checkpoints at one size are one tree.
    let roots: Vec<_> = federation
        .instances("forsakringskassan")
        .map(|instance| {
            let ledger = instance.audit().ledger();
            (ledger.verifier().clone(), ledger.root_at(1).unwrap())
        })
        .collect();
    assert_eq!(roots[0], roots[1]);
    federation.stop().await;
}
