//! `utbyte demo` as a newcomer runs it: the federation comes up, its three printed commands work
//! as printed, and `--scenario` runs through and exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_scenario_runs_every_exchange_as_the_rulebook_prescribes() {
    let out = Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(["demo", "--scenario"])
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("All exchanges were decided as the rulebook prescribes."),
        "{stdout}"
    );
    for shown in [
        "SFS 2024:307 3 §",
        "forced_review",
        "reason:",
        "every receipt matches a provider entry",
    ] {
        assert!(stdout.contains(shown), "{shown} missing:\n{stdout}");
    }
}

/// The demo process, killed if the test fails before stopping it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A base port whose directory, node, local-API and portal ports are all free right now (the
/// demo's layout: the directory at the base, then each member's node at 1–11, its local API
/// at 101–111 and its portal at 201–211).
///
/// The range lies below the ports the kernel hands out on its own (32768 and up on Linux):
/// there, the other test's federation, which binds port 0, and every outgoing connection take
/// ports at random and could take one of these between the check and the demo binding it.
fn free_base_port() -> u16 {
    const LOWEST: u16 = 20_000;
    const SPAN: u16 = 300;
    const BASES: u16 = 40; // up to 32,000
    let start = (std::process::id() % u32::from(BASES)) as u16;
    for n in 0..BASES {
        let base = LOWEST + (start + n) % BASES * SPAN;
        let ports: Vec<u16> = (0..=11)
            .chain(101..=111)
            .chain(201..=211)
            .map(|o| base + o)
            .collect();
        let held: Vec<_> = ports
            .iter()
            .map_while(|p| TcpListener::bind(("127.0.0.1", *p)).ok())
            .collect();
        if held.len() == ports.len() {
            return base;
        }
    }
    panic!("no free port range")
}

