//! What the in-process portal tests share: a portal with three accounts over a node API with no
//! routes, and requests sent to it with or without a client address.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use tower::ServiceExt;
use utbyte_portal::throttle::hashing::HashingLimits;
use utbyte_portal::{Portal, PortalConfig};
use utbyte_store::{AccountProfile, AccountStore};

pub const PASSWORD: &str = "correct horse battery staple";

/// A portal with the officers `anna` and `tom` and the reviewer `rut`, all with [`PASSWORD`].
pub async fn portal() -> Router {
    portal_with(HashingLimits::default()).await.1
}

pub async fn portal_with(limits: HashingLimits) -> (Portal, Router) {
    portal_configured(config(None), limits).await
}

/// The portal's configuration in these tests, signing in through `oidc` if given.
pub fn config(oidc: Option<utbyte_portal::oidc::OidcSignIn>) -> PortalConfig {
    PortalConfig {
        authority: "malmo-stad".into(),
        authority_name: "Malmö stad".into(),
        secure_cookies: true,
        session_lifetime: time::Duration::hours(1),
        idle_timeout: time::Duration::minutes(30),
        oidc,
    }
}

/// A portal with `config` and the accounts of [`portal`].
pub async fn portal_configured(config: PortalConfig, limits: HashingLimits) -> (Portal, Router) {
    let store = AccountStore::open_in_memory().await.unwrap();
    let portal = Portal::with_limits(store, config, limits).unwrap();
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
    let router = portal.router(Router::new());
    (portal, router)
}

pub struct Reply {
    pub status: StatusCode,
    pub location: String,
    pub retry_after: Option<u64>,
    pub cookies: Vec<String>,
    pub body: String,
}

pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers();
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let location = text(header::LOCATION).unwrap_or_default();
    let retry_after = text(header::RETRY_AFTER).map(|v| v.parse().unwrap());
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        location,
        retry_after,
        cookies,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

pub fn post(path: &str, cookie: &str, form: &str) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// The request as if it came over a connection from `address` (as the node's listeners mark
/// every request).
pub fn from(address: &str, mut request: Request<Body>) -> Request<Body> {
    let address: SocketAddr = address.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(address));
    request
}

/// `name=value` of the Set-Cookie named `name`.
pub fn pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no cookie {name} in {cookies:?}"))
}

pub fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

/// The sign-in form's cookie and CSRF token (fetched once; any number of sign-ins may use them).
pub async fn login_form(app: &Router) -> (String, String) {
    let page = send(app, get("/portal/login", "")).await;
    (
        pair(&page.cookies, "utbyte-session-malmo-stad-login"),
        hidden(&page.body, "csrf"),
    )
}

/// The sign-in POST for `username` and `password` with the form's cookie and token.
pub fn sign_in_request(form: &(String, String), username: &str, password: &str) -> Request<Body> {
    let (cookie, csrf) = form;
    let fields: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("username", username)
        .append_pair("password", password)
        .append_pair("csrf", csrf)
        .append_pair("next", "/portal/")
        .finish();
    post("/portal/login", cookie, &fields)
}

/// Signs in without a client address (the one unknown source).
pub async fn sign_in(app: &Router, username: &str, password: &str) -> Reply {
    let form = login_form(app).await;
    send(app, sign_in_request(&form, username, password)).await
}

/// Signs in from `address`.
pub async fn sign_in_from(app: &Router, address: &str, username: &str, password: &str) -> Reply {
    let form = login_form(app).await;
    send(
        app,
        from(address, sign_in_request(&form, username, password)),
    )
    .await
}
