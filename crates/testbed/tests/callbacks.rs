//! Callbacks end to end: a case system behind https with a certificate from its agency's own
//! CA records what the node sends; the notices are verified with the Standard Webhooks and
//! CloudEvents peer libraries (`scripts/verify-callbacks`, Python). A target that keeps failing
//! is retried with backoff and ends a dead letter, which a replay delivers; a target outside the
//! allow-list is refused when the request is made.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::Value;
use tokio::net::TcpListener;
use utbyte_node::{AgencyTrust, CallbacksConfig};
use utbyte_testbed::loopback::LoopbackFederation;

const MALMO_FK: [&str; 2] = ["malmo-stad", "forsakringskassan"];

/// One request the case system received.
#[derive(Debug, Clone)]
struct Recorded {
    headers: BTreeMap<String, String>,
    body: String,
}

/// A case system's callback endpoint over https, answering with a status the test sets.
struct CaseSystem {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Recorded>>>,
    status: Arc<AtomicU16>,
    /// The agency CA that issued its certificate, as PEM.
    ca_pem: String,
}

impl CaseSystem {
    async fn start() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let certificate = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(204));
        let (log, answer) = (Arc::clone(&received), Arc::clone(&status));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, log, answer) =
                    (acceptor.clone(), Arc::clone(&log), Arc::clone(&answer));
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let (log, answer) = (Arc::clone(&log), Arc::clone(&answer));
                            async move {
                                let headers = request
                                    .headers()
                                    .iter()
                                    .map(|(n, v)| {
                                        (n.to_string(), v.to_str().unwrap_or("").to_owned())
                                    })
                                    .collect();
                                let body = request.into_body().collect().await?.to_bytes();
                                log.lock().unwrap().push(Recorded {
                                    headers,
                                    body: String::from_utf8_lossy(&body).into_owned(),
                                });
                                let mut response = http::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() =
                                    http::StatusCode::from_u16(answer.load(Ordering::SeqCst))
                                        .unwrap();
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            status,
            ca_pem: ca.pem(),
        }
    }

    fn prefix(&self) -> String {
        format!("https://localhost:{}/hooks/", self.addr.port())
    }

    fn received(&self) -> Vec<Recorded> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until it has received `count` requests.
    async fn wait_for(&self, count: usize, within: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Malmö and Försäkringskassan, Malmö's node allowed to call `case` back (and what
/// `callbacks` allows besides), with its secret in `dir/callback.secret`.
async fn federation_calling(
    case: &CaseSystem,
    dir: &std::path::Path,
    callbacks: CallbacksConfig,
) -> LoopbackFederation {
    let mut plan = plan(dir.join("f"), &MALMO_FK);
    let allow = [vec![case.prefix()], callbacks.allow.clone()].concat();
    plan.callbacks = CallbacksConfig {
        allow,
        secret_file: Some(dir.join("callback.secret")),
        ..callbacks
    };
    plan.agency_trust = Some(AgencyTrust::from_pem(case.ca_pem.as_bytes()).unwrap());
    LoopbackFederation::start(plan).await.unwrap()
}

/// Runs `scripts/verify-callbacks`: the notices as the peer libraries read them, or the
/// script's complaint. Fails, never skips, when Python or the packages are missing.
fn verify(secret: &str, requests: &[Recorded]) -> Result<Vec<Value>, String> {
    use std::io::Write;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-callbacks");
    let input = serde_json::json!({
        "secret": secret,
        "requests": requests
            .iter()
            .map(|r| serde_json::json!({"headers": r.headers, "body": r.body}))
            .collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new("python3")
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (the callbacks test needs it: pip install -r requirements.txt)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the Python packages are missing (pip install -r requirements.txt): {stderr}"
    );
    if !output.status.success() {
        return Err(stderr);
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_request_is_announced_over_https_signed_and_as_a_thin_cloudevent() {
    let case = CaseSystem::start().await;
    let dir = tempfile::tempdir().unwrap();
    let federation = federation_calling(&case, dir.path(), CallbacksConfig::default()).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();

    // Outside the allow-list: refused before anything is sent, naming the field.
    let mut elsewhere = luffa_case(&open[0], &["forman"]);
    elsewhere["callback"] = Value::from("https://case.evil.example/hooks/1");
    let refused = submit(malmo, "cb-refused", &elsewhere).await;
    assert_problem(&refused, 422, "callback-not-allowed");
    assert_eq!(refused.body["field"], "callback");
    let mut metadata = luffa_case(&open[0], &["forman"]);
    metadata["callback"] = Value::from("http://169.254.169.254/latest/meta-data");
    assert_problem(
        &submit(malmo, "cb-metadata", &metadata).await,
        422,
        "callback-not-allowed",
    );

    let mut request = luffa_case(&open[0], &["forman", "belopp"]);
    request["callback"] = Value::from(format!("{}case-1", case.prefix()));
    let answer = submit(malmo, "cb-case-1", &request).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let disclosed: Vec<String> = answer.body["values"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.to_string())
        .collect();
    assert!(!disclosed.is_empty());

    let received = case.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1, "one notice, delivered once");
    let notice = &received[0];
    assert_eq!(
        notice.headers["content-type"],
        "application/cloudevents+json"
    );
    for value in disclosed.iter().chain([&open[0]]) {
        assert!(
            !notice.body.contains(value.trim_matches('"')),
            "the notice holds a disclosed value or the subject: {}",
            notice.body
        );
    }
    let secret = std::fs::read_to_string(dir.path().join("callback.secret")).unwrap();
    let events = verify(secret.trim(), &received).unwrap();
    let event = &events[0];
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "se.utbyte.request.decided");
    assert_eq!(event["source"], "urn:utbyte:node:malmo-stad");
    assert_eq!(event["subject"], "cb-case-1");
    assert_eq!(event["id"], event["webhook_id"]);
    assert_eq!(event["data"]["status"], "answered");
    assert_eq!(event["data"]["href"], "/v1/requests/cb-case-1");

    // The peer library is not a rubber stamp: a changed body or another secret fails.
    let mut tampered = received.clone();
    tampered[0].body = tampered[0].body.replace("answered", "refused");
    assert!(verify(secret.trim(), &tampered).is_err());
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(verify(other, &received).is_err());

    let listed = call(malmo, "GET", "/v1/callbacks?state=delivered", &[], None).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    assert_eq!(listed.body[0]["id"], event["id"]);
    assert_eq!(listed.body[0]["attempts"], 1);
    federation.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_is_retried_with_backoff_ends_dead_and_a_replay_delivers_it() {
    let case = CaseSystem::start().await;
    case.status.store(503, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let schedule = CallbacksConfig {
        max_attempts: 3,
        backoff_base_seconds: 1,
        backoff_cap_seconds: 2,
        ..CallbacksConfig::default()
    };
    let federation = federation_calling(&case, dir.path(), schedule).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let mut request = luffa_case(&open[0], &["forman"]);
    request["callback"] = Value::from(format!("{}failing", case.prefix()));
    assert_eq!(submit(malmo, "cb-failing", &request).await.status, 200);

    let dead = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let listed = call(malmo, "GET", "/v1/callbacks?state=dead", &[], None).await;
            assert_eq!(listed.status, 200, "{:#}", listed.body);
            if let Some(dead) = listed.body.as_array().unwrap().first() {
                break dead.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "never became dead");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(dead["attempts"], 3);
    assert_eq!(
        dead["last_error"],
        "it answered with status 503 Service Unavailable"
    );
    let attempts = case.received();
    assert_eq!(attempts.len(), 3, "exactly max_attempts tries");
    let ids: Vec<_> = attempts
        .iter()
        .map(|a| a.headers["webhook-id"].clone())
        .collect();
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "one notice id on every attempt"
    );
    let times: Vec<i64> = attempts
        .iter()
        .map(|a| a.headers["webhook-timestamp"].parse().unwrap())
        .collect();
    // Backoff 1 s then 2 s (equal jitter: at least half of each).
    assert!(times[2] - times[0] >= 1, "attempts were spaced: {times:?}");

    // Replay: pending again with a fresh run, delivered once the target answers.
    case.status.store(200, Ordering::SeqCst);
    let id = dead["id"].as_str().unwrap();
    let replayed = call(
        malmo,
        "POST",
        &format!("/v1/callbacks/{id}/replay"),
        &[],
        None,
    )
    .await;
    assert_eq!(replayed.status, 200, "{:#}", replayed.body);
    assert_eq!(replayed.body["state"], "pending");
    assert_eq!(replayed.body["attempts"], 0);
    let received = case.wait_for(4, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 4);
    let secret = std::fs::read_to_string(dir.path().join("callback.secret")).unwrap();
    verify(secret.trim(), &received[3..]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = call(malmo, "GET", "/v1/callbacks?state=delivered", &[], None).await;
        if listed.body.as_array().is_some_and(|a| !a.is_empty()) {
            assert_eq!(listed.body[0]["id"], id);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recorded delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Only a dead notice can be replayed; an unknown id is not found.
    let again = call(
        malmo,
        "POST",
        &format!("/v1/callbacks/{id}/replay"),
        &[],
        None,
    )
    .await;
    assert_problem(&again, 409, "callback-not-dead");
    let unknown = call(malmo, "POST", "/v1/callbacks/nope/replay", &[], None).await;
    assert_problem(&unknown, 404, "callback-not-found");
    federation.stop().await;
}

/// Waits until `silent` is called, keeps the connection open and unanswered in `held`, and
/// says when.
async fn dialled(
    silent: &std::net::TcpListener,
    held: &mut Vec<std::net::TcpStream>,
) -> tokio::time::Instant {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match silent.accept() {
            Ok((stream, _)) => {
                held.push(stream);
                return tokio::time::Instant::now();
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(tokio::time::Instant::now() < deadline, "never called");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => panic!("{err}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_system_that_does_not_answer_does_not_hold_up_the_notices_beside_it() {
    let case = CaseSystem::start().await;
    // Another case system's URL: it takes the connection and never answers, so each notice to
    // it waits out the 5 s a case system is given.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let silent_prefix = format!(
        "https://localhost:{}/hooks/",
        silent.local_addr().unwrap().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let also = CallbacksConfig {
        allow: vec![silent_prefix.clone()],
        ..CallbacksConfig::default()
    };
    let federation = federation_calling(&case, dir.path(), also).await;
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let ask = |key: &'static str, callback: String| {
        let mut request = luffa_case(&open[0], &["forman"]);
        request["callback"] = Value::from(callback);
        async move { assert_eq!(submit(malmo, key, &request).await.status, 200) }
    };
    let mut held = Vec::new();

    // A first notice to the silent URL holds its round; two more are decided meanwhile, the
    // silent one first, so the next round takes both, in that order.
    ask("cb-silent-1", format!("{silent_prefix}1")).await;
    dialled(&silent, &mut held).await;
    ask("cb-silent-2", format!("{silent_prefix}2")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ask("cb-beside", format!("{}beside", case.prefix())).await;
    assert!(
        case.received().is_empty(),
        "the round still waits on the first"
    );

    // When that round takes the two, the one beside is not posted after the silent one.
    let second_round = dialled(&silent, &mut held).await;
    let received = case.wait_for(1, Duration::from_secs(20)).await;
    let waited = second_round.elapsed();
    assert_eq!(received.len(), 1);
    assert!(
        waited < Duration::from_secs(3),
        "the notice beside came {waited:?} after the silent one was posted"
    );
    drop(held);
    federation.stop().await;
}

/// A message arriving at Försäkringskassan is announced to its case system: a thin CloudEvent
/// (`se.utbyte.message.received`: sender, id, unit, kind and where to fetch it — no content),
/// signed per Standard Webhooks, verified with the peer libraries; the link opens the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arriving_message_is_announced_signed_and_as_a_thin_cloudevent() {
    let case = CaseSystem::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &MALMO_FK);
    plan.callbacks = CallbacksConfig {
        allow: vec![case.prefix()],
        secret_file: Some(dir.path().join("callback.secret")),
        ..CallbacksConfig::default()
    };
    plan.messages.callback = Some(format!("{}arrivals", case.prefix()));
    plan.agency_trust = Some(AgencyTrust::from_pem(case.ca_pem.as_bytes()).unwrap());
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let fk = federation.node("forsakringskassan").unwrap().local_addr;
    let secret_text = "Uppgifterna finns i bifogat underlag.";
    let letter = serde_json::json!({
        "officer": "malmo-h4711", "unit": "malmo-ekonomiskt-bistand", "role": "handlaggare",
        "to": {"authority": "forsakringskassan", "unit": "fk-kontroll"},
        "kind": {"type": "free_text"},
        "title": "Fråga", "text": secret_text, "case_ref": "ASN-2026-1",
    });
    let sent = call(
        malmo,
        "POST",
        "/v1/messages",
        &[("idempotency-key", "letter-1")],
        Some(serde_json::to_vec(&letter).unwrap()),
    )
    .await;
    assert_eq!(sent.status, 201, "{:#}", sent.body);
    let id = sent.body["id"].as_str().unwrap();

    let received = case.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(received.len(), 1, "one announcement");
    assert!(
        !received[0].body.contains(secret_text) && !received[0].body.contains("Fråga"),
        "an announcement carries no content: {}",
        received[0].body
    );
    let secret = std::fs::read_to_string(dir.path().join("callback.secret")).unwrap();
    let events = verify(secret.trim(), &received).unwrap();
    let event = &events[0];
    assert_eq!(event["type"], "se.utbyte.message.received");
    assert_eq!(event["source"], "urn:utbyte:node:forsakringskassan");
    assert_eq!(event["subject"], id);
    assert_eq!(event["data"]["sender"], "malmo-stad");
    assert_eq!(event["data"]["unit"], "fk-kontroll");
    assert_eq!(event["data"]["kind"], "free_text");
    let href = event["data"]["href"].as_str().unwrap();
    let opened = call(fk, "GET", href, &[], None).await;
    assert_eq!(opened.status, 200, "{:#}", opened.body);
    assert_eq!(opened.body["content"]["text"], secret_text);
    // Delivered once: no second announcement follows.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(case.received().len(), 1);
    federation.stop().await;
}

/// The notices of Malmö's subscription are pushed to its case system in order, as batches of
/// CloudEvents signed per Standard Webhooks and read by the peer libraries; a case system that
/// keeps failing stops the push (`dead`) until an administrator re-enables it, and then every
/// notice arrives, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_are_pushed_in_order_as_signed_cloudevent_batches_and_resume_after_dead() {
    let case = CaseSystem::start().await;
    case.status.store(503, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let mut plan = plan(dir.path().join("f"), &MALMO_FK);
    plan.callbacks = CallbacksConfig {
        allow: vec![case.prefix()],
        secret_file: Some(dir.path().join("callback.secret")),
        max_attempts: 2,
        backoff_base_seconds: 1,
        backoff_cap_seconds: 1,
        ..CallbacksConfig::default()
    };
    plan.subscriptions.webhook = Some(format!("{}notices", case.prefix()));
    plan.agency_trust = Some(AgencyTrust::from_pem(case.ca_pem.as_bytes()).unwrap());
    let federation = LoopbackFederation::start(plan).await.unwrap();
    let malmo = federation.node("malmo-stad").unwrap().local_addr;
    let (open, _) = fk_subjects();
    let subscribe = serde_json::json!({
        "subscription_id": "bidrag-push",
        "officer": "malmo-h4711", "unit": "malmo-ekonomiskt-bistand", "role": "handlaggare",
        "offering": "fk-formaner", "events": ["utbetalning-andrad"],
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": "ASN-2026-004513",
        "ends": (time::OffsetDateTime::now_utc() + time::Duration::days(30))
            .format(&time::format_description::well_known::Rfc3339).unwrap(),
        "subjects": [open[0].clone(), open[1].clone()],
    });
    let made = call(
        malmo,
        "POST",
        "/v1/subscriptions",
        &[],
        Some(serde_json::to_vec(&subscribe).unwrap()),
    )
    .await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    let register = federation.register("forsakringskassan").unwrap();
    let write = |subject: &str, amount: u32| {
        let subject: utbyte_domain::SubjectId = subject.parse().unwrap();
        let mut batch = utbyte_store::RegisterBatch::new();
        batch.subject(subject, false).record(
            "fk-formaner",
            subject,
            "belopp",
            serde_json::json!(amount),
        );
        batch
    };
    use utbyte_store::Register as _;
    for (i, subject) in [&open[0], &open[1], &open[0]].into_iter().enumerate() {
        register
            .insert(&write(subject, 500 + i as u32))
            .await
            .unwrap();
    }

    // Failing twice: given up, and said so to the administrator.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let dead = loop {
        let push = call(malmo, "GET", "/v1/notices/push", &[], None).await;
        assert_eq!(push.status, 200, "{:#}", push.body);
        if push.body["dead"] == true {
            break push.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never given up: {:#}",
            push.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(dead["through"], 0);
    assert_eq!(dead["configured"], true);
    let tried = case.received().len();
    assert!(tried >= 2, "{tried}");

    // Re-enabled with the case system answering: every notice, in order, once.
    case.status.store(204, Ordering::SeqCst);
    let enabled = call(malmo, "POST", "/v1/notices/push", &[], None).await;
    assert_eq!(enabled.status, 200, "{:#}", enabled.body);
    assert_eq!(enabled.body["dead"], false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        let received = case.received();
        let accepted: Vec<Recorded> = received[tried..].to_vec();
        let events = if accepted.is_empty() {
            Vec::new()
        } else {
            let secret = std::fs::read_to_string(dir.path().join("callback.secret")).unwrap();
            verify(secret.trim(), &accepted).unwrap()
        };
        if events.len() >= 3 {
            break (accepted, events);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} pushed",
            events.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (requests, events) = delivered;
    assert_eq!(
        requests[0].headers["content-type"],
        "application/cloudevents-batch+json"
    );
    let subjects: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [&open[0], &open[1], &open[0]]);
    let ids: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "no notice twice");
    for event in &events {
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["type"], "se.utbyte.subscription.notice");
        assert_eq!(event["source"], "urn:utbyte:node:forsakringskassan");
        assert_eq!(event["subject"], "bidrag-push");
        assert_eq!(event["data"]["fields"], serde_json::json!(["belopp"]));
        // What changed, never to what: no member holds a value.
        let members: std::collections::BTreeSet<&str> = event["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            members.into_iter().collect::<Vec<_>>(),
            [
                "changed_at",
                "events",
                "fields",
                "offering",
                "provider",
                "provider_seq",
                "received_at",
                "seq",
                "subject",
                "subscription"
            ]
        );
    }
    let push = call(malmo, "GET", "/v1/notices/push", &[], None).await;
    assert_eq!(push.body["attempts"], 0);
    assert!(push.body["through"].as_u64().unwrap() >= 3);
    federation.stop().await;
}
