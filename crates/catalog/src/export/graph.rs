//! A small layer over an `oxrdf` graph for writing the exports: typed adds for the kinds of
//! value the catalog has, and no triple at all for an empty text.
//!
//! An empty title or description says nothing, so it is left out rather than written as `""`;
//! where the profile makes the property mandatory, the SHACL shapes then report the gap instead
//! of a meaningless value passing them.

use super::vocab::{rdf, xsd};
use oxrdf::{Literal, NamedNode, NamedNodeRef, Term, Triple};

/// The languages of the catalog's texts.
#[derive(Debug, Clone, Copy)]
pub enum Lang {
    Sv,
    En,
}

impl Lang {
    fn tag(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    triples: oxrdf::Graph,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// `subject rdf:type class`.
    pub fn a(&mut self, subject: &NamedNode, class: NamedNodeRef<'_>) {
        self.link(subject, rdf::TYPE, class);
    }

    /// A link to another resource.
    pub fn link<'a>(
        &mut self,
        subject: &NamedNode,
        predicate: NamedNodeRef<'_>,
        object: impl Into<NamedNodeRef<'a>>,
    ) {
        self.add(subject, predicate, object.into().into_owned());
    }

    /// A text in a language.
    pub fn text(
        &mut self,
        subject: &NamedNode,
        predicate: NamedNodeRef<'_>,
        text: &str,
        lang: Lang,
    ) {
        if !text.trim().is_empty() {
            // The tags are the two constants above, valid language tags.
            let literal = Literal::new_language_tagged_literal_unchecked(text, lang.tag());
            self.add(subject, predicate, literal);
        }
    }

    /// A string in no language: a name, an identifier, a code.
    pub fn plain(&mut self, subject: &NamedNode, predicate: NamedNodeRef<'_>, value: &str) {
        if !value.trim().is_empty() {
            self.add(subject, predicate, Literal::new_simple_literal(value));
        }
    }

    /// A calendar date, `YYYY-MM-DD` as the model keeps it.
    pub fn date(&mut self, subject: &NamedNode, predicate: NamedNodeRef<'_>, value: &str) {
        if !value.trim().is_empty() {
            self.add(
                subject,
                predicate,
                Literal::new_typed_literal(value, xsd::DATE),
            );
        }
    }

    pub fn boolean(&mut self, subject: &NamedNode, predicate: NamedNodeRef<'_>, value: bool) {
        let lexical = if value { "true" } else { "false" };
        self.add(
            subject,
            predicate,
            Literal::new_typed_literal(lexical, xsd::BOOLEAN),
        );
    }

    fn add(&mut self, subject: &NamedNode, predicate: NamedNodeRef<'_>, object: impl Into<Term>) {
        self.triples.insert(&Triple::new(
            subject.clone(),
            predicate.into_owned(),
            object,
        ));
    }

    /// The triples, sorted by subject, predicate and object: the serialisations are then the same
    /// bytes for the same catalog, and each subject's triples are together, which the streaming
    /// JSON-LD writer needs to write one node object per subject.
    pub fn sorted(&self) -> Vec<oxrdf::TripleRef<'_>> {
        let mut triples: Vec<_> = self.triples.iter().collect();
        triples.sort_by_cached_key(|t| {
            (
                t.subject.to_string(),
                t.predicate.as_str().to_owned(),
                t.object.to_string(),
            )
        });
        triples
    }
}
