//! The files in `packaging/`: the systemd units are checked by systemd itself
//! (`systemd-analyze verify` and its offline `security` score); the Containerfile, which no
//! container engine here can build, is checked against the repository (what it copies exists and
//! holds everything the build embeds, the binary and command it runs exist), and its health check
//! is run against a real node.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use utbyte_node::config::DEFAULT_SHUTDOWN_SECONDS;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn utbyte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(args)
        .output()
        .expect("utbyte runs")
}

/// Whether `utbyte <words> --help` is a command of this build.
fn is_command(words: &[&str]) -> bool {
    let mut args = words.to_vec();
    args.push("--help");
    utbyte(&args).status.success()
}

/// A unit file's settings as `(section, key) -> values` (a key may repeat).
fn unit_settings(path: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let mut settings: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        settings
            .entry((section.clone(), key.to_owned()))
            .or_default()
            .push(value.to_owned());
    }
    settings
}

fn units() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = std::fs::read_dir(repo().join("packaging/systemd"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "service"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 2, "{units:?}");
    units
}

#[test]
fn the_units_run_utbyte_unprivileged_hardened_and_stop_it_gracefully() {
    for unit in units() {
        let settings = unit_settings(&unit);
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        let get = |key: &str| -> Vec<String> {
            settings
                .get(&("Service".to_owned(), key.to_owned()))
                .cloned()
                .unwrap_or_default()
        };
        let one = |key: &str| -> String {
            let values = get(key);
            assert_eq!(values.len(), 1, "{name}: {key}={values:?}");
            values[0].clone()
        };
        assert_eq!(one("Type"), "exec", "{name}");
        assert_eq!(one("User"), "utbyte", "{name}");
        assert!(one("StateDirectory").starts_with("utbyte/"), "{name}");
        assert_eq!(one("ConfigurationDirectory"), "utbyte", "{name}");
        for (key, value) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
            ("CapabilityBoundingSet", ""),
            ("UMask", "0077"),
            ("KillSignal", "SIGTERM"),
            ("Restart", "on-failure"),
        ] {
            assert_eq!(one(key), value, "{name}: {key}");
        }
        assert!(get("SystemCallFilter").contains(&"@system-service".to_owned()));
        // systemd must not kill a node that is still within its own shutdown deadline.
        let stop: u64 = one("TimeoutStopSec").parse().unwrap();
        assert!(
            stop > DEFAULT_SHUTDOWN_SECONDS,
            "{name}: TimeoutStopSec={stop}"
        );

        // The command it starts is the installed binary with a configuration under
        // ConfigurationDirectory, and it is a command of this build.
        let exec = one("ExecStart");
        let words: Vec<&str> = exec.split_whitespace().collect();
        assert_eq!(words[0], "/usr/bin/utbyte", "{name}");
        let config = words.iter().position(|w| *w == "--config").unwrap();
        assert!(words[config + 1].starts_with("/etc/utbyte/"), "{name}");
        let command = &words[1..config];
        if is_command(&command[..1]) {
            assert!(
                is_command(command),
                "{name}: `utbyte {}`",
                command.join(" ")
            );
        } else {
            // The directory server's command arrives with its own change; until then only its
            // unit's form is checked here.
            eprintln!("{name}: `utbyte {}` is not in this build", command[0]);
        }
    }
}

/// Each unit as systemd would load it, with the binary and man pages of this build in place of
/// the installed ones.
fn staged_units(dir: &Path) -> Vec<PathBuf> {
    let binary = env!("CARGO_BIN_EXE_utbyte");
    units()
        .into_iter()
        .map(|unit| {
            let text = std::fs::read_to_string(&unit).unwrap();
            let name = unit.file_name().unwrap().to_string_lossy().into_owned();
            // A template is loaded through an instance, as `systemctl start` would.
            let name = name.replace("@.service", "@skatteverket.service");
            std::fs::write(
                dir.join(unit.file_name().unwrap()),
                text.replace("/usr/bin/utbyte", binary),
            )
            .unwrap();
            dir.join(name)
        })
        .collect()
}

/// systemd-analyze is Debian's `systemd`; `scripts/test` installs it.
fn systemd_analyze(args: &[&str], unit: &Path, man_path: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .env("MANPATH", man_path)
        .output()
        .expect("systemd-analyze is installed (Debian package systemd; scripts/test installs it)")
}

