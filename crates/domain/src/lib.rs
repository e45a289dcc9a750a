//! Identifiers and the core vocabulary.
