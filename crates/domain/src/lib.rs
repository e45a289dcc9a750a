//! Identifiers and the core vocabulary of a lawful disclosure between authorities.
//!
//! This crate does no I/O and never reads the clock. Everything here is a value that is valid by
//! construction: a [`Personnummer`] can only hold a valid personnummer. [`legal_time`] says which
//! Swedish day an instant falls on, the calendar every date with legal meaning is judged on.

pub mod identifier;
pub mod legal_time;

pub use identifier::{
    CalendarDate, IdentifierError, LegalGender, OrganisationGroup, Organisationsnummer,
    Personnummer, Samordningsnummer, SubjectId,
};
