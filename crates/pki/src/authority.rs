//! An authority's id in the federation, and how a node certificate carries it.
//!
//! The id is what the federation configuration and the rulebook call the authority
//! (`skatteverket`), so it is what access decisions about a peer use. In a certificate it is a
//! SAN URI, `urn:utbyte:authority:<id>`: URIs are a standard SAN type every X.509 tool shows,
//! and the characters an id may hold need no escaping in a URN.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The prefix of the SAN URI that names an authority's federation id.
pub const AUTHORITY_URN_PREFIX: &str = "urn:utbyte:authority:";

/// Longest authority id accepted, in bytes (ids are ASCII).
pub const MAX_AUTHORITY_ID_LEN: usize = 64;

/// An authority's id in the federation (`skatteverket`): ASCII letters, digits, `-` and `_`, as
/// the rulebook's vocabulary spells ids, at most [`MAX_AUTHORITY_ID_LEN`] characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuthorityId(String);

impl AuthorityId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SAN URI that carries this id in a node certificate.
    pub fn urn(&self) -> String {
        format!("{AUTHORITY_URN_PREFIX}{}", self.0)
    }
}

/// Why a string is not an authority id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthorityIdError {
    /// The id is empty.
    #[error("the authority id is empty")]
    Empty,
    /// The id is longer than [`MAX_AUTHORITY_ID_LEN`].
    #[error(
        "the authority id is {len} characters long, at most {MAX_AUTHORITY_ID_LEN} are allowed"
    )]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The id has a character other than ASCII letters, digits, `-` and `_`.
    #[error(
        "invalid character {found:?} at position {position} of the authority id: use ASCII \
         letters, digits, `-` and `_`"
    )]
    InvalidCharacter {
        /// The offending character.
        found: char,
        /// Its 1-based character position.
        position: usize,
    },
}

impl FromStr for AuthorityId {
    type Err = AuthorityIdError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() {
            return Err(AuthorityIdError::Empty);
        }
        if let Some((index, found)) = input
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(AuthorityIdError::InvalidCharacter {
                found,
                position: index + 1,
            });
        }
        if input.len() > MAX_AUTHORITY_ID_LEN {
            return Err(AuthorityIdError::TooLong { len: input.len() });
        }
        Ok(Self(input.to_owned()))
    }
}

impl TryFrom<String> for AuthorityId {
    type Error = AuthorityIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<AuthorityId> for String {
    fn from(id: AuthorityId) -> Self {
        id.0
    }
}

impl fmt::Display for AuthorityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AuthorityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorityId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_ids_follow_the_rulebook_spelling() {
        for good in ["skatteverket", "fk-kontroll", "a_b", "A1"] {
            assert!(good.parse::<AuthorityId>().is_ok(), "{good}");
        }
        assert_eq!("".parse::<AuthorityId>(), Err(AuthorityIdError::Empty));
        assert_eq!(
            "skatte verket".parse::<AuthorityId>(),
            Err(AuthorityIdError::InvalidCharacter {
                found: ' ',
                position: 7
            })
        );
        assert_eq!(
            "a:b".parse::<AuthorityId>(),
            Err(AuthorityIdError::InvalidCharacter {
                found: ':',
                position: 2
            })
        );
        assert_eq!(
            "a".repeat(65).parse::<AuthorityId>(),
            Err(AuthorityIdError::TooLong { len: 65 })
        );
    }
}
