//! Searching the catalog: full text with Swedish stemming, facets with counts, query expansion
//! through concepts and mappings, and mandatory paging. The index lives in RAM; it is rebuilt
//! from the entries whenever the catalog changes, which takes seconds even at 100,000 entries.
//!
//! Expansion is what makes the shared concepts pay off: a query word or phrase that is a label of
//! a concept (preferred or alternative, Swedish or English) or a local term an authority has
//! mapped to one also matches every offering with a field carrying that concept or a narrower
//! one — so `lön` finds offerings that say only "Kontant bruttolön", and Försäkringskassan's
//! `SGI` finds income offerings. Labels are compared after the same stemming as the text.
//! The query language itself is in [`crate::query`].

mod clauses;
mod document;
mod error;

use clauses::tokens;
pub use error::SearchError;

use crate::model::{ConceptScheme, Entry, Mapping};
use crate::query::{self, FilterKey};
use crate::CatalogError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tantivy::collector::{Count, FacetCollector, FacetCounts, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query};
use tantivy::schema::{
    Facet, FacetOptions, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{DocAddress, Index, IndexWriter, Searcher};

/// The page size a caller should use when the user gave none.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// The largest page size.
pub const MAX_PER_PAGE: u32 = 100;
/// How deep paging may go: hits past this position are not served — narrow the search instead.
/// Deep pages cost time in proportion to their depth.
pub const MAX_WINDOW: u64 = 10_000;
/// The most values returned per facet, the most frequent first.
pub const MAX_FACET_VALUES: usize = 50;

const TOKENIZER: &str = "sv_stem";
/// Memory the single indexing thread may fill before it writes a segment.
const WRITER_MEMORY: usize = 200_000_000;

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// Every matching entry, not only this page's.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    pub hits: Vec<Hit>,
    /// Facet name (`provider`, `concept`, `provision`, `purpose`, `secrecy`) → values with the
    /// number of matching entries, most frequent first.
    pub facets: BTreeMap<String, Vec<(String, u64)>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub offering: String,
    pub title: String,
    /// The provider's authority id.
    pub provider: String,
    pub provider_name: String,
    pub score: f32,
}

/// Hits are identified by position in the entries the index was built from.
struct Listed {
    offering: String,
    title: String,
    provider: String,
    provider_name: String,
}

impl Listed {
    fn of(entry: &Entry) -> Self {
        Listed {
            offering: entry.offering.clone(),
            title: entry.title.clone(),
            provider: entry.provider.id.clone(),
            provider_name: entry.provider.name.clone(),
        }
    }
}

struct Fields {
    /// Everything searchable as text, stemmed.
    text: Field,
    /// `/provider/…`, `/concept/…`, `/provision/…`, `/purpose/…`, `/secrecy/…`.
    facets: Field,
    /// The entry's position in the slice the index was built from.
    ord: Field,
}

/// A search index over catalog entries, held in RAM.
pub struct SearchIndex {
    searcher: Searcher,
    fields: Fields,
    analyzer: TextAnalyzer,
    listed: Vec<Listed>,
    /// Stemmed label or local term → the concepts it names.
    labels: HashMap<String, BTreeSet<String>>,
    /// The most words any label has.
    longest_label: usize,
    /// Each concept with every concept narrower than it.
    narrower: HashMap<String, Vec<String>>,
    /// Every value each facet has in the index.
    known: BTreeMap<FilterKey, BTreeSet<String>>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("entries", &self.listed.len())
            .field("labels", &self.labels.len())
            .finish()
    }
}

fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::Swedish))
        .build()
}

fn index_error(err: tantivy::TantivyError) -> CatalogError {
    CatalogError::Index(err.to_string())
}

fn facet(key: FilterKey, value: &str) -> Facet {
    Facet::from_path([key.name(), value])
}

impl SearchIndex {
    /// Indexes `entries`; `scheme` and `mappings` give the labels queries are expanded through.
    pub fn build(
        entries: &[Entry],
        scheme: &ConceptScheme,
        mappings: &[Mapping],
    ) -> Result<Self, CatalogError> {
        let mut builder = Schema::builder();
        let text_options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            text: builder.add_text_field("text", text_options),
            facets: builder.add_facet_field("facets", FacetOptions::default()),
            ord: builder.add_u64_field("ord", FAST),
        };
        let index = Index::create_in_ram(builder.build());
        index.tokenizers().register(TOKENIZER, analyzer());

