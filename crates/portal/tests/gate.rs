//! The portal's gate, in-process: sign-in, session cookies, CSRF, lockout and role checks all
//! happen before a page asks the node anything, so they are exercised here against a node API
//! with no routes. The flows through a real federation are in the browser suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::Router;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use utbyte_portal::{Portal, PortalConfig};
use utbyte_store::{AccountProfile, AccountStore};

const PASSWORD: &str = "correct horse battery staple";

async fn portal() -> Router {
    let store = AccountStore::open_in_memory().await.unwrap();
    let portal = Portal::with_store(
        store,
        PortalConfig {
            authority: "malmo-stad".into(),
            authority_name: "Malmö stad".into(),
            secure_cookies: true,
            session_lifetime: time::Duration::hours(1),
        },
    )
    .unwrap();
    for (username, role) in [("anna", "officer"), ("rut", "reviewer"), ("tom", "officer")] {
        portal
            .accounts()
            .create(
                username,
                &AccountProfile {
                    display_name: username.into(),
                    unit: "malmo-ekonomiskt-bistand".into(),
                    officer_role: "handlaggare".into(),
                    roles: vec![role.into()],
                    disabled: false,
                },
                PASSWORD,
            )
            .await
            .unwrap();
    }
    portal.router(Router::new())
}

struct Reply {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Reply {
        status,
        location,
        cookies,
        body,
    }
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// `name=value` of the first Set-Cookie whose name starts with `prefix`.
fn pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no cookie {name} in {cookies:?}"))
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

/// Signs in and returns the session cookie pair and the page's CSRF token.
async fn sign_in(app: &Router, username: &str, password: &str) -> Reply {
    let page = send(app, get("/portal/login", "")).await;
    let login = pair(&page.cookies, "utbyte-session-malmo-stad-login");
    let csrf = hidden(&page.body, "csrf");
    send(
        app,
        post(
            "/portal/login",
            &login,
            &format!(
                "username={username}&password={}&csrf={csrf}&next=/portal/",
                password.replace(' ', "+")
            ),
        ),
    )
    .await
}

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
