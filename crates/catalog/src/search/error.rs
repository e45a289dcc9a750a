//! Why a search cannot be answered. Each message says what to change.

use crate::query::FilterKey;

/// A search that cannot be answered, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error("page must be 1 or more; pages are numbered from 1")]
    PageZero,
    #[error("per_page must be between 1 and {max}, not {per_page}")]
    PerPage { per_page: u32, max: u32 },
    #[error("page {page} is past the last page, {last_page}, of {total} hits")]
    PageOutOfRange {
        page: u32,
        last_page: u64,
        total: u64,
    },
    #[error("page {page} of {per_page} reaches past hit {window}; narrow the search with text or filters")]
    TooDeep {
        page: u32,
        per_page: u32,
        window: u64,
    },
    #[error("unknown filter `{key}:`; the filters are provider:, concept:, provision:, purpose: and secrecy:")]
    UnknownFilter { key: String },
    #[error("filter `{key}:` has no value")]
    EmptyFilter { key: FilterKey },
    #[error("no entry has {key} `{value}`{}", known_hint(.known))]
    UnknownValue {
        key: FilterKey,
        value: String,
        known: Vec<String>,
    },
    #[error("the quote opened at character {position} is not closed")]
    UnclosedQuote { position: usize },
    #[error("the query is {chars} characters long; at most {max} are allowed")]
    QueryTooLong { chars: usize, max: usize },
    #[error("the query has {parts} words, phrases and filters; at most {max} are allowed")]
    TooManyParts { parts: usize, max: usize },
    #[error("the search failed: {0}")]
    Engine(String),
}

fn known_hint(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!("; known values include {}", known.join(", "))
    }
}