#[test]
fn systemd_verifies_the_units_and_scores_them_safe() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    let out = utbyte(&["generate", "man", man.join("man1").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let units_dir = dir.path().join("units");
    std::fs::create_dir(&units_dir).unwrap();
    for unit in staged_units(&units_dir) {
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        // Every directive known and well-formed, the binary executable, the man page in
        // Documentation= present (among this build's pages).
        let documented = man.join("man1").join(format!(
            "{}.1",
            unit_settings(&units_dir.join(name.replace("@skatteverket", "@")))
                [&("Unit".to_owned(), "Documentation".to_owned())][0]
                .trim_start_matches("man:")
                .trim_end_matches("(1)")
        ));
        let man_check = if documented.exists() {
            "--man=yes"
        } else {
            eprintln!("{name}: {} is not in this build", documented.display());
            "--man=no"
        };
        let verify = systemd_analyze(&["verify", man_check], &unit, &man);
        assert!(
            verify.status.success() && verify.stderr.is_empty(),
            "{name}: {}{}",
            text(&verify.stdout),
            text(&verify.stderr)
        );
        // systemd's own exposure score, 0 (locked down) to 10 (unprotected), times ten.
        let security = systemd_analyze(
            &["security", "--offline=true", "--threshold=15"],
            &unit,
            &man,
        );
        assert!(
            security.status.success(),
            "{name}: exposure above 1.5:\n{}",
            text(&security.stdout)
        );
    }
}

/// The Containerfile's instructions, as `(stage, KEYWORD, arguments)`: continuation lines joined,
/// comments dropped.
fn containerfile() -> Vec<(usize, String, String)> {
    let source = std::fs::read_to_string(repo().join("packaging/Containerfile")).unwrap();
    let mut instructions = Vec::new();
    let mut pending = String::new();
    let mut stage = 0;
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let whole = std::mem::take(&mut pending);
        let (keyword, arguments) = whole.split_once(' ').unwrap_or((&whole, ""));
        let keyword = keyword.to_uppercase();
        if keyword == "FROM" {
            stage += 1;
        }
        instructions.push((stage, keyword, arguments.trim().to_owned()));
    }
    instructions
}

fn exec_form(arguments: &str) -> Vec<String> {
    serde_json::from_str(arguments).unwrap_or_else(|e| panic!("{arguments}: {e}"))
}

/// Files the build reads from outside Rust sources: `include_*!` and `sqlx::migrate!` paths in
/// every crate's `src`, resolved as the compiler resolves them.
fn embedded_paths() -> Vec<PathBuf> {
    fn walk(dir: &Path, crate_dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, crate_dir, found);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (macro_call, base) in [
                ("include_str!(\"", path.parent().unwrap()),
                ("include_bytes!(\"", path.parent().unwrap()),
                ("include_dir!(\"$CARGO_MANIFEST_DIR/", crate_dir),
                ("migrate!(\"", crate_dir),
            ] {
                for (at, _) in source.match_indices(macro_call) {
                    let rest = &source[at + macro_call.len()..];
                    let relative = &rest[..rest.find('"').unwrap()];
                    found.push(base.join(relative));
                }
            }
        }
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).unwrap() {
        let crate_dir = entry.unwrap().path();
        walk(&crate_dir.join("src"), &crate_dir, &mut found);
    }
    found
}

