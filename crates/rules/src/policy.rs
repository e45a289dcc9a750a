//! Policies as the rulebook reads them: Cedar text plus the annotations that make a decision
//! traceable to the law.
//!
//! Every policy must carry
//! - `@id("…")` — a stable name, unique in the rulebook;
//! - `@outcome("disclose" | "review" | "refuse")` — what the policy does when it holds;
//! - `@sfs`, `@section`, `@title` (and `@chapter` where the statute has chapters) — the citation.
//!
//! Optional: `@weigh("…")` (what a reviewer must weigh), `@note("…")`, and for a version of a
//! provision's wording `@in_force("YYYY-MM-DD")` (the first day it applies) and
//! `@repealed("YYYY-MM-DD")` (the first day it no longer applies, after any transitional rule).
//! A policy applies only on the days both its own dates and its provision's force allow
//! ([`PolicyInfo::period`]): a request is decided under the law in force on its day.
//!
//! The outcome and Cedar's effect together give the policy's [`Class`]: a `permit` is a legal basis
//! (a *grant*) that discloses automatically or routes to review; a `forbid` is an *override* that
//! forces review or refuses whatever grants hold.

use crate::dates::Period;
use crate::source::{Problem, SourceFile};
use cedar_policy::{Effect, Policy, PolicyId, PolicySet};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// What a policy does when it is satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// `permit` + `@outcome("disclose")`: a legal basis under which the field leaves automatically.
    Disclose,
    /// `permit` + `@outcome("review")`: a legal basis that requires a needs assessment or an
    /// interest balancing by a human.
    Review,
    /// `forbid` + `@outcome("review")`: forces a human assessment whatever grants hold.
    ForceReview,
    /// `forbid` + `@outcome("refuse")`: refuses whatever grants hold.
    Refuse,
}

impl Class {
    pub fn is_grant(self) -> bool {
        matches!(self, Class::Disclose | Class::Review)
    }
}

/// The statutory citation a policy carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Citation {
    pub sfs: String,
    pub chapter: String,
    pub section: String,
    pub title: String,
}

impl fmt::Display for Citation {
    /// `SFS 2009:400 10 kap. 27 §` — the form a Swedish lawyer writes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SFS {}", self.sfs)?;
        if !self.chapter.is_empty() {
            write!(f, " {} kap.", self.chapter)?;
        }
        write!(f, " {}", self.section)
    }
}

/// A policy's meaning, read from its annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    pub id: String,
    pub class: Class,
    pub citation: Citation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weigh: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The pre-assessment this policy was compiled from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_assessment: Option<String>,
    /// Where the policy is written (file, line).
    pub file: String,
    pub line: usize,
    /// The provision the policy writes down: the one its citation names, if the vocabulary
    /// defines it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provision: Option<String>,
    /// The Swedish days on which the policy applies: its own `@in_force`/`@repealed` within its
    /// provision's force.
    #[serde(skip)]
    pub period: Period,
}

/// Annotations a policy may carry; anything else is a typo the legal expert wants to hear about.
const KNOWN_ANNOTATIONS: [&str; 11] = [
    "id",
    "outcome",
    "sfs",
    "chapter",
    "section",
    "title",
    "weigh",
    "note",
    "pre_assessment",
    "in_force",
    "repealed",
];

