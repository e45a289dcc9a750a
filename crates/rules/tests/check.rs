//! `check` reports every problem with file, line and a plain explanation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixture;

use fixture::{load, CITE, PLIKT};

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

/// The fixture with event types added to offering `reg`.
fn with_events(events: &str) -> Vec<utbyte_rules::source::SourceFile> {
    let mut files = fixture::files("", "");
    files[4].text = files[4].text.replace(
        "fields = [{ id = \"k1\", title = \"K1\" }]\n",
        &format!("fields = [{{ id = \"k1\", title = \"K1\" }}]\n{events}"),
    );
    files
}

#[test]
fn a_change_is_each_event_type_naming_one_of_its_fields() {
    let files = with_events(
        "[[offering.event]]\nid = \"ett\"\ntitle = \"Ett\"\nfields = [\"f1\", \"f2\"]\n\n\
         [[offering.event]]\nid = \"kansligt\"\ntitle = \"K\"\nfields = [\"k1\"]\n",
    );
    let rulebook = utbyte_rules::Rulebook::from_sources(&files).unwrap_or_else(|e| panic!("{e}"));
    let offering = &rulebook.vocabulary.offerings["reg"];
    let events = |changed: &[&str]| -> Vec<String> {
        let changed: Vec<String> = changed.iter().map(|f| (*f).to_owned()).collect();
        offering.events_of(&changed).map(|e| e.id.clone()).collect()
    };
    assert_eq!(events(&["f2"]), ["ett"]);
    assert_eq!(events(&["k1", "f1"]), ["ett", "kansligt"]);
    assert!(events(&["f3"]).is_empty());
}

#[test]
fn an_event_type_naming_a_field_the_offering_lacks_is_refused() {
    let files =
        with_events("[[offering.event]]\nid = \"ett\"\ntitle = \"Ett\"\nfields = [\"f9\"]\n");
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.file, "offerings.toml");
    assert!(
        p.message
            .contains("event type `ett` names field `f9`, which offering `reg` does not have"),
        "{p}"
    );
    let files = with_events(
        "[[offering.event]]\nid = \"ett\"\ntitle = \"Ett\"\nfields = [\"f1\"]\n\n\
         [[offering.event]]\nid = \"ett\"\ntitle = \"Igen\"\nfields = []\n",
    );
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let messages: Vec<&str> = err.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages.iter().any(|m| m.contains("appears twice")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("names no field")),
        "{messages:?}"
    );
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

// A pre-assessment settles the needs assessment within its provision; `check` refuses one that
// reaches beyond it, at the line of the agreement that says so, naming the unmet condition.

fn agreement(recipient: &str, purpose: &str, provision: &str) -> String {
    format!(
        r#"
[[pre_assessment]]
id = "avtal"
title = "Avtal"
offering = "reg"
fields = ["f1", "f2"]
recipient = "{recipient}"
purpose = "{purpose}"
provision = "{provision}"
valid_from = "2026-01-01"
valid_until = "2026-12-31"
approved_by_provider = "B"
approved_by_recipient = "A"
approved_on = "2025-12-01"
"#
    )
}

fn refusal(policies: &str, pre_assessment: &str) -> utbyte_rules::Problem {
    let err = load(policies, pre_assessment).unwrap_err();
    assert_eq!(err.problems.len(), 1, "{err}");
    err.problems[0].clone()
}

#[test]
fn a_pre_assessment_within_its_provision_loads() {
    let rb = load(PLIKT, &agreement("a", "kontroll-x", "plikt")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rb.pre_assessments.len(), 1);
}

#[test]
fn a_pre_assessment_for_a_recipient_its_provision_does_not_list_is_refused() {
    let p = refusal(PLIKT, &agreement("c", "kontroll-x", "plikt"));
    assert_eq!(
        (p.file.as_str(), p.line),
        ("pre-assessments/pa.toml", 7),
        "{p}"
    );
    assert!(
        p.message
            .contains("recipient `c` (unit `c-1`) is not among those SFS 2024:307 3 § lists"),
        "{p}"
    );
    assert!(
        p.help
            .as_deref()
            .unwrap_or("")
            .contains("`plikt-uppgiftsskyldighet`"),
        "{p}"
    );
}

#[test]
fn a_pre_assessment_for_a_purpose_its_provision_does_not_cover_is_refused() {
    let p = refusal(PLIKT, &agreement("a", "annat", "plikt"));
    assert_eq!(p.line, 8, "{p}");
    assert!(
        p.message
            .contains("purpose `annat` is not among those SFS 2024:307 3 § covers"),
        "{p}"
    );
}

