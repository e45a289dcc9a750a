//! `utbyte pki …` as a federation operator uses it: create the CA, issue a node certificate,
//! inspect it; and the refusals that protect keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

fn utbyte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(args)
        .output()
        .expect("utbyte runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn init_issue_show() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let node = dir.path().join("skatteverket");

    let init = utbyte(&[
        "pki",
        "init",
        path(&ca),
        "--name",
        "utbyte test CA",
        "--days",
        "30",
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    assert!(text(&init.stdout).contains("created federation CA \"utbyte test CA\""));
    assert_eq!(mode(&ca.join("ca.key")), 0o600);

    let issue = utbyte(&[
        "pki",
        "issue",
        path(&ca),
        "--authority",
        "skatteverket",
        "--orgnr",
        "202100-5448",
        "--name",
        "Skatteverket",
        "--dns",
        "localhost",
        "--ip",
        "127.0.0.1",
        "--ip",
        "::1",
        "--days",
        "7",
        "--out",
        path(&node),
    ]);
    assert!(issue.status.success(), "{}", text(&issue.stderr));
    assert!(text(&issue.stdout).contains("skatteverket (Skatteverket, 202100-5448)"));
    assert_eq!(mode(&node.join("node.key")), 0o600);
    assert!(node.join("node.crt").is_file() && node.join("ca.crt").is_file());

    let show = utbyte(&["pki", "show", path(&node.join("node.crt"))]);
    assert!(show.status.success(), "{}", text(&show.stderr));
    let shown = text(&show.stdout);
    for line in [
        "authority    skatteverket",
        "orgnr        202100-5448",
        "name         Skatteverket",
        "status       valid",
        "dns          localhost",
        "ip           127.0.0.1",
        "ip           ::1",
    ] {
        assert!(shown.contains(line), "{line:?} missing from:\n{shown}");
    }
    let fingerprint = shown
        .lines()
        .find_map(|l| l.strip_prefix("fingerprint  "))
        .unwrap();
    assert_eq!(fingerprint.len(), 64);
    assert!(text(&issue.stdout).contains(fingerprint));

    let show_ca = utbyte(&["pki", "show", path(&ca.join("ca.crt"))]);
    assert!(show_ca.status.success(), "{}", text(&show_ca.stderr));
    assert!(text(&show_ca.stdout).contains("federation CA CN=utbyte test CA"));
}

#[test]
fn init_refuses_to_overwrite_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    assert!(utbyte(&["pki", "init", path(&ca)]).status.success());
    let key = std::fs::read(ca.join("ca.key")).unwrap();

    let again = utbyte(&["pki", "init", path(&ca)]);
    assert_eq!(again.status.code(), Some(2));
    let err = text(&again.stderr);
    assert!(
        err.contains("already exists; refusing to overwrite it"),
        "{err}"
    );
    assert_eq!(std::fs::read(ca.join("ca.key")).unwrap(), key);
}

#[test]
fn issue_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    assert!(utbyte(&["pki", "init", path(&ca)]).status.success());
    let out = dir.path().join("node");
    let issue = |orgnr: &str, extra: &[&str]| {
        let mut args = vec![
            "pki",
            "issue",
            path(&ca),
            "--authority",
            "skatteverket",
            "--orgnr",
            orgnr,
            "--name",
            "Skatteverket",
            "--out",
            path(&out),
        ];
        args.extend_from_slice(extra);
        utbyte(&args)
    };

    let bad_orgnr = issue("202100-5449", &["--ip", "127.0.0.1"]);
    assert_eq!(bad_orgnr.status.code(), Some(2));
    assert!(text(&bad_orgnr.stderr).contains("invalid organisationsnummer"));

    let no_address = issue("202100-5448", &[]);
    assert!(text(&no_address.stderr).contains("at least one DNS name or IP address"));

    assert!(issue("202100-5448", &["--ip", "127.0.0.1"])
        .status
        .success());
    let again = issue("202100-5448", &["--ip", "127.0.0.1"]);
    assert!(
        text(&again.stderr).contains("refusing to overwrite"),
        "{}",
        text(&again.stderr)
    );
    assert!(!out.join("node.key.tmp").exists());
}
