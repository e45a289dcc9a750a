//! Messages between two real nodes over mutual TLS: a notice decided by the sender's rulebook,
//! sealed for the recipient, delivered once, accepted, and both receipts in both ledgers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_problem, call, federation_on, Engine};
use serde_json::{json, Value};
use std::time::Duration;
use utbyte_audit::{AuditRecord, EventKind};

const UBM: &str = "utbetalningsmyndigheten";
const FK: &str = "forsakringskassan";
const SUBJECT: &str = "196708121139";

/// Who sends the notice, and what: a field the rulebook lets go (`kept`) and one it refuses.
struct Sender {
    authority: &'static str,
    unit: &'static str,
    role: &'static str,
    kind: &'static str,
    kept: &'static str,
    refused: &'static str,
}

/// The payments authority's notice of a suspected double payment (SFS 2008:206).
const UBM_NOTICE: Sender = Sender {
    authority: UBM,
    unit: "ubm-kontroll",
    role: "kontrollant",
    kind: "ubm-underrattelse",
    kept: "belopp",
    refused: "inloggningar",
};

/// Skatteverket's notice of changed circumstances (a shorter authority id, which leaves room
/// for the test schemas' prefix on PostgreSQL).
const SKV_NOTICE: Sender = Sender {
    authority: "skatteverket",
    unit: "skv-kontroll",
    role: "handlaggare",
    kind: "skv-underrattelse",
    kept: "utflyttad",
    refused: "revisionsiakttagelser",
};

fn notice(fields: Value) -> Value {
    notice_from(&UBM_NOTICE, fields)
}

fn notice_from(sender: &Sender, fields: Value) -> Value {
    json!({
        "officer": "kontrollant-3",
        "unit": sender.unit,
        "role": sender.role,
        "to": {"authority": FK, "unit": "fk-kontroll"},
        "kind": {"type": "notice", "notice": sender.kind},
        "title": "Misstänkt dubbelutbetalning av bostadsbidrag",
        "subjects": [SUBJECT],
        "values": fields,
        "text": "Se underlaget nedan.",
        "purpose": "underrattelse-felaktig-utbetalning",
        "legal_basis": "sfs-2008-206",
        "case_ref": "UBM 2026/01207",
    })
}

async fn send(addr: std::net::SocketAddr, key: &str, body: &Value) -> common::Response {
    call(
        addr,
        "POST",
        "/v1/messages",
        &[("idempotency-key", key)],
        Some(serde_json::to_vec(body).unwrap()),
    )
    .await
}

fn records(
    federation: &utbyte_testbed::loopback::LoopbackFederation,
    authority: &str,
) -> Vec<AuditRecord> {
    let ledger = federation.node(authority).unwrap().audit().ledger();
    (0..ledger.size())
        .map(|i| AuditRecord::from_leaf(&ledger.entry(i).unwrap()).unwrap())
        .collect()
}

async fn until(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not reached within 10 s");
}

