//! Notices end to end: Malmö stad's case system subscribes through its own node at
//! Försäkringskassan's, changes written to Försäkringskassan's register reach Malmö's notice
//! feed once each and in order, every batch is recorded in both ledgers — the provider's
//! `notice_sent` and the subscriber's `notice_received` naming it, with the same digest and
//! the same subjects — and nothing arrives after the subscription is cancelled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::scrape::scrape;
use common::*;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::{AuditLog, AuditRecord, EventKind, SubjectIdentifier};
use utbyte_store::{Register, RegisterBatch};

const AUTHORITIES: [&str; 2] = ["forsakringskassan", "malmo-stad"];

fn subscribe(id: &str, subjects: &[String]) -> Value {
    json!({
        "subscription_id": id,
        "officer": "malmo-h4711",
        "unit": "malmo-ekonomiskt-bistand",
        "role": "handlaggare",
        "offering": "fk-formaner",
        "events": ["utbetalning-andrad", "beslut-fattat"],
        "purpose": "kontroll-ekonomiskt-bistand",
        "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512",
        "ends": (OffsetDateTime::now_utc() + time::Duration::days(90)).format(&Rfc3339).unwrap(),
        "subjects": subjects,
    })
}

fn amount(subject: &str, amount: u32) -> RegisterBatch {
    let subject: utbyte_domain::SubjectId = subject.parse().unwrap();
    let mut batch = RegisterBatch::new();
    batch
        .subject(subject, false)
        .record("fk-formaner", subject, "belopp", json!(amount));
    batch
}

/// Every record of `event` in `audit`'s ledger, by index.
fn records(audit: &AuditLog, event: EventKind) -> BTreeMap<u64, AuditRecord> {
    (0..audit.ledger().size())
        .filter_map(|i| {
            let record = AuditRecord::from_leaf(&audit.ledger().entry(i).unwrap()).unwrap();
            (record.event == event).then_some((i, record))
        })
        .collect()
}

