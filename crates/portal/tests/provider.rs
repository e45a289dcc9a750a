//! Sign-in through the identity provider, in-process: what the portal does on its own side of
//! the redirect — the link, the flow bound to the browser that started it, refusals as pages,
//! accounts without a password here, idle sessions. The round trip through a real OpenID
//! Connect provider is in the browser suite (`crates/portal/browser/tests/oidc.spec.ts`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{config, get, hidden, pair, portal, portal_configured, post, send, sign_in};
use http::StatusCode;
use utbyte_portal::oidc::{ClaimNames, OidcSettings, OidcSignIn};
use utbyte_portal::throttle::hashing::HashingLimits;
use utbyte_store::{AccountProfile, SignInFlow};

const SESSION: &str = "utbyte-session-malmo-stad";
const FLOW: &str = "utbyte-session-malmo-stad-oidc";

/// A provider nothing answers at (the discard port on loopback).
fn unreachable_provider() -> OidcSignIn {
    OidcSignIn::new(
        OidcSettings {
            issuer: "http://127.0.0.1:9".into(),
            client_id: "utbyte-malmo-stad".into(),
            client_secret: None,
            portal_url: "https://utbyte.malmo.example".into(),
            name: "Malmö stads inloggning".into(),
            scopes: vec!["profile".into()],
            claims: ClaimNames::default(),
            roles: Default::default(),
        },
        http(),
    )
    .unwrap()
}

/// An HTTP client as a node gives the portal: rustls with the ring provider, no redirects.
fn http() -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn with_provider() -> (utbyte_portal::Portal, axum::Router) {
    portal_configured(
        config(Some(unreachable_provider())),
        HashingLimits::default(),
    )
    .await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn without_a_provider_there_is_no_link_and_no_route() {
    let app = portal().await;
    let login = send(&app, get("/portal/login", "")).await;
    assert!(!login.body.contains("oidc-sign-in"));
    for path in ["/portal/oidc/start", "/portal/oidc/callback?state=s&code=c"] {
        assert_eq!(
            send(&app, get(path, "")).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_login_page_links_to_the_provider_and_an_unreachable_one_is_a_503_page() {
    let (_, app) = with_provider().await;
    let login = send(&app, get("/portal/login?next=/portal/requests", "")).await;
    assert!(
        login
            .body
            .contains("href=\"/portal/oidc/start?next=%2Fportal%2Frequests\"")
            && login.body.contains("Logga in via Malmö stads inloggning"),
        "{}",
        login.body
    );
    let start = send(&app, get("/portal/oidc/start?next=/portal/requests", "")).await;
    assert_eq!(start.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(start.body.contains("Inloggningstjänsten kan inte nås"));
    assert!(start
        .cookies
        .iter()
        .all(|c| !c.starts_with(&format!("{FLOW}="))));
}

#[tokio::test]
async fn a_redirect_back_is_taken_only_from_the_browser_that_started_it_and_only_once() {
    let (portal, app) = with_provider().await;
    let store = portal.accounts().store().clone();
    let flow = SignInFlow {
        state: "the-state".into(),
        nonce: "the-nonce".into(),
        verifier: "the-verifier".into(),
        next: "/portal/".into(),
    };
    let begin = |token: &'static str| {
        let store = store.clone();
        let flow = flow.clone();
        async move {
            let hash: [u8; 32] = sha2_of(token);
            store
                .begin_flow(&hash, &flow, now(), now() + 600)
                .await
                .unwrap();
        }
    };
    // No flow cookie, a cookie of no flow, or the wrong state: 400, no session.
    begin("cookie-1").await;
    for (cookie, query) in [
        ("", "state=the-state&code=c"),
        (
            "utbyte-session-malmo-stad-oidc=other",
            "state=the-state&code=c",
        ),
        (
            "utbyte-session-malmo-stad-oidc=cookie-1",
            "state=forged&code=c",
        ),
        // The wrong state took the flow: the right one afterwards finds none.
        (
            "utbyte-session-malmo-stad-oidc=cookie-1",
            "state=the-state&code=c",
        ),
    ] {
        let back = send(&app, get(&format!("/portal/oidc/callback?{query}"), cookie)).await;
        assert_eq!(back.status, StatusCode::BAD_REQUEST, "{cookie} {query}");
        assert!(back.body.contains("Inloggningen misslyckades"));
        assert!(back
            .cookies
            .iter()
            .all(|c| !c.starts_with(&format!("{SESSION}="))));
    }
    // The provider's own refusal is shown as such.
    begin("cookie-2").await;
    let refused = send(
        &app,
        get(
            "/portal/oidc/callback?state=the-state&error=access_denied",
            "utbyte-session-malmo-stad-oidc=cookie-2",
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("avbröt inloggningen"));
    // The flow cookie is cleared, and was only ever sent to the provider's paths.
    let cleared = pair(&refused.cookies, FLOW);
    assert_eq!(cleared, format!("{FLOW}="));
    let set = refused
        .cookies
        .iter()
        .find(|c| c.starts_with(FLOW))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/portal/oidc/"] {
        assert!(set.contains(attribute), "{attribute} missing in {set}");
    }
}

fn sha2_of(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

#[tokio::test]
async fn an_account_the_provider_vouches_for_signs_in_with_no_password_here() {
    let (portal, app) = with_provider().await;
    let store = portal.accounts().store().clone();
    let profile = AccountProfile {
        display_name: "Erik Extern".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        officer_role: "handlaggare".into(),
        roles: vec!["officer".into()],
        disabled: false,
    };
    store
        .sign_in_external("erik", &profile, now())
        .await
        .unwrap();
    for password in ["", "!", common::PASSWORD] {
        let tried = sign_in(&app, "erik", password).await;
        assert_eq!(tried.status, StatusCode::UNAUTHORIZED, "{password:?}");
        assert!(tried.body.contains("Fel användarnamn eller lösenord"));
    }
}

#[tokio::test]
async fn a_session_left_unused_past_the_idle_timeout_is_over() {
    let app = portal().await;
    let signed = sign_in(&app, "anna", common::PASSWORD).await;
    let session = pair(&signed.cookies, SESSION);
    let home = send(&app, get("/portal/", &session)).await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = hidden(&home.body, "csrf");
    assert!(!csrf.is_empty());

    // A session last used 31 minutes ago (the portal's idle timeout is 30) is not live.
    let (portal, app) = portal_configured(config(None), HashingLimits::default()).await;
    let token = "an-idle-session";
    let then = now() - 31 * 60;
    portal
        .accounts()
        .store()
        .create_session(&sha2_of(token), "anna", "csrf", then, then + 3600)
        .await
        .unwrap();
    let idle = send(&app, get("/portal/", &format!("{SESSION}={token}"))).await;
    assert_eq!(idle.status, StatusCode::SEE_OTHER);
    assert!(idle.location.starts_with("/portal/login"));
    let out = send(
        &app,
        post("/portal/logout", &format!("{SESSION}={token}"), "csrf=csrf"),
    )
    .await;
    assert_eq!(
        out.status,
        StatusCode::SEE_OTHER,
        "no session to sign out of"
    );
}
