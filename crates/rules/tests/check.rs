//! `check` reports every problem with file, line and a plain explanation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixture;

use fixture::{load, CITE};

#[test]
fn a_syntax_error_is_located() {
    let text = format!("// regel\n{CITE}\n@id(\"x\") @outcome(\"disclose\")\npermit(principal, action resource);\n");
    let err = load(&text, "").unwrap_err();
    let p = &err.problems[0];
    assert_eq!((p.file.as_str(), p.line), ("policies/p.cedar", 4), "{p}");
    assert!(p.message.starts_with("syntax error"), "{p}");
}

#[test]
fn a_schema_type_error_is_located_at_the_expression() {
    let text = format!(
        "{CITE}\n@id(\"x\") @outcome(\"disclose\")\npermit(principal, action, resource)\nwhen {{\n  context.role > 3\n}};\n"
    );
    let err = load(&text, "").unwrap_err();
    let p = &err.problems[0];
    assert_eq!((p.file.as_str(), p.line), ("policies/p.cedar", 5), "{p}");
    assert!(p.message.starts_with("type error"), "{p}");
    assert!(p.help.as_deref().unwrap_or("").contains("`x`"), "{p}");
}

#[test]
fn an_unknown_attribute_is_a_type_error() {
    let text = format!("{CITE}\n@id(\"x\") @outcome(\"disclose\")\npermit(principal, action, resource) when {{ resource.colour == \"red\" }};\n");
    let err = load(&text, "").unwrap_err();
    assert_eq!(err.problems[0].line, 3, "{}", err.problems[0]);
}

#[test]
fn a_misspelt_entity_is_reported_because_it_could_never_match() {
    let text = format!("{CITE}\n@id(\"x\") @outcome(\"disclose\")\npermit(principal in Authority::\"aa\", action, resource);\n");
    let err = load(&text, "").unwrap_err();
    assert!(
        err.problems[0].message.contains("Authority::\"aa\""),
        "{}",
        err.problems[0]
    );
    assert_eq!(err.problems[0].line, 2);
}

#[test]
fn duplicate_ids_name_both_places() {
    let one = format!(
        "{CITE}\n@id(\"x\") @outcome(\"disclose\")\npermit(principal, action, resource);\n"
    );
    let err = load(&format!("{one}{one}"), "").unwrap_err();
    let p = &err.problems[0];
    assert!(p.message.contains("used twice"), "{p}");
    assert!(
        p.help
            .as_deref()
            .unwrap_or("")
            .contains("policies/p.cedar:2"),
        "{p}"
    );
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = format!(
        "{CITE}\n@id(\"x\") @outcome(\"maybe\") permit(principal, action, resource);\n\
         @id(\"y\") @outcome(\"disclose\") permit(principal, action, resource);\n"
    );
    let err = load(&text, "").unwrap_err();
    assert_eq!(err.problems.len(), 2, "{err}");
}

#[test]
fn vocabulary_errors_point_into_the_data_file() {
    let mut files = fixture::files("", "");
    files[4].text = files[4]
        .text
        .replace("provider = \"b\"", "provider = \"saknas\"");
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.file, "offerings.toml");
    assert!(p.message.contains("provider `saknas`"), "{p}");
    assert_eq!(p.line, 5, "{p}");
}

#[test]
fn an_invalid_organisationsnummer_is_rejected() {
    let mut files = fixture::files("", "");
    files[1].text = files[1].text.replace("202100-5448", "202100-5449");
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    assert!(
        err.problems[0]
            .message
            .contains("invalid organisationsnummer"),
        "{}",
        err.problems[0]
    );
}
