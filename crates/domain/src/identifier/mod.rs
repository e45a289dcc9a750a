//! Swedish identifiers of the subject of a request: [`Personnummer`], [`Samordningsnummer`] and
//! [`Organisationsnummer`], and [`SubjectId`], which is any one of them.
//!
//! Every type here holds only a valid number, so code that receives one never re-validates it.
//! The module owns the written forms, the century rules, the Luhn check and the errors; it does
//! no I/O and never reads the clock (see [`CalendarDate`]).
//!
//! # Parsing and the century
//!
//! A 10-digit personnummer or samordningsnummer does not say in which century the person was
//! born; the separator (`-` under 100, `+` from 100) only makes sense relative to a date. So:
//!
//! - [`FromStr`] (`"…".parse()`) and serde accept only forms that mean the
//!   same thing on every day: 12-digit personnummer and samordningsnummer, and any
//!   organisationsnummer. A 10-digit personnummer is rejected with
//!   [`IdentifierError::CenturyNeedsReferenceDate`] instead of being silently guessed.
//! - `parse_at(input, reference)` additionally accepts the 10-digit forms, resolving the century
//!   against the date the caller supplies (normally the date of the request or decision).
//!
//! ```
//! use utbyte_domain::{CalendarDate, IdentifierError, Personnummer, SubjectId};
//!
//! let decided_on = CalendarDate::new(2024, 6, 15)?;
//! let person = Personnummer::parse_at("121212+1212", decided_on)?;
//! assert_eq!(person.as_str(), "19121212-1212");
//! assert_eq!(format!("{person:?}"), "Personnummer(19121212-****)");
//! assert_eq!(
//!     "121212+1212".parse::<Personnummer>(),
//!     Err(IdentifierError::CenturyNeedsReferenceDate)
//! );
//! assert!(matches!(
//!     SubjectId::parse_at("556016-0680", decided_on)?,
//!     SubjectId::Organisationsnummer(_)
//! ));
//! # Ok::<(), IdentifierError>(())
//! ```
//!
//! # Keeping identifiers out of logs
//!
//! `Debug` of a personnummer or samordningsnummer masks the serial and check digit
//! (`Personnummer(19121212-****)`), and no [`IdentifierError`] message contains the input. Only
//! `Display`, `as_str` and serialization give the full number, and those are for the places that
//! must carry it (a request to a provider, a stored case), never for diagnostics.

mod date;
mod digits;
mod error;
mod identitetsbeteckning;
mod luhn;
mod organisationsnummer;
mod personnummer;
mod samordningsnummer;
mod subject;

#[cfg(test)]
mod proptests;

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

pub use date::CalendarDate;
pub use error::IdentifierError;
pub use identitetsbeteckning::LegalGender;
pub use organisationsnummer::{OrganisationGroup, Organisationsnummer};
pub use personnummer::Personnummer;
pub use samordningsnummer::Samordningsnummer;
pub use subject::SubjectId;

/// Deserializes any identifier from a string through its validating `FromStr`.
///
/// Numbers are refused with a message that leaves the value out. Serde's stock "invalid type"
/// message quotes the value, so a personnummer sent as a JSON integer would otherwise end up,
/// whole, in an error and from there in a log. Catching numbers needs `deserialize_any`, which
/// only self-describing formats support; those are exactly the human-readable ones (JSON, TOML),
/// so compact binary formats keep the plain `deserialize_str` path.
fn deserialize_via_from_str<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: FromStr<Err = IdentifierError>,
{
    let visitor = FromStrVisitor::new(expecting);
    if deserializer.is_human_readable() {
        deserializer.deserialize_any(visitor)
    } else {
        deserializer.deserialize_str(visitor)
    }
}

struct FromStrVisitor<T> {
    expecting: &'static str,
    target: PhantomData<fn() -> T>,
}

impl<T> FromStrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            target: PhantomData,
        }
    }

    fn not_a_string<E: serde::de::Error>(&self) -> E {
        E::custom(format_args!(
            "expected {} as a string, got a number",
            self.expecting
        ))
    }
}

impl<T: FromStr<Err = IdentifierError>> serde::de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as a string", self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<T, E> {
        Err(self.not_a_string())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<T, E> {
        Err(self.not_a_string())
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<T, E> {
        Err(self.not_a_string())
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<T, E> {
        Err(self.not_a_string())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<T, E> {
        Err(self.not_a_string())
    }
}

/// Implements the string-shaped traits every identifier shares: `Display` and serde via the
/// canonical string (`as_str`), and validating deserialization via `FromStr`.
macro_rules! canonical_string_traits {
    ($type:ty, $expecting:literal) => {
        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $type {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $type {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                $crate::identifier::deserialize_via_from_str(deserializer, $expecting)
            }
        }
    };
}
use canonical_string_traits;

/// The methods and traits a personnummer and a samordningsnummer share: both are an
/// [`Identitetsbeteckning`](identitetsbeteckning::Identitetsbeteckning) of one series.
macro_rules! person_number {
    ($type:ident, $series:expr, $expecting:literal) => {
        impl $type {
            /// Parses any accepted written form, resolving the century of a 10-digit form against
            /// `reference`: `-` or no separator means younger than 100 on that date, `+` 100 or
            /// older. A 12-digit form carries its century and ignores `reference`.
            pub fn parse_at(input: &str, reference: CalendarDate) -> Result<Self, IdentifierError> {
                Identitetsbeteckning::parse(input, $series, Some(reference)).map(Self)
            }

            /// The canonical form, `YYYYMMDD-NNNN`.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The date of birth the number encodes.
            pub fn birth_date(&self) -> CalendarDate {
                self.0.birth_date()
            }

            /// The legal gender the number encodes; see [`LegalGender`] for what it does and does
            /// not mean.
            pub fn legal_gender(&self) -> LegalGender {
                self.0.legal_gender()
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = IdentifierError;

            /// Parses a 12-digit form only; a 10-digit form fails with
            /// [`IdentifierError::CenturyNeedsReferenceDate`] (use `parse_at`).
            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Identitetsbeteckning::parse(input, $series, None).map(Self)
            }
        }

        impl ::std::fmt::Debug for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt_masked(stringify!($type), f)
            }
        }

        $crate::identifier::canonical_string_traits!($type, $expecting);
    };
}
use person_number;