/// Parses one `.cedar` file into policies renamed to their `@id`, with their meaning.
pub fn parse_file(file: &SourceFile, problems: &mut Vec<Problem>) -> Vec<(Policy, PolicyInfo)> {
    let set = match PolicySet::from_str(&file.text) {
        Ok(set) => set,
        Err(errors) => {
            for error in errors.iter() {
                problems.push(diagnostic_problem(file, error, "syntax error"));
            }
            return Vec::new();
        }
    };
    if set.num_of_templates() > 0 {
        problems.push(file.problem_near(
            "?",
            "templates are not written by hand in a rulebook; write a pre-assessment instead",
        ));
    }
    // Cedar names unnamed policies policy0, policy1, … in order of appearance.
    let mut parsed: Vec<&Policy> = set.policies().collect();
    parsed.sort_by_key(|p| {
        p.id()
            .to_string()
            .strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
    let mut out = Vec::new();
    for (ordinal, policy) in parsed.into_iter().enumerate() {
        let anchor = policy_anchor(file, ordinal);
        match read_info(file, policy, anchor) {
            Ok(info) => out.push((policy.new_id(PolicyId::new(&info.id)), info)),
            Err(problem) => problems.push(problem),
        }
    }
    out
}

/// Reads and checks the annotations of a policy.
pub fn read_info(
    file: &SourceFile,
    policy: &Policy,
    anchor: (usize, usize),
) -> Result<PolicyInfo, Problem> {
    let located = |message: String| Problem::new(&file.path, anchor.0, anchor.1, message);
    let id = policy
        .annotation("id")
        .ok_or_else(|| located("policy has no @id(\"…\") annotation".into()))?
        .to_owned();
    if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err(located(format!(
            "@id(\"{id}\") must be non-empty, without spaces or quotes"
        )));
    }
    let (line, column) = file.locate(&format!("@id(\"{id}\")"));
    let located = |message: String| Problem::new(&file.path, line, column, message);
    for (key, _) in policy.annotations() {
        if !KNOWN_ANNOTATIONS.contains(&key) {
            return Err(located(format!(
                "policy `{id}` has an unknown annotation @{key}; known: {}",
                KNOWN_ANNOTATIONS.join(", ")
            )));
        }
    }
    let required = |key: &str| -> Result<String, Problem> {
        match policy.annotation(key) {
            Some(value) if !value.trim().is_empty() => Ok(value.to_owned()),
            _ => Err(
                located(format!("policy `{id}` has no @{key}(\"…\") annotation")).with_help(
                    "every policy cites its provision: @sfs, @section, @title (and @chapter)",
                ),
            ),
        }
    };
    let outcome = required("outcome")?;
    let class = match (policy.effect(), outcome.as_str()) {
        (Effect::Permit, "disclose") => Class::Disclose,
        (Effect::Permit, "review") => Class::Review,
        (Effect::Forbid, "review") => Class::ForceReview,
        (Effect::Forbid, "refuse") => Class::Refuse,
        (Effect::Permit, "refuse") => {
            return Err(located(format!(
                "policy `{id}` is a permit with @outcome(\"refuse\"); a refusal is written as forbid"
            )))
        }
        (Effect::Forbid, "disclose") => {
            return Err(located(format!(
                "policy `{id}` is a forbid with @outcome(\"disclose\"); a forbid can only force review or refuse"
            )))
        }
        (_, other) => {
            return Err(located(format!(
                "policy `{id}` has @outcome(\"{other}\"); expected \"disclose\", \"review\" or \"refuse\""
            )))
        }
    };
    let date = |key: &str| -> Result<Option<time::Date>, Problem> {
        policy
            .annotation(key)
            .map(|text| {
                crate::dates::parse(text)
                    .map_err(|err| located(format!("policy `{id}`: @{key}: {err}")))
            })
            .transpose()
    };
    let period = Period::between(date("in_force")?, date("repealed")?);
    if period.is_empty() {
        return Err(located(format!(
            "policy `{id}` is repealed on or before the day it enters into force"
        )));
    }
    let citation = Citation {
        sfs: required("sfs")?,
        chapter: policy.annotation("chapter").unwrap_or_default().to_owned(),
        section: required("section")?,
        title: required("title")?,
    };
    Ok(PolicyInfo {
        id,
        class,
        citation,
        weigh: policy.annotation("weigh").map(str::to_owned),
        note: policy.annotation("note").map(str::to_owned),
        pre_assessment: policy.annotation("pre_assessment").map(str::to_owned),
        file: file.path.clone(),
        line,
        provision: None,
        period,
    })
}

/// Turns a Cedar diagnostic into a located problem, using its first labelled span.
pub fn diagnostic_problem(
    file: &SourceFile,
    error: &dyn miette::Diagnostic,
    what: &str,
) -> Problem {
    let offset = error
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(0, |label| label.offset());
    let mut message = format!("{what}: {error}");
    if let Some(labels) = error.labels() {
        for label in labels {
            if let Some(text) = label.label() {
                message.push_str(&format!(" ({text})"));
            }
        }
    }
    let problem = file.problem_at(offset, message);
    match error.help() {
        Some(help) => problem.with_help(help.to_string()),
        None => problem,
    }
}

/// Line and column of the `ordinal`-th policy in a file: the first annotation or effect keyword
/// of it. Cedar keeps no public source location on a parsed policy, so we scan for statement
/// starts, skipping comments and string literals.
fn policy_anchor(file: &SourceFile, ordinal: usize) -> (usize, usize) {
    let text = file.text.as_bytes();
    let mut starts = Vec::new();
    let mut at_statement_start = true;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'/' if text.get(i + 1) == Some(&b'/') => {
                while i < text.len() && text[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                if at_statement_start {
                    at_statement_start = false;
                }
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
            }
            b';' => at_statement_start = true,
            c if c.is_ascii_whitespace() => {}
            _ => {
                if at_statement_start {
                    starts.push(i);
                    at_statement_start = false;
                }
            }
        }
        i += 1;
    }
    starts
        .get(ordinal)
        .map_or((1, 1), |offset| file.position(*offset))
}