/// Reads Malmö's feed after `after` until `count` notices came, waiting at the node.
async fn read_feed(malmo: std::net::SocketAddr, after: u64, count: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor = after;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < count && tokio::time::Instant::now() < deadline {
        let page = call(
            malmo,
            "GET",
            &format!("/v1/notices?after={cursor}&wait=5"),
            &[],
            None,
        )
        .await;
        assert_eq!(page.status, 200, "{:#}", page.body);
        cursor = page.body["next"].as_u64().unwrap();
        seen.extend(page.body["notices"].as_array().unwrap().iter().cloned());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_the_subscriber_once_in_order_recorded_in_both_ledgers() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let covered: Vec<String> = open[..3].to_vec();

    let asked = serde_json::to_vec(&subscribe("bidrag-2", &covered)).unwrap();
    let made = call(malmo, "POST", "/v1/subscriptions", &[], Some(asked.clone())).await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    assert_eq!(made.body["status"], "active");
    assert_eq!(made.body["provider"], "forsakringskassan");
    assert_eq!(made.body["granted"], json!(["utbetalning-andrad"]));
    assert_eq!(made.body["subjects"], 3);
    let outcomes: BTreeMap<String, String> = made.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(outcomes["utbetalning-andrad"], "disclose");
    assert_ne!(outcomes["beslut-fattat"], "disclose");
    let decision = made.body["decision"]["index"].as_u64().unwrap();
    let fk_audit = federation.node("forsakringskassan").unwrap().audit();
    let decided = AuditRecord::from_leaf(&fk_audit.ledger().entry(decision).unwrap()).unwrap();
    assert_eq!(decided.event, EventKind::SubscriptionDecision);

    // The same request again is the same subscription.
    let again = call(malmo, "POST", "/v1/subscriptions", &[], Some(asked)).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    let listed = call(malmo, "GET", "/v1/subscriptions", &[], None).await;
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        1,
        "{:#}",
        listed.body
    );

    // Five changes to covered subjects, one to another.
    let register = federation.register("forsakringskassan").unwrap();
    let written = [
        (&covered[0], 1_001),
        (&covered[1], 1_002),
        (&open[20], 9),
        (&covered[0], 1_003),
        (&covered[2], 1_004),
        (&covered[0], 1_005),
    ];
    for (subject, value) in written {
        register.insert(&amount(subject, value)).await.unwrap();
    }
    let notices = read_feed(malmo, 0, 5).await;
    let subjects: Vec<&str> = notices
        .iter()
        .map(|n| n["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            &covered[0],
            &covered[1],
            &covered[0],
            &covered[2],
            &covered[0]
        ],
        "each change once, in the order written"
    );
    for notice in &notices {
        assert_eq!(notice["provider"], "forsakringskassan");
        assert_eq!(notice["subscription"], "bidrag-2");
        assert_eq!(notice["events"], json!(["utbetalning-andrad"]));
        assert_eq!(notice["fields"], json!(["belopp"]));
        assert!(notice.get("values").is_none(), "thin: {notice:#}");
    }
    let provider_seqs: Vec<u64> = notices
        .iter()
        .map(|n| n["provider_seq"].as_u64().unwrap())
        .collect();
    assert!(provider_seqs.windows(2).all(|w| w[0] < w[1]));
    // Nothing more: the feed waits and comes back empty.
    let last = notices.last().unwrap()["seq"].as_u64().unwrap();
    let quiet = call(
        malmo,
        "GET",
        &format!("/v1/notices?after={last}&wait=1"),
        &[],
        None,
    )
    .await;
    assert_eq!(quiet.body["notices"], json!([]));
    assert_eq!(quiet.body["next"], last);

    // Both ledgers: every notice sent is recorded at Försäkringskassan, and each of those
    // entries is named by one of Malmö's with the same digest and the same subjects.
    let malmo_audit = federation.node("malmo-stad").unwrap().audit();
    let sent = records(fk_audit, EventKind::NoticeSent);
    let received = records(malmo_audit, EventKind::NoticeReceived);
    let told: u32 = sent
        .values()
        .map(|r| r.notices.as_ref().unwrap().count)
        .sum();
    assert_eq!(told, 5, "{sent:?}");
    assert_eq!(received.len(), sent.len());
    for ours in received.values() {
        let theirs = &sent[&ours.refers_to.unwrap()];
        assert_eq!(ours.payload_sha256, theirs.payload_sha256);
        assert_eq!(
            ours.notices.as_ref().unwrap().first,
            theirs.notices.as_ref().unwrap().first
        );
        assert_eq!(
            ours.notices.as_ref().unwrap().last,
            theirs.notices.as_ref().unwrap().last
        );
        assert_eq!(ours.subjects.len(), theirs.subjects.len());
        assert_eq!(theirs.refers_to, Some(decision));
        assert_eq!(theirs.actor.unit, "malmo-ekonomiskt-bistand");
        assert_eq!(ours.actor.unit, "malmo-ekonomiskt-bistand");
        assert_eq!(ours.why.as_ref().unwrap().case_ref, "ASN-2026-004512");
    }
    // The subject-access reports of both authorities show who was told about the person.
    let person = SubjectIdentifier::new(&covered[0]).unwrap();
    for (audit, event) in [
        (fk_audit, EventKind::NoticeSent),
        (malmo_audit, EventKind::NoticeReceived),
    ] {
        let about: Vec<EventKind> = audit
            .records_about(&person)
            .into_iter()
            .map(|i| {
                AuditRecord::from_leaf(&audit.ledger().entry(i).unwrap())
                    .unwrap()
                    .event
            })
            .collect();
        assert!(about.contains(&event), "{about:?}");
    }
    let counted = scrape(federation.node("forsakringskassan").unwrap().local_addr).await;
    assert_eq!(
        counted.get(
            "utbyte_subscription_deliveries_total",
            &[("outcome", "sent")]
        ),
        5.0
    );
    let counted = scrape(malmo).await;
    assert_eq!(
        counted.get(
            "utbyte_subscription_deliveries_total",
            &[("outcome", "received")]
        ),
        5.0
    );

    // Another unit's feed does not hold Malmö's social services' notices.
    let other = call(malmo, "GET", "/v1/notices?unit=malmo-annan", &[], None).await;
    assert_eq!(other.body["notices"], json!([]));

    // Renewed: decided again by Försäkringskassan's rulebook, recorded, a later end; an end
    // beyond what is allowed is refused.
    let later = (OffsetDateTime::now_utc() + time::Duration::days(200))
        .replace_nanosecond(0)
        .unwrap();
    let renew = |ends: OffsetDateTime| {
        serde_json::to_vec(&json!({"ends": ends.format(&Rfc3339).unwrap()})).unwrap()
    };
    let renewed = call(
        malmo,
        "POST",
        "/v1/subscriptions/bidrag-2/renew",
        &[],
        Some(renew(later)),
    )
    .await;
    assert_eq!(renewed.status, 200, "{:#}", renewed.body);
    assert_eq!(renewed.body["granted"], json!(["utbetalning-andrad"]));
    assert_eq!(renewed.body["ends"], later.format(&Rfc3339).unwrap());
    let again = renewed.body["decision"]["index"].as_u64().unwrap();
    assert!(again > decision, "a new decision is recorded");
    let redecided = AuditRecord::from_leaf(&fk_audit.ledger().entry(again).unwrap()).unwrap();
    assert_eq!(redecided.event, EventKind::SubscriptionDecision);
    let too_far = call(
        malmo,
        "POST",
        "/v1/subscriptions/bidrag-2/renew",
        &[],
        Some(renew(OffsetDateTime::now_utc() + time::Duration::days(400))),
    )
    .await;
    assert_problem(&too_far, 422, "invalid-request");

    // Cancelled at the provider and here: a change after it brings nothing.
    let cancelled = call(
        malmo,
        "POST",
        "/v1/subscriptions/bidrag-2/cancel",
        &[],
        None,
    )
    .await;
    assert_eq!(cancelled.status, 200, "{:#}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    register.insert(&amount(&covered[1], 2_000)).await.unwrap();
    let after = call(
        malmo,
        "GET",
        &format!("/v1/notices?after={last}&wait=2"),
        &[],
        None,
    )
    .await;
    assert_eq!(after.body["notices"], json!([]));
    let more = call(
        malmo,
        "POST",
        "/v1/subscriptions/bidrag-2/subjects",
        &[],
        Some(serde_json::to_vec(&json!({"subjects": [open[4].clone()]})).unwrap()),
    )
    .await;
    assert_problem(&more, 404, "no-such-subscription");
    let renew_cancelled = call(
        malmo,
        "POST",
        "/v1/subscriptions/bidrag-2/renew",
        &[],
        Some(renew(later)),
    )
    .await;
    assert_problem(&renew_cancelled, 404, "no-such-subscription");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_outside_what_is_allowed_is_refused_without_being_kept() {
    let (_dir, federation) = federation(&AUTHORITIES).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let post = |body: Value| async move {
        call(
            malmo,
            "POST",
            "/v1/subscriptions",
            &[],
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await
    };
    let mut bad_id = subscribe("a/b", &open[..1]);
    assert_problem(&post(bad_id.clone()).await, 422, "invalid-request");
    bad_id["subscription_id"] = json!("ok-id");
    bad_id["offering"] = json!("no-such-offering");
    assert_problem(&post(bad_id).await, 404, "unknown-offering");
    assert_problem(&post(subscribe("none", &[])).await, 422, "invalid-request");
    // What any provider would refuse is refused before anything is asked.
    let mut unknown_event = subscribe("ev", &open[..1]);
    unknown_event["events"] = json!(["ingen-sadan"]);
    assert_problem(&post(unknown_event).await, 422, "invalid-request");
    let mut bad_subject = subscribe("bad", &open[..1]);
    bad_subject["subjects"] = json!(["19121212-1213"]);
    assert_problem(&post(bad_subject).await, 422, "invalid-subject");
    let mut too_long = subscribe("long", &open[..1]);
    too_long["ends"] = json!((OffsetDateTime::now_utc() + time::Duration::days(400))
        .format(&Rfc3339)
        .unwrap());
    assert_problem(&post(too_long).await, 422, "invalid-request");
    // Only decisions were asked for; none is granted under LUFFA: nothing is kept.
    let mut decisions = subscribe("beslut", &open[..1]);
    decisions["events"] = json!(["beslut-fattat"]);
    let nothing = post(decisions).await;
    assert_eq!(nothing.status, 200, "{:#}", nothing.body);
    assert_eq!(nothing.body["status"], "refused");
    assert_eq!(nothing.body["granted"], json!([]));
    let listed = call(malmo, "GET", "/v1/subscriptions", &[], None).await;
    assert_eq!(listed.body, json!([]));
    for path in ["/v1/subscriptions/beslut", "/v1/subscriptions/%C3%A5"] {
        assert_problem(
            &call(malmo, "GET", path, &[], None).await,
            404,
            "no-such-subscription",
        );
    }
    assert_problem(
        &call(malmo, "GET", "/v1/notices?wait=31", &[], None).await,
        422,
        "invalid-request",
    );
}

/// Försäkringskassan's housing allowance follows Skatteverket's population register under a
/// pre-assessment that lets notices carry values: a move arrives with the new address and
/// date, of the fields the event type is made of only, paired in both ledgers with the
/// values inside the digest; a subject with protected identity is told nothing of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_carry_the_values_a_pre_assessment_lets_them() {
    let (_dir, federation) = federation(&["skatteverket", "forsakringskassan"]).await;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let (moving, hiding) = (open[0].clone(), open[1].clone());
    let asked = json!({
        "subscription_id": "bostad-1",
        "officer": "fk-handlaggare-1",
        "unit": "fk-bostadsbidrag",
        "role": "handlaggare",
        "offering": "skv-folkbokforing",
        "events": ["adress-andrad", "avliden"],
        "purpose": "kontroll-bostadsbidrag",
        "legal_basis": "luffa",
        "case_ref": "FK-2026-0042",
        "ends": (OffsetDateTime::now_utc() + time::Duration::days(30)).format(&Rfc3339).unwrap(),
        "subjects": [moving, hiding],
    });
    let made = call(
        fk,
        "POST",
        "/v1/subscriptions",
        &[],
        Some(serde_json::to_vec(&asked).unwrap()),
    )
    .await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    let carried: BTreeMap<String, Value> = made.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e["values"].clone()))
        .collect();
    assert_eq!(
        carried["adress-andrad"],
        json!(["folkbokforingsadress", "sarskild-postadress", "flyttdatum"]),
        "{:#}",
        made.body
    );
    assert_eq!(carried["avliden"], json!(["dodsdatum"]));

    let register = federation.register("skatteverket").unwrap();
    let write = |subject: &str, protected: bool, fields: &[(&str, Value)]| {
        let subject: utbyte_domain::SubjectId = subject.parse().unwrap();
        let mut batch = RegisterBatch::new();
        batch.subject(subject, protected);
        for (field, value) in fields {
            batch.record("skv-folkbokforing", subject, *field, value.clone());
        }
        batch
    };
    // Protected identity from the start: the matcher passes the change over.
    register
        .insert(&write(&hiding, true, &[("dodsdatum", json!("2026-12-01"))]))
        .await
        .unwrap();
    register
        .insert(&write(
            &moving,
            false,
            &[
                ("folkbokforingsadress", json!("Storgatan 1, Malmö")),
                ("flyttdatum", json!("2026-12-01")),
                ("hushallsmedlemmar", json!(3)),
            ],
        ))
        .await
        .unwrap();
    let notices = read_feed(fk, 0, 1).await;
    assert_eq!(notices.len(), 1, "{notices:#?}");
    let notice = &notices[0];
    assert_eq!(notice["subject"], moving.as_str());
    assert_eq!(notice["events"], json!(["adress-andrad"]));
    // The household changed too, but it is no field of the event types granted.
    assert_eq!(
        notice["fields"],
        json!(["flyttdatum", "folkbokforingsadress", "hushallsmedlemmar"])
    );
    assert_eq!(
        notice["values"],
        json!({"flyttdatum": "2026-12-01", "folkbokforingsadress": "Storgatan 1, Malmö"})
    );
    // Nothing arrives about the protected person.
    let last = notice["seq"].as_u64().unwrap();
    let quiet = call(
        fk,
        "GET",
        &format!("/v1/notices?after={last}&wait=1"),
        &[],
        None,
    )
    .await;
    assert_eq!(quiet.body["notices"], json!([]));

    // The values are inside the digest both ledgers hold.
    let skv_audit = federation.node("skatteverket").unwrap().audit();
    let fk_audit = federation.node("forsakringskassan").unwrap().audit();
    let sent = records(skv_audit, EventKind::NoticeSent);
    let received = records(fk_audit, EventKind::NoticeReceived);
    assert_eq!((sent.len(), received.len()), (1, 1));
    let (ours, theirs) = (
        received.values().next().unwrap(),
        sent.values().next().unwrap(),
    );
    // The subscriber computed the digest again from what it received, values included.
    assert_eq!(ours.payload_sha256, theirs.payload_sha256);
    assert_eq!(ours.refers_to, Some(*sent.keys().next().unwrap()));
}

