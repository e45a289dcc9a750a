//! Subscriptions at the provider, over the federation: Malmö stad's node asks Försäkringskassan's
//! for notices of changes to benefits, the rulebook decides each event type from its fields, the
//! decision is recorded and signed, the same request sent again gets the same verdict, subjects
//! are added and the subscription cancelled only by the subscriber that holds it — and a change
//! written to the register after the grant becomes a notice, while one after the cancellation
//! does not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::scrape::scrape;
use common::*;
use http::{Method, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::{AuditRecord, EventKind};
use utbyte_federation::Jws;
use utbyte_node::subscriptions::grant::{open_grant, SUBSCRIPTIONS_PATH};
use utbyte_store::{ExchangeStore, Register, RegisterBatch};

const AUTHORITIES: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

fn request(id: &str, events: &[&str], subjects: &[String], ends_in_days: i64) -> Value {
    let now = OffsetDateTime::now_utc();
    json!({
        "subscription_id": id,
        "sent_at": now.format(&Rfc3339).unwrap(),
        "unit": "malmo-ekonomiskt-bistand",
        "role": "handlaggare",
        "officer": "malmo-h4711",
        "offering": "fk-formaner",
        "events": events,
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512",
        "ends": (now + time::Duration::days(ends_in_days)).format(&Rfc3339).unwrap(),
        "subjects": subjects,
    })
}

fn body(value: &Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(value).unwrap())
}

