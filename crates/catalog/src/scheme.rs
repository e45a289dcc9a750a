//! Reading and checking the shared concept scheme (`concepts.toml`).
//!
//! A SKOS scheme is only useful if its hierarchy can be trusted: search expands a concept to its
//! narrower ones, and needs are met through them, so every reference must resolve, `broader` and
//! `narrower` must state the same hierarchy from both ends, and `broader` must not loop.

use crate::model::{Concept, ConceptScheme, Labels};
use crate::read::{check_id, labels_missing, near_definition};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use utbyte_rules::source::{parse_toml, Problem, SourceFile};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptsFile {
    scheme: SchemeHeader,
    #[serde(default, rename = "concept")]
    concepts: Vec<Concept>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemeHeader {
    title: Labels,
    namespace: String,
}

/// Reads `concepts.toml`, pushing every problem found; `None` if it could not be parsed.
pub(crate) fn load(file: &SourceFile, problems: &mut Vec<Problem>) -> Option<ConceptScheme> {
    let parsed: ConceptsFile = parse_toml(file).map_err(|p| problems.push(p)).ok()?;
    if let Some(missing) = labels_missing(&parsed.scheme.title) {
        problems.push(file.problem_near(
            "[scheme]",
            format!("the scheme's title lacks its {missing} text"),
        ));
    }
    let namespace = &parsed.scheme.namespace;
    if !(namespace.starts_with("https://") || namespace.starts_with("http://"))
        || !(namespace.ends_with('/') || namespace.ends_with('#'))
    {
        problems.push(file.problem_near(
            "namespace",
            format!(
                "the scheme's namespace `{namespace}` must be an http(s) IRI ending in `/` or `#`"
            ),
        ));
    }
    let mut concepts = BTreeMap::new();
    for concept in parsed.concepts {
        check_concept(file, &concept, problems);
        if concepts.contains_key(&concept.id) {
            problems.push(near_definition(
                file,
                &concept.id,
                format!("concept `{}` is defined twice", concept.id),
            ));
            continue;
        }
        concepts.insert(concept.id.clone(), concept);
    }
    check_references(file, &concepts, problems);
    check_hierarchy(file, &concepts, problems);
    check_unique_pref_labels(file, &concepts, problems);
    Some(ConceptScheme {
        title: parsed.scheme.title,
        namespace: parsed.scheme.namespace,
        concepts,
    })
}

fn check_concept(file: &SourceFile, concept: &Concept, problems: &mut Vec<Problem>) {
    let id = &concept.id;
    check_id(file, "concept", id, problems);
    let mut labels = vec![
        ("preferred label", &concept.pref_label),
        ("definition", &concept.definition),
    ];
    if let Some(note) = &concept.scope_note {
        labels.push(("scope note", note));
    }
    for (what, text) in labels {
        if let Some(missing) = labels_missing(text) {
            problems.push(near_definition(
                file,
                id,
                format!("concept `{id}` lacks its {missing} {what}"),
            ));
        }
    }
    let alt = &concept.alt_labels;
    if alt.sv.iter().chain(&alt.en).any(|l| l.trim().is_empty()) {
        problems.push(near_definition(
            file,
            id,
            format!("concept `{id}` has an empty alternative label"),
        ));
    }
}

fn check_references(
    file: &SourceFile,
    concepts: &BTreeMap<String, Concept>,
    problems: &mut Vec<Problem>,
) {
    for concept in concepts.values() {
        let id = &concept.id;
        for (relation, targets) in [
            ("broader", &concept.broader),
            ("narrower", &concept.narrower),
            ("related", &concept.related),
        ] {
            for target in targets {
                if target == id {
                    problems.push(near_definition(
                        file,
                        id,
                        format!("concept `{id}` is {relation} than itself"),
                    ));
                } else if !concepts.contains_key(target) {
                    problems.push(near_definition(
                        file,
                        id,
                        format!("concept `{id}` names `{target}` as {relation}, but no concept `{target}` is defined"),
                    ));
                }
            }
        }
        for broader in &concept.broader {
            if let Some(parent) = concepts.get(broader) {
                if !parent.narrower.contains(id) {
                    problems.push(near_definition(
                        file,
                        id,
                        format!("concept `{id}` names `{broader}` as broader, but `{broader}` does not list `{id}` as narrower"),
                    ));
                }
            }
        }
        for narrower in &concept.narrower {
            if let Some(child) = concepts.get(narrower) {
                if !child.broader.contains(id) {
                    problems.push(near_definition(
                        file,
                        id,
                        format!("concept `{id}` names `{narrower}` as narrower, but `{narrower}` does not list `{id}` as broader"),
                    ));
                }
            }
        }
        for related in &concept.related {
            if let Some(other) = concepts.get(related) {
                // skos:related is symmetric (SKOS S23); stating both ends keeps each file honest.
                if !other.related.contains(id) {
                    problems.push(near_definition(
                        file,
                        id,
                        format!("concept `{id}` names `{related}` as related, but `{related}` does not name `{id}` as related"),
                    ));
                }
            }
            if concept.broader.contains(related) || concept.narrower.contains(related) {
                // SKOS S27: skos:related is disjoint with the hierarchy.
                problems.push(near_definition(
                    file,
                    id,
                    format!("concept `{id}` names `{related}` both as related and as broader or narrower"),
                ));
            }
        }
    }
}

/// Reports each cycle in `broader` once, naming its concepts in order.
fn check_hierarchy(
    file: &SourceFile,
    concepts: &BTreeMap<String, Concept>,
    problems: &mut Vec<Problem>,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    for start in concepts.keys() {
        if marks.contains_key(start.as_str()) {
            continue;
        }
        // Iterative depth-first walk: (concept, index of the next broader to follow).
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::Visiting);
        while let Some((current, next)) = stack.last().copied() {
            let broader = concepts
                .get(current)
                .map(|c| c.broader.as_slice())
                .unwrap_or_default();
            match broader.get(next) {
                None => {
                    marks.insert(current, Mark::Done);
                    stack.pop();
                }
                Some(parent) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if !concepts.contains_key(parent) {
                        continue;
                    }
                    match marks.get(parent.as_str()) {
                        Some(Mark::Done) => {}
                        Some(Mark::Visiting) => {
                            let from = stack.iter().position(|(c, _)| *c == parent).unwrap_or(0);
                            let mut cycle: Vec<&str> =
                                stack[from..].iter().map(|(c, _)| *c).collect();
                            cycle.push(parent);
                            problems.push(near_definition(
                                file,
                                parent,
                                format!("the broader hierarchy has a cycle: {}", cycle.join(" → ")),
                            ));
                        }
                        None => {
                            marks.insert(parent, Mark::Visiting);
                            stack.push((parent, 0));
                        }
                    }
                }
            }
        }
    }
}

/// SKOS S14: no two concepts share a preferred label in the same language — otherwise a search
/// for the label could not tell which concept was meant.
fn check_unique_pref_labels(
    file: &SourceFile,
    concepts: &BTreeMap<String, Concept>,
    problems: &mut Vec<Problem>,
) {
    let mut seen: HashMap<(&str, String), &str> = HashMap::new();
    for concept in concepts.values() {
        for (language, label) in [
            ("sv", &concept.pref_label.sv),
            ("en", &concept.pref_label.en),
        ] {
            if let Some(other) = seen.insert((language, label.to_lowercase()), &concept.id) {
                problems.push(near_definition(
                    file,
                    &concept.id,
                    format!("concepts `{other}` and `{}` have the same preferred label `{label}` ({language})", concept.id),
                ));
            }
        }
    }
}
