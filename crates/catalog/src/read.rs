//! Reading each catalog data file and checking it in itself: ids, labels, dates, e-mail
//! addresses, duplicates and references to concepts. Checks against the rulebook are in
//! [`crate::build`]; the concept scheme's own checks are in [`crate::scheme`].

use crate::data::OfferingDescription;
use crate::model::{Agent, Labels, Mapping, MatchKind, Need};
use serde::Deserialize;
use std::collections::BTreeMap;
use utbyte_rules::source::{parse_toml, Problem, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    publisher: Agent,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OfferingsFile {
    #[serde(default, rename = "offering")]
    offerings: Vec<OfferingDescription>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedsFile {
    #[serde(default, rename = "need")]
    needs: Vec<Need>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingsFile {
    authority: String,
    #[serde(default, rename = "mapping")]
    mappings: Vec<MappingRow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingRow {
    local_term: String,
    concept: String,
    predicate: MatchKind,
    approved_by: String,
    approved_on: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `catalog.toml`: the publisher.
pub(crate) fn publisher(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<Agent> {
    let parsed: CatalogFile = parse(file, problems)?;
    check_publisher(file, &parsed.publisher, problems);
    Some(parsed.publisher)
}

/// `fields.toml`: offering → field → concept; `known` tells a defined concept.
pub(crate) fn fields(
    file: &SourceFile,
    known: &dyn Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let Some(parsed) = parse::<BTreeMap<String, BTreeMap<String, String>>>(file, problems) else {
        return BTreeMap::new();
    };
    for (offering, links) in &parsed {
        for (field, concept) in links {
            if !known(concept) {
                problems.push(file.problem_near(
                    &format!("{field} = \"{concept}\""),
                    format!("field `{field}` of offering `{offering}` links to concept `{concept}`, which is not in concepts.toml"),
                ));
            }
        }
    }
    parsed
}

/// `offerings.toml`: what the catalog says about each offering.
pub(crate) fn offerings(
    file: &SourceFile,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, OfferingDescription> {
    let mut offerings = BTreeMap::new();
    let Some(parsed) = parse::<OfferingsFile>(file, problems) else {
        return offerings;
    };
    for offering in parsed.offerings {
        check_offering(file, &offering, problems);
        if offerings.contains_key(&offering.id) {
            problems.push(near_definition(
                file,
                &offering.id,
                format!("offering `{}` is described twice", offering.id),
            ));
        }
        offerings.insert(offering.id.clone(), offering);
    }
    offerings
}

/// `needs.toml`: the needs authorities have registered.
pub(crate) fn needs(
    file: &SourceFile,
    known: &dyn Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> Vec<Need> {
    let mut needs: Vec<Need> = Vec::new();
    let Some(parsed) = parse::<NeedsFile>(file, problems) else {
        return needs;
    };
    for need in parsed.needs {
        let id = &need.id;
        check_id(file, "need", id, problems);
        let mut problem = |message: String| problems.push(near_definition(file, id, message));
        if needs.iter().any(|n| &n.id == id) {
            problem(format!("need `{id}` is defined twice"));
        }
        if need.concepts.is_empty() {
            problem(format!("need `{id}` names no concepts"));
        }
        for concept in &need.concepts {
            if !known(concept) {
                problem(format!(
                    "need `{id}` names concept `{concept}`, which is not in concepts.toml"
                ));
            }
        }
        if need.description.trim().is_empty() {
            problem(format!("need `{id}` has an empty description"));
        }
        needs.push(need);
    }
    needs
}

/// One `mappings/*.toml` file, appended to `mappings` (duplicates are checked across files).
pub(crate) fn mappings(
    file: &SourceFile,
    known: &dyn Fn(&str) -> bool,
    mappings: &mut Vec<Mapping>,
    problems: &mut Vec<Problem>,
) {
    let Some(parsed) = parse::<MappingsFile>(file, problems) else {
        return;
    };
    let authority = &parsed.authority;
    for row in parsed.mappings {
        let term = &row.local_term;
        let mut problem =
            |message: String| problems.push(file.problem_near(&format!("\"{term}\""), message));
        if term.trim().is_empty() {
            problem("a mapping has an empty local term".to_owned());
        }
        if !known(&row.concept) {
            problem(format!(
                "`{term}` of `{authority}` is mapped to concept `{}`, which is not in concepts.toml",
                row.concept
            ));
        }
        if row.approved_by.trim().is_empty() {
            problem(format!(
                "the mapping of `{term}` says nobody approved it (approved_by is empty)"
            ));
        }
        if let Err(message) = check_date(&row.approved_on) {
            problem(format!("the mapping of `{term}`: approved_on {message}"));
        }
        let duplicate = mappings.iter().any(|m| {
            &m.authority == authority && &m.local_term == term && m.concept == row.concept
        });
        if duplicate {
            problem(format!(
                "`{term}` of `{authority}` is mapped to `{}` twice",
                row.concept
            ));
        }
        mappings.push(Mapping {
            authority: authority.clone(),
            local_term: row.local_term,
            concept: row.concept,
            predicate: row.predicate,
            approved_by: row.approved_by,
            approved_on: row.approved_on,
            comment: row.comment,
        });
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    file: &SourceFile,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    parse_toml(file).map_err(|p| problems.push(p)).ok()
}

/// A problem pointing at the definition `id = "…"` of something, or its first mention.
pub(crate) fn near_definition(file: &SourceFile, id: &str, message: String) -> Problem {
    let definition = format!("id = \"{id}\"");
    if file.text.contains(&definition) {
        file.problem_near(&definition, message)
    } else {
        file.problem_near(&format!("\"{id}\""), message)
    }
}

/// Ids become IRIs and facet values: letters, digits, `-` and `_` only.
pub(crate) fn check_id(file: &SourceFile, what: &str, id: &str, problems: &mut Vec<Problem>) {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        problems.push(near_definition(
            file,
            id,
            format!("{what} id `{id}` is not valid: use ASCII letters, digits, `-` and `_`"),
        ));
    }
}

/// `Ok` for a calendar date written `YYYY-MM-DD`, else what is wrong.
pub(crate) fn check_date(date: &str) -> Result<(), String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format)
        .map(|_| ())
        .map_err(|_| format!("`{date}` is not a date written YYYY-MM-DD"))
}

/// Both languages present and not blank.
pub(crate) fn labels_missing(labels: &Labels) -> Option<&'static str> {
    match (labels.sv.trim().is_empty(), labels.en.trim().is_empty()) {
        (true, true) => Some("Swedish and English"),
        (true, false) => Some("Swedish"),
        (false, true) => Some("English"),
        (false, false) => None,
    }
}

fn check_publisher(file: &SourceFile, publisher: &Agent, problems: &mut Vec<Problem>) {
    check_id(file, "publisher", &publisher.id, problems);
    if publisher.name.trim().is_empty() {
        problems.push(file.problem_near("[publisher]", "the publisher has no name"));
    }
    if let Err(err) = publisher
        .orgnr
        .parse::<utbyte_domain::Organisationsnummer>()
    {
        problems.push(file.problem_near(
            &format!("\"{}\"", publisher.orgnr),
            format!("the publisher's organisationsnummer is invalid: {err}"),
        ));
    }
}

fn check_offering(file: &SourceFile, offering: &OfferingDescription, problems: &mut Vec<Problem>) {
    let id = &offering.id;
    let mut problem = |message: String| problems.push(near_definition(file, id, message));
    for (what, text) in [
        ("description", &offering.description),
        ("retention", &offering.retention),
        ("contact name", &offering.contact.name),
    ] {
        if text.trim().is_empty() {
            problem(format!("offering `{id}` has an empty {what}"));
        }
    }
    let email = &offering.contact.email;
    let valid_email = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if !valid_email {
        problem(format!(
            "offering `{id}` has contact email `{email}`, which is not an e-mail address"
        ));
    }
    if offering.keywords.iter().any(|k| k.trim().is_empty()) {
        problem(format!("offering `{id}` has an empty keyword"));
    }
    if let Err(message) = check_date(&offering.modified) {
        problem(format!("offering `{id}`: modified {message}"));
    }
}
