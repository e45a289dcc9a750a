//! The rulebook.