async fn a_notice_is_decided_sealed_delivered_once_and_receipted_in_both_ledgers(
    engine: Engine,
    from: &Sender,
) {
    let (_dir, federation) = federation_on(engine, &[from.authority, FK]).await;
    let ubm = federation.node(from.authority).unwrap().local_addr;
    let fk = federation.node(FK).unwrap().local_addr;
    let body = notice_from(
        from,
        json!({
            "grund": "samma period utbetald två gånger",
            from.kept: 4200,
            from.refused: "enhet 7f3a, 14 inloggningar",
        }),
    );
    let sent = send(ubm, "n-1", &body).await;
    assert_eq!(sent.status, 201, "{:#}", sent.body);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    // The rulebook let the grounds go and kept the login data back.
    let outcome = |field: &str| {
        sent.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == field)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome(from.kept), "disclose");
    assert_eq!(outcome(from.refused), "refuse");
    // A retry under the same key is the same message, not a second one.
    let again = send(ubm, "n-1", &body).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    // The same key for another message is a conflict.
    let other = send(ubm, "n-1", &notice_from(from, json!({"grund": "annat"}))).await;
    assert_problem(&other, 422, "idempotency-key-reused");

    let path = format!("/v1/messages/inbox/{}/{id}", from.authority);
    until(async || call(fk, "GET", &path, &[], None).await.status == 200).await;
    let held = call(fk, "GET", &path, &[], None).await;
    let content = &held.body["content"];
    // Checked and written in its canonical form by the sending node.
    assert_eq!(content["subjects"], json!(["19670812-1139"]));
    assert_eq!(content["values"][from.kept], 4200);
    assert!(
        content["values"].get(from.refused).is_none(),
        "a refused field never leaves the sender: {:#}",
        held.body
    );
    assert_eq!(held.body["state"], "delivered");
    let listed = call(fk, "GET", "/v1/messages/inbox?unit=fk-kontroll", &[], None).await;
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        1,
        "{:#}",
        listed.body
    );
    assert!(
        listed.body[0].get("content").is_none(),
        "listings carry no content"
    );
    let elsewhere = call(
        fk,
        "GET",
        "/v1/messages/inbox?unit=fk-bostadsbidrag",
        &[],
        None,
    )
    .await;
    assert_eq!(elsewhere.body, json!([]));

    // The sender sees the delivered receipt, signed by the recipient and recorded.
    until(async || {
        call(ubm, "GET", &format!("/v1/messages/outbox/{id}"), &[], None)
            .await
            .body["state"]
            == "delivered"
    })
    .await;
    let accept = call(
        fk,
        "POST",
        &format!("{path}/accept"),
        &[],
        Some(
            serde_json::to_vec(
                &json!({"officer": "handlaggare-9", "unit": "fk-kontroll", "role": "handlaggare"}),
            )
            .unwrap(),
        ),
    )
    .await;
    assert_eq!(accept.status, 200, "{:#}", accept.body);
    assert_eq!(accept.body["state"], "accepted");
    // A case system asking what it has not taken yet finds nothing now; the taken one is
    // listed under its state; a state the list never holds matches nothing.
    let listed = |query: &'static str| call(fk, "GET", query, &[], None);
    let waiting = listed("/v1/messages/inbox?unit=fk-kontroll&state=delivered").await;
    assert_eq!(waiting.body, json!([]), "{:#}", waiting.body);
    let taken = listed("/v1/messages/inbox?unit=fk-kontroll&state=accepted").await;
    assert_eq!(taken.body[0]["id"], id.as_str(), "{:#}", taken.body);
    let never = listed("/v1/messages/inbox?state=pending").await;
    assert_eq!((never.status, &never.body), (200, &json!([])));
    let never = call(ubm, "GET", "/v1/messages/outbox?state=refused", &[], None).await;
    assert_eq!((never.status, &never.body), (200, &json!([])));
    until(async || {
        call(ubm, "GET", &format!("/v1/messages/outbox/{id}"), &[], None)
            .await
            .body["state"]
            == "accepted"
    })
    .await;
    let sent = call(ubm, "GET", "/v1/messages/outbox?state=accepted", &[], None).await;
    assert_eq!(sent.body[0]["id"], id.as_str(), "{:#}", sent.body);
    let outgoing = call(ubm, "GET", &format!("/v1/messages/outbox/{id}"), &[], None).await;
    for event in ["delivered", "accepted"] {
        let receipt = &outgoing.body[event];
        assert_eq!(receipt["event"], event, "{:#}", outgoing.body);
        assert!(receipt["recorded"]["index"].is_u64(), "{:#}", outgoing.body);
    }

    // Both ledgers: the sender's sending and both receipts; the recipient's delivery and
    // acceptance; every record names the message and carries the same envelope digest.
    let sender = records(&federation, from.authority);
    let recipient = records(&federation, FK);
    let of = |records: &[AuditRecord], event: EventKind| -> Vec<AuditRecord> {
        records
            .iter()
            .filter(|r| r.event == event && r.message.as_ref().is_some_and(|m| m.id == id))
            .cloned()
            .collect()
    };
    let sent_record = of(&sender, EventKind::MessageSent);
    assert_eq!(
        sent_record.len(),
        1,
        "one decision recorded for one message"
    );
    assert_eq!(sent_record[0].subjects.len(), 1);
    let digest = sent_record[0].payload_sha256.clone();
    for (records, event) in [
        (&sender, EventKind::MessageDelivered),
        (&sender, EventKind::MessageAccepted),
        (&recipient, EventKind::MessageDelivered),
        (&recipient, EventKind::MessageAccepted),
    ] {
        let found = of(records, event);
        assert_eq!(found.len(), 1, "{event:?} recorded once");
        assert_eq!(
            found[0].payload_sha256, digest,
            "{event:?} pairs by the envelope"
        );
    }
    let refused = sent_record[0]
        .fields
        .iter()
        .find(|f| f.field == from.refused)
        .unwrap();
    assert_eq!(refused.outcome, utbyte_audit::Outcome::Refuse);

    // Accepted, its receipt back at the sender: held for `[retention] messages_days` from its
    // arrival, then forgotten; the ledgers keep it.
    let recipient_node = federation.node(FK).unwrap();
    let now = time::OffsetDateTime::now_utc();
    for (days, forgotten) in [(29, 0), (31, 1)] {
        let at = now + time::Duration::days(days);
        let done = recipient_node.forget_past_retention(at).await.unwrap();
        assert_eq!(done.messages, forgotten, "day {days}");
        assert_eq!(done.requests + done.notices + done.bulks + done.reviews, 0);
    }
    assert_problem(
        &call(fk, "GET", &path, &[], None).await,
        404,
        "no-such-message",
    );
    assert_eq!(
        of(&records(&federation, FK), EventKind::MessageAccepted).len(),
        1
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_travels_end_to_end_on_sqlite() {
    a_notice_is_decided_sealed_delivered_once_and_receipted_in_both_ledgers(
        Engine::Sqlite,
        &UBM_NOTICE,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_travels_end_to_end_on_postgres() {
    a_notice_is_decided_sealed_delivered_once_and_receipted_in_both_ledgers(
        Engine::Postgres,
        &SKV_NOTICE,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_the_rulebook_refuses_never_leaves_and_stored_content_is_ciphertext() {
    let (dir, federation) = federation_on(Engine::Sqlite, &[UBM, FK, "polismyndigheten"]).await;
    let ubm = federation.node(UBM).unwrap().local_addr;
    // SFS 2008:206 gives no basis for telling the police: every field refused.
    let mut body = notice(json!({"forman": "bostadsbidrag", "grund": "dubbel"}));
    body["to"] = json!({"authority": "polismyndigheten", "unit": "pm-syd"});
    let refused = send(ubm, "r-1", &body).await;
    assert_eq!(refused.status, 200, "{:#}", refused.body);
    assert_eq!(refused.body["state"], "refused");
    let outbox = call(ubm, "GET", "/v1/messages/outbox", &[], None).await;
    assert_eq!(outbox.body, json!([]), "nothing refused is posted");
    let last = common::last_record(&federation, UBM);
    assert_eq!(last.event, EventKind::Refusal);
    assert!(last.message.is_some());

    // A letter to Försäkringskassan: its text is nowhere in either node's files in clear.
    let secret = "Kalle Anka bor på Paradisäppelvägen 111";
    let letter = json!({
        "officer": "kontrollant-3", "unit": "ubm-kontroll", "role": "kontrollant",
        "to": {"authority": FK},
        "kind": {"type": "free_text"},
        "title": "Fråga om ärende",
        "text": secret,
        "case_ref": "UBM 2026/2",
    });
    let sent = send(ubm, "l-1", &letter).await;
    assert_eq!(sent.status, 201, "{:#}", sent.body);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let fk = federation.node(FK).unwrap().local_addr;
    let path = format!("/v1/messages/inbox/{UBM}/{id}");
    until(async || call(fk, "GET", &path, &[], None).await.status == 200).await;
    assert_eq!(
        call(fk, "GET", &path, &[], None).await.body["content"]["text"],
        secret
    );
    federation.stop().await;
    let needle = secret.as_bytes();
    let mut files = vec![dir.path().to_path_buf()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            checked += 1;
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds the letter in clear",
                path.display()
            );
        }
    }
    assert!(checked > 10, "the nodes' files were read");
}

/// The recipients a payments-authority notice can be addressed to: one the duty runs to, one
/// it does not.
const RECIPIENTS: [(&str, &str); 2] = [(FK, "fk-kontroll"), ("polismyndigheten", "pm-syd")];
/// The fields of the payments authority's notice kind.
const NOTICE_FIELDS: [&str; 5] = [
    "forman",
    "belopp",
    "utbetalningsdag",
    "grund",
    "inloggningar",
];

/// Whatever fields a notice proposes and whoever it is addressed to, no field the sender's
/// rulebook did not decide `disclose` reaches the recipient, and a notice refused in full
/// reaches no one.
#[test]
fn no_field_the_senders_rulebook_refuses_ever_reaches_the_recipient() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_dir, federation) = runtime.block_on(federation_on(
        Engine::Sqlite,
        &[UBM, FK, "polismyndigheten"],
    ));
    let ubm = federation.node(UBM).unwrap().local_addr;
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let delivered = std::sync::atomic::AtomicUsize::new(0);
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        mask in 1u8..(1 << NOTICE_FIELDS.len()),
        recipient in 0..RECIPIENTS.len(),
    )| {
        let (to, unit) = RECIPIENTS[recipient];
        let values: serde_json::Map<String, Value> = NOTICE_FIELDS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| (f.to_string(), json!(format!("uppgift {f}"))))
            .collect();
        let mut body = notice(Value::Object(values.clone()));
        body["to"] = json!({"authority": to, "unit": unit});
        let key = format!("prop-{}", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let sent = runtime.block_on(send(ubm, &key, &body));
        prop_assert!(sent.status == 200 || sent.status == 201, "{:#}", sent.body);
        let disclosed: Vec<&str> = sent.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["outcome"] == "disclose")
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        let id = sent.body["id"].as_str().unwrap().to_owned();
        let inbox = federation.node(to).unwrap().local_addr;
        let path = format!("/v1/messages/inbox/{UBM}/{id}");
        if disclosed.is_empty() {
            prop_assert_eq!(&sent.body["state"], "refused");
            // Never posted, so never delivered: the recipient does not know the id.
            std::thread::sleep(Duration::from_millis(100));
            let asked = runtime.block_on(call(inbox, "GET", &path, &[], None));
            prop_assert_eq!(asked.status, 404, "{:#}", asked.body);
        } else {
            runtime.block_on(until(async || call(inbox, "GET", &path, &[], None).await.status == 200));
            let held = runtime.block_on(call(inbox, "GET", &path, &[], None));
            let arrived = held.body["content"]["values"].as_object().unwrap();
            for field in arrived.keys() {
                prop_assert!(disclosed.contains(&field.as_str()), "`{field}` reached {to}: {:#}", held.body);
            }
            prop_assert_eq!(arrived.len(), disclosed.len());
            delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(
        delivered.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the property held only vacuously"
    );
    runtime.block_on(federation.stop());
}

/// Kriminalvården's notice to the Police that a convicted person did not report: OSL 10:27
/// needs its own jurist's interest balancing first. Held, decided field by field with reasons,
/// then only what the jurist let go reaches the Police; every step in Kriminalvården's ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_held_for_the_senders_jurist_leaves_with_what_the_jurist_let_go() {
    const KV: &str = "kriminalvarden";
    const PM: &str = "polismyndigheten";
    let (_dir, federation) = federation_on(Engine::Sqlite, &[KV, PM]).await;
    let kv = federation.node(KV).unwrap().local_addr;
    let pm = federation.node(PM).unwrap().local_addr;
    let body = json!({
        "officer": "kv-h1", "unit": "kv-verkstallighet", "role": "handlaggare",
        "to": {"authority": PM, "unit": "pm-syd"},
        "kind": {"type": "notice", "notice": "kv-underrattelse-uteblivit"},
        "title": "Uteblivit från verkställighet",
        "subjects": [SUBJECT],
        "values": {"pafoljd": "fängelse 1 år", "installelsedag": "2026-11-15",
                   "senast-kanda-adress": "Storgatan 1, Malmö"},
        "purpose": "verkstallighet", "legal_basis": "osl-10-27", "case_ref": "KV 2026-3-1121",
    });
    let sent = send(kv, "held-1", &body).await;
    assert_eq!(sent.status, 201, "{:#}", sent.body);
    assert_eq!(sent.body["state"], "held");
    let id = sent.body["id"].as_str().unwrap().to_owned();

    // The jurist sees the notice, what is under review and what must be weighed.
    let held = call(kv, "GET", "/v1/messages/held", &[], None).await;
    assert_eq!(held.status, 200, "{:#}", held.body);
    let notice = &held.body[0];
    assert_eq!(notice["id"], id.as_str());
    let under_review: Vec<&str> = notice["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "review")
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(under_review.contains(&"pafoljd"), "{notice:#}");
    assert!(
        notice["fields"][0]["candidates"][0]["weigh"].is_string(),
        "{notice:#}"
    );
    // Nothing has reached the Police.
    let path = format!("/v1/messages/inbox/{KV}/{id}");
    assert_eq!(call(pm, "GET", &path, &[], None).await.status, 404);

    let decide = |fields: Value| {
        json!({"reviewer": {"officer": "kv-jurist-1", "unit": "kv-verkstallighet", "role": "jurist"},
               "fields": fields})
    };
    let decision_path = format!("/v1/messages/held/{id}/decision");
    // Every field under review must be decided.
    let partial = call(
        kv,
        "POST",
        &decision_path,
        &[],
        Some(
            serde_json::to_vec(&decide(
                json!([{"field": "pafoljd", "outcome": "disclose", "reason": "behövs"}]),
            ))
            .unwrap(),
        ),
    )
    .await;
    assert_problem(&partial, 422, "invalid-review-decision");
    let fields: Vec<Value> = under_review
        .iter()
        .map(|f| {
            let outcome = if *f == "pafoljd" { "disclose" } else { "refuse" };
            json!({"field": f, "outcome": outcome, "reason": "Polisens intresse väger tyngre bara för påföljden."})
        })
        .collect();
    let decided = call(
        kv,
        "POST",
        &decision_path,
        &[],
        Some(serde_json::to_vec(&decide(json!(fields))).unwrap()),
    )
    .await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    assert_eq!(decided.body["state"], "pending");
    let again = call(
        kv,
        "POST",
        &decision_path,
        &[],
        Some(serde_json::to_vec(&decide(json!(fields))).unwrap()),
    )
    .await;
    assert_problem(&again, 409, "review-already-decided");

    until(async || call(pm, "GET", &path, &[], None).await.status == 200).await;
    let arrived = call(pm, "GET", &path, &[], None).await;
    let values = arrived.body["content"]["values"].as_object().unwrap();
    assert_eq!(
        values.keys().collect::<Vec<_>>(),
        ["pafoljd"],
        "only what the jurist let go: {:#}",
        arrived.body
    );
    // Kriminalvården's ledger: routed to review, decided, sent — each naming the one before.
    let kv_records = records(&federation, KV);
    let chain: Vec<&AuditRecord> = kv_records
        .iter()
        .filter(|r| r.message.as_ref().is_some_and(|m| m.id == id))
        .collect();
    let events: Vec<EventKind> = chain.iter().map(|r| r.event).collect();
    assert_eq!(
        &events[..3],
        [
            EventKind::ReviewRequest,
            EventKind::ReviewDecision,
            EventKind::MessageSent
        ]
    );
    let index_of = |event| {
        (0..kv_records.len() as u64)
            .find(|&i| {
                kv_records[i as usize].event == event
                    && kv_records[i as usize]
                        .message
                        .as_ref()
                        .is_some_and(|m| m.id == id)
            })
            .unwrap()
    };
    assert_eq!(chain[1].refers_to, Some(index_of(EventKind::ReviewRequest)));
    assert_eq!(
        chain[2].refers_to,
        Some(index_of(EventKind::ReviewDecision))
    );
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_book_lists_the_other_members_that_take_messages_with_their_units() {
    let (_dir, federation) = federation_on(Engine::Sqlite, &[UBM, FK]).await;
    let ubm = federation.node(UBM).unwrap().local_addr;
    let book = call(ubm, "GET", "/v1/messages/addresses", &[], None).await;
    assert_eq!(book.status, 200, "{:#}", book.body);
    let entries = book.body.as_array().unwrap();
    let authorities: Vec<&str> = entries
        .iter()
        .map(|e| e["authority"].as_str().unwrap())
        .collect();
    // Only Försäkringskassan: the sender itself is not an address.
    assert_eq!(authorities, [FK]);
    assert_eq!(entries[0]["name"], "Försäkringskassan");
    // Its units are the shared rulebook's, each with a name to show.
    let units: Vec<&str> = entries[0]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(units.contains(&"fk-kontroll"), "{units:?}");
    assert!(entries[0]["units"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| !u["name"].as_str().unwrap().is_empty()));
}
