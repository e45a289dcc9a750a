//! `utbyte node serve --config node.toml`: a node run from its configuration file joins a
//! federation and exchanges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::free_port;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;
use utbyte_synthetic::Population;
use utbyte_testbed::loopback::{credentials, LoopbackFederation, Plan};

/// The case system's access token, from the federation's issuer.
static TOKEN: OnceLock<String> = OnceLock::new();

fn bearer() -> String {
    format!("Bearer {}", TOKEN.get().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_from_a_configuration_file_joins_the_federation_and_asks() {
    let dir = tempfile::tempdir().unwrap();
    let rulebook = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
    let plan = Plan::new(
        dir.path().join("federation"),
        utbyte_rules::rulebook::read_dir(&rulebook).unwrap(),
        &["skatteverket"],
        Population {
            seed: 1,
            persons: 100,
        },
    )
    .unwrap();
    TOKEN
        .set(plan.issuer.access_token("arende").unwrap())
        .unwrap();
    let federation = LoopbackFederation::start(plan).await.unwrap();

    // Polismyndigheten joins: a certificate from the federation CA, an answer key, and an entry
    // in the directory's configuration.
    let pki = dir.path().join("police-pki");
    let creds = credentials(
        &federation.ca,
        &pki,
        "polismyndigheten",
        "202100-0076",
        "Polismyndigheten",
    )
    .unwrap();
    let data = dir.path().join("police-data");
    let key = utbyte_node::answer_key(&data).unwrap();
    let (federation_port, local_port, portal_port) = (free_port(), free_port(), free_port());
    // The portal's own TLS certificate, made as an agency would with openssl.
    let made = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-keyout", "portal.key", "-out", "portal.crt"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    federation
        .publisher
        .update(time::OffsetDateTime::now_utc(), |config| {
            config.members.push(utbyte_federation::Member {
                authority: "polismyndigheten".into(),
                name: "Polismyndigheten".into(),
                orgnr: "202100-0076".into(),
                endpoint: format!("https://127.0.0.1:{federation_port}"),
                certificates: vec![creds.certificate.fingerprint().to_string()],
                answer_key: utbyte_node::encode_key(&key.verifying_key()),
                message_keys: Vec::new(),
            })
        })
        .unwrap();
    federation
        .node("skatteverket")
        .unwrap()
        .refresh()
        .await
        .unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            r#"authority = "polismyndigheten"
data_dir = "police-data"
credentials_dir = "police-pki/polismyndigheten"
federation_listen = "127.0.0.1:{federation_port}"
local_listen = "127.0.0.1:{local_port}"
refresh_seconds = 60

[directory]
endpoint = "https://{}"
authority = "digg"
key = "{}"

[portal]
name = "Polismyndigheten"
listen = "127.0.0.1:{portal_port}"
certificate = "portal.crt"
key = "portal.key"
url = "https://localhost:{portal_port}"

[access]
plain_http = true

[access.tokens]
issuer = "{}"
audience = "{}"
jwks = "federation/access/jwks.json"

[[access.client]]
id = "arende"
duties = ["request"]
units = ["pm-noa"]
officers = "trusted"
"#,
            federation.directory_addr,
            utbyte_node::encode_key(&federation.publisher_key()),
            utbyte_testbed::access::ISSUER,
            utbyte_testbed::access::AUDIENCE,
        ),
    )
    .unwrap();
    // The first administrator is added from the command line; the password comes on stdin.
    let add = |password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_utbyte"))
            .args(["node", "add-account", "--config", config.to_str().unwrap()])
            .args(["--username", "chef", "--name", "Chef", "--unit", "pm-noa"])
            .args([
                "--officer-role",
                "underrattelseanalytiker",
                "--role",
                "admin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = add("kort");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12"));
    let added = add("ett långt nog lösenord");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = add("ett långt nog lösenord");
    assert!(!again.status.success(), "the username is taken");

    let mut node = Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(["node", "serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(node.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.contains(&format!("portal https://localhost:{portal_port}/portal/")),
        "{first}"
    );
    // The portal on its own TLS listener, answering only to its own names.
    let portal = |host: &str| {
        let out = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", "--cacert"])
            .arg(dir.path().join("portal.crt"))
            .args(["-H", &format!("Host: {host}")])
            .arg(format!("https://localhost:{portal_port}/portal/login"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let login = portal(&format!("localhost:{portal_port}"));
    assert!(
        login.contains("<title>Logga in – Utbytesportalen – Polismyndigheten</title>")
            && login.ends_with("200"),
        "{login}"
    );
    assert!(portal("evil.example").ends_with("421"));
    // The local API serves no pages.
    let pages = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{local_port}/portal/login"))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&pages.stdout), "200");

    let body = serde_json::json!({
        "subject": "19121212-1212", "offering": "skv-inkomst", "fields": ["lon"],
        "purpose": "myndighetsgemensam-insats", "legal_basis": "sfs-2016-774",
        "case_ref": "5000-K1-26", "officer": "pm-1", "role": "underrattelseanalytiker", "unit": "pm-noa"
    });
    let out = Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            &format!("http://127.0.0.1:{local_port}/v1/requests"),
        ])
        .args([
            "-H",
            "Content-Type: application/json",
            "-H",
            "Idempotency-Key: cli-1",
            "-H",
            &format!("Authorization: {}", bearer()),
        ])
        .args(["--data", &body.to_string()])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["provider"], "skatteverket", "{answer:#}");
    assert_eq!(
        answer["fields"][0]["outcome"], "refuse",
        "no joint operation named: {answer:#}"
    );

    // SIGTERM under load: the node stops accepting, finishes what it took, and exits 0; every
    // request it answered is still answered after a restart, and none is left in flight.
    let local = format!("127.0.0.1:{local_port}");
    let load: Vec<_> = (0..40)
        .map(|i| {
            let local = local.clone();
            let body = body.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(i * 10)).await;
                let key = format!("term-{i}");
                let answered = post(&local, &key, &body).await;
                (key, answered)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status()
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut keys = Vec::new();
    for task in load {
        let (key, answered) = task.await.unwrap();
        if let Some(Some(answer)) = &answered {
            acknowledged.push((key.clone(), answer.clone()));
        }
        keys.push(key);
    }
    assert!(node.wait().unwrap().success(), "exit 0 after SIGTERM");
    assert!(
        !acknowledged.is_empty(),
        "some requests were answered before the signal"
    );

    let mut node = Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(["node", "serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    BufReader::new(node.stdout.take().unwrap())
        .read_line(&mut String::new())
        .unwrap();
    for key in &keys {
        let status = get_status(&local, key).await;
        assert!(
            status == 200 || status == 404,
            "request {key} is {status} after the restart: left half-done"
        );
    }
    for (key, answer) in &acknowledged {
        assert_eq!(get_status(&local, key).await, 200, "{key} was acknowledged");
        let again = post(&local, key, &body).await.unwrap().unwrap();
        assert_eq!(
            &again["receipt"], &answer["receipt"],
            "{key}: the same answer"
        );
    }
    Command::new("kill")
        .args(["-INT", &node.id().to_string()])
        .status()
        .unwrap();
    assert!(node.wait().unwrap().success());
    federation.stop().await;
}

fn client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
> {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

/// POSTs a request: `None` when the node did not take it (connection refused or closed),
/// `Some(None)` for an answer other than 200, `Some(Some(answer))` for an answer.
async fn post(
    local: &str,
    key: &str,
    body: &serde_json::Value,
) -> Option<Option<serde_json::Value>> {
    use http_body_util::BodyExt;
    let request = http::Request::post(format!("http://{local}/v1/requests"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .header("authorization", bearer())
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .unwrap();
    let response = client().request(request).await.ok()?;
    let status = response.status();
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    Some((status == 200).then(|| serde_json::from_slice(&bytes).unwrap()))
}

async fn get_status(local: &str, key: &str) -> u16 {
    let request = http::Request::get(format!("http://{local}/v1/requests/{key}"))
        .header("authorization", bearer())
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    client().request(request).await.unwrap().status().as_u16()
}
