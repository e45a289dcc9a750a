//! The example rulebook in `rulebook/` loads, passes its scenarios and its analysis.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::path::PathBuf;
use utbyte_rules::analyze::{analyze, Severity};
use utbyte_rules::rulebook::read_dir;
use utbyte_rules::{scenario, Rulebook};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rulebook")
}

#[test]
fn example_rulebook_loads() {
    let rulebook = Rulebook::load_dir(&dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rulebook.manifest.illustrative,
        "the example rulebook must be marked illustrative"
    );
    assert!(rulebook.pre_assessments.len() >= 5);
}

#[test]
fn example_scenarios_pass() {
    let rulebook = Rulebook::load_dir(&dir()).unwrap_or_else(|e| panic!("{e}"));
    let files: Vec<_> = read_dir(&dir())
        .unwrap()
        .into_iter()
        .filter(|f| f.path.starts_with("scenarios/"))
        .collect();
    let results = scenario::run_files(&rulebook, &files).unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| {
            format!(
                "{}:{} {}: {}",
                r.file,
                r.line,
                r.name,
                r.failures.join("; ")
            )
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(results.len() >= 60, "only {} scenarios", results.len());
}

#[test]
fn example_analysis_finds_no_errors() {
    let rulebook = Rulebook::load_dir(&dir()).unwrap_or_else(|e| panic!("{e}"));
    let date = time::macros::date!(2026 - 11 - 24);
    let findings = analyze(&rulebook, date);
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    for f in &findings {
        println!("{f}");
    }
}
