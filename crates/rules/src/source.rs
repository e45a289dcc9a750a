//! Source files of a rulebook and problems located in them.
//!
//! A legal expert fixes a rulebook from the messages `utbyte rules check` prints, so every problem
//! names its file, line and column and says in plain words what is wrong.

use std::fmt;

/// One file of a rulebook, kept whole so that offsets in it can be turned into line and column.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the rulebook directory, with `/` separators.
    pub path: String,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
        }
    }

    /// Line and column (both from 1, column in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(&self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// The position of the first occurrence of `needle`, or the start of the file. Used to point at
    /// the definition of an identifier in a data file when the parser kept no span for it.
    pub fn locate(&self, needle: &str) -> (usize, usize) {
        self.text
            .find(needle)
            .map_or((1, 1), |offset| self.position(offset))
    }

    pub fn problem_at(&self, offset: usize, message: impl Into<String>) -> Problem {
        let (line, column) = self.position(offset);
        Problem::new(&self.path, line, column, message)
    }

    pub fn problem_near(&self, needle: &str, message: impl Into<String>) -> Problem {
        let (line, column) = self.locate(needle);
        Problem::new(&self.path, line, column, message)
    }
}

/// Something wrong in a rulebook, located in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// A rulebook that could not be loaded, with every problem found (not only the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

impl LoadError {
    pub fn single(problem: Problem) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while a rulebook is loaded, so that one run reports all of them.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Err` with everything collected so far, if anything was.
    pub fn check(&mut self) -> Result<(), LoadError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(LoadError {
                problems: std::mem::take(&mut self.0),
            })
        }
    }
}

/// Parses a TOML data file, turning a syntax or shape error into a located problem.
pub fn parse_toml<T: serde::de::DeserializeOwned>(file: &SourceFile) -> Result<T, Problem> {
    toml::from_str(&file.text).map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start);
        file.problem_at(offset, err.message().trim_end().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let file = SourceFile::new("a.cedar", "ab\nåäö x\n");
        assert_eq!(file.position(0), (1, 1));
        assert_eq!(file.position(3), (2, 1));
        // "åäö" is six bytes but three characters.
        assert_eq!(file.position(3 + 7), (2, 5));
        assert_eq!(file.locate("x"), (2, 5));
        assert_eq!(file.locate("missing"), (1, 1));
    }

    #[test]
    fn toml_errors_point_at_the_offending_line() {
        let file = SourceFile::new("p.toml", "[[provision]]\nid = \"a\"\nsfs = 12\n");
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            provision: Vec<Q>,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Q {
            id: String,
            sfs: String,
        }
        let problem = parse_toml::<P>(&file).unwrap_err();
        assert_eq!(problem.line, 3, "{problem}");
        assert!(problem.message.contains("string"), "{problem}");
    }
}
