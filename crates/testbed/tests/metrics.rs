//! `GET /metrics` counts what happened: after a disclosure, a refusal and a review decided by
//! a reviewer in a loopback federation, the provider's and the consumer's metrics have moved by
//! exactly those exchanges, and no label carries an identifier; a refused handshake and a
//! problem on the federation listener are counted by kind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::scrape::{scrape, Scrape};
use common::*;

const MALMO_FK: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_exactly_the_exchanges_that_happened() {
    let (_dir, federation) = federation(&MALMO_FK).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (open, protected) = fk_subjects();
    let (fk0, malmo0) = (scrape(fk).await, scrape(malmo).await);

    // A disclosure, a refusal (only a field the law keeps back), and a protected person's
    // request routed to review.
    let disclosed = submit(malmo, "m-1", &luffa_case(&open[0], &["forman", "diagnos"])).await;
    assert_eq!(disclosed.status, 200, "{:#}", disclosed.body);
    let refused = submit(malmo, "m-2", &luffa_case(&open[1], &["diagnos"])).await;
    assert_eq!(refused.status, 200, "{:#}", refused.body);
    assert!(refused.body["values"].as_object().unwrap().is_empty());
    let review = submit(malmo, "m-3", &luffa_case(&protected[0], &["forman"])).await;
    assert_eq!(review.status, 202, "{:#}", review.body);
    let ticket = review.body["ticket"].as_str().unwrap();
    assert_eq!(scrape(fk).await.get("utbyte_review_queue_depth", &[]), 1.0);

    let decided = disclose_in_review(fk, ticket, "forman").await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    wait_answered(malmo, "m-3").await;
    let fetched = call(malmo, "GET", "/v1/requests/m-3", &[], None).await;
    assert_eq!(fetched.status, 200, "{:#}", fetched.body);
    assert_problem(
        &call(malmo, "GET", "/nowhere", &[], None).await,
        404,
        "not-found",
    );

    let (fk1, malmo1) = (scrape(fk).await, scrape(malmo).await);
    let moved = |before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]| {
        after.get(name, labels) - before.get(name, labels)
    };
    let offering = ("offering", "fk-formaner");
    // The provider: three decisions, one of each outcome, and four ledger records.
    for outcome in ["disclose", "refuse", "review"] {
        let labels = [("side", "provider"), offering, ("outcome", outcome)];
        assert_eq!(
            moved(&fk0, &fk1, "utbyte_exchange_decisions_total", &labels),
            1.0,
            "{outcome}\n{}",
            fk1.text
        );
    }
    for event in ["disclosure", "refusal", "review", "review_decision"] {
        let labels = [("side", "provider"), offering, ("event", event)];
        assert_eq!(
            moved(&fk0, &fk1, "utbyte_exchange_events_total", &labels),
            1.0,
            "{event}\n{}",
            fk1.text
        );
    }
    assert_eq!(moved(&fk0, &fk1, "utbyte_ledger_entries", &[]), 4.0);
    assert_eq!(
        moved(&fk0, &fk1, "utbyte_ledger_append_seconds_count", &[]),
        4.0
    );
    assert_eq!(
        moved(&fk0, &fk1, "utbyte_provider_decision_seconds_count", &[]),
        3.0
    );
    assert!(moved(&fk0, &fk1, "utbyte_register_fetch_seconds_count", &[]) >= 1.0);
    assert_eq!(fk1.get("utbyte_review_queue_depth", &[]), 0.0);

    // The consumer: four answers accepted and recorded as receipts (the review's ticket and
    // its final answer are two), three requests from its case system.
    let receipts = [("side", "consumer"), offering, ("event", "receipt")];
    assert_eq!(
        moved(&malmo0, &malmo1, "utbyte_exchange_events_total", &receipts),
        4.0
    );
    let accepted = [offering, ("result", "accepted")];
    assert_eq!(
        moved(&malmo0, &malmo1, "utbyte_consumer_answers_total", &accepted),
        4.0
    );
    for (outcome, count) in [("disclose", 2.0), ("refuse", 1.0), ("review", 1.0)] {
        let labels = [("side", "consumer"), offering, ("outcome", outcome)];
        assert_eq!(
            moved(&malmo0, &malmo1, "utbyte_exchange_decisions_total", &labels),
            count,
            "{outcome}\n{}",
            malmo1.text
        );
    }
    assert_eq!(
        moved(
            &malmo0,
            &malmo1,
            "utbyte_consumer_request_seconds_count",
            &[]
        ),
        3.0
    );
    assert_eq!(moved(&malmo0, &malmo1, "utbyte_ledger_entries", &[]), 4.0);
    let not_found = [("listener", "local"), ("problem", "not-found")];
    assert_eq!(
        moved(&malmo0, &malmo1, "utbyte_problems_total", &not_found),
        1.0
    );
    assert_eq!(malmo1.get("utbyte_callback_backlog", &[]), 0.0);

    // The configuration both hold, and how old it is.
    for scraped in [&fk1, &malmo1] {
        assert!(scraped.get("utbyte_federation_config_version", &[]) >= 1.0);
        assert!(scraped.get("utbyte_federation_config_age_seconds", &[]) >= 0.0);
        assert!(scraped.get("utbyte_federation_config_expires_in_seconds", &[]) > 0.0);
        // Nothing went wrong in TLS.
        assert!(!scraped
            .text
            .contains("utbyte_tls_handshake_failures_total{"));
        // No label names anyone: the subjects' digits appear nowhere.
        for subject in [&open[0], &open[1], &protected[0]] {
            let digits: String = subject.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !scraped.text.contains(&digits[2..]),
                "{subject} in the metrics"
            );
        }
        assert!(!scraped.text.contains(ticket));
    }
    federation.stop().await;
}

