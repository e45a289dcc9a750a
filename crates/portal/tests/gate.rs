//! The portal's gate, in-process: sign-in, session cookies, CSRF, lockout and role checks all
//! happen before a page asks the node anything, so they are exercised here against a node API
//! with no routes. The flows through a real federation are in the browser suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, hidden, pair, portal, post, send, sign_in, PASSWORD};
use http::StatusCode;

#[tokio::test]
async fn sign_in_sets_a_strict_secure_http_only_session_and_pages_need_it() {
    let app = portal().await;
    let anonymous = send(&app, get("/portal/offerings", "")).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location, "/portal/login?next=/portal/offerings");

    let signed = sign_in(&app, "anna", PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    assert_eq!(signed.location, "/portal/");
    let set = signed
        .cookies
        .iter()
        .find(|c| c.starts_with("utbyte-session-malmo-stad="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attribute), "{attribute} missing in {set}");
    }
    let session = pair(&signed.cookies, "utbyte-session-malmo-stad");
    let home = send(&app, get("/portal/", &session)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("<html lang=\"sv\">"));
    assert!(home.body.contains("Logga ut"));

    // A forged or foreign cookie is no session.
    let forged = send(&app, get("/portal/", "utbyte-session-malmo-stad=AAAA")).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);

    // Signing out ends the session on the server, not only in the browser.
    let csrf = hidden(&home.body, "csrf");
    let out = send(
        &app,
        post("/portal/logout", &session, &format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&app, get("/portal/", &session)).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn forms_without_the_sessions_csrf_token_are_refused() {
    let app = portal().await;
    let signed = sign_in(&app, "anna", PASSWORD).await;
    let session = pair(&signed.cookies, "utbyte-session-malmo-stad");
    let form = "offering=fk-formaner&key=k1&subject=195805216404&fields=forman";
    for csrf in ["", "&csrf=", "&csrf=not-the-token"] {
        let reply = send(
            &app,
            post("/portal/requests", &session, &format!("{form}{csrf}")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{csrf}");
        assert!(reply.body.contains("role=\"alert\""));
    }
    // Another session's token is not this session's.
    let other = sign_in(&app, "tom", PASSWORD).await;
    let other_session = pair(&other.cookies, "utbyte-session-malmo-stad");
    let other_home = send(&app, get("/portal/", &other_session)).await;
    let foreign = hidden(&other_home.body, "csrf");
    let reply = send(
        &app,
        post(
            "/portal/requests",
            &session,
            &format!("{form}&csrf={foreign}"),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // The sign-in form has its own token: without it, even the right password does nothing.
    let blind = send(
        &app,
        post(
            "/portal/login",
            "",
            &format!(
                "username=anna&password={}&csrf=x",
                PASSWORD.replace(' ', "+")
            ),
        ),
    )
    .await;
    assert_eq!(blind.status, StatusCode::FORBIDDEN);
    assert!(blind
        .cookies
        .iter()
        .all(|c| !c.starts_with("utbyte-session-malmo-stad=")));
}

#[tokio::test]
async fn every_page_checks_the_role() {
    let app = portal().await;
    let officer = pair(
        &sign_in(&app, "anna", PASSWORD).await.cookies,
        "utbyte-session-malmo-stad",
    );
    let reviewer = pair(
        &sign_in(&app, "rut", PASSWORD).await.cookies,
        "utbyte-session-malmo-stad",
    );
    for path in [
        "/portal/review",
        "/portal/review/some-ticket",
        "/portal/audit",
        "/portal/audit/subject",
        "/portal/admin/users",
        "/portal/admin/users/anna",
        "/portal/admin/offerings",
    ] {
        let reply = send(&app, get(path, &officer)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "officer at {path}");
        assert!(reply.body.contains("Åtkomst nekad"));
    }
    for path in [
        "/portal/offerings",
        "/portal/requests",
        "/portal/requests/new?offering=x",
        "/portal/requests/k",
    ] {
        let reply = send(&app, get(path, &reviewer)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "reviewer at {path}");
    }
    // The menu offers only what the role opens.
    let home = send(&app, get("/portal/", &officer)).await;
    assert!(
        home.body.contains("/portal/offerings") && !home.body.contains("href=\"/portal/review\"")
    );
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_without_revealing_usernames() {
    let app = portal().await;
    let unknown = sign_in(&app, "nobody", PASSWORD).await;
    let wrong = sign_in(&app, "anna", "wrong password!").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Fel användarnamn eller lösenord"));
    assert!(wrong.body.contains("Fel användarnamn eller lösenord"));
    for _ in 0..3 {
        assert_eq!(
            sign_in(&app, "anna", "wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let fifth = sign_in(&app, "anna", "wrong password!").await;
    assert!(fifth.body.contains("låst"), "{}", fifth.body);
    let right = sign_in(&app, "anna", PASSWORD).await;
    assert_eq!(right.status, StatusCode::UNAUTHORIZED);
    assert!(right.body.contains("låst"));
    // Another account is not affected.
    assert_eq!(
        sign_in(&app, "tom", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_language_switch_keeps_the_page_and_refuses_other_sites() {
    let app = portal().await;
    let session = pair(
        &sign_in(&app, "anna", PASSWORD).await.cookies,
        "utbyte-session-malmo-stad",
    );
    let switch = send(&app, get("/portal/lang/en?next=/portal/requests", &session)).await;
    assert_eq!(switch.status, StatusCode::SEE_OTHER);
    assert_eq!(switch.location, "/portal/requests");
    let lang = pair(&switch.cookies, "utbyte-lang");
    let home = send(&app, get("/portal/", &format!("{session}; {lang}"))).await;
    assert!(home.body.contains("<html lang=\"en\">") && home.body.contains("Sign out"));
    for next in ["https://evil.example/", "//evil.example/", "/v1/requests"] {
        let away = send(&app, get(&format!("/portal/lang/sv?next={next}"), &session)).await;
        assert_eq!(away.location, "/portal/", "{next}");
    }
}