/// A law-enforcement duty (as LUB) reaches only the law-enforcement authorities; an agreement
/// under it with any other authority is refused.
#[test]
fn a_law_enforcement_provision_to_an_authority_that_is_not_one_is_refused() {
    let mut files = fixture::files(
        &format!(
            "{PLIKT}@id(\"brott-uppgiftsskyldighet\") @outcome(\"review\") @sfs(\"2025:170\") @section(\"2 §\") @title(\"LUB\")\n\
             permit(principal in Group::\"brottsbekampande\", action == Action::\"disclose\", resource)\n\
             when {{ context.legal_basis == Provision::\"brott\" && context.recipient != context.provider }};\n"
        ),
        &agreement("a", "kontroll-x", "brott"),
    );
    files[1].text = files[1]
        .text
        .replace("[[authority]]\nid = \"c\"", "[[group]]\nid = \"brottsbekampande\"\ntitle = \"Brottsbekämpande\"\n\n[[authority]]\nid = \"c\"")
        .replace("orgnr = \"202100-0076\"", "orgnr = \"202100-0076\"\ngroups = [\"brottsbekampande\"]");
    files[2].text.push_str(
        "\n[[provision]]\nid = \"brott\"\nsfs = \"2025:170\"\nsection = \"2 §\"\ntitle = \"LUB\"\nshort = \"LUB\"\nkind = \"duty_on_request\"\n",
    );
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let p = &err.problems[0];
    assert!(
        p.message
            .contains("recipient `a` (unit `a-1`) is not among those SFS 2025:170 2 § lists"),
        "{err}"
    );
    // The law-enforcement authority itself may agree under it.
    let last = files.len() - 1;
    files[last].text = agreement("c", "kontroll-x", "brott");
    utbyte_rules::Rulebook::from_sources(&files).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_pre_assessment_from_a_provider_its_provision_does_not_bind_is_refused() {
    let only_c = PLIKT.replace(
        "context.recipient != context.provider",
        "context.provider == Authority::\"c\"",
    );
    let p = refusal(&only_c, &agreement("a", "kontroll-x", "plikt"));
    assert!(
        p.message
            .contains("provider `b` of offering `reg` is not among those"),
        "{p}"
    );
}

#[test]
fn a_pre_assessment_for_fields_its_provision_does_not_cover_is_refused() {
    let ordinary = PLIKT.replace(
        "context.recipient != context.provider",
        "resource in Category::\"reg/vanlig\"",
    );
    let pa = agreement("a", "kontroll-x", "plikt").replace("[\"f1\", \"f2\"]", "[\"f1\", \"k1\"]");
    let p = refusal(&ordinary, &pa);
    assert!(
        p.message.contains("field `k1` of `reg` is not among those"),
        "{p}"
    );
}

/// A provision reaching only one unit: an agreement with the whole authority is refused for the
/// other units, and one limited to that unit loads.
#[test]
fn a_pre_assessment_wider_than_a_unit_scoped_grant_names_the_unit_outside_it() {
    let unit = PLIKT.replace(
        "principal in Group::\"mottagare\"",
        "principal in Unit::\"a-1\"",
    );
    let p = refusal(&unit, &agreement("a", "kontroll-x", "plikt"));
    assert!(p.message.contains("recipient `a` (unit `a-2`)"), "{p}");
    let limited = agreement("a", "kontroll-x", "plikt")
        .replace("recipient = \"a\"", "recipient = \"a\"\nunits = [\"a-1\"]");
    load(&unit, &limited).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_pre_assessment_under_a_provision_without_a_grant_is_refused() {
    let p = refusal("", &agreement("a", "kontroll-x", "plikt"));
    assert_eq!(p.line, 9, "at its provision: {p}");
    assert!(
        p.message
            .contains("no grant in the rulebook applies SFS 2024:307 3 §"),
        "{p}"
    );
}

/// What an agreement does not fix (here the subject) cannot be assumed to be met.
#[test]
fn a_provision_that_depends_on_what_an_agreement_does_not_fix_is_refused() {
    let subject = PLIKT.replace(
        "context.recipient != context.provider",
        "context.subject.kind == \"personnummer\"",
    );
    let p = refusal(&subject, &agreement("a", "kontroll-x", "plikt"));
    assert!(
        p.message.contains("cannot be told") && p.message.contains("`context.subject`"),
        "{p}"
    );
}

/// The fixture's rulebook files with `plikt` given the dates `force` (TOML lines).
fn with_force(force: &str, policies: &str) -> Vec<utbyte_rules::source::SourceFile> {
    let mut files = fixture::files(policies, "");
    files[2].text = files[2].text.replace(
        "kind = \"duty_on_request\"",
        &format!("kind = \"duty_on_request\"\n{force}"),
    );
    files
}

#[test]
fn a_provision_repealed_before_it_enters_into_force_is_located() {
    let files = with_force(
        "in_force = \"2024-07-01\"\nrepealed = \"2024-07-01\"",
        PLIKT,
    );
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.file, "provisions.toml", "{p}");
    assert!(
        p.message.contains("`plikt` is repealed on or before"),
        "{p}"
    );
}

#[test]
fn a_transitional_rule_needs_a_repeal_and_cannot_end_before_it() {
    let files = with_force(
        "transitional = { until = \"2027-12-31\", note = \"Äldre regler\" }",
        PLIKT,
    );
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    assert!(err.problems[0].message.contains("not repealed"), "{err}");
    let files = with_force(
        "repealed = \"2027-07-01\"\ntransitional = { until = \"2027-06-30\", note = \"Äldre regler\" }",
        PLIKT,
    );
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    assert!(
        err.problems[0].message.contains("ends before the repeal"),
        "{err}"
    );
}

#[test]
fn a_policy_version_with_impossible_dates_is_located() {
    let text = format!(
        "{CITE}\n@id(\"x\") @outcome(\"disclose\") @in_force(\"2027-01-01\") @repealed(\"2026-01-01\")\npermit(principal, action, resource);\n"
    );
    let err = load(&text, "").unwrap_err();
    let p = &err.problems[0];
    assert_eq!((p.file.as_str(), p.line), ("policies/p.cedar", 2), "{p}");
    assert!(p.message.contains("`x` is repealed on or before"), "{p}");
    let text = format!(
        "{CITE}\n@id(\"x\") @outcome(\"disclose\") @in_force(\"1 januari 2027\")\npermit(principal, action, resource);\n"
    );
    let err = load(&text, "").unwrap_err();
    assert!(err.problems[0].message.contains("@in_force"), "{err}");
}

#[test]
fn competence_names_only_defined_roles_and_the_authority_s_own_units() {
    let mut files = fixture::files(PLIKT, "");
    files.push(utbyte_rules::source::SourceFile::new(
        "competence.toml",
        "[[role]]\nid = \"handlaggare\"\ntitle = \"Handläggare\"\n\n\
         [[ask]]\nauthority = \"a\"\nunits = [\"b-1\"]\nroles = [\"handlaggare\", \"chef\"]\n",
    ));
    let err = utbyte_rules::Rulebook::from_sources(&files).unwrap_err();
    let messages: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("competence.toml:7")
                && m.contains("unit `b-1` is not a unit of `a`")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("role `chef` is not defined")),
        "{messages:#?}"
    );
}

