//! Identifiers and the core vocabulary of a lawful disclosure between authorities.
//!
//! This crate does no I/O and never reads the clock. Everything here is a value that is valid by
//! construction: a [`Personnummer`] can only hold a valid personnummer.

pub mod identifier;

pub use identifier::{
    CalendarDate, IdentifierError, LegalGender, OrganisationGroup, Organisationsnummer,
    Personnummer, Samordningsnummer, SubjectId,
};
