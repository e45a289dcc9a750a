//! The logs name no one: every line the utbyte crates write, at every level down to `trace`,
//! while a loopback federation runs a representative set of exchanges — a disclosure, a review
//! decided by a reviewer, a refusal, an invalid subject, a subject-access report, portal
//! sign-ins that succeed and fail — is collected as JSON, and none may contain an identifier
//! used (in any way it can be written), a disclosed value, or a password.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;
use utbyte_portal::{Portal, PortalConfig};
use utbyte_store::AccountProfile;
use utbyte_testbed::loopback::LoopbackFederation;

const AUTHORITIES: [&str; 3] = ["forsakringskassan", "malmo-stad", "polismyndigheten"];
const PASSWORD: &str = "korrekt-hast-batteri-4711";
const WRONG_PASSWORD: &str = "fel-losenord-0815";

/// Every byte the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every way `subject` can be written: 12 digits, 10 digits, with `-` or `+` before the last
/// four, and the century-long form with `-`.
fn written_forms(subject: &str) -> Vec<String> {
    let digits: String = subject.chars().filter(char::is_ascii_digit).collect();
    let ten = digits[digits.len() - 10..].to_owned();
    let mut forms = vec![
        digits.clone(),
        ten.clone(),
        format!("{}-{}", &ten[..6], &ten[6..]),
        format!("{}+{}", &ten[..6], &ten[6..]),
    ];
    if digits.len() == 12 {
        forms.push(format!("{}-{}", &digits[..8], &digits[8..]));
    }
    forms
}

/// Whether `needle` occurs in `text` as a token of its own (not inside a longer word or
/// number), which is how a leaked value would stand in a log line.
fn occurs(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Every string and number inside a JSON value.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(members) => members.values().for_each(|v| leaves(v, out)),
        _ => {}
    }
}

/// The federation, Malmö's local API and Malmö's portal.
async fn with_portal(dir: &std::path::Path) -> (LoopbackFederation, SocketAddr, SocketAddr) {
    let mut plan = plan(dir.join("f"), &AUTHORITIES);
    let portal_dir = dir.join("portal");
    std::fs::create_dir_all(&portal_dir).unwrap();
    let portal = Portal::open(
        &portal_dir,
        PortalConfig {
            authority: "malmo-stad".into(),
            authority_name: "Malmö stad".into(),
            secure_cookies: false,
            session_lifetime: time::Duration::hours(1),
            idle_timeout: time::Duration::minutes(30),
            oidc: None,
        },
    )
    .await
    .unwrap();
    let profile = AccountProfile {
        display_name: "Anna Handläggare".into(),
        unit: "malmo-ekonomiskt-bistand".into(),
        officer_role: "handlaggare".into(),
        roles: vec!["officer".into()],
        disabled: false,
    };
    portal
        .accounts()
        .create("handlaggare", &profile, PASSWORD)
        .await
        .unwrap();
    plan.frontends.insert(
        "malmo-stad".into(),
        utbyte_node::Frontend::new(move |api| portal.router(api)),
    );
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap();
    let (api, portal) = (malmo.local_addr, malmo.portal_addr.unwrap());
    (federation, api, portal)
}

/// Signs in through the portal's form; the HTTP status of the answer.
async fn sign_in(addr: SocketAddr, password: &str) -> u16 {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let page = client
        .get(format!("http://{addr}/portal/login").parse().unwrap())
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = String::from_utf8(
        page.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let form = format!("csrf={csrf}&next=%2Fportal%2F&username=handlaggare&password={password}");
    let request = http::Request::post(format!("http://{addr}/portal/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    client.request(request).await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_carries_an_identifier_a_disclosed_value_or_a_password() {
    let captured = Captured::default();
    let filter = tracing_subscriber::EnvFilter::new(
        "info,utbyte_node=trace,utbyte_http=trace,utbyte_portal=trace,utbyte_testbed=trace,\
         utbyte_directory=trace,utbyte_audit=trace,utbyte_ledger=trace,utbyte_store=trace,\
         utbyte_federation=trace,utbyte_rules=trace,utbyte_adapters=trace,utbyte_pki=trace",
    );
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(captured.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let (federation, malmo, malmo_portal) = with_portal(dir.path()).await;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let (open, protected) = fk_subjects();
    let mut used = vec![open[0].clone(), open[1].clone(), protected[0].clone()];
    let mut disclosed = Vec::new();

    let answer = submit(
        malmo,
        "logs-1",
        &luffa_case(&open[0], &["forman", "belopp"]),
    )
    .await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert!(!answer.body["values"].as_object().unwrap().is_empty());
    leaves(&answer.body["values"], &mut disclosed);

    let refused = submit(malmo, "logs-2", &luffa_case(&open[1], &["diagnos"])).await;
    assert_eq!(refused.status, 200, "{:#}", refused.body);

    let review = submit(malmo, "logs-3", &luffa_case(&protected[0], &["forman"])).await;
    assert_eq!(review.status, 202, "{:#}", review.body);
    let ticket = review.body["ticket"].as_str().unwrap();
    let decided = disclose_in_review(fk, ticket, "forman").await;
    assert_eq!(decided.status, 200, "{:#}", decided.body);
    wait_answered(malmo, "logs-3").await;
    let fetched = call(malmo, "GET", "/v1/requests/logs-3", &[], None).await;
    assert_eq!(fetched.status, 200, "{:#}", fetched.body);
    leaves(&fetched.body["values"], &mut disclosed);

    // An identifier that fails its check digit: refused, and named nowhere.
    let mut invalid = open[2].clone();
    let last = invalid.pop().unwrap();
    invalid.push(if last == '0' { '1' } else { '0' });
    used.push(invalid.clone());
    let rejected = submit(malmo, "logs-4", &luffa_case(&invalid, &["forman"])).await;
    assert_problem(&rejected, 422, "invalid-subject");

    // The subject-access report, asked for with the identifier in the body.
    let body = serde_json::to_vec(&json!({ "subject": open[0] })).unwrap();
    let report = call(fk, "POST", "/v1/audit/subject", &[], Some(body)).await;
    assert_eq!(report.status, 200, "{:#}", report.body);

    // Portal sign-ins: one right, one wrong.
    assert_eq!(sign_in(malmo_portal, PASSWORD).await, 303);
    assert_eq!(sign_in(malmo_portal, WRONG_PASSWORD).await, 401);
    federation.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // The run was logged at all: every line is JSON, and the lines that matter are there.
    for line in &lines {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    for expected in [
        "exchange decided",
        "review decided",
        "answer accepted",
        "federation configuration changed",
        "portal sign-in",
        "portal sign-in rejected",
        "\"status\":422",
    ] {
        assert!(text.contains(expected), "no line with `{expected}`");
    }
    assert!(
        text.contains("\"outcome\":\"refused\""),
        "no refusal logged"
    );
    assert!(lines.len() > 30, "only {} lines", lines.len());

    for subject in &used {
        for form in written_forms(subject) {
            let leaked: Vec<&&str> = lines.iter().filter(|l| l.contains(&form)).collect();
            assert!(leaked.is_empty(), "`{form}` is in the log:\n{leaked:#?}");
        }
    }
    assert!(!disclosed.is_empty());
    for value in disclosed.iter().filter(|v| v.len() >= 3) {
        let leaked: Vec<&&str> = lines.iter().filter(|l| occurs(l, value)).collect();
        assert!(
            leaked.is_empty(),
            "disclosed value `{value}` is in the log:\n{leaked:#?}"
        );
    }
    for secret in [PASSWORD, WRONG_PASSWORD] {
        assert!(!text.contains(secret), "a password is in the log");
    }
}
