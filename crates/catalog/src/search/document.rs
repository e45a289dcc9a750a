//! What the index holds of an entry — its searchable text and facet terms — and the labels
//! queries are expanded through.

use super::{facet, tokens, Fields};
use crate::model::{Concept, ConceptScheme, Entry, Mapping};
use crate::query::FilterKey;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::TantivyDocument;

/// The document for `entry`; records each facet value in `known`.
pub(super) fn of(
    entry: &Entry,
    ord: u64,
    scheme: &ConceptScheme,
    fields: &Fields,
    known: &mut BTreeMap<FilterKey, BTreeSet<String>>,
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_u64(fields.ord, ord);
    let mut texts: Vec<&str> = vec![&entry.title, &entry.description, &entry.provider.name];
    texts.extend(entry.keywords.iter().map(String::as_str));
    texts.extend(entry.fields.iter().map(|f| f.title.as_str()));

    let mut values: BTreeSet<(FilterKey, &str)> = BTreeSet::new();
    values.insert((FilterKey::Provider, &entry.provider.id));
    values.insert((FilterKey::Secrecy, &entry.secrecy_class));
    for field in &entry.fields {
        values.insert((FilterKey::Concept, &field.concept));
    }
    for basis in &entry.legal_bases {
        values.insert((FilterKey::Provision, &basis.provision));
    }
    for pa in &entry.pre_assessments {
        values.insert((FilterKey::Purpose, &pa.purpose));
    }
    for &(key, value) in &values {
        if key == FilterKey::Concept {
            // The labels of the concepts an offering carries are part of its text, so the
            // words of the shared vocabulary find it even where its own texts use others.
            if let Some(concept) = scheme.concepts.get(value) {
                texts.extend(all_labels(concept));
            }
        }
        doc.add_facet(fields.facets, facet(key, value));
        known.entry(key).or_default().insert(value.to_owned());
    }
    for text in texts {
        doc.add_text(fields.text, text);
    }
    doc
}

/// Stemmed label or mapped local term → the concepts it names, and the most words one has.
pub(super) fn labels(
    scheme: &ConceptScheme,
    mappings: &[Mapping],
    analyzer: &mut TextAnalyzer,
) -> (HashMap<String, BTreeSet<String>>, usize) {
    let mut labels: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut longest = 1;
    let named = scheme
        .concepts
        .values()
        .flat_map(|c| all_labels(c).map(move |label| (label, c.id.as_str())))
        .chain(
            mappings
                .iter()
                .map(|m| (m.local_term.as_str(), m.concept.as_str())),
        );
    for (label, concept) in named {
        let tokens = tokens(analyzer, label);
        if !tokens.is_empty() {
            longest = longest.max(tokens.len());
            labels
                .entry(tokens.join(" "))
                .or_default()
                .insert(concept.to_owned());
        }
    }
    (labels, longest)
}

/// Preferred and alternative labels in both languages.
fn all_labels(concept: &Concept) -> impl Iterator<Item = &str> {
    let (pref, alt) = (&concept.pref_label, &concept.alt_labels);
    [pref.sv.as_str(), pref.en.as_str()]
        .into_iter()
        .chain(alt.sv.iter().map(String::as_str))
        .chain(alt.en.iter().map(String::as_str))
}
