//! The catalog's search language: free text, quoted phrases and `key:value` filters.
//!
//! ```text
//! inkomster provider:skatteverket "ekonomiskt bistånd" concept:lon secrecy:sekretess
//! ```
//!
//! A word `key:value` whose key is made of ASCII letters only is a filter; any other word (such
//! as `2024:307`) is text. A filter's value is a word or a quoted phrase (`concept:"inkomst av
//! tjänst"`). Filters are AND-ed with each other and with the text, also when a key repeats. An
//! unknown key is an error naming the known ones, so a typo never silently widens a search. The
//! grammar is kept this small on purpose: it is documented in `docs/catalog-search.md` and every
//! rule of it is tested.

use crate::search::SearchError;
use std::fmt;

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// The most words, phrases and filters one query may have.
pub const MAX_QUERY_PARTS: usize = 32;

/// What a filter restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterKey {
    Provider,
    Concept,
    Provision,
    Purpose,
    Secrecy,
}

impl FilterKey {
    pub const ALL: [FilterKey; 5] = [
        FilterKey::Provider,
        FilterKey::Concept,
        FilterKey::Provision,
        FilterKey::Purpose,
        FilterKey::Secrecy,
    ];

    /// The key as written in a query, and the name of its facet.
    pub fn name(self) -> &'static str {
        match self {
            FilterKey::Provider => "provider",
            FilterKey::Concept => "concept",
            FilterKey::Provision => "provision",
            FilterKey::Purpose => "purpose",
            FilterKey::Secrecy => "secrecy",
        }
    }

    fn parse(key: &str) -> Option<FilterKey> {
        FilterKey::ALL.into_iter().find(|k| k.name() == key)
    }
}

impl fmt::Display for FilterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A piece of free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Word(String),
    /// A quoted phrase: its words in this order.
    Phrase(String),
}

/// A query taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub text: Vec<Text>,
    pub filters: Vec<(FilterKey, String)>,
}

/// Parses a query. Limits on length and parts keep a query's cost bounded.
pub fn parse(query: &str) -> Result<ParsedQuery, SearchError> {
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::QueryTooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    let mut parsed = ParsedQuery::default();
    let mut rest = query;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let position = chars_before(query, rest);
        if let Some(after_quote) = rest.strip_prefix('"') {
            let (phrase, after) = quoted(after_quote, position)?;
            if !phrase.trim().is_empty() {
                parsed.text.push(Text::Phrase(phrase.to_owned()));
            }
            rest = after;
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after;
        match word.split_once(':') {
            Some((key, value))
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                let Some(filter) = FilterKey::parse(&key.to_ascii_lowercase()) else {
                    return Err(SearchError::UnknownFilter {
                        key: key.to_owned(),
                    });
                };
                let value = if value.is_empty() && rest.starts_with('"') {
                    let (phrase, after) = quoted(&rest[1..], chars_before(query, rest))?;
                    rest = after;
                    phrase
                } else {
                    value
                };
                let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                if value.is_empty() {
                    return Err(SearchError::EmptyFilter { key: filter });
                }
                parsed.filters.push((filter, value));
            }
            _ => parsed.text.push(Text::Word(word.to_owned())),
        }
    }
    let parts = parsed.text.len() + parsed.filters.len();
    if parts > MAX_QUERY_PARTS {
        return Err(SearchError::TooManyParts {
            parts,
            max: MAX_QUERY_PARTS,
        });
    }
    Ok(parsed)
}

/// The text up to the closing quote, and what follows it.
fn quoted(after_quote: &str, position: usize) -> Result<(&str, &str), SearchError> {
    match after_quote.find('"') {
        Some(end) => Ok((&after_quote[..end], &after_quote[end + 1..])),
        None => Err(SearchError::UnclosedQuote {
            position: position + 1,
        }),
    }
}

/// How many characters of `whole` come before `tail`, a suffix of it.
fn chars_before(whole: &str, tail: &str) -> usize {
    whole[..whole.len() - tail.len()].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_filters_are_told_apart() {
        let parsed =
            parse(r#"inkomster "ekonomiskt bistånd" provider:skatteverket concept:"inkomst av tjänst" SFS 2024:307"#)
                .unwrap();
        assert_eq!(
            parsed.text,
            [
                Text::Word("inkomster".into()),
                Text::Phrase("ekonomiskt bistånd".into()),
                Text::Word("SFS".into()),
                Text::Word("2024:307".into()),
            ]
        );
        assert_eq!(
            parsed.filters,
            [
                (FilterKey::Provider, "skatteverket".into()),
                (FilterKey::Concept, "inkomst av tjänst".into()),
            ]
        );
    }

    #[test]
    fn keys_are_case_insensitive_and_unknown_keys_are_errors() {
        assert_eq!(
            parse("Provider:x").unwrap().filters,
            [(FilterKey::Provider, "x".into())]
        );
        assert!(matches!(
            parse("lön owner:skatteverket"),
            Err(SearchError::UnknownFilter { key }) if key == "owner"
        ));
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        assert!(matches!(
            parse(r#"lön "inkomst"#),
            Err(SearchError::UnclosedQuote { position: 5 })
        ));
        assert!(matches!(
            parse("provider: lön"),
            Err(SearchError::EmptyFilter {
                key: FilterKey::Provider
            })
        ));
        assert!(matches!(
            parse(&"a".repeat(MAX_QUERY_CHARS + 1)),
            Err(SearchError::QueryTooLong { .. })
        ));
        assert!(matches!(
            parse(&"a ".repeat(MAX_QUERY_PARTS + 1)),
            Err(SearchError::TooManyParts { .. })
        ));
        assert_eq!(parse("   ").unwrap(), ParsedQuery::default());
    }
}
