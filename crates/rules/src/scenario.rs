//! Scenario tests: a request and the outcome expected for each field, written as data a legal
//! expert can read and write.
//!
//! ```toml
//! [[scenario]]
//! name = "Försäkringskassan gets income for housing-allowance control"
//! [scenario.request]
//! recipient = "forsakringskassan"
//! unit = "fk-kontroll"
//! role = "handlaggare"
//! offering = "skv-inkomst"
//! fields = ["lon", "diagnos"]
//! purpose = "kontroll-bostadsbidrag"
//! legal_basis = "luffa"
//! case_ref = "FK 2026/1234"
//! subject = { id = "19121212-1212" }
//! time = "2026-03-02T09:00:00Z"
//! [scenario.expect]
//! lon = { outcome = "disclose", ground = "pre_assessed", cites = ["SFS 2024:307"] }
//! diagnos = { outcome = "refuse" }
//! ```
//!
//! A scenario of an own-initiative notice writes `[scenario.notice]` (a [`Notice`]: `sender`,
//! `sender_unit`, `role`, `recipient`, optional `recipient_unit`, `kind`, `fields`, `purpose`,
//! `legal_basis`, `case_ref`, `subject`, `time`) instead of `[scenario.request]`; it is decided
//! at the sender.
//!
//! `cites` lists citations the field's decision must rest on, each matching a cited provision
//! exactly or as its leading words (`SFS 2024:307` matches `SFS 2024:307 3 §`); `cites = []`
//! demands that nothing is cited. `policy` names a policy that must be among them. A scenario
//! with `error = "…"` instead of `expect` demands that the request is rejected with an error
//! containing that text.

use crate::decision::{Ground, Outcome};
use crate::notice::Notice;
use crate::request::DisclosureRequest;
use crate::source::{parse_toml, Problem, SourceFile};
use crate::Rulebook;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub outcome: Outcome,
    #[serde(default)]
    pub ground: Option<Ground>,
    #[serde(default)]
    pub cites: Option<Vec<String>>,
    #[serde(default)]
    pub policy: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub request: Option<DisclosureRequest>,
    #[serde(default)]
    pub notice: Option<Notice>,
    #[serde(default)]
    pub expect: BTreeMap<String, Expectation>,
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(rename = "scenario")]
    scenarios: Vec<Scenario>,
}

/// The result of running one scenario.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub file: String,
    pub line: usize,
    pub name: String,
    /// Empty when the scenario passed.
    pub failures: Vec<String>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Reads every scenario of a file.
pub fn load(file: &SourceFile) -> Result<Vec<(usize, Scenario)>, Problem> {
    let parsed: ScenarioFile = parse_toml(file)?;
    let mut from = 0;
    Ok(parsed
        .scenarios
        .into_iter()
        .map(|scenario| {
            // Locate each scenario by its name, searching onwards from the previous one.
            let needle = format!("\"{}\"", scenario.name);
            let offset = file.text[from..].find(&needle).map_or(from, |i| from + i);
            from = offset;
            (file.position(offset).0, scenario)
        })
        .collect())
}

/// Runs one scenario against a rulebook.
pub fn run(rulebook: &Rulebook, scenario: &Scenario) -> Vec<String> {
    let mut failures = Vec::new();
    let decided = match (&scenario.request, &scenario.notice) {
        (Some(request), None) => rulebook.decide(request),
        (None, Some(notice)) => rulebook.decide_notice(notice),
        _ => {
            failures.push(
                "a scenario has exactly one of [scenario.request] and [scenario.notice]".into(),
            );
            return failures;
        }
    };
    let decision = match (decided, &scenario.error) {
        (Err(err), Some(expected)) => {
            if !err.to_string().contains(expected.as_str()) {
                failures.push(format!(
                    "expected an error containing \"{expected}\", got: {err}"
                ));
            }
            return failures;
        }
        (Err(err), None) => {
            failures.push(format!("the request was rejected: {err}"));
            return failures;
        }
        (Ok(_), Some(expected)) => {
            failures.push(format!(
                "expected the request to be rejected with \"{expected}\", but it was decided"
            ));
            return failures;
        }
        (Ok(decision), None) => decision,
    };
    if scenario.expect.is_empty() {
        failures.push("the scenario expects nothing; add [scenario.expect] or error".into());
    }
    for (field, expected) in &scenario.expect {
        let Some(got) = decision.fields.iter().find(|f| &f.field == field) else {
            failures.push(format!(
                "{field}: expected {}, but the field was not decided",
                expected.outcome
            ));
            continue;
        };
        if got.outcome != expected.outcome {
            failures.push(format!(
                "{field}: expected {}, got {} ({})",
                expected.outcome, got.outcome, got.ground
            ));
        }
        if let Some(ground) = expected.ground {
            if got.ground != ground {
                failures.push(format!(
                    "{field}: expected ground {ground}, got {}",
                    got.ground
                ));
            }
        }
        let cited: Vec<String> = got.citations().map(|c| c.citation.to_string()).collect();
        if let Some(cites) = &expected.cites {
            if cites.is_empty() && !cited.is_empty() {
                failures.push(format!(
                    "{field}: expected no citation, got {}",
                    cited.join(", ")
                ));
            }
            for cite in cites {
                let matches = cited
                    .iter()
                    .any(|c| c == cite || c.starts_with(&format!("{cite} ")));
                if !matches {
                    let got = if cited.is_empty() {
                        "nothing".to_owned()
                    } else {
                        cited.join(", ")
                    };
                    failures.push(format!("{field}: expected a citation of {cite}, got {got}"));
                }
            }
        }
        if let Some(policy) = &expected.policy {
            if !got.citations().any(|c| &c.id == policy) {
                let ids: Vec<&str> = got.citations().map(|c| c.id.as_str()).collect();
                failures.push(format!(
                    "{field}: expected policy `{policy}` among [{}]",
                    ids.join(", ")
                ));
            }
        }
    }
    for got in &decision.fields {
        if !scenario.expect.contains_key(&got.field) {
            failures.push(format!(
                "{}: decided {} but the scenario says nothing about it",
                got.field, got.outcome
            ));
        }
    }
    failures
}

/// Runs every scenario in the given files.
pub fn run_files(
    rulebook: &Rulebook,
    files: &[SourceFile],
) -> Result<Vec<ScenarioResult>, Problem> {
    let mut results = Vec::new();
    for file in files {
        for (line, scenario) in load(file)? {
            results.push(ScenarioResult {
                file: file.path.clone(),
                line,
                failures: run(rulebook, &scenario),
                name: scenario.name,
            });
        }
    }
    Ok(results)
}
