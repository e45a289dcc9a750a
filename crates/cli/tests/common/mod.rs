//! The deployment guide (`docs/deployment.md`) as steps the tests share, with the real `utbyte`
//! binary: the federation CA and certificates, each authority's own CA, the directory, and two
//! nodes — Försäkringskassan, which answers from an imported register, and Malmö stad, which
//! asks — from configuration files, admitted; then the processes, their readiness, Malmö stad's
//! case system calling its node's local API with curl, and the ledgers read back.

// Each test uses part of these.
#![allow(dead_code)]

pub mod load;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory's configuration, relative to the guide's working directory.
pub const DIRECTORY_CONFIG: &str = "directory/directory.toml";

/// A port nothing listens on, for a process about to be started to listen on.
///
/// Taken below the range the kernel gives outgoing connections their ports from
/// (`ip_local_port_range`, 32768 and up by default): a port the kernel chose for a listener
/// is free when it is chosen, but a node started a moment later may find that a connection
/// made meanwhile (by any process on the host) was given it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static TRIED: AtomicU32 = AtomicU32::new(0);
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, span) = (10_000, ephemeral_from.saturating_sub(10_000).max(1));
    // Test binaries run one after another and some at once: each starts elsewhere.
    let start = std::process::id().wrapping_mul(7919);
    loop {
        let port = low + start.wrapping_add(TRIED.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("a port below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The example rulebook.
pub fn rulebook() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook")
}

/// Runs `utbyte ARGS` in `dir` and returns its output, failing the test unless it succeeds.
pub fn utbyte(dir: &Path, args: &[&str]) -> String {
    let out = try_utbyte(dir, args);
    assert!(
        out.status.success(),
        "utbyte {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn try_utbyte(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// A server the test started; killed if the test ends without stopping it, so that a failing
/// test leaves nothing running.
pub struct Process(Child);

impl Process {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL: it gets no chance to finish anything.
    pub fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `utbyte ARGS` in `dir`, its standard error appended to `log`, and waits for its first
/// line (printed once it serves; empty if it exits first).
pub fn start(dir: &Path, args: &[&str], log: &Path) -> (Process, String) {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    (Process(child), first)
}

/// What curl writes after each answer's body: a record separator (which JSON never holds
/// unescaped), then the status.
const STATUS_AFTER: &str = "\n\u{1e}";

/// Runs curl once for `transfers` (each its own arguments; several share connections), each
/// limited to 30 s: for each, the status (0 when no answer came) and the body.
pub fn curl<S: AsRef<str>>(transfers: &[Vec<S>]) -> Vec<(u16, String)> {
    let write_out = format!("{STATUS_AFTER}%{{http_code}}\n");
    let mut command = Command::new("curl");
    command.arg("-s");
    for (i, transfer) in transfers.iter().enumerate() {
        if i > 0 {
            command.arg("--next");
        }
        command.args(["--max-time", "30", "--write-out", &write_out]);
        command.args(transfer.iter().map(AsRef::as_ref));
    }
    let out = command.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // body₀ ␞status₀ body₁ ␞status₁ …: each piece after the first starts with a status.
    let mut pieces = text.split(STATUS_AFTER);
    let mut body = pieces.next().unwrap_or_default();
    let mut answers = Vec::new();
    for piece in pieces {
        let (status, next) = piece.split_once('\n').unwrap_or((piece, ""));
        answers.push((status.parse().unwrap_or(0), body.to_owned()));
        body = next;
    }
    answers.resize(transfers.len(), (0, String::new()));
    answers
}

/// One curl call: its headers (lower-cased names) and body.
pub fn curl_headers(args: &[String]) -> (Vec<(String, String)>, String) {
    try_curl_headers(args).unwrap_or_else(|| panic!("curl {args:?} failed"))
}

/// [`curl_headers`], or `None` when no answer came (the node is down).
pub fn try_curl_headers(args: &[String]) -> Option<(Vec<(String, String)>, String)> {
    let out = Command::new("curl")
        .args(["--dump-header", "-", "--max-time", "60"])
        .args(args)
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let headers = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    Some((headers, body.to_owned()))
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no `{name}` in {headers:?}"))
}

/// Polls `probe` every 200 ms until it holds, for at most `limit`.
pub fn eventually(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// SIGTERM: it stops gracefully, and exits 0.
pub fn stop(mut process: Process) {
    Command::new("kill")
        .args(["-TERM", &process.0.id().to_string()])
        .status()
        .unwrap();
    assert!(process.0.wait().unwrap().success(), "exits 0 on SIGTERM");
}

/// Runs `openssl ARGS` in `dir`, failing the test unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
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
pub fn agency_pki(root: &Path, dir: &str, client: &str) {
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

/// One node of the guide.
pub struct Node {
    /// Its directory under the working directory (configuration, certificates, `data/`).
    pub dir: &'static str,
    pub authority: &'static str,
    pub orgnr: &'static str,
    pub name: &'static str,
    /// The case system of the authority's own that calls the local API.
    pub client: &'static str,
    pub federation: u16,
    pub local: u16,
}

impl Node {
    /// Its ledger directory, relative to the working directory.
    pub fn ledger(&self) -> String {
        format!("{}/data/audit", self.dir)
    }

    /// Starts `utbyte node serve` in its directory (standard error to `node.log` there) and
    /// waits until it is ready.
    pub fn start(&self, root: &Path) -> Process {
        let dir = root.join(self.dir);
        let (child, first) = start(
            &dir,
            &["node", "serve", "--config", "node.toml"],
            &dir.join("node.log"),
        );
        assert!(
            first.contains(&format!("127.0.0.1:{}", self.local)),
            "{} did not start: {first}{}",
            self.authority,
            self.log_tail(root)
        );
        eventually(Duration::from_secs(30), "readiness", || self.ready(root));
        child
    }

    /// Whether `/readyz` answers 200: the node holds a valid configuration.
    pub fn ready(&self, root: &Path) -> bool {
        let ca = root.join(self.dir).join("agency-ca.pem");
        let url = format!("https://127.0.0.1:{}/readyz", self.local);
        curl(&[vec!["--cacert", &ca.to_string_lossy(), &url]])[0].0 == 200
    }

    /// The end of its log, for a failure's message.
    pub fn log_tail(&self, root: &Path) -> String {
        let log = std::fs::read_to_string(root.join(self.dir).join("node.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!("\n{}", lines[lines.len().saturating_sub(30)..].join("\n"))
    }

    /// Its case system calls the local API, once per call, over as few connections as curl
    /// needs: for each, the status (0 when no answer came) and the body as JSON (null if none).
    pub fn calls(&self, root: &Path, calls: &[Call]) -> Vec<(u16, serde_json::Value)> {
        let tls = self.tls(root);
        let transfers: Vec<Vec<String>> = calls
            .iter()
            .map(|call| {
                let mut args = tls.to_vec();
                args.extend([
                    "-X".to_owned(),
                    call.method.to_owned(),
                    self.url(&call.path),
                ]);
                if let Some(key) = call.key {
                    args.extend(["-H".to_owned(), format!("Idempotency-Key: {key}")]);
                }
                if let Some(body) = call.body {
                    args.extend([
                        "-H".to_owned(),
                        "Content-Type: application/json".to_owned(),
                        "--data".to_owned(),
                        body.to_string(),
                    ]);
                }
                args
            })
            .collect();
        curl(&transfers)
            .into_iter()
            .map(|(status, text)| (status, serde_json::from_str(&text).unwrap_or_default()))
            .collect()
    }

    /// curl's arguments for its case system's mutual TLS with the local API.
    pub fn tls(&self, root: &Path) -> Vec<String> {
        let file = |name: &str| {
            root.join(self.dir)
                .join(name)
                .to_string_lossy()
                .into_owned()
        };
        vec![
            "--cacert".to_owned(),
            file("agency-ca.pem"),
            "--cert".to_owned(),
            file(&format!("{}.crt", self.client)),
            "--key".to_owned(),
            file(&format!("{}.key", self.client)),
        ]
    }

    /// The local API's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.local)
    }

    /// One call of its case system: `METHOD PATH`, without a body.
    pub fn call(&self, root: &Path, method: &str, path: &str) -> (u16, serde_json::Value) {
        self.calls(root, &[Call::new(method, path)]).remove(0)
    }

    /// Its case system asks for `body` under `key`.
    pub fn request(
        &self,
        root: &Path,
        key: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.calls(root, &[Call::request(key, body)]).remove(0)
    }

    fn toml(&self, directory: u16, key: &str, duties: &str, register: bool, extra: &str) -> String {
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
review_poll_seconds = 1
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
{register}{extra}"#,
            authority = self.authority,
            fed = self.federation,
            local = self.local,
            client = self.client,
        )
    }
}

/// A call of the local API.
#[derive(Clone)]
pub struct Call<'a> {
    pub method: &'a str,
    pub path: String,
    /// Sent as the `Idempotency-Key`.
    pub key: Option<&'a str>,
    /// Sent as JSON.
    pub body: Option<&'a serde_json::Value>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, path: &str) -> Self {
        Call {
            method,
            path: path.to_owned(),
            key: None,
            body: None,
        }
    }

    /// `POST /v1/requests`: a case system asks for `body` under `key`.
    pub fn request(key: &'a str, body: &'a serde_json::Value) -> Self {
        Call {
            key: Some(key),
            body: Some(body),
            ..Call::new("POST", "/v1/requests")
        }
    }
}

/// What Försäkringskassan's own system may do in most tests: review and audit.
pub const FK_DUTIES: &str = "\"review\", \"audit\"";
/// [`FK_DUTIES`] and taking messages: its case system fetches the files it receives.
pub const FK_RECEIVES: &str = "\"request\", \"review\", \"audit\"";

/// What a test sets in the guide.
pub struct Setup<'a> {
    /// Försäkringskassan's register data for `fk-formaner`: NDJSON, one subject a line.
    pub register: &'a str,
    /// The duties of Malmö stad's case system, as TOML strings (`"\"request\""`).
    pub malmo_duties: &'a str,
    /// The duties of Försäkringskassan's own system (its reviewers and auditors:
    /// [`FK_DUTIES`]).
    pub fk_duties: &'a str,
    /// Tables appended to both nodes' `node.toml` (`[limits]`, `[recovery]`, …).
    pub node_extra: &'a str,
}

/// The guide's federation in its working directory.
pub struct Guide {
    pub root: PathBuf,
    pub directory_port: u16,
    /// Försäkringskassan: answers from its register; its reviewers' and auditors' system asks.
    pub fk: Node,
    /// Malmö stad: asks, through its case system `arende`.
    pub malmo: Node,
}

impl Guide {
    /// Steps 1 to 3 of the guide in `root`: the CA and a certificate each for the directory and
    /// the two nodes, each authority's own CA and certificates, the directory's state (version
    /// 1 with the example rulebook), both nodes' configurations, Försäkringskassan's register
    /// imported, and both admitted (versions 2 and 3).
    pub fn set_up(root: &Path, setup: &Setup) -> Self {
        for dir in ["directory", "fk", "malmo"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        let fk = Node {
            dir: "fk",
            authority: "forsakringskassan",
            orgnr: "202100-5521",
            name: "Försäkringskassan",
            client: "granskning",
            federation: free_port(),
            local: free_port(),
        };
        let malmo = Node {
            dir: "malmo",
            authority: "malmo-stad",
            orgnr: "212000-1124",
            name: "Malmö stad",
            client: "arende",
            federation: free_port(),
            local: free_port(),
        };

        // 1. The CA, and a certificate each for the directory and the two nodes.
        utbyte(root, &["pki", "init", "ca"]);
        let digg = ("digg", "202100-6883", "Myndigheten för digital förvaltning");
        for (authority, orgnr, name, dir) in [
            (digg.0, digg.1, digg.2, "directory"),
            (fk.authority, fk.orgnr, fk.name, fk.dir),
            (malmo.authority, malmo.orgnr, malmo.name, malmo.dir),
        ] {
            let out = format!("{dir}/pki");
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
                    &out,
                ],
            );
        }

        // 1b. Each authority's own CA, its local listener's certificate and a case system's.
        for node in [&fk, &malmo] {
            agency_pki(root, node.dir, node.client);
        }

        // 2. The directory's state: its key and version 1 with the rulebook.
        let directory_port = free_port();
        std::fs::write(
            root.join(DIRECTORY_CONFIG),
            format!(
                "listen = \"127.0.0.1:{directory_port}\"\nstate_dir = \"state\"\ncredentials_dir = \"pki\"\nreload_millis = 200\n"
            ),
        )
        .unwrap();
        let rulebook = rulebook();
        let init = utbyte(
            root,
            &[
                "directory",
                "init",
                "--config",
                DIRECTORY_CONFIG,
                "--authority",
                "digg",
                "--rulebook",
                rulebook.to_str().unwrap(),
            ],
        );
        let directory_key = init
            .lines()
            .find_map(|l| l.strip_prefix("directory key (nodes' [directory] key): "))
            .expect("init prints the directory key")
            .to_owned();

        // 3. The nodes' configurations, Försäkringskassan's register data, and their admission.
        for (node, duties, register) in [
            (&fk, setup.fk_duties, true),
            (&malmo, setup.malmo_duties, false),
        ] {
            std::fs::write(
                root.join(node.dir).join("node.toml"),
                node.toml(
                    directory_port,
                    &directory_key,
                    duties,
                    register,
                    setup.node_extra,
                ),
            )
            .unwrap();
        }
        std::fs::write(root.join("fk/formaner.ndjson"), setup.register).unwrap();
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
        let subjects = setup.register.lines().count();
        assert!(
            imported.contains(&format!("imported {subjects} subjects")),
            "{imported}"
        );
        for node in [&fk, &malmo] {
            let config = format!("{}/node.toml", node.dir);
            let key = utbyte(root, &["node", "answer-key", "--config", &config]);
            let admitted = utbyte(
                root,
                &[
                    "directory",
                    "admit",
                    "--config",
                    DIRECTORY_CONFIG,
                    "--authority",
                    node.authority,
                    "--endpoint",
                    &format!("https://127.0.0.1:{}", node.federation),
                    "--certificate",
                    &format!("{}/pki/node.crt", node.dir),
                    "--answer-key",
                    key.trim(),
                ],
            );
            assert!(
                admitted.contains(&format!("admitted {}", node.authority)),
                "{admitted}"
            );
        }
        Guide {
            root: root.to_owned(),
            directory_port,
            fk,
            malmo,
        }
    }

    /// Step 4: serves the directory; its first line.
    /// Both nodes' message keys published in the directory's next configuration.
    pub fn publish_message_keys(&self) {
        for node in [&self.fk, &self.malmo] {
            let config = format!("{}/node.toml", node.dir);
            let key = utbyte(&self.root, &["node", "message-key", "--config", &config]);
            let said = utbyte(
                &self.root,
                &[
                    "directory",
                    "set-message-key",
                    "--config",
                    DIRECTORY_CONFIG,
                    "--authority",
                    node.authority,
                    "--key",
                    key.trim(),
                ],
            );
            assert!(said.contains("sealed for key"), "{said}");
        }
    }

    pub fn start_directory(&self) -> (Process, String) {
        start(
            &self.root,
            &["directory", "serve", "--config", DIRECTORY_CONFIG],
            &self.root.join("directory/serve.log"),
        )
    }
}

/// The guide's request (step 5): Malmö stad's social services ask about payments under LUFFA.
pub fn guide_request() -> serde_json::Value {
    serde_json::json!({
        "subject": "19121212-1212", "offering": "fk-formaner",
        "fields": ["forman", "belopp", "diagnos"],
        "purpose": "kontroll-ekonomiskt-bistand", "legal_basis": "luffa",
        "case_ref": "ASN-2026-004512", "officer": "malmo-h4711", "role": "handlaggare",
        "unit": "malmo-ekonomiskt-bistand"
    })
}

/// The ledger entry at `index` of the ledger in `ROOT/LEDGER`, as `utbyte audit prove` gives it.
pub fn ledger_entry(root: &Path, ledger: &str, index: u64) -> serde_json::Value {
    let proof: serde_json::Value = serde_json::from_str(&utbyte(
        root,
        &["audit", "prove", ledger, "--index", &index.to_string()],
    ))
    .unwrap();
    serde_json::from_str(proof["leaf"].as_str().unwrap()).unwrap()
}

/// Both ledgers hold one exchange: the recipient's receipt is of the same answer bytes the
/// provider recorded at `provider_index`, and points at it.
pub fn assert_paired(
    provided: &serde_json::Value,
    received: &serde_json::Value,
    provider_index: u64,
) {
    assert_eq!(received["event"], "receipt", "{received:#}");
    assert_eq!(
        provided["payload_sha256"], received["payload_sha256"],
        "{provided:#}\n{received:#}"
    );
    assert_eq!(received["refers_to"], provider_index, "{received:#}");
}