#[test]
fn the_federation_comes_up_and_its_three_printed_commands_work() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port();
    let mut demo = Running(
        Command::new(env!("CARGO_BIN_EXE_utbyte"))
            .args([
                "demo",
                "--base-port",
                &base.to_string(),
                "--dir",
                "state",
                "--bulk-subjects",
                "3000",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(demo.0.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Serving until Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let output = printed.join("\n");
    assert!(
        output.contains("malmo-stad") && output.contains("https://127.0.0.1"),
        "{output}"
    );
    let commands: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl ") && l.contains("/v1/requests"))
        .collect();
    assert_eq!(commands.len(), 3, "{output}");
    let run = |command: &str| {
        let out = Command::new("sh")
            .args(["-c", command])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}: {}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{command}: {e}: {}", text(&out.stdout)))
    };
    let outcomes = |answer: &serde_json::Value| -> Vec<String> {
        answer["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("{answer:#}"))
            .iter()
            .map(|f| f["outcome"].as_str().unwrap().to_owned())
            .collect()
    };
    // The local API believes no one: without the case system's token the request is refused.
    let (with_token, rest) = commands[0]
        .split_once(" -H \"Authorization: Bearer")
        .unwrap();
    let without_token = format!("{with_token}{}", &rest[rest.find(')').unwrap() + 2..]);
    let refused = run(&without_token);
    assert_eq!(refused["status"], 401, "{refused:#}");
    assert_eq!(refused["type"], "urn:utbyte:problem:unauthenticated");
    assert_eq!(refused["reason"], "credentials-missing");
    let disclosure = run(commands[0]);
    assert_eq!(disclosure["status"], "answered", "{disclosure:#}");
    assert!(outcomes(&disclosure).contains(&"disclose".into()));
    assert!(outcomes(&disclosure).contains(&"refuse".into()));
    let review = run(commands[1]);
    assert_eq!(review["status"], "review", "{review:#}");
    assert!(review["ticket"].is_string());
    let refusal = run(commands[2]);
    assert!(
        outcomes(&refusal).iter().all(|o| o == "refuse"),
        "{refusal:#}"
    );
    assert!(refusal["values"].as_object().unwrap().is_empty());
    // The search as printed: every source the rulebook permits within the joint operation,
    // each with a status; at least one answered automatically.
    let searches: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl ") && l.contains("/v1/search"))
        .collect();
    assert_eq!(searches.len(), 2, "{output}");
    let found = run(searches[0]);
    let sources = found["sources"]
        .as_array()
        .unwrap_or_else(|| panic!("{found:#}"));
    assert!(sources.len() > 2, "{found:#}");
    assert!(
        sources
            .iter()
            .any(|s| s["status"] == "answered" && s["legal_basis"] == "sfs-2016-774"),
        "{found:#}"
    );
    // The bank, through the account system, under the further basis the Police claim.
    let bank = |found: &serde_json::Value| -> serde_json::Value {
        found["sources"]
            .as_array()
            .unwrap_or_else(|| panic!("{found:#}"))
            .iter()
            .find(|s| s["provider"] == "exempelbanken")
            .cloned()
            .unwrap_or_else(|| panic!("no bank among the sources: {found:#}"))
    };
    let police_bank = bank(&found);
    assert_eq!(
        police_bank["legal_basis"], "sfs-2020-272",
        "{police_bank:#}"
    );
    assert_eq!(police_bank["status"], "answered", "{police_bank:#}");
    // Ekobrottsmyndigheten, a requesting node of its own, asks the bank in an investigation.
    let ebm = bank(&run(searches[1]));
    assert_eq!(ebm["status"], "answered", "{ebm:#}");
    assert!(ebm["answer"]["values"]["konton"].is_array(), "{ebm:#}");
    // The bulk as printed: made, its 3,000 payments uploaded and answered, the records read.
    let bulk: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl ") && l.contains("/v1/bulk"))
        .collect();
    assert_eq!(bulk.len(), 3, "{output}");
    let made = run(bulk[0]);
    assert_eq!(made["subjects"], 0, "{made:#}");
    assert_eq!(made["provider"], "skatteverket");
    let taken = run(bulk[1]);
    assert_eq!(taken["bulk"]["subjects"], 3000, "{taken:#}");
    assert_eq!(
        taken["bulk"]["held"], 3,
        "one protected recipient in a thousand: {taken:#}"
    );
    let out = Command::new("sh")
        .args(["-c", bulk[2]])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let csv = text(&out.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "{csv}");
    assert!(
        rows[0].starts_with("n,subject,status,entry,request,lon,arbetsgivare,inkomstperiod"),
        "{csv}"
    );
    assert!(
        rows[1].starts_with("0,") && rows[1].contains(",answered,"),
        "{csv}"
    );
    // The held recipients, each asked on its own, wait at Skatteverket as one batch.
    let batches = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl ") && l.contains("/v1/review-batches"))
        .unwrap_or_else(|| panic!("no review batch command: {output}"));
    let batches = run(batches);
    assert_eq!(batches.as_array().map(Vec::len), Some(1), "{batches:#}");
    assert_eq!(batches[0]["pending"], 3, "{batches:#}");
    assert_eq!(batches[0]["first"]["offering"], "skv-inkomst");
    assert_eq!(batches[0]["first"]["protected_identity"], true);
    // Run again, the same commands give the same answers (idempotency keys).
    assert_eq!(run(commands[0]), disclosure);
    // The catalog line works as printed too.
    let catalog = printed
        .iter()
        .filter(|l| l.contains("/v1/catalog/search"))
        .find_map(|l| l.split_once(": curl ").map(|(_, c)| format!("curl {c}")))
        .expect("a catalog command");
    let found = run(&catalog);
    assert!(
        found["hits"].as_array().is_some_and(|h| !h.is_empty()),
        "{found:#}"
    );

    // The messages as printed: two notices sent automatically (what the rulebook refuses
    // dropped), one held for the sender's jurist, a letter; the notice then in Försäkringskassan's
    // inbox and delivered in the sender's outbox.
    let messages: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl ") && l.contains("/v1/messages"))
        .collect();
    assert_eq!(messages.len(), 8, "{output}");
    let sent: Vec<serde_json::Value> = messages[..5].iter().map(|c| run(c)).collect();
    let states: Vec<&str> = sent
        .iter()
        .map(|m| m["state"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        states,
        ["pending", "pending", "pending", "held", "pending"],
        "{sent:#?}"
    );
    let refused: Vec<&str> = sent[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == "refuse")
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["inloggningar"], "{:#}", sent[0]);
    let mut arrived = serde_json::Value::Null;
    for _ in 0..100 {
        arrived = run(messages[5]);
        if arrived.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(arrived[0]["id"], sent[0]["id"], "{arrived:#}");
    let held = run(messages[6]);
    assert_eq!(held[0]["id"], sent[3]["id"], "{held:#}");
    let mut outbox = serde_json::Value::Null;
    for _ in 0..100 {
        outbox = run(messages[7]);
        if outbox[0]["state"] == "delivered" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(outbox[0]["state"], "delivered", "{outbox:#}");
    assert_eq!(outbox[0]["delivered"]["event"], "delivered", "{outbox:#}");
    // The same through `utbyte message`, as a case system on the command line.
    let fk_api = messages[5]
        .split_whitespace()
        .find_map(|w| {
            w.trim_matches('\'')
                .split("/v1/")
                .next()
                .filter(|u| u.starts_with("http://"))
        })
        .unwrap()
        .to_owned();
    let cli = |args: &[&str]| {
        let mut all = vec!["message"];
        all.extend_from_slice(&args[..1]);
        all.extend([
            "--api",
            &fk_api,
            "--token-file",
            "state/access/case-system.token",
        ]);
        all.extend_from_slice(&args[1..]);
        let out = Command::new(env!("CARGO_BIN_EXE_utbyte"))
            .args(&all)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{all:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let id = sent[0]["id"].as_str().unwrap();
    let listed = cli(&["list", "inbox", "--unit", "fk-kontroll"]);
    assert!(
        listed.contains(id) && listed.contains("from utbetalningsmyndigheten/ubm-kontroll"),
        "{listed}"
    );
    let fetched: serde_json::Value =
        serde_json::from_str(&cli(&["fetch", "--sender", "utbetalningsmyndigheten", id])).unwrap();
    assert_eq!(fetched["content"]["values"]["belopp"], 4200, "{fetched:#}");
    let accepted: serde_json::Value = serde_json::from_str(&cli(&[
        "accept",
        "--sender",
        "utbetalningsmyndigheten",
        "--officer",
        "fk-h1",
        "--unit",
        "fk-kontroll",
        "--role",
        "handlaggare",
        id,
    ]))
    .unwrap();
    assert_eq!(accepted["state"], "accepted", "{accepted:#}");

    // The subscriptions as printed: notices arrive at Försäkringskassan from Skatteverket and at
    // Kronofogden from Bolagsverket while the generator changes the registers; the list shows
    // what Skatteverket granted; subscribing to more is granted in part. Skatteverket's notices
    // carry the new values (the pre-assessment lets them), Bolagsverket's are thin.
    let subscriptions: Vec<&str> = printed
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("curl ") && l.contains("/v1/notices"))
        .collect();
    assert_eq!(subscriptions.len(), 2, "{output}");
    for (command, provider) in subscriptions.iter().zip(["skatteverket", "bolagsverket"]) {
        let page = run(command);
        let notices = page["notices"]
            .as_array()
            .unwrap_or_else(|| panic!("{page:#}"));
        assert!(!notices.is_empty(), "no notice within 30 s: {page:#}");
        assert_eq!(notices[0]["provider"], provider, "{page:#}");
        let values = notices[0].get("values").and_then(|v| v.as_object());
        if provider == "skatteverket" {
            let values = values.unwrap_or_else(|| panic!("values carried: {page:#}"));
            let fields = notices[0]["fields"].as_array().unwrap();
            assert!(!values.is_empty(), "{page:#}");
            assert!(
                values
                    .keys()
                    .all(|k| fields.iter().any(|f| f == k.as_str())),
                "values only of fields changed: {page:#}"
            );
        } else {
            assert!(values.is_none(), "a notice is thin: {page:#}");
        }
    }
    let listed = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl ") && l.ends_with("/v1/subscriptions"))
        .expect("a command listing the subscriptions");
    let held = run(listed);
    assert_eq!(held[0]["status"], "active", "{held:#}");
    assert_eq!(
        held[0]["granted"],
        serde_json::json!(["adress-andrad", "avliden", "utvandrad"]),
        "{held:#}"
    );
    let subscribe = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("curl -s -X POST") && l.contains("/v1/subscriptions"))
        .expect("a command subscribing to more");
    let more = run(subscribe);
    assert_eq!(
        more["granted"],
        serde_json::json!(["adress-andrad"]),
        "{more:#}"
    );

    // The 200 MB file as printed: uploaded and sent by `utbyte message send --attach`, then
    // fetched at Kronofogden, its SHA-256 checked, and the same bytes.
    let line = |start: &str| {
        printed
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` command: {output}"))
            .to_owned()
    };
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_utbyte"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let shell = |command: &str| {
        Command::new("sh")
            .args(["-c", command])
            .env("PATH", &path)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let send = shell(&line("utbyte message send"));
    assert!(send.status.success(), "{}", text(&send.stderr));
    let letter: serde_json::Value = serde_json::from_slice(&send.stdout).unwrap();
    assert_eq!(letter["state"], "pending", "{letter:#}");
    let fetch = line("utbyte message fetch").replace("<id>", letter["id"].as_str().unwrap());
    let mut fetched = shell(&fetch);
    for _ in 0..300 {
        if fetched.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        fetched = shell(&fetch);
    }
    assert!(fetched.status.success(), "{}", text(&fetched.stderr));
    let digest = |name: &str| {
        use sha2::Digest as _;
        let bytes = std::fs::read(dir.path().join("state/messages").join(name)).unwrap();
        (bytes.len(), hex_digest(&sha2::Sha256::digest(&bytes)))
    };
    let sent_file = digest("beslag-2026-11-30.bin");
    assert_eq!(sent_file.0, 200_000_000);
    assert_eq!(digest("beslag-mottaget.bin"), sent_file);

    Command::new("kill")
        .args(["-INT", &demo.0.id().to_string()])
        .status()
        .unwrap();
    let status = demo.0.wait().unwrap();
    assert!(
        status.success(),
        "the demo did not stop cleanly on Ctrl-C: {status}"
    );
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
