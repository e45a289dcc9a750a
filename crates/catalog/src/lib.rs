//! The catalog: which information exists at which authority, what each field means, under which
//! provision it is held, on which legal bases and to whom it can be disclosed — and who needs what.
//!
//! Meaning comes from a shared SKOS concept scheme that every offering field links to, with each
//! authority's local terms mapped to it in the SSSOM style ([`model`]). The catalog data is a
//! directory of files an expert edits ([`data`]); [`Catalog::build`] checks it against the
//! rulebook and derives each offering's entry — legal bases and pre-assessments come from the
//! rulebook itself, never typed twice. [`search`] indexes the entries for full-text search with
//! Swedish stemming, facets and query expansion through concepts and mappings.
//!
//! This crate knows nothing of HTTP or storage.

mod build;
pub mod data;
mod error;
pub mod export;
pub mod model;
pub mod needs;
pub mod query;
mod read;
mod scheme;
pub mod search;

pub use data::{CatalogData, OfferingDescription};
pub use error::CatalogError;
pub use model::{
    Agent, AltLabels, Catalog, Concept, ConceptScheme, ContactPoint, Entry, EntryField, Gap,
    Labels, LegalBasis, Mapping, MatchKind, Need, NeedStatus, PreAssessmentSummary,
};
pub use search::{Hit, SearchError, SearchIndex, SearchResults};