        let mut known: BTreeMap<FilterKey, BTreeSet<String>> = BTreeMap::new();
        let mut writer: IndexWriter = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(index_error)?;
        for (position, entry) in entries.iter().enumerate() {
            let doc = document::of(entry, position as u64, scheme, &fields, &mut known);
            writer.add_document(doc).map_err(index_error)?;
        }
        writer.commit().map_err(index_error)?;
        // One segment searches fastest; the index is written once and then only read.
        let segments = index.searchable_segment_ids().map_err(index_error)?;
        if segments.len() > 1 {
            writer.merge(&segments).wait().map_err(index_error)?;
        }
        writer.wait_merging_threads().map_err(index_error)?;
        let reader = index.reader().map_err(index_error)?;
        reader.reload().map_err(index_error)?;

        let (labels, longest_label) = document::labels(scheme, mappings, &mut analyzer());
        let narrower = scheme
            .concepts
            .keys()
            .map(|id| {
                let below = scheme.with_narrower(id).into_iter().map(str::to_owned);
                (id.clone(), below.collect())
            })
            .collect();
        Ok(SearchIndex {
            searcher: reader.searcher(),
            fields,
            analyzer: analyzer(),
            listed: entries.iter().map(Listed::of).collect(),
            labels,
            longest_label,
            narrower,
            known,
        })
    }

    /// Runs `query` (see [`crate::query`]) and returns page `page` (from 1) of `per_page` hits.
    pub fn search(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<SearchResults, SearchError> {
        let offset = offset_of(page, per_page)?;
        let parsed = query::parse(query)?;
        let mut analyzer = self.analyzer.clone();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> =
            self.text_clauses(&mut analyzer, &parsed.text);
        for (key, value) in &parsed.filters {
            clauses.push((Occur::Must, self.filter(&mut analyzer, *key, value)?));
        }
        let query: Box<dyn Query> = if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        };
        let mut facet_collector = FacetCollector::for_field("facets");
        for key in FilterKey::ALL {
            facet_collector.add_facet(Facet::from_path([key.name()]));
        }
        let top = TopDocs::with_limit(per_page as usize)
            .and_offset(offset as usize)
            .order_by_score();
        let (total, top, counts) = self
            .searcher
            .search(&query, &(Count, top, facet_collector))
            .map_err(|e| SearchError::Engine(e.to_string()))?;
        let total = total as u64;
        if total > 0 && offset >= total {
            let last_page = total.div_ceil(u64::from(per_page));
            return Err(SearchError::PageOutOfRange {
                page,
                last_page,
                total,
            });
        }
        let hits = top
            .into_iter()
            .map(|(score, address)| self.hit(score, address))
            .collect::<Result<_, _>>()?;
        let facets = facet_values(&counts);
        Ok(SearchResults {
            total,
            page,
            per_page,
            hits,
            facets,
        })
    }

    fn hit(&self, score: f32, address: DocAddress) -> Result<Hit, SearchError> {
        let engine = |e: tantivy::TantivyError| SearchError::Engine(e.to_string());
        let column = self
            .searcher
            .segment_reader(address.segment_ord)
            .fast_fields()
            .u64("ord")
            .map_err(engine)?;
        let listed = column
            .first(address.doc_id)
            .and_then(|ord| usize::try_from(ord).ok())
            .and_then(|ord| self.listed.get(ord))
            .ok_or_else(|| SearchError::Engine(format!("document {address:?} has no entry")))?;
        Ok(Hit {
            offering: listed.offering.clone(),
            title: listed.title.clone(),
            provider: listed.provider.clone(),
            provider_name: listed.provider_name.clone(),
            score,
        })
    }
}

/// The number of hits before page `page`, once the page is known to be servable.
fn offset_of(page: u32, per_page: u32) -> Result<u64, SearchError> {
    if page == 0 {
        return Err(SearchError::PageZero);
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(SearchError::PerPage {
            per_page,
            max: MAX_PER_PAGE,
        });
    }
    let offset = u64::from(page - 1) * u64::from(per_page);
    if offset + u64::from(per_page) > MAX_WINDOW {
        return Err(SearchError::TooDeep {
            page,
            per_page,
            window: MAX_WINDOW,
        });
    }
    Ok(offset)
}

/// Each facet's values with their counts, most frequent first, ties by value.
fn facet_values(counts: &FacetCounts) -> BTreeMap<String, Vec<(String, u64)>> {
    FilterKey::ALL
        .into_iter()
        .map(|key| {
            let mut values: Vec<(String, u64)> = counts
                .top_k(Facet::from_path([key.name()]), MAX_FACET_VALUES)
                .into_iter()
                .filter_map(|(f, n)| f.to_path().last().map(|v| ((*v).to_owned(), n)))
                .collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            (key.name().to_owned(), values)
        })
        .collect()
}
