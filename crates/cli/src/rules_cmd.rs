//! `utbyte rules …` — the legal expert's toolbox.

use anyhow::Context as _;
use clap::Subcommand;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, time};
use time::{Date, OffsetDateTime};
use utbyte_domain::legal_time;
use utbyte_rules::analyze::{self, Severity};
use utbyte_rules::rulebook::read_dir;
use utbyte_rules::{explain, scenario, Decision, LoadError, RequestError, Rulebook};

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Parse and validate a rulebook against the exchange schema; report every problem with file:line.
    Check { dir: PathBuf },
    /// Run the rulebook's scenario tests (scenarios/*.toml).
    Test { dir: PathBuf },
    /// Decide a request (or an own-initiative notice, at its sender) and explain the outcome of
    /// each field with its citations.
    Explain {
        dir: PathBuf,
        /// The request, as JSON.
        #[arg(long, required_unless_present = "notice", conflicts_with = "notice")]
        request: Option<PathBuf>,
        /// An own-initiative notice instead, as JSON: decided at its sender.
        #[arg(long)]
        notice: Option<PathBuf>,
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
    /// List every request whose decision changes from the OLD rulebook to the NEW one, field by
    /// field.
    ///
    /// Every unit, role, offering, purpose, legal basis, joint operation and subject (ordinary,
    /// protected identity) of the two vocabularies is decided with both rulebooks; each changed
    /// field is listed with both outcomes, grounds and citations, after the counts. Exits 0
    /// whether or not anything changed: read the counts (`summary` in the JSON).
    Diff {
        /// The rulebook in force.
        old: PathBuf,
        /// The proposed rulebook.
        new: PathBuf,
        /// Print the differences as JSON.
        #[arg(long)]
        json: bool,
        /// Decide at this instant (RFC 3339), or at noon Swedish time on this day (YYYY-MM-DD);
        /// validity periods and the force of the law are judged on its Swedish day. Default: now.
        #[arg(long)]
        at: Option<String>,
    },
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCommand::Check { dir } => check(&dir),
        RulesCommand::Test { dir } => test(&dir),
        RulesCommand::Explain {
            dir,
            request,
            notice,
            json,
        } => match (request, notice) {
            (_, Some(notice)) => explain_notice(&dir, &notice, json),
            (Some(request), None) => explain(&dir, &request, json),
            // clap requires one of the two.
            (None, None) => Ok(ExitCode::from(2)),
        },
        RulesCommand::Analyze { dir, json } => analyze(&dir, json),
        RulesCommand::Diff { old, new, json, at } => diff(&old, &new, json, at.as_deref()),
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
    explain_file(
        dir,
        request,
        json,
        "request",
        Rulebook::decide,
        explain::render,
    )
}

fn explain_notice(dir: &Path, notice: &Path, json: bool) -> anyhow::Result<ExitCode> {
    explain_file(
        dir,
        notice,
        json,
        "notice",
        Rulebook::decide_notice,
        explain::render_notice,
    )
}

/// Reads an exchange (`what`: a request or a notice) as JSON, decides it with the rulebook in
/// `dir` and prints the decision as JSON or explained.
fn explain_file<T: serde::de::DeserializeOwned>(
    dir: &Path,
    path: &Path,
    json: bool,
    what: &str,
    decide: fn(&Rulebook, &T) -> Result<Decision, RequestError>,
    render: fn(&Rulebook, &T, &Decision) -> String,
) -> anyhow::Result<ExitCode> {
    let rulebook = match load(dir) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let exchange: T = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid {what}", path.display()))?;
    let decision =
        decide(&rulebook, &exchange).with_context(|| format!("the {what} cannot be decided"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&decision)?);
    } else {
        print!("{}", render(&rulebook, &exchange, &decision));
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

fn diff(old: &Path, new: &Path, json: bool, at: Option<&str>) -> anyhow::Result<ExitCode> {
    let at = match at {
        Some(text) => parse_instant(text)?,
        None => OffsetDateTime::now_utc(),
    };
    let old = match load(old) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let new = match load(new) {
        Ok(rulebook) => rulebook,
        Err(code) => return Ok(code),
    };
    let diff = utbyte_rules::diff::diff(&old, &new, at);
    let mut out = std::io::stdout().lock();
    let written = if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&diff)?)
    } else {
        write!(out, "{diff}")
    };
    match written {
        // A long list is often read through `head` or a pager that stops early.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write the differences")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// An instant as RFC 3339, or a day (YYYY-MM-DD) read as noon Swedish time, well clear of
/// midnight on either calendar.
fn parse_instant(text: &str) -> anyhow::Result<OffsetDateTime> {
    if let Ok(instant) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(instant);
    }
    let format = format_description!("[year]-[month]-[day]");
    let day = Date::parse(text, format).map_err(|_| {
        anyhow::anyhow!("--at `{text}` is neither an RFC 3339 instant nor a day YYYY-MM-DD")
    })?;
    // Sweden changes its offset at 01:00 UTC, so the offset at 10:00 UTC is the one at noon.
    let offset = legal_time::swedish_offset(day.with_time(time!(10:00)).assume_utc());
    Ok(day.with_time(time!(12:00)).assume_offset(offset))
}
