//! Turning a parsed query into tantivy clauses: text with Swedish stemming, expanded through
//! concept labels and mapped local terms, and filters on facet terms.

use super::{facet, SearchError, SearchIndex};
use crate::query::{FilterKey, Text};
use std::collections::BTreeSet;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::Term;

/// The score an offering gets for carrying a concept the query was expanded to.
const CONCEPT_SCORE: f32 = 1.0;

impl SearchIndex {
    /// One `Must` clause per word or phrase: the text, or any offering carrying a concept the
    /// word names. Consecutive words are matched against labels longest first, so `inkomst av
    /// tjänst` expands as one concept rather than three words.
    pub(super) fn text_clauses(
        &self,
        analyzer: &mut TextAnalyzer,
        text: &[Text],
    ) -> Vec<(Occur, Box<dyn Query>)> {
        let mut clauses = Vec::new();
        let mut words: Vec<Vec<String>> = Vec::new();
        let flush = |words: &mut Vec<Vec<String>>, clauses: &mut Vec<(Occur, Box<dyn Query>)>| {
            let mut start = 0;
            while start < words.len() {
                let longest = (start + 1..=words.len().min(start + self.longest_label))
                    .rev()
                    .find(|&end| {
                        self.labels
                            .contains_key(&words[start..end].concat().join(" "))
                    });
                let end = longest.unwrap_or(start + 1);
                let span = &words[start..end];
                let text = span
                    .iter()
                    .filter_map(|w| self.text_query(w))
                    .collect::<Vec<_>>();
                let text = all_of(text);
                let concepts = longest.and_then(|_| self.labels.get(&span.concat().join(" ")));
                if let Some(clause) = self.with_concepts(text, concepts) {
                    clauses.push((Occur::Must, clause));
                }
                start = end;
            }
            words.clear();
        };
        for part in text {
            match part {
                Text::Word(word) => {
                    let tokens = tokens(analyzer, word);
                    if !tokens.is_empty() {
                        words.push(tokens);
                    }
                }
                Text::Phrase(phrase) => {
                    flush(&mut words, &mut clauses);
                    let tokens = tokens(analyzer, phrase);
                    let concepts = self.labels.get(&tokens.join(" "));
                    if let Some(clause) = self.with_concepts(self.text_query(&tokens), concepts) {
                        clauses.push((Occur::Must, clause));
                    }
                }
            }
        }
        flush(&mut words, &mut clauses);
        clauses
    }

    /// The tokens as a term or, when there are several, a phrase.
    fn text_query(&self, tokens: &[String]) -> Option<Box<dyn Query>> {
        let mut terms: Vec<Term> = tokens
            .iter()
            .map(|t| Term::from_field_text(self.fields.text, t))
            .collect();
        match terms.len() {
            0 => None,
            1 => terms.pop().map(|t| {
                Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs)) as Box<dyn Query>
            }),
            _ => Some(Box::new(PhraseQuery::new(terms))),
        }
    }

    /// `text`, or any offering carrying one of `concepts` or a concept narrower than one.
    fn with_concepts(
        &self,
        text: Option<Box<dyn Query>>,
        concepts: Option<&BTreeSet<String>>,
    ) -> Option<Box<dyn Query>> {
        let mut alternatives: Vec<Box<dyn Query>> = text.into_iter().collect();
        if let Some(concepts) = concepts {
            alternatives.push(self.concept_query(concepts));
        }
        any_of(alternatives)
    }

    fn concept_query(&self, concepts: &BTreeSet<String>) -> Box<dyn Query> {
        let expanded: BTreeSet<&str> = concepts
            .iter()
            .flat_map(|c| self.narrower.get(c).into_iter().flatten())
            .map(String::as_str)
            .collect();
        let terms = expanded
            .into_iter()
            .map(|c| {
                let term = Term::from_facet(self.fields.facets, &facet(FilterKey::Concept, c));
                Box::new(TermQuery::new(term, IndexRecordOption::Basic)) as Box<dyn Query>
            })
            .collect();
        Box::new(ConstScoreQuery::new(
            any_of(terms).unwrap_or_else(|| Box::new(BooleanQuery::new(Vec::new()))),
            CONCEPT_SCORE,
        ))
    }

    pub(super) fn filter(
        &self,
        analyzer: &mut TextAnalyzer,
        key: FilterKey,
        value: &str,
    ) -> Result<Box<dyn Query>, SearchError> {
        let lowered = value.to_lowercase();
        if key == FilterKey::Concept {
            // A concept is named by its id or by any of its labels.
            let concepts = if self.narrower.contains_key(&lowered) {
                Some(BTreeSet::from([lowered.clone()]))
            } else {
                self.labels.get(&tokens(analyzer, value).join(" ")).cloned()
            };
            return match concepts {
                Some(concepts) => Ok(self.concept_query(&concepts)),
                None => Err(self.unknown(key, value)),
            };
        }
        if !self.known.get(&key).is_some_and(|k| k.contains(&lowered)) {
            return Err(self.unknown(key, value));
        }
        let term = Term::from_facet(self.fields.facets, &facet(key, &lowered));
        Ok(Box::new(ConstScoreQuery::new(
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
            0.0,
        )))
    }

    fn unknown(&self, key: FilterKey, value: &str) -> SearchError {
        let known = self
            .known
            .get(&key)
            .map(|k| k.iter().take(10).cloned().collect())
            .unwrap_or_default();
        SearchError::UnknownValue {
            key,
            value: value.to_owned(),
            known,
        }
    }
}

pub(super) fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut tokens = Vec::new();
    while stream.advance() {
        tokens.push(stream.token().text.clone());
    }
    tokens
}

fn all_of(mut queries: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match queries.len() {
        0 | 1 => queries.pop(),
        _ => Some(Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Must, q)).collect(),
        ))),
    }
}

fn any_of(mut queries: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match queries.len() {
        0 | 1 => queries.pop(),
        _ => Some(Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Should, q)).collect(),
        ))),
    }
}
