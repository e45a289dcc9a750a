//! The deployment guide (`docs/deployment.md`), followed step by step with the real `utbyte`
//! binary: a CA, a directory and two nodes from configuration files, register data loaded from
//! a file, a request exchanged and found in both ledgers, an operator's change picked up while
//! everything runs, a broken rulebook refused, and every version listed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `utbyte ARGS` in `dir` and returns its output, failing the test unless it succeeds.
fn utbyte(dir: &Path, args: &[&str]) -> String {
    let out = try_utbyte(dir, args);
    assert!(
        out.status.success(),
        "utbyte {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn try_utbyte(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// Starts `utbyte ARGS` in `dir` and waits for its first line (printed once it serves).
fn start(dir: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (child, first)
}

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.parse().unwrap_or(0), body.to_owned())
}

/// Polls `probe` every 200 ms until it holds, for at most `limit`.
fn eventually(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn stop(mut child: Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success(), "exits 0 on SIGTERM");
}

/// Runs `openssl ARGS` in `dir`, failing the test unless it succeeds.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Step 1b of the guide: the authority's own CA (`DIR/agency-ca.pem`), the local listener's
/// certificate (`DIR/local.crt`) and a certificate for its case system `client`.
fn agency_pki(root: &Path, dir: &str, client: &str) {
    let p256 = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let at = |file: &str| format!("{dir}/{file}");
    openssl(
        root,
        &[
            &["req", "-x509"][..],
            &p256,
            &[
                "-days",
                "3650",
                "-subj",
                &format!("/CN={dir} agency CA"),
                "-keyout",
                &at("agency-ca.key"),
                "-out",
                &at("agency-ca.pem"),
            ],
        ]
        .concat(),
    );
    std::fs::write(
        root.join(at("server.ext")),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(root.join(at("client.ext")), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, subject, ext) in [
        ("local", "localhost", "server.ext"),
        (client, client, "client.ext"),
    ] {
        openssl(
            root,
            &[
                &["req"][..],
                &p256,
                &[
                    "-subj",
                    &format!("/CN={subject}"),
                    "-keyout",
                    &at(&format!("{name}.key")),
                    "-out",
                    &at(&format!("{name}.csr")),
                ],
            ]
            .concat(),
        );
        openssl(
            root,
            &[
                "x509",
                "-req",
                "-in",
                &at(&format!("{name}.csr")),
                "-CA",
                &at("agency-ca.pem"),
                "-CAkey",
                &at("agency-ca.key"),
                "-days",
                "365",
                "-extfile",
                &at(ext),
                "-out",
                &at(&format!("{name}.crt")),
            ],
        );
    }
}

fn node_toml(
    authority: &str,
    fed: u16,
    local: u16,
    directory: u16,
    key: &str,
    register: bool,
    (client, duties): (&str, &str),
) -> String {
    let register = if register {
        "\n[[register]]\nofferings = [\"fk-formaner\"]\nsqlite = \"data/register.sqlite\"\n"
    } else {
        ""
    };
    format!(
        r#"authority = "{authority}"
data_dir = "data"
credentials_dir = "pki"
federation_listen = "127.0.0.1:{fed}"
local_listen = "127.0.0.1:{local}"
refresh_seconds = 1
shutdown_seconds = 5

[directory]
endpoint = "https://127.0.0.1:{directory}"
authority = "digg"
key = "{key}"

[access]
certificate = "local.crt"
key = "local.key"
client_ca = "agency-ca.pem"

[[access.client]]
id = "{client}"
duties = [{duties}]
officers = "trusted"
{register}"#
    )
}

/// Malmö stad's case system asks, from the guide's working directory `root`.
fn request(root: &Path, key: &str, local: u16) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "subject": "19121212-1212", "offering": "fk-formaner",
        "fields": ["forman", "belopp", "diagnos"],
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512", "officer": "malmo-h4711", "role": "handlaggare",
        "unit": "malmo-ekonomiskt-bistand"
    });
    let file = |name: &str| root.join("malmo").join(name).to_string_lossy().into_owned();
    let (status, text) = curl(&[
        "--cacert",
        &file("agency-ca.pem"),
        "--cert",
        &file("arende.crt"),
        "--key",
        &file("arende.key"),
        "-X",
        "POST",
        &format!("https://127.0.0.1:{local}/v1/requests"),
        "-H",
        "Content-Type: application/json",
        "-H",
        &format!("Idempotency-Key: {key}"),
        "--data",
        &body.to_string(),
    ]);
    (status, serde_json::from_str(&text).unwrap_or_default())
}

