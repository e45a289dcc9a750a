//! `utbyte rules …` as a legal expert uses it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn utbyte(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_utbyte"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("utbyte runs")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the example rulebook (policies, vocabulary, pre-assessments) to break on purpose.
fn copy_rulebook() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy(&repo().join("rulebook"), dir.path());
    dir
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn check_accepts_the_example_rulebook() {
    let out = utbyte(&["rules", "check", "rulebook"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok (sha256 "));
}

#[test]
fn check_locates_a_syntax_error_and_fails() {
    let dir = copy_rulebook();
    std::fs::write(
        dir.path().join("policies/trasig.cedar"),
        "// en trasig regel\n@id(\"trasig\")\npermit (principal, action resource);\n",
    )
    .unwrap();
    let out = utbyte(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("policies/trasig.cedar:3:"), "{stderr}");
    assert!(stderr.contains("syntax error"), "{stderr}");
}

#[test]
fn check_locates_a_schema_type_error_and_fails() {
    let dir = copy_rulebook();
    std::fs::write(
        dir.path().join("policies/typfel.cedar"),
        "@id(\"typfel\") @outcome(\"review\") @sfs(\"2009:400\") @chapter(\"10\") @section(\"27 §\") @title(\"t\")\n\
         permit (principal, action, resource)\nwhen {\n  context.purpose == \"kontroll\" && context.subject.age > 18\n};\n",
    )
    .unwrap();
    let out = utbyte(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("policies/typfel.cedar:4:"), "{stderr}");
    assert!(stderr.contains("type error"), "{stderr}");
}

#[test]
fn explain_shows_the_pre_assessed_luffa_disclosure_and_the_refusals() {
    let out = utbyte(&[
        "rules",
        "explain",
        "rulebook",
        "--request",
        "rulebook/requests/luffa-malmo-fk.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for field in ["forman", "belopp", "period"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap();
        assert!(line.contains("DISCLOSE"), "{line}");
    }
    for field in ["diagnos", "lakarintyg"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap();
        assert!(line.contains("REFUSE"), "{line}");
    }
    assert!(
        stdout.contains("SFS 2024:307 3 § [pre-assessment fk-malmo-formaner-ekonomiskt-bistand]"),
        "{stdout}"
    );
    assert!(stdout.contains("SFS 2024:307 4 §"), "{stdout}");
}

#[test]
fn explain_decides_a_notice_at_its_sender() {
    let out = utbyte(&[
        "rules",
        "explain",
        "rulebook",
        "--notice",
        "rulebook/notices/ubm-fk-dubbelutbetalning.json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Notice     Utbetalningsmyndigheten / Kontroll av utbetalningar (kontrollant) tells Försäkringskassan / Avdelningen för kontroll"),
        "{stdout}"
    );
    for field in ["forman", "belopp", "utbetalningsdag", "grund"] {
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(field))
            .unwrap();
        assert!(line.contains("DISCLOSE"), "{line}");
    }
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("inloggningar"))
        .unwrap();
    assert!(
        line.contains("REFUSE") && line.contains("no legal basis"),
        "{line}"
    );
    assert!(
        stdout.contains("SFS 2008:206 3 § [underrattelseskyldighet-felaktig-utbetalning]"),
        "{stdout}"
    );
    // A request and a notice cannot be explained at once.
    let both = utbyte(&[
        "rules",
        "explain",
        "rulebook",
        "--notice",
        "rulebook/notices/ubm-fk-dubbelutbetalning.json",
        "--request",
        "rulebook/requests/luffa-malmo-fk.json",
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
}

#[test]
fn explain_routes_protected_identity_to_review() {
    let out = utbyte(&[
        "rules",
        "explain",
        "rulebook",
        "--request",
        "rulebook/requests/luffa-malmo-fk-skyddad.json",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let decision: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = decision["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("forman", "review"),
            ("belopp", "review"),
            ("period", "review"),
            ("diagnos", "refuse"),
            ("lakarintyg", "refuse")
        ]
    );
    assert_eq!(decision["rulebook"]["hash"].as_str().unwrap().len(), 64);
}

#[test]
fn explain_rejects_a_malformed_identifier_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let request = std::fs::read_to_string(repo().join("rulebook/requests/luffa-malmo-fk.json"))
        .unwrap()
        .replace("19121212-1212", "19121212-1213");
    let path = dir.path().join("r.json");
    std::fs::write(&path, request).unwrap();
    let out = utbyte(&[
        "rules",
        "explain",
        "rulebook",
        "--request",
        path.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("subject identifier is not valid"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("19121212-1213"),
        "identifiers never appear in errors: {stderr}"
    );
}

#[test]
fn test_reports_every_scenario_and_a_summary_line() {
    let out = utbyte(&["rules", "test", "rulebook"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn test_fails_when_a_scenario_fails() {
    let dir = copy_rulebook();
    std::fs::write(
        dir.path().join("scenarios/zz-fel.toml"),
        r#"
[[scenario]]
name = "Hälsouppgifter lämnas aldrig med stöd av LUFFA (fel förväntan)"
[scenario.request]
recipient = "malmo-stad"
unit = "malmo-ekonomiskt-bistand"
role = "handlaggare"
offering = "fk-formaner"
fields = ["diagnos"]
purpose = "kontroll-ekonomiskt-bistand"
legal_basis = "luffa"
case_ref = "ASN-2026-1"
subject = { id = "19121212-1212" }
time = "2026-03-02T09:00:00Z"
[scenario.expect]
diagnos = { outcome = "disclose" }
"#,
    )
    .unwrap();
    let out = utbyte(&["rules", "test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAIL  scenarios/zz-fel.toml:3"), "{stdout}");
    assert!(
        stdout.contains("diagnos: expected disclose, got refuse (forbidden)"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .ends_with(" passed, 1 failed"),
        "{stdout}"
    );
}

#[test]
fn analyze_passes_the_example_and_proves_protected_identity() {
    let out = utbyte(&["rules", "analyze", "rulebook"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("info[protected-identity]"), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");
}

#[test]
fn analyze_fails_when_protected_identity_could_leak() {
    let dir = copy_rulebook();
    std::fs::remove_file(dir.path().join("policies/skydd.cedar")).unwrap();
    let out = utbyte(&["rules", "analyze", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("error[protected-identity]"), "{stdout}");
}

#[test]
fn diff_of_a_rulebook_with_itself_lists_no_change_and_succeeds() {
    let out = utbyte(&[
        "rules",
        "diff",
        "rulebook",
        "rulebook",
        "--json",
        "--at",
        "2026-06-01",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(diff["changes"].as_array().map(Vec::len), Some(0), "{diff}");
    assert_eq!(diff["summary"]["changed"], 0);
    assert_eq!(diff["summary"]["citation_changed"], 0);
    assert!(diff["compared"].as_u64().unwrap() > 0, "{diff}");
    // A day is read as noon, Swedish (summer) time.
    assert_eq!(diff["at"], "2026-06-01T12:00:00+02:00");

    let out = utbyte(&[
        "rules",
        "diff",
        "rulebook",
        "rulebook",
        "--at",
        "2026-01-15T09:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("0 changed (0 outcome, 0 ground), 0 citation changed, of "),
        "{stdout}"
    );
    assert!(first.ends_with(" requests)"), "{stdout}");
    assert!(stdout.contains("\nAt   2026-01-15T09:00:00Z\n"), "{stdout}");
}

#[test]
fn diff_refuses_an_instant_it_cannot_read() {
    let out = utbyte(&["rules", "diff", "rulebook", "rulebook", "--at", "1 juni"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--at `1 juni` is neither an RFC 3339 instant nor a day YYYY-MM-DD"),
        "{stderr}"
    );
}
