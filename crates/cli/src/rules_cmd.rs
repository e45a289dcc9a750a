//! `utbyte rules …` — the legal expert's toolbox.

use anyhow::Context as _;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use utbyte_rules::analyze::{self, Severity};
use utbyte_rules::rulebook::read_dir;
use utbyte_rules::{explain, scenario, DisclosureRequest, LoadError, Rulebook};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Parse and validate a rulebook against the exchange schema; report every problem with file:line.
    Check { dir: PathBuf },
    /// Run the rulebook's scenario tests (scenarios/*.toml).
    Test { dir: PathBuf },
    /// Decide a request and explain the outcome of each field with its citations.
    Explain {
        dir: PathBuf,
        /// The request, as JSON.
        #[arg(long)]
        request: PathBuf,
        /// Print the decision as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Find rules that can never apply, overlapping or contradicted pre-assessments, and any way
    /// to auto-disclose information about a subject with protected identity.
    Analyze {
        dir: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Check { dir } => check(&dir),
        RulesCommand::Test { dir } => test(&dir),
        RulesCommand::Explain { dir, request, json } => explain(&dir, &request, json),
        RulesCommand::Analyze { dir, json } => analyze(&dir, json),
    }
}

/// Loads a rulebook, printing its problems on failure.
fn load(dir: &Path) -> Result<Rulebook, ExitCode> {
    Rulebook::load_dir(dir).map_err(|err| report(dir, &err))
}

fn report(dir: &Path, err: &LoadError) -> ExitCode {
    for problem in &err.problems {
        eprintln!("{}/{problem}", dir.display());
    }
    eprintln!(
        "{} problem{} in {}",
        err.problems.len(),
        if err.problems.len() == 1 { "" } else { "s" },
        dir.display()
    );
    ExitCode::FAILURE
}

fn check(dir: &Path) -> anyhow::Result<ExitCode> {
    let rulebook = match load(dir) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    println!(
        "{} {}: {} policies ({} from {} pre-assessments), {} offerings, {} authorities — ok (sha256 {})",
        rulebook.manifest.name,
        rulebook.manifest.version,
        rulebook.policy_count(),
        rulebook.policies().filter(|(_, i)| i.pre_assessment.is_some()).count(),
        rulebook.pre_assessments.len(),
        rulebook.vocabulary.offerings.len(),
        rulebook.vocabulary.authorities.len(),
        rulebook.hash()
    );
    Ok(ExitCode::SUCCESS)
}

fn test(dir: &Path) -> anyhow::Result<ExitCode> {
    let rulebook = match load(dir) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let files: Vec<_> = match read_dir(dir) {
        Ok(files) => files
            .into_iter()
            .filter(|f| f.path.starts_with("scenarios/"))
            .collect(),
        Err(err) => return Ok(report(dir, &err)),
    };
    let results = match scenario::run_files(&rulebook, &files) {
        Ok(results) => results,
        Err(problem) => return Ok(report(dir, &LoadError::single(problem))),
    };
    let mut failed = 0;
    for result in &results {
        if result.passed() {
            println!("PASS  {}  {}", result.file, result.name);
        } else {
            failed += 1;
            println!("FAIL  {}:{}  {}", result.file, result.line, result.name);
            for failure in &result.failures {
                println!("        {failure}");
            }
        }
    }
    let passed = results.len() - failed;
    if results.is_empty() {
        println!("no scenarios in {}/scenarios", dir.display());
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 && !results.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn explain(dir: &Path, request: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let rulebook = match load(dir) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let text = std::fs::read_to_string(request)
        .with_context(|| format!("cannot read {}", request.display()))?;
    let request: DisclosureRequest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid request", request.display()))?;
    let decision = rulebook
        .decide(&request)
        .context("the request cannot be decided")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{}", explain::render(&rulebook, &request, &decision));
    }
    Ok(ExitCode::SUCCESS)
}

fn analyze(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let rulebook = match load(dir) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let findings = analyze::analyze(&rulebook, analyze::today());
    if json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        for finding in &findings {
            println!("{finding}");
        }
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count();
        println!("{errors} errors, {warnings} warnings");
    }
    Ok(if findings.iter().any(|f| f.severity == Severity::Error) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