#[test]
fn the_containerfile_builds_this_binary_from_what_it_copies() {
    let instructions = containerfile();
    let stages = instructions.last().unwrap().0;
    assert_eq!(stages, 2, "a builder stage and a runtime stage");

    // The builder's toolchain is at least the one the workspace asks for.
    let workspace = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let wanted = workspace
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let arg = instructions
        .iter()
        .find_map(|(_, k, a)| {
            (k == "ARG")
                .then(|| a.strip_prefix("RUST_VERSION="))
                .flatten()
        })
        .unwrap();
    assert!(version(arg) >= version(wanted), "rust {arg} < {wanted}");

    // What the builder copies exists, and holds every file the build embeds.
    let copied: Vec<PathBuf> = instructions
        .iter()
        .filter(|(stage, k, a)| *stage == 1 && k == "COPY" && !a.starts_with("--from"))
        .flat_map(|(_, _, a)| {
            let words: Vec<&str> = a.split_whitespace().collect();
            words[..words.len() - 1]
                .iter()
                .map(|source| repo().join(source))
                .collect::<Vec<_>>()
        })
        .collect();
    for source in &copied {
        assert!(source.exists(), "COPY {} does not exist", source.display());
    }
    let embedded = embedded_paths();
    assert!(embedded.len() >= 5, "{embedded:?}");
    for path in embedded {
        let path = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            copied.iter().any(|source| path.starts_with(source)),
            "the build embeds {}, which the Containerfile does not copy",
            path.display()
        );
    }

    // It builds the package whose binary is `utbyte`, and the runtime runs that binary.
    let build = instructions
        .iter()
        .find(|(stage, k, a)| *stage == 1 && k == "RUN" && a.contains("cargo build"))
        .map(|(_, _, a)| a.clone())
        .unwrap();
    assert!(build.contains("--release --locked -p utbyte "), "{build}");
    let manifest = std::fs::read_to_string(repo().join("crates/cli/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"utbyte\""));
    assert!(
        build.contains("target/release/utbyte /usr/local/bin/utbyte"),
        "{build}"
    );
    let runtime: Vec<(&str, &str)> = instructions
        .iter()
        .filter(|(stage, _, _)| *stage == 2)
        .map(|(_, k, a)| (k.as_str(), a.as_str()))
        .collect();
    let find = |keyword: &str| -> Vec<&str> {
        runtime
            .iter()
            .filter(|(k, _)| *k == keyword)
            .map(|(_, a)| *a)
            .collect()
    };
    assert_eq!(
        find("COPY"),
        ["--from=builder /usr/local/bin/utbyte /usr/bin/utbyte"],
        "the binary only"
    );
    assert_eq!(exec_form(find("ENTRYPOINT")[0]), ["/usr/bin/utbyte"]);
    let cmd = exec_form(find("CMD")[0]);
    let words: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let config = words.iter().position(|w| *w == "--config").unwrap();
    assert!(is_command(&words[..config]), "utbyte {cmd:?}");

    // Unprivileged, stopped with the signal the node drains on, state and configuration apart.
    let user = find("USER")[0];
    assert!(
        !user.starts_with('0') && !user.starts_with("root"),
        "{user}"
    );
    assert_eq!(find("STOPSIGNAL"), ["SIGTERM"]);
    let volumes = exec_form(find("VOLUME")[0]);
    assert_eq!(volumes, ["/var/lib/utbyte", "/etc/utbyte"]);
    assert!(words[config + 1].starts_with("/etc/utbyte/"));
    assert_eq!(find("EXPOSE"), ["7401 7501 7601"]);
}

/// The health check's command and environment, from the runtime stage.
/// The image's health check, as its exec-form words.
fn health_check() -> Vec<String> {
    let instructions = containerfile();
    let check = instructions
        .iter()
        .find(|(_, k, _)| k == "HEALTHCHECK")
        .map(|(_, _, a)| a.clone())
        .unwrap();
    exec_form(&check[check.find("CMD ").unwrap() + 4..])
}

/// Runs the image's health check with this build's binary and `config` in place of the
/// image's paths.
fn run_health_check(config: &Path) -> bool {
    let command = health_check();
    let words: Vec<String> = command
        .iter()
        .map(|w| match w.as_str() {
            "/usr/bin/utbyte" => env!("CARGO_BIN_EXE_utbyte").to_owned(),
            "/etc/utbyte/node.toml" => config.to_string_lossy().into_owned(),
            other => other.to_owned(),
        })
        .collect();
    Command::new(&words[0])
        .args(&words[1..])
        .output()
        .unwrap()
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_passes_on_a_live_node_and_fails_on_a_closed_port() {
    assert_eq!(
        health_check(),
        [
            "/usr/bin/utbyte",
            "node",
            "health",
            "--config",
            "/etc/utbyte/node.toml"
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let rulebook = repo().join("rulebook");
    let federation = utbyte_testbed::loopback::LoopbackFederation::start(
        utbyte_testbed::loopback::Plan::new(
            dir.path().join("federation"),
            utbyte_rules::rulebook::read_dir(&rulebook).unwrap(),
            &["skatteverket"],
            utbyte_synthetic::Population {
                seed: 1,
                persons: 10,
            },
        )
        .unwrap(),
    )
    .await
    .unwrap();
    // The loopback node speaks plain HTTP; the deployment test runs the same check over TLS.
    let port = federation.node("skatteverket").unwrap().local_addr.port();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "authority = \"skatteverket\"\ndata_dir = \"data\"\ncredentials_dir = \"pki\"\nfederation_listen = \"127.0.0.1:1\"\nlocal_listen = \"127.0.0.1:{port}\"\n[directory]\nendpoint = \"https://127.0.0.1:2\"\nauthority = \"digg\"\nkey = \"k\"\n[access]\nplain_http = true\n"
        ),
    )
    .unwrap();
    let check = config.clone();
    assert!(
        tokio::task::spawn_blocking(move || run_health_check(&check))
            .await
            .unwrap()
    );
    federation.stop().await;
    // Nothing listens there any more.
    assert!(
        !tokio::task::spawn_blocking(move || run_health_check(&config))
            .await
            .unwrap()
    );
}
