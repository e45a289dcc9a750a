//! The command-line options of the benchmarks: `--name N` for a number (underscores allowed,
//! as in `1_000_000`) and `--name` for a switch; cargo's own `--bench` is passed over. A
//! benchmark names its options with their defaults; anything else stops it with the list.

use std::collections::{BTreeMap, BTreeSet};

/// The options given, over their defaults.
#[derive(Debug, Clone)]
pub struct Options {
    numbers: BTreeMap<&'static str, usize>,
    switches: BTreeSet<&'static str>,
}

impl Options {
    /// Reads the process's arguments against `numbers` (each with its default) and `switches`.
    pub fn read(numbers: &[(&'static str, usize)], switches: &[&'static str]) -> Self {
        Self::parse(std::env::args().skip(1), numbers, switches)
    }

    fn parse(
        given: impl IntoIterator<Item = String>,
        numbers: &[(&'static str, usize)],
        switches: &[&'static str],
    ) -> Self {
        let mut options = Self {
            numbers: numbers.iter().copied().collect(),
            switches: BTreeSet::new(),
        };
        let known = || {
            numbers
                .iter()
                .map(|(name, _)| *name)
                .chain(switches.iter().copied())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut given = given.into_iter();
        while let Some(name) = given.next() {
            if name == "--bench" {
                continue;
            }
            if let Some(switch) = switches.iter().find(|s| **s == name) {
                options.switches.insert(switch);
                continue;
            }
            let Some((number, _)) = numbers.iter().find(|(n, _)| *n == name) else {
                panic!("unknown option {name}; use {}", known());
            };
            let value = given
                .next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a whole number"));
            options.numbers.insert(number, value);
        }
        options
    }

    /// The number `name` was given, or its default.
    pub fn number(&self, name: &str) -> usize {
        self.numbers
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("{name} is not an option of this benchmark"))
    }

    /// Whether the switch `name` was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn numbers_keep_their_defaults_unless_given() {
        let options = Options::parse(
            given(&["--bench", "--rate", "20_000", "--quiet"]),
            &[("--rate", 5), ("--pairs", 7)],
            &["--quiet", "--loud"],
        );
        assert_eq!(options.number("--rate"), 20_000);
        assert_eq!(options.number("--pairs"), 7);
        assert!(options.switch("--quiet"));
        assert!(!options.switch("--loud"));
    }

    #[test]
    #[should_panic(expected = "unknown option --nope; use --rate, --quiet")]
    fn an_unknown_option_names_the_known_ones() {
        Options::parse(given(&["--nope"]), &[("--rate", 5)], &["--quiet"]);
    }
}