/// A handshake refused on the federation listener is counted by kind on the server side, and
/// a problem answered there by type, under the federation listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_handshakes_and_federation_problems_are_counted_by_kind() {
    use std::time::Duration;
    use utbyte_http::{ExpectedPeer, FederationClient};
    use utbyte_pki::{NodeCredentials, Revocations};

    let (dir, federation) = federation(&MALMO_FK).await;
    let fk = federation.node("forsakringskassan").unwrap();
    let (fk_local, endpoint) = (fk.local_addr, format!("https://{}", fk.federation_addr));
    let before = scrape(fk_local).await;
    let expected = ExpectedPeer {
        authority: "forsakringskassan",
        fingerprints: None,
    };
    let client = |tls| FederationClient::new(tls, Duration::from_secs(10), 1 << 20);

    // Another CA's certificate: refused at the handshake.
    let tls = rogue_client_config(&federation, dir.path());
    let refused = client(tls)
        .send(
            &endpoint,
            expected,
            http::Method::GET,
            "/openapi.json",
            None,
        )
        .await;
    assert!(refused.is_err());

    // A genuine member asking for a path that does not exist: a problem, not a handshake.
    let creds = NodeCredentials::load(&federation.dir.join("pki").join("malmo-stad")).unwrap();
    let genuine = client(creds.client_config(&Revocations::new()).unwrap());
    let missing = genuine
        .send(&endpoint, expected, http::Method::GET, "/nowhere", None)
        .await
        .unwrap();
    assert_eq!(missing.status, 404);

    let after = scrape(fk_local).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let unknown_ca = [("side", "server"), ("kind", "peer-unknown-ca")];
    assert_eq!(
        moved("utbyte_tls_handshake_failures_total", &unknown_ca),
        1.0,
        "{}",
        after.text
    );
    let not_found = [("listener", "federation"), ("problem", "not-found")];
    assert_eq!(
        moved("utbyte_problems_total", &not_found),
        1.0,
        "{}",
        after.text
    );
    federation.stop().await;
}
