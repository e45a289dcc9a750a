//! [`SubjectId`]: who a request is about, whichever kind of number identifies them.

use std::fmt;
use std::str::FromStr;

use super::digits::{self, Scanned};
use super::{
    canonical_string_traits, CalendarDate, IdentifierError, Organisationsnummer, Personnummer,
    Samordningsnummer,
};

/// The subject of a request: a person (by personnummer or samordningsnummer) or a legal person
/// (by organisationsnummer). A sole trader is a `Personnummer` subject.
///
/// # Recognition
///
/// The three series are designed not to overlap, so the kind follows from the digits alone and
/// no tag is needed: a third digit (of the 10-digit form) of 2 or higher is an
/// organisationsnummer, unless a 12-digit form starts with anything but `16`; otherwise a day
/// field of 61–91 marks a samordningsnummer and anything else a personnummer. (The third digit
/// decides even after `16`, so a personnummer of someone born in the 1600s is still recognised.)
/// Once the kind is known, the input must be valid as that kind, and the error says why it is
/// not.
///
/// # Serde
///
/// Serialized as the inner canonical string (`19121212-1212`, `19701063-2391`, `556016-0680`).
/// Deserialization re-runs recognition and full validation through [`FromStr`], so it accepts
/// only forms that need no reference date: a tag beside the string could only ever agree with
/// recognition or contradict it, so there is none.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectId {
    /// A person registered in folkbokföringen.
    Personnummer(Personnummer),
    /// A person identified by a samordningsnummer.
    Samordningsnummer(Samordningsnummer),
    /// A legal person.
    Organisationsnummer(Organisationsnummer),
}

/// The kind of number, decided from the digits before full validation.
enum Kind {
    Person,
    Coordination,
    Organisation,
}

impl SubjectId {
    /// Recognises and parses any accepted written form of any of the three kinds, resolving the
    /// century of a 10-digit personnummer or samordningsnummer against `reference`.
    pub fn parse_at(input: &str, reference: CalendarDate) -> Result<Self, IdentifierError> {
        Ok(match recognise(input)? {
            Kind::Person => Self::Personnummer(Personnummer::parse_at(input, reference)?),
            Kind::Coordination => {
                Self::Samordningsnummer(Samordningsnummer::parse_at(input, reference)?)
            }
            Kind::Organisation => Self::Organisationsnummer(input.parse()?),
        })
    }

    /// The canonical form of the inner number.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Personnummer(number) => number.as_str(),
            Self::Samordningsnummer(number) => number.as_str(),
            Self::Organisationsnummer(number) => number.as_str(),
        }
    }
}

/// Decides the kind from the layout and the distinguishing digits; see [`SubjectId`].
fn recognise(input: &str) -> Result<Kind, IdentifierError> {
    let scanned = Scanned::scan(input)?;
    let ten = scanned.ten();
    let organisation = ten[2] >= 2 && (!scanned.is_twelve() || scanned.prefix() == 16);
    Ok(if organisation {
        Kind::Organisation
    } else if (61..=91).contains(&digits::pair(&ten, 4)) {
        Kind::Coordination
    } else {
        Kind::Person
    })
}

impl FromStr for SubjectId {
    type Err = IdentifierError;

    /// Like [`SubjectId::parse_at`], but a 10-digit personnummer or samordningsnummer fails with
    /// [`IdentifierError::CenturyNeedsReferenceDate`].
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Ok(match recognise(input)? {
            Kind::Person => Self::Personnummer(input.parse()?),
            Kind::Coordination => Self::Samordningsnummer(input.parse()?),
            Kind::Organisation => Self::Organisationsnummer(input.parse()?),
        })
    }
}

impl From<Personnummer> for SubjectId {
    fn from(number: Personnummer) -> Self {
        Self::Personnummer(number)
    }
}

impl From<Samordningsnummer> for SubjectId {
    fn from(number: Samordningsnummer) -> Self {
        Self::Samordningsnummer(number)
    }
}

impl From<Organisationsnummer> for SubjectId {
    fn from(number: Organisationsnummer) -> Self {
        Self::Organisationsnummer(number)
    }
}

impl fmt::Debug for SubjectId {
    /// The inner number's `Debug`, which already names the kind and masks personal numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Personnummer(number) => fmt::Debug::fmt(number, f),
            Self::Samordningsnummer(number) => fmt::Debug::fmt(number, f),
            Self::Organisationsnummer(number) => fmt::Debug::fmt(number, f),
        }
    }
}

canonical_string_traits!(
    SubjectId,
    "a 12-digit personnummer or samordningsnummer, or an organisationsnummer"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> CalendarDate {
        CalendarDate::new(2024, 6, 15).unwrap_or_else(|e| panic!("{e}"))
    }

    fn debug_at(input: &str) -> Result<String, IdentifierError> {
        SubjectId::parse_at(input, reference()).map(|s| format!("{s:?}"))
    }

    #[test]
    fn recognises_each_kind() {
        assert_eq!(
            debug_at("121212+1212"),
            Ok("Personnummer(19121212-****)".to_owned())
        );
        assert_eq!(
            debug_at("811228-9874"),
            Ok("Personnummer(19811228-****)".to_owned())
        );
        assert_eq!(
            debug_at("7010632391"),
            Ok("Samordningsnummer(19701063-****)".to_owned())
        );
        assert_eq!(
            debug_at("556016-0680"),
            Ok("Organisationsnummer(556016-0680)".to_owned())
        );
        assert_eq!(
            debug_at("165560160680"),
            Ok("Organisationsnummer(556016-0680)".to_owned())
        );
        assert_eq!(
            debug_at("212000-0142"),
            Ok("Organisationsnummer(212000-0142)".to_owned())
        );
    }

    #[test]
    fn errors_come_from_the_recognised_kind() {
        assert_eq!(
            SubjectId::parse_at("811228-9875", reference()),
            Err(IdentifierError::CheckDigit {
                found: 5,
                expected: 4
            })
        );
        assert_eq!(
            SubjectId::parse_at("556016+0680", reference()),
            Err(IdentifierError::PlusInOrganisationsnummer)
        );
        assert_eq!(
            SubjectId::parse_at("701045-2391", reference()),
            Err(IdentifierError::InvalidDay {
                year: 1970,
                month: 10,
                day: 45
            })
        );
        assert_eq!(
            "811228-9874".parse::<SubjectId>(),
            Err(IdentifierError::CenturyNeedsReferenceDate)
        );
        assert_eq!(
            SubjectId::parse_at("81122-9874", reference()),
            Err(IdentifierError::WrongLength { got: 9 })
        );
    }

    #[test]
    fn serde_is_the_untagged_canonical_string() -> Result<(), Box<dyn std::error::Error>> {
        for canonical in ["19121212-1212", "19701063-2391", "556016-0680"] {
            let subject: SubjectId = canonical.parse()?;
            assert_eq!(subject.as_str(), canonical);
            let json = serde_json::to_string(&subject)?;
            assert_eq!(json, format!("\"{canonical}\""));
            assert_eq!(serde_json::from_str::<SubjectId>(&json)?, subject);
        }
        assert!(serde_json::from_str::<SubjectId>("\"121212-1212\"").is_err());
        let tagged = "{\"Personnummer\":\"19121212-1212\"}";
        assert!(serde_json::from_str::<SubjectId>(tagged).is_err());
        Ok(())
    }

    #[test]
    fn converts_from_each_kind() {
        let person = "19121212-1212".parse::<Personnummer>().map(SubjectId::from);
        assert_eq!(
            person.map(|s| s.to_string()),
            Ok("19121212-1212".to_owned())
        );
    }
}