fn problem_type(response: &utbyte_http::FederationResponse) -> String {
    let problem: Value = serde_json::from_slice(&response.body).unwrap();
    problem["type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_decided_recorded_and_kept_and_its_changes_become_notices() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let (open, _) = fk_subjects();
    let covered: Vec<String> = open[..3].to_vec();
    let asked = request(
        "bidrag-1",
        &["utbetalning-andrad", "beslut-fattat"],
        &covered,
        90,
    );

    let answered = as_malmo(&federation, Method::POST, SUBSCRIPTIONS_PATH, body(&asked)).await;
    assert_eq!(
        answered.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&answered.body)
    );
    let signed: Jws = serde_json::from_slice(&answered.body).unwrap();
    let key = federation
        .publisher
        .config()
        .member("forsakringskassan")
        .unwrap()
        .answer_key()
        .unwrap();
    let opened = open_grant(&signed, &key).unwrap();
    let grant = &opened.grant;
    assert_eq!(
        (grant.provider.as_str(), grant.subscriber.as_str()),
        ("forsakringskassan", "malmo-stad")
    );
    // An event type is granted exactly when every field of it is disclosed.
    for event in &grant.events {
        let all = event.fields.iter().all(|f| {
            grant
                .fields
                .iter()
                .any(|v| &v.field == f && v.outcome == utbyte_api::Outcome::Disclose)
        });
        assert_eq!(all, grant.granted.contains(&event.event), "{event:?}");
    }
    // LUFFA's pre-assessment discloses benefit, amount and period, not decisions.
    assert_eq!(grant.granted, ["utbetalning-andrad"], "{grant:?}");
    assert_eq!(grant.subjects, 3);

    // Recorded before it was sent: the entry the receipt names, with the verdict's digest.
    let audit = federation.node("forsakringskassan").unwrap().audit();
    let record =
        AuditRecord::from_leaf(&audit.ledger().entry(opened.receipt.index).unwrap()).unwrap();
    assert_eq!(record.event, EventKind::SubscriptionDecision);
    assert_eq!(
        record.payload_sha256.as_deref(),
        Some(opened.sha256.as_str())
    );
    assert_eq!(record.actor.authority, "malmo-stad");
    assert!(record.subjects.is_empty());
    let size = audit.ledger().size();

    // The same request again: the same verdict, nothing decided or recorded again.
    let again = as_malmo(&federation, Method::POST, SUBSCRIPTIONS_PATH, body(&asked)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, answered.body);
    assert_eq!(audit.ledger().size(), size);
    // The same id asking for something else is refused.
    let other = request("bidrag-1", &["beslut-fattat"], &covered, 90);
    let refused = as_malmo(&federation, Method::POST, SUBSCRIPTIONS_PATH, body(&other)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        problem_type(&refused),
        "urn:utbyte:problem:subscription-id-used"
    );

    // A change to a covered subject becomes a notice for Malmö; one to another subject does not.
    let register = federation.register("forsakringskassan").unwrap();
    let write = |subject: &str, amount: u32| {
        let subject: utbyte_domain::SubjectId = subject.parse().unwrap();
        let mut batch = RegisterBatch::new();
        batch
            .subject(subject, false)
            .record("fk-formaner", subject, "belopp", json!(amount));
        batch
    };
    register.insert(&write(&covered[0], 123_457)).await.unwrap();
    register.insert(&write(&open[10], 99)).await.unwrap();
    let exchange = ExchangeStore::open(
        federation
            .dir
            .join("nodes")
            .join("forsakringskassan")
            .join("exchange.sqlite"),
    )
    .await
    .unwrap();
    let notices = wait_for_notices(&exchange, 0, 1).await;
    assert_eq!(notices[0].subject.as_str(), covered[0]);
    assert_eq!(notices[0].fields, ["belopp"]);
    assert_eq!(notices[0].subscription, "malmo-stad/bidrag-1");
    assert_eq!(notices[0].events, ["utbetalning-andrad"]);
    // Counted by feed, never by subject.
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let feed = [("feed", "fk-formaner")];
    let counted = scrape(fk).await;
    assert!(counted.get("utbyte_subscription_changes_total", &feed) >= 2.0);
    assert!(counted.get("utbyte_subscription_notices_total", &feed) >= 1.0);
    assert_eq!(
        counted.get(
            "utbyte_exchange_events_total",
            &[
                ("side", "provider"),
                ("offering", "fk-formaner"),
                ("event", "subscription_decision")
            ]
        ),
        1.0
    );

    // Subjects added by the subscriber that holds it; not by another member.
    let path = "/federation/v1/subscriptions/bidrag-1/subjects";
    let more = json!({"subjects": [open[3].clone(), open[0].clone()]});
    let added = as_malmo(&federation, Method::POST, path, body(&more)).await;
    assert_eq!(added.status, StatusCode::OK);
    let added: Value = serde_json::from_slice(&added.body).unwrap();
    assert_eq!(added, json!({"added": 1, "subjects": 4}));
    let police = client_as(&federation, "polismyndigheten");
    let theirs = to_fk(&police, &federation, Method::POST, path, body(&more))
        .await
        .unwrap();
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(
        problem_type(&theirs),
        "urn:utbyte:problem:no-such-subscription"
    );

    // Cancelled: no notice for a change after it; adding is refused.
    let path = "/federation/v1/subscriptions/bidrag-1";
    let cancelled = as_malmo(&federation, Method::DELETE, path, None).await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let cancelled = as_malmo(&federation, Method::DELETE, path, None).await;
    assert_eq!(
        cancelled.status,
        StatusCode::OK,
        "cancelling twice is the same"
    );
    register.insert(&write(&covered[1], 7)).await.unwrap();
    register.insert(&write(&covered[0], 8)).await.unwrap();
    // The second write is matched once the feed has moved past it; nothing new is queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = exchange
        .notices_after("malmo-stad", notices[0].seq, 10)
        .await
        .unwrap();
    assert!(after.is_empty(), "{after:?}");
    let more = as_malmo(
        &federation,
        Method::POST,
        "/federation/v1/subscriptions/bidrag-1/subjects",
        body(&json!({"subjects": [open[5].clone()]})),
    )
    .await;
    assert_eq!(more.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_outside_what_is_allowed_are_refused_with_the_reason() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let (open, _) = fk_subjects();
    let one = vec![open[0].clone()];
    let cases = [
        (
            request("a", &["ingen-sadan"], &one, 30),
            422,
            "invalid-request",
        ),
        (
            request("b", &["beslut-fattat"], &one, 400),
            422,
            "invalid-request",
        ),
        (
            request("c", &["beslut-fattat"], &one, -1),
            422,
            "invalid-request",
        ),
        (request("d", &[], &one, 30), 422, "invalid-request"),
        (
            request("e", &["beslut-fattat"], &[], 30),
            422,
            "invalid-request",
        ),
        (
            request("f", &["beslut-fattat"], &["19121212-1213".to_owned()], 30),
            422,
            "invalid-subject",
        ),
        (
            // Counted before each is read: short items, so the body stays within the limit.
            request("g", &["beslut-fattat"], &vec!["1".to_owned(); 5_001], 30),
            422,
            "invalid-request",
        ),
        (
            request("h/i", &["beslut-fattat"], &one, 30),
            422,
            "invalid-request",
        ),
    ];
    for (asked, status, slug) in cases {
        let answered = as_malmo(&federation, Method::POST, SUBSCRIPTIONS_PATH, body(&asked)).await;
        assert_eq!(
            (answered.status.as_u16(), problem_type(&answered)),
            (status, format!("urn:utbyte:problem:{slug}")),
            "{}",
            asked["subscription_id"]
        );
        let detail: Value = serde_json::from_slice(&answered.body).unwrap();
        assert!(
            !detail["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(&open[0]),
            "{detail}"
        );
    }
    // An id no subscription can have names none, in a path.
    for (method, path) in [
        (Method::DELETE, "/federation/v1/subscriptions/%C3%A5%22Q"),
        (Method::POST, "/federation/v1/subscriptions/a.b/subjects"),
    ] {
        let more = json!({"subjects": [open[0].clone()]});
        let answered = as_malmo(&federation, method, path, body(&more)).await;
        assert_eq!(answered.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            problem_type(&answered),
            "urn:utbyte:problem:no-such-subscription"
        );
    }
    // An offering this node does not publish.
    let mut elsewhere = request("j", &["adress-andrad"], &one, 30);
    elsewhere["offering"] = json!("skv-folkbokforing");
    let answered = as_malmo(
        &federation,
        Method::POST,
        SUBSCRIPTIONS_PATH,
        body(&elsewhere),
    )
    .await;
    assert_eq!(answered.status, StatusCode::NOT_FOUND);
    assert_eq!(
        problem_type(&answered),
        "urn:utbyte:problem:offering-not-published"
    );
}

/// The notices for Malmö after `after`, once there are at least `count`.
async fn wait_for_notices(
    exchange: &ExchangeStore,
    after: u64,
    count: usize,
) -> Vec<utbyte_store::Notice> {
    for _ in 0..100 {
        let notices = exchange
            .notices_after("malmo-stad", after, 100)
            .await
            .unwrap();
        if notices.len() >= count {
            return notices;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no notice for Malmö within 10 s");
}
