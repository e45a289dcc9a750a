//! Subject identifiers as the audit layer sees them: opaque, already-normalised strings.
//!
//! Parsing and validating personnummer, samordningsnummer and organisationsnummer belongs to
//! `utbyte-domain`: a [`SubjectId`] converts into a [`SubjectIdentifier`] through its canonical
//! form, so two spellings of one number always commit to the same value. This crate only commits
//! to that string and never interprets it.

use std::fmt;
use utbyte_domain::SubjectId;
use utbyte_ledger::{Commitment, CommitmentKey};

/// Commitment domain for subjects of an exchange.
const SUBJECT_DOMAIN: &str = "subject";

/// A subject's identifier in canonical form. Never printed: `Debug` and `Display` withhold it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SubjectIdentifier(String);

/// The identifier was empty or not a plausible canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a subject identifier must be a non-empty canonical string without spaces")]
pub struct EmptyIdentifier;

impl SubjectIdentifier {
    /// Wraps a canonical identifier string (see the module documentation).
    pub fn new(canonical: &str) -> Result<Self, EmptyIdentifier> {
        if canonical.is_empty()
            || canonical.len() > 64
            || canonical
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(EmptyIdentifier);
        }
        Ok(SubjectIdentifier(canonical.to_owned()))
    }

    /// The keyed commitment that stands for this subject in ledger leaves.
    pub fn commitment(&self, key: &CommitmentKey) -> Commitment {
        key.commit(SUBJECT_DOMAIN, self.0.as_bytes())
    }
}

impl From<&SubjectId> for SubjectIdentifier {
    fn from(id: &SubjectId) -> Self {
        SubjectIdentifier(id.as_str().to_owned())
    }
}

impl fmt::Debug for SubjectIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectIdentifier(withheld)")
    }
}

impl fmt::Display for SubjectIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<subject withheld>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_never_print_and_commit_deterministically() {
        let id = SubjectIdentifier::new("19121212-1212").unwrap();
        assert!(!format!("{id:?} {id}").contains("1212"));
        let key = CommitmentKey::from_bytes([3; 32]);
        assert_eq!(
            id.commitment(&key),
            SubjectIdentifier::new("19121212-1212")
                .unwrap()
                .commitment(&key)
        );
        assert_ne!(
            id.commitment(&key),
            SubjectIdentifier::new("191212121212")
                .unwrap()
                .commitment(&key)
        );
        assert!(SubjectIdentifier::new("").is_err());
        assert!(SubjectIdentifier::new("1912 1212").is_err());
        // The domain's canonical form is what gets committed, whatever the input spelling.
        let parsed: SubjectId = "191212121212".parse().unwrap();
        assert_eq!(SubjectIdentifier::from(&parsed), id);
    }
}
