//! The shared concepts in SKOS, and each authority's local terms mapped to them.
//!
//! A mapping is written twice, as SSSOM does it in RDF: as the SKOS mapping triple itself (local
//! term `skos:exactMatch` shared concept), which any SKOS tool reads, and as an SSSOM mapping
//! record (`owl:Axiom` annotating that triple) that carries what the triple cannot — who asserted
//! the mapping, who approved it and when, and why.

use super::graph::{Graph, Lang};
use super::iri::{self, Iris};
use super::vocab::{dcterms, foaf, owl, pav, rdfs, semapv, skos, sssom};
use super::ExportError;
use crate::model::{Catalog, Concept, ConceptScheme, Mapping, MatchKind};
use oxrdf::{NamedNode, NamedNodeRef};
use std::collections::BTreeMap;

pub fn graph(catalog: &Catalog, iris: &Iris) -> Result<Graph, ExportError> {
    let mut g = Graph::new();
    let scheme = &catalog.scheme;
    let scheme_node = iri::scheme(&scheme.namespace)?;
    g.a(&scheme_node, skos::CONCEPT_SCHEME);
    g.text(&scheme_node, dcterms::TITLE, &scheme.title.sv, Lang::Sv);
    g.text(&scheme_node, dcterms::TITLE, &scheme.title.en, Lang::En);
    let publisher = iris.authority(&catalog.publisher.id)?;
    g.link(&scheme_node, dcterms::PUBLISHER, &publisher);
    g.plain(&publisher, foaf::NAME, &catalog.publisher.name);
    for concept in scheme.concepts.values() {
        concept_node(&mut g, scheme, &scheme_node, concept)?;
    }

    // Authorities are named where the catalog knows them: providers and the publisher.
    let mut names: BTreeMap<&str, &str> = catalog
        .entries
        .iter()
        .map(|e| (e.provider.id.as_str(), e.provider.name.as_str()))
        .collect();
    names.insert(&catalog.publisher.id, &catalog.publisher.name);
    for mapping in &catalog.mappings {
        let name = names
            .get(mapping.authority.as_str())
            .copied()
            .unwrap_or(&mapping.authority);
        mapping_nodes(&mut g, iris, scheme, mapping, name)?;
    }
    Ok(g)
}

fn concept_node(
    g: &mut Graph,
    scheme: &ConceptScheme,
    scheme_node: &NamedNode,
    concept: &Concept,
) -> Result<(), ExportError> {
    let node = iri::concept(scheme, &concept.id)?;
    g.a(&node, skos::CONCEPT);
    g.link(&node, skos::IN_SCHEME, scheme_node);
    g.plain(&node, skos::NOTATION, &concept.id);
    g.text(&node, skos::PREF_LABEL, &concept.pref_label.sv, Lang::Sv);
    g.text(&node, skos::PREF_LABEL, &concept.pref_label.en, Lang::En);
    for label in &concept.alt_labels.sv {
        g.text(&node, skos::ALT_LABEL, label, Lang::Sv);
    }
    for label in &concept.alt_labels.en {
        g.text(&node, skos::ALT_LABEL, label, Lang::En);
    }
    g.text(&node, skos::DEFINITION, &concept.definition.sv, Lang::Sv);
    g.text(&node, skos::DEFINITION, &concept.definition.en, Lang::En);
    if let Some(note) = &concept.scope_note {
        g.text(&node, skos::SCOPE_NOTE, &note.sv, Lang::Sv);
        g.text(&node, skos::SCOPE_NOTE, &note.en, Lang::En);
    }
    for (property, others) in [
        (skos::BROADER, &concept.broader),
        (skos::NARROWER, &concept.narrower),
        (skos::RELATED, &concept.related),
    ] {
        for other in others {
            g.link(&node, property, &iri::concept(scheme, other)?);
        }
    }
    if concept.broader.is_empty() {
        g.link(&node, skos::TOP_CONCEPT_OF, scheme_node);
        g.link(scheme_node, skos::HAS_TOP_CONCEPT, &node);
    }
    Ok(())
}

/// The local term in its authority's scheme, the SKOS mapping triple, and its SSSOM record.
/// The approval is SSSOM's review: `reviewer_label` names who approved the mapping (the catalog
/// has a name or function, not an identifier) and `review_date` says when; the justification is
/// manual curation, and the authority is the mapping's author (`pav:authoredBy`).
fn mapping_nodes(
    g: &mut Graph,
    iris: &Iris,
    scheme: &ConceptScheme,
    mapping: &Mapping,
    authority_name: &str,
) -> Result<(), ExportError> {
    let authority = iris.authority(&mapping.authority)?;
    let local_scheme = iris.local_scheme(&mapping.authority)?;
    g.a(&local_scheme, skos::CONCEPT_SCHEME);
    let title_sv = format!("Termer som används hos {authority_name}");
    let title_en = format!("Terms used at {authority_name}");
    g.text(&local_scheme, dcterms::TITLE, &title_sv, Lang::Sv);
    g.text(&local_scheme, dcterms::TITLE, &title_en, Lang::En);
    g.link(&local_scheme, dcterms::PUBLISHER, &authority);

    let term = iris.local_term(&mapping.authority, &mapping.local_term)?;
    g.a(&term, skos::CONCEPT);
    g.text(&term, skos::PREF_LABEL, &mapping.local_term, Lang::Sv);
    g.link(&term, skos::IN_SCHEME, &local_scheme);
    let target = iri::concept(scheme, &mapping.concept)?;
    let predicate = match_property(mapping.predicate);
    g.link(&term, predicate, &target);

    let record = iris.mapping(&mapping.authority, &mapping.local_term, &mapping.concept)?;
    g.a(&record, owl::AXIOM);
    g.link(&record, owl::ANNOTATED_SOURCE, &term);
    g.link(&record, owl::ANNOTATED_PROPERTY, predicate);
    g.link(&record, owl::ANNOTATED_TARGET, &target);
    g.link(
        &record,
        sssom::MAPPING_JUSTIFICATION,
        semapv::MANUAL_MAPPING_CURATION,
    );
    g.plain(&record, sssom::SUBJECT_LABEL, &mapping.local_term);
    if let Some(concept) = scheme.concepts.get(&mapping.concept) {
        g.plain(&record, sssom::OBJECT_LABEL, &concept.pref_label.sv);
    }
    g.link(&record, pav::AUTHORED_BY, &authority);
    g.plain(&record, sssom::REVIEWER_LABEL, &mapping.approved_by);
    g.date(&record, sssom::REVIEW_DATE, &mapping.approved_on);
    if let Some(comment) = &mapping.comment {
        g.plain(&record, rdfs::COMMENT, comment);
    }
    Ok(())
}

fn match_property(kind: MatchKind) -> NamedNodeRef<'static> {
    match kind {
        MatchKind::Exact => skos::EXACT_MATCH,
        MatchKind::Close => skos::CLOSE_MATCH,
        MatchKind::Broad => skos::BROAD_MATCH,
        MatchKind::Narrow => skos::NARROW_MATCH,
    }
}