fn ledger_entry(root: &Path, ledger: &str, index: u64) -> serde_json::Value {
    let proof: serde_json::Value = serde_json::from_str(&utbyte(
        root,
        &["audit", "prove", ledger, "--index", &index.to_string()],
    ))
    .unwrap();
    serde_json::from_str(proof["leaf"].as_str().unwrap()).unwrap()
}

#[test]
fn the_deployment_guide_works() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let rulebook = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook");
    let rulebook = rulebook.to_str().unwrap();
    for dir in ["directory", "fk", "malmo"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }

    // 1. The CA, and a certificate each for the directory and the two nodes.
    utbyte(root, &["pki", "init", "ca"]);
    for (authority, orgnr, name, out) in [
        (
            "digg",
            "202100-6883",
            "Myndigheten för digital förvaltning",
            "directory/pki",
        ),
        (
            "forsakringskassan",
            "202100-5521",
            "Försäkringskassan",
            "fk/pki",
        ),
        ("malmo-stad", "212000-1124", "Malmö stad", "malmo/pki"),
    ] {
        utbyte(
            root,
            &[
                "pki",
                "issue",
                "ca",
                "--authority",
                authority,
                "--orgnr",
                orgnr,
                "--name",
                name,
                "--ip",
                "127.0.0.1",
                "--out",
                out,
            ],
        );
    }

    // 1b. Each authority's own CA, its local listener's certificate and a case system's.
    agency_pki(root, "fk", "granskning");
    agency_pki(root, "malmo", "arende");

    // 2. The directory's state: its key and version 1 with the rulebook.
    let directory_port = free_port();
    std::fs::write(
        root.join("directory/directory.toml"),
        format!(
            "listen = \"127.0.0.1:{directory_port}\"\nstate_dir = \"state\"\ncredentials_dir = \"pki\"\nreload_millis = 200\n"
        ),
    )
    .unwrap();
    let dir_config = "directory/directory.toml";
    let init = utbyte(
        root,
        &[
            "directory",
            "init",
            "--config",
            dir_config,
            "--authority",
            "digg",
            "--rulebook",
            rulebook,
        ],
    );
    let directory_key = init
        .lines()
        .find_map(|l| l.strip_prefix("directory key (nodes' [directory] key): "))
        .expect("init prints the directory key")
        .to_owned();

    // 3. The nodes' configurations, Försäkringskassan's register data, and their admission.
    let (fk_fed, fk_local, malmo_fed, malmo_local) =
        (free_port(), free_port(), free_port(), free_port());
    std::fs::write(
        root.join("fk/node.toml"),
        node_toml(
            "forsakringskassan",
            fk_fed,
            fk_local,
            directory_port,
            &directory_key,
            true,
            ("granskning", "\"review\", \"audit\""),
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("malmo/node.toml"),
        node_toml(
            "malmo-stad",
            malmo_fed,
            malmo_local,
            directory_port,
            &directory_key,
            false,
            ("arende", "\"request\""),
        ),
    )
    .unwrap();
    std::fs::write(
        root.join("fk/formaner.ndjson"),
        "{\"subject\": \"19121212-1212\", \"fields\": {\"forman\": \"sjukpenning\", \"belopp\": 14250, \"diagnos\": \"F32\"}}\n",
    )
    .unwrap();
    let imported = utbyte(
        root,
        &[
            "node",
            "import-register",
            "--config",
            "fk/node.toml",
            "--offering",
            "fk-formaner",
            "fk/formaner.ndjson",
        ],
    );
    assert!(imported.contains("imported 1 subjects"), "{imported}");
    for (authority, dir, port) in [
        ("forsakringskassan", "fk", fk_fed),
        ("malmo-stad", "malmo", malmo_fed),
    ] {
        let config = format!("{dir}/node.toml");
        let key = utbyte(root, &["node", "answer-key", "--config", &config]);
        let admitted = utbyte(
            root,
            &[
                "directory",
                "admit",
                "--config",
                dir_config,
                "--authority",
                authority,
                "--endpoint",
                &format!("https://127.0.0.1:{port}"),
                "--certificate",
                &format!("{dir}/pki/node.crt"),
                "--answer-key",
                key.trim(),
            ],
        );
        assert!(
            admitted.contains(&format!("admitted {authority}")),
            "{admitted}"
        );
    }

    // A rulebook that fails `rules check` is refused, with its problems, and publishes nothing.
    let broken = root.join("broken-rulebook");
    copy_dir(Path::new(rulebook), &broken);
    std::fs::write(
        broken.join("policies/broken.cedar"),
        "permit(principal, action, resource) when { nonsense };",
    )
    .unwrap();
    let refused = try_utbyte(
        root,
        &[
            "directory",
            "publish-rulebook",
            "--config",
            dir_config,
            broken.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("broken.cedar") && stderr.contains("refused"),
        "{stderr}"
    );

    // 4. Serve: the directory, then both nodes; ready once each holds the configuration.
    let (directory, first) = start(root, &["directory", "serve", "--config", dir_config]);
    assert!(
        first.contains(&format!("127.0.0.1:{directory_port}")) && first.contains("version 3"),
        "{first}"
    );
    let (fk, _) = start(
        &root.join("fk"),
        &["node", "serve", "--config", "node.toml"],
    );
    let (malmo, _) = start(
        &root.join("malmo"),
        &["node", "serve", "--config", "node.toml"],
    );
    for (dir, local) in [("fk", fk_local), ("malmo", malmo_local)] {
        eventually(Duration::from_secs(15), "readiness", || {
            curl(&[
                "--cacert",
                &root.join(format!("{dir}/agency-ca.pem")).to_string_lossy(),
                &format!("https://127.0.0.1:{local}/readyz"),
            ])
            .0 == 200
        });
    }
    // The container image's health check works over TLS too, trusting the configured certificate.
    let alive = utbyte(root, &["node", "health", "--config", "fk/node.toml"]);
    assert!(alive.starts_with("alive"), "{alive}");

    // 5. Malmö stad asks Försäkringskassan: payments are disclosed, the diagnosis is not.
    let (status, answer) = request(root, "guide-1", malmo_local);
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["status"], "answered", "{answer:#}");
    assert_eq!(answer["values"]["belopp"], 14250, "{answer:#}");
    assert!(answer["values"].get("diagnos").is_none(), "{answer:#}");

    // An operator's change while everything runs: Försäkringskassan's certificate is revoked,
    // and Malmö stad's node stops trusting it within a few pulls.
    let fk_fingerprint = utbyte(root, &["pki", "show", "fk/pki/node.crt"])
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint").map(|f| f.trim().to_owned()))
        .unwrap();
    utbyte(
        root,
        &[
            "directory",
            "revoke",
            "--config",
            dir_config,
            "--fingerprint",
            &fk_fingerprint,
        ],
    );
    let mut attempt = 0;
    eventually(
        Duration::from_secs(15),
        "the revocation to reach the nodes",
        || {
            attempt += 1;
            request(root, &format!("guide-revoked-{attempt}"), malmo_local).0 != 200
        },
    );

    for child in [malmo, fk, directory] {
        stop(child);
    }

    // 6. Both ledgers hold the exchange: the provider's disclosure and the recipient's receipt
    //    of the same answer bytes, pointing at it.
    let provided = ledger_entry(
        root,
        "fk/data/audit",
        answer["provider_receipt"]["index"].as_u64().unwrap(),
    );
    let received = ledger_entry(
        root,
        "malmo/data/audit",
        answer["receipt"]["index"].as_u64().unwrap(),
    );
    assert_eq!(provided["event"], "disclosure", "{provided:#}");
    assert_eq!(received["event"], "receipt", "{received:#}");
    assert_eq!(provided["payload_sha256"], received["payload_sha256"]);
    assert_eq!(received["refers_to"], answer["provider_receipt"]["index"]);

    // 7. Every version is listed with what changed.
    let versions = utbyte(root, &["directory", "versions", "--config", dir_config]);
    let changes: Vec<&str> = versions.lines().skip(1).collect();
    assert_eq!(changes.len(), 4, "{versions}");
    for (line, says) in changes.iter().zip([
        "federation created",
        "admitted forsakringskassan",
        "admitted malmo-stad",
        "revoked certificate",
    ]) {
        assert!(line.contains(says), "{versions}");
    }
    let shown = utbyte(
        root,
        &["directory", "show", "2", "--state", "directory/state"],
    );
    assert!(
        shown.contains("member         forsakringskassan") && !shown.contains("malmo-stad"),
        "{shown}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
