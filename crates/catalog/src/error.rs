//! Errors of loading and building the catalog.
//!
//! An expert fixes the catalog data from these messages, so a problem in a data file names the
//! file, the line and column, and what is wrong — and one run reports every problem found, not
//! only the first.

use std::fmt;
use utbyte_rules::Problem;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    /// The catalog data is inconsistent in itself or with the rulebook.
    #[error("{}", Listed(.0))]
    Invalid(Vec<Problem>),
    /// A file or directory could not be read.
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    /// The search index could not be built.
    #[error("cannot build the search index: {0}")]
    Index(String),
}

impl CatalogError {
    /// The located problems, if the data was invalid.
    pub fn problems(&self) -> &[Problem] {
        match self {
            CatalogError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

struct Listed<'a>(&'a [Problem]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}