/// A subscription to Bolagsverket's board changes, for `subscriber` as its case system asks.
fn board_subscription(subscriber: &str, company: &str) -> Value {
    let ends = OffsetDateTime::now_utc() + time::Duration::days(90);
    let (officer, unit, role, purpose) = match subscriber {
        "kronofogden" => (
            "kfm-handlaggare-1",
            "kfm-utsokning",
            "handlaggare",
            "indrivning",
        ),
        _ => (
            "malmo-h4711",
            "malmo-ekonomiskt-bistand",
            "handlaggare",
            "kontroll-ekonomiskt-bistand",
        ),
    };
    json!({
        "subscription_id": format!("styrelse-{subscriber}"),
        "officer": officer,
        "unit": unit,
        "role": role,
        "offering": "bv-foretag",
        "events": ["styrelse-andrad"],
        "purpose": purpose,
        "legal_basis": "tf-2-1",
        "case_ref": "2026/12-7710",
        "ends": ends.format(&Rfc3339).unwrap(),
        "subjects": [company],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_answer_holds_up_no_other_subscribers_notices() {
    let dir = tempfile::tempdir().unwrap();
    // Kronofogden's published address takes connections and never answers: a delivery to it
    // waits the whole peer timeout (10 s here).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let authorities = ["bolagsverket", "kronofogden", "malmo-stad"];
    let mut plan = plan(dir.path().join("f"), &authorities);
    plan.endpoints.insert(
        "kronofogden".to_owned(),
        format!("https://{}", silent.local_addr().unwrap()),
    );
    let federation = utbyte_testbed::loopback::LoopbackFederation::start(plan)
        .await
        .unwrap();
    let rulebook = utbyte_rules::Rulebook::load_dir(&rulebook_dir()).unwrap();
    let companies = utbyte_testbed::loopback::subjects_with(
        &rulebook,
        POPULATION,
        "bv-foretag",
        "ledamoter",
        false,
    )
    .unwrap();
    let (theirs, ours) = (&companies[0], &companies[1]);
    for (subscriber, company) in [("kronofogden", theirs), ("malmo-stad", ours)] {
        let addr = federation.node(subscriber).unwrap().local_addr;
        let body = serde_json::to_vec(&board_subscription(subscriber, company)).unwrap();
        let made = call(addr, "POST", "/v1/subscriptions", &[], Some(body)).await;
        assert_eq!(made.status, 201, "{subscriber}: {:#}", made.body);
        assert_eq!(
            made.body["granted"],
            json!(["styrelse-andrad"]),
            "{subscriber}"
        );
    }
    let register = federation.register("bolagsverket").unwrap();
    let board = |company: &str, members: &str| {
        let subject: utbyte_domain::SubjectId = company.parse().unwrap();
        let mut batch = RegisterBatch::new();
        batch
            .subject(subject, false)
            .record("bv-foretag", subject, "ledamoter", json!(members));
        batch
    };

    // Kronofogden's notice goes out first, and its delivery hangs.
    register.insert(&board(theirs, "Anna Ek")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let _held = loop {
        match silent.accept() {
            Ok((held, _)) => break held,
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "Kronofogden was never called"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => panic!("{err}"),
        }
    };
    let hanging = std::time::Instant::now();

    // Malmö's notice, queued while that delivery waits, reaches Malmö well within the
    // timeout the other delivery is waiting out.
    register.insert(&board(ours, "Bo Al")).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let notices = read_feed(malmo, 0, 1).await;
    let waited = hanging.elapsed();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0]["subject"], ours.as_str());
    assert_eq!(notices[0]["provider"], "bolagsverket");
    assert!(
        waited < Duration::from_secs(6),
        "Malmö's notice came {waited:?} after Kronofogden's delivery started hanging"
    );
}