/// Escapes text for a Cedar string literal.
pub fn cedar_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Vec<(Policy, PolicyInfo)>, Vec<Problem>) {
        let mut problems = Vec::new();
        let file = SourceFile::new("p.cedar", text);
        let parsed = parse_file(&file, &mut problems);
        (parsed, problems)
    }

    const HEADER: &str =
        "@sfs(\"2009:400\") @chapter(\"10\") @section(\"27 §\") @title(\"Generalklausulen\")\n";

    #[test]
    fn classes_follow_effect_and_outcome() {
        let text = format!(
            "{HEADER}@id(\"a\") @outcome(\"disclose\") permit(principal, action, resource);\n\
             {HEADER}@id(\"b\") @outcome(\"review\") @weigh(\"men\") permit(principal, action, resource);\n\
             {HEADER}@id(\"c\") @outcome(\"review\") forbid(principal, action, resource);\n\
             {HEADER}@id(\"d\") @outcome(\"refuse\") forbid(principal, action, resource);\n"
        );
        let (parsed, problems) = parse(&text);
        assert!(problems.is_empty(), "{problems:?}");
        let classes: Vec<_> = parsed
            .iter()
            .map(|(p, i)| (p.id().to_string(), i.class))
            .collect();
        assert_eq!(
            classes,
            vec![
                ("a".into(), Class::Disclose),
                ("b".into(), Class::Review),
                ("c".into(), Class::ForceReview),
                ("d".into(), Class::Refuse)
            ]
        );
        assert_eq!(parsed[1].1.weigh.as_deref(), Some("men"));
        assert_eq!(
            parsed[0].1.citation.to_string(),
            "SFS 2009:400 10 kap. 27 §"
        );
        assert_eq!(parsed[3].1.line, 8, "the line of its @id");
    }

    #[test]
    fn a_permit_cannot_refuse_and_a_forbid_cannot_disclose() {
        let (_, problems) = parse(&format!(
            "{HEADER}@id(\"a\") @outcome(\"refuse\") permit(principal, action, resource);"
        ));
        assert!(
            problems[0].message.contains("written as forbid"),
            "{problems:?}"
        );
        let (_, problems) = parse(&format!(
            "{HEADER}@id(\"a\") @outcome(\"disclose\") forbid(principal, action, resource);"
        ));
        assert!(
            problems[0].message.contains("only force review or refuse"),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_id_points_at_the_policy() {
        let (_, problems) = parse(&format!(
            "// comment; with \"quote\"\n{HEADER}@id(\"a\") @outcome(\"disclose\") permit(principal, action, resource);\n\n\
             @outcome(\"disclose\") permit(principal, action, resource);"
        ));
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].line, problems[0].column),
            (5, 1),
            "{problems:?}"
        );
        assert!(problems[0].message.contains("no @id"));
    }

    #[test]
    fn missing_citation_and_unknown_annotation_are_reported() {
        let (_, problems) = parse("@id(\"a\") @outcome(\"disclose\") @section(\"1\") @title(\"t\") permit(principal, action, resource);");
        assert!(problems[0].message.contains("@sfs"), "{problems:?}");
        let (_, problems) = parse(&format!("{HEADER}@id(\"a\") @outcom(\"x\") @outcome(\"disclose\") permit(principal, action, resource);"));
        assert!(
            problems[0].message.contains("unknown annotation @outcom"),
            "{problems:?}"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let (_, problems) = parse("\n\n@id(\"a\") permit(principal, action resource);");
        assert!(!problems.is_empty());
        assert_eq!(problems[0].line, 3, "{problems:?}");
        assert!(
            problems[0].message.starts_with("syntax error"),
            "{problems:?}"
        );
    }

    #[test]
    fn cedar_strings_are_escaped() {
        assert_eq!(cedar_string("a \"b\" \\ c"), "\"a \\\"b\\\" \\\\ c\"");
    }
}
