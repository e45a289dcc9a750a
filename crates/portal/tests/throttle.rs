//! Sign-in under attack, in-process: the cap on password hashing under a flood of concurrent
//! sign-ins, the budget per source address, a lock that an attacker cannot aim at the owner, and
//! answers that never tell whether a username exists. Requests carry the client address the
//! node's listeners give them (`ConnectInfo`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    from, get, login_form, pair, portal, portal_with, send, sign_in_from, sign_in_request, Reply,
    PASSWORD,
};
use http::StatusCode;
use std::time::Duration;
use utbyte_portal::throttle::hashing::HashingLimits;

const SESSION: &str = "utbyte-session-malmo-stad";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_never_runs_more_argon2_than_the_cap_and_the_excess_is_answered() {
    let limits = HashingLimits {
        concurrent: 2,
        waiting: 8,
        wait: Duration::from_secs(2),
    };
    let (portal, app) = portal_with(limits).await;
    let created = portal.hashing().computations();
    let form = login_form(&app).await;
    // 64 clients at once, each from its own address (so no budget is spent out): unknown
    // usernames, wrong passwords, and the owner with the right one.
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let (app, form) = (app.clone(), form.clone());
            tokio::spawn(async move {
                let (username, password) = match n % 3 {
                    0 => (format!("nobody-{n}"), "guess".to_owned()),
                    1 => ("tom".to_owned(), format!("wrong {n}")),
                    _ => ("anna".to_owned(), PASSWORD.to_owned()),
                };
                let request = sign_in_request(&form, &username, &password);
                send(&app, from(&format!("10.1.0.{n}:40000"), request)).await
            })
        })
        .collect();
    let replies = tokio::time::timeout(Duration::from_secs(60), async {
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.unwrap());
        }
        replies
    })
    .await
    .expect("sign-ins hung instead of being answered");

    let count = |status| replies.iter().filter(|r| r.status == status).count();
    let (signed_in, rejected, busy) = (
        count(StatusCode::SEE_OTHER),
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::SERVICE_UNAVAILABLE),
    );
    assert_eq!(signed_in + rejected + busy, 64, "only 303, 401 and 503");
    assert!(
        portal.hashing().peak() <= 2,
        "{} at once",
        portal.hashing().peak()
    );
    assert_eq!(portal.hashing().peak(), 2, "the flood did reach the cap");
    // Queue of 8 behind 2 running: most of 64 are told at once to come back.
    assert!(busy >= 1, "no sign-in was turned away: {rejected} rejected");
    // Exactly one computation per answered sign-in, none for a turned-away one.
    let computed = portal.hashing().computations() - created;
    assert_eq!(computed, (signed_in + rejected) as u64);
    assert_eq!(portal.hashing().running(), 0);
    for reply in replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
    {
        assert_eq!(reply.retry_after, Some(2));
        assert!(reply.body.contains("För många inloggningar just nu"));
        // The form is there to try again, with a fresh token.
        assert!(reply.body.contains("name=\"csrf\""));
    }
    // Once the flood has passed, the owner signs in.
    let after = sign_in_from(&app, "10.1.1.1:1", "anna", PASSWORD).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn one_address_gets_ten_guesses_then_429_without_hashing() {
    let (portal, app) = portal_with(HashingLimits::default()).await;
    let form = login_form(&app).await;
    let before = portal.hashing().computations();
    let mut statuses = Vec::new();
    for n in 0..15 {
        // Every guess at another username, so that no lock comes first.
        let request = sign_in_request(&form, &format!("user-{n}"), "guess");
        statuses.push(send(&app, from("192.0.2.9:5000", request)).await);
    }
    assert!(statuses[..10]
        .iter()
        .all(|r| r.status == StatusCode::UNAUTHORIZED));
    for reply in &statuses[10..] {
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        let wait = reply.retry_after.expect("Retry-After");
        assert!((1..=6).contains(&wait), "{wait}");
        assert!(reply
            .body
            .contains("För många misslyckade inloggningsförsök"));
    }
    assert_eq!(portal.hashing().computations() - before, 10);
    // Even the right password waits: the budget is spent before anything is checked.
    let owner = sign_in_from(&app, "192.0.2.9:5001", "anna", PASSWORD).await;
    assert_eq!(owner.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address, and an IPv6 host of another network, are not affected.
    let elsewhere = sign_in_from(&app, "192.0.2.10:5000", "anna", PASSWORD).await;
    assert_eq!(elsewhere.status, StatusCode::SEE_OTHER);
    let v6 = sign_in_from(&app, "[2001:db8:0:1::5]:443", "tom", PASSWORD).await;
    assert_eq!(v6.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn right_passwords_give_their_token_back() {
    let app = portal().await;
    // An office behind one address: thirty colleagues signing in correctly spend nothing.
    for _ in 0..30 {
        let reply = sign_in_from(&app, "198.51.100.1:1", "rut", PASSWORD).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
    }
    for n in 0..10 {
        let wrong = sign_in_from(&app, "198.51.100.1:1", &format!("x{n}"), "guess").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn an_attacker_failing_many_times_does_not_stop_the_owner_from_elsewhere() {
    let app = portal().await;
    let owner = "203.0.113.7:50000";
    let session = pair(
        &sign_in_from(&app, owner, "anna", PASSWORD).await.cookies,
        SESSION,
    );
    let attacker = "198.51.100.66:443";
    let mut locked = 0;
    for n in 0..40 {
        let reply = sign_in_from(&app, attacker, "anna", &format!("guess {n}")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "attempt {n}");
        if reply.body.contains("låst") {
            locked += 1;
        }
    }
    assert_eq!(locked, 36, "locked from the fifth failure on");
    // The attacker is locked out even with the right password...
    let guessed = sign_in_from(&app, attacker, "anna", PASSWORD).await;
    assert_eq!(guessed.status, StatusCode::UNAUTHORIZED);
    assert!(guessed.body.contains("låst"));
    // ...the owner's session goes on, and the owner signs in again from their own machine.
    assert_eq!(
        send(&app, get("/portal/", &session)).await.status,
        StatusCode::OK
    );
    let again = sign_in_from(&app, owner, "anna", PASSWORD).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
}

#[tokio::test]
async fn guessing_spread_over_addresses_refuses_the_guessers_but_not_the_owner() {
    let app = portal().await;
    for n in 1..=2 {
        let reply = sign_in_from(&app, &format!("198.51.100.{n}:1"), "anna", "guess").await;
        assert!(!reply.body.contains("låst"), "one failure from {n}");
    }
    // The third address to fail: every failing address is now refused, after one failure.
    let third = sign_in_from(&app, "198.51.100.3:1", "anna", "guess").await;
    assert!(third.body.contains("låst"));
    for n in 1..=3 {
        let right = sign_in_from(&app, &format!("198.51.100.{n}:1"), "anna", PASSWORD).await;
        assert_eq!(right.status, StatusCode::UNAUTHORIZED, "guesser {n}");
        assert!(right.body.contains("låst"));
    }
    // An address that has not failed signs in, and other usernames are not affected.
    let owner = sign_in_from(&app, "203.0.113.7:1", "anna", PASSWORD).await;
    assert_eq!(owner.status, StatusCode::SEE_OTHER);
    let colleague = sign_in_from(&app, "198.51.100.1:1", "tom", PASSWORD).await;
    assert_eq!(colleague.status, StatusCode::SEE_OTHER);
}

/// The page with what differs between two sign-ins by design taken out: the CSRF token (fresh
/// each time), the username typed (shown back in the form) and the minute a lock lapses.
fn page(reply: &Reply, username: &str) -> String {
    let mut body = reply
        .body
        .replace(&format!("value=\"{username}\""), "value=\"USERNAME\"");
    let csrf = common::hidden(&body, "csrf");
    body = body.replace(&csrf, "CSRF");
    if let Some(at) = body.find("Försök igen efter ") {
        let end = at + body[at..].find("</p>").unwrap();
        body.replace_range(at..end, "Försök igen efter TIME");
    }
    body
}

fn cookie_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply
        .cookies
        .iter()
        .map(|c| c.split('=').next().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn an_unknown_username_is_answered_like_a_wrong_password_even_when_locked() {
    let (portal, app) = portal_with(HashingLimits::default()).await;
    let mut rounds = Vec::new();
    // The same attempts at an existing and an unknown username, each from its own address.
    for (address, username) in [("192.0.2.1:1", "tom"), ("192.0.2.2:1", "nobody")] {
        let mut replies = Vec::new();
        for n in 0..7 {
            let before = portal.hashing().computations();
            let reply = sign_in_from(&app, address, username, &format!("guess {n}")).await;
            let computed = portal.hashing().computations() - before;
            replies.push((reply, computed));
        }
        rounds.push((username, replies));
    }
    let (known, unknown) = (&rounds[0], &rounds[1]);
    for (n, ((k, k_cost), (u, u_cost))) in known.1.iter().zip(&unknown.1).enumerate() {
        assert_eq!(k.status, u.status, "attempt {n}");
        assert_eq!(k_cost, u_cost, "attempt {n} costs the same");
        assert_eq!(page(k, known.0), page(u, unknown.0), "attempt {n}");
        assert_eq!(cookie_names(k), cookie_names(u));
        assert_eq!(k.retry_after, u.retry_after);
    }
    // Four wrong, then locked (the fifth), then locked without hashing.
    let costs: Vec<u64> = known.1.iter().map(|(_, c)| *c).collect();
    assert_eq!(costs, [1, 1, 1, 1, 1, 0, 0]);
    assert!(known.1[3]
        .0
        .body
        .contains("Fel användarnamn eller lösenord"));
    assert!(known.1[4].0.body.contains("låst"));

    // Spread over addresses, an unknown username locks the same way too.
    for username in ["rut", "ingen"] {
        for n in 1..=3 {
            sign_in_from(&app, &format!("10.9.{n}.1:1"), username, "guess").await;
        }
    }
    let known = sign_in_from(&app, "10.9.1.1:1", "rut", "guess").await;
    let unknown = sign_in_from(&app, "10.9.1.1:1", "ingen", "guess").await;
    assert_eq!(known.status, unknown.status);
    assert_eq!(page(&known, "rut"), page(&unknown, "ingen"));
    assert!(unknown.body.contains("låst"));
}

#[tokio::test]
async fn an_administrators_unlock_lets_a_locked_out_source_in_again() {
    let (portal, app) = portal_with(HashingLimits::default()).await;
    let admin = utbyte_store::AccountProfile {
        display_name: "Admin".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        officer_role: "handlaggare".into(),
        roles: vec!["admin".into()],
        disabled: false,
    };
    portal
        .accounts()
        .create("admin", &admin, PASSWORD)
        .await
        .unwrap();
    let anna_at_home = "203.0.113.7:1";
    for n in 0..5 {
        sign_in_from(&app, anna_at_home, "anna", &format!("typo {n}")).await;
    }
    assert!(sign_in_from(&app, anna_at_home, "anna", PASSWORD)
        .await
        .body
        .contains("låst"));

    let session = pair(
        &sign_in_from(&app, "192.0.2.200:1", "admin", PASSWORD)
            .await
            .cookies,
        SESSION,
    );
    let home = send(&app, get("/portal/", &session)).await;
    let csrf = common::hidden(&home.body, "csrf");
    let unlock = send(
        &app,
        common::post(
            "/portal/admin/users/anna",
            &session,
            &format!("action=unlock&csrf={csrf}"),
        ),
    )
    .await;
    assert_eq!(unlock.status, StatusCode::SEE_OTHER, "{}", unlock.body);
    let back = sign_in_from(&app, anna_at_home, "anna", PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
}