#[test]
fn with_competence_a_role_without_it_is_refused_on_that_ground() {
    let mut files = fixture::files(PLIKT, "");
    files.push(utbyte_rules::source::SourceFile::new(
        "competence.toml",
        "[[role]]\nid = \"handlaggare\"\ntitle = \"Handläggare\"\n\n\
         [[role]]\nid = \"chef\"\ntitle = \"Chef\"\n\n\
         [[ask]]\nauthority = \"a\"\nunits = [\"a-1\"]\nroles = [\"handlaggare\"]\npurposes = [\"kontroll\"]\n",
    ));
    let rulebook = utbyte_rules::Rulebook::from_sources(&files).unwrap_or_else(|e| panic!("{e}"));
    let decide = |change: &dyn Fn(&mut utbyte_rules::DisclosureRequest)| {
        let mut r = fixture::request(&["f1"]);
        change(&mut r);
        rulebook.decide(&r).unwrap().fields[0].ground
    };
    use utbyte_rules::Ground;
    assert_eq!(decide(&|_| {}), Ground::NeedsAssessment);
    assert_eq!(decide(&|r| r.role = "chef".into()), Ground::NoCompetence);
    assert_eq!(decide(&|r| r.role = "okänd".into()), Ground::NoCompetence);
    assert_eq!(decide(&|r| r.unit = "a-2".into()), Ground::NoCompetence);
    assert_eq!(
        decide(&|r| r.purpose = "annat".into()),
        Ground::NoCompetence
    );
}
