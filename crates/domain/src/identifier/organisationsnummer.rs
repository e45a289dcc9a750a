//! [`Organisationsnummer`]: the identity number of a legal person (a company, an association, an
//! authority), and [`OrganisationGroup`], the legal-form group its first digit encodes.

use std::fmt;
use std::str::FromStr;

use super::digits::{self, Scanned, Separator};
use super::{canonical_string_traits, luhn, IdentifierError};

/// The legal-form group encoded by the first digit of an organisationsnummer.
///
/// Only the assigned groups are representable. Digits 0 and 4 are rejected with
/// [`IdentifierError::UnknownOrganisationGroup`] rather than carried as "unknown": a number in an
/// unassigned group cannot have been issued, so accepting it would only let typing mistakes
/// through, and every `match` on the group stays exhaustive. Should a new group ever be assigned,
/// it is added here deliberately, together with what it means for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrganisationGroup {
    /// 1: dödsbon (estates of deceased persons).
    Estate,
    /// 2: stat, regioner, kommuner, församlingar (the public sector).
    PublicSector,
    /// 3: utländska företag (foreign companies with business or property in Sweden).
    ForeignCompany,
    /// 5: aktiebolag (limited companies).
    LimitedCompany,
    /// 6: enkla bolag (simple partnerships).
    SimplePartnership,
    /// 7: ekonomiska föreningar, bostadsrättsföreningar (economic and housing associations).
    EconomicAssociation,
    /// 8: ideella föreningar, stiftelser (non-profit associations and foundations).
    NonProfitAssociationOrFoundation,
    /// 9: handelsbolag, kommanditbolag (trading and limited partnerships).
    Partnership,
}

impl OrganisationGroup {
    /// The group for a first digit, or `None` for an unassigned one (0, 4).
    fn from_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            1 => Self::Estate,
            2 => Self::PublicSector,
            3 => Self::ForeignCompany,
            5 => Self::LimitedCompany,
            6 => Self::SimplePartnership,
            7 => Self::EconomicAssociation,
            8 => Self::NonProfitAssociationOrFoundation,
            9 => Self::Partnership,
            _ => return None,
        })
    }

    /// The first digit of numbers in this group.
    pub fn digit(self) -> u8 {
        match self {
            Self::Estate => 1,
            Self::PublicSector => 2,
            Self::ForeignCompany => 3,
            Self::LimitedCompany => 5,
            Self::SimplePartnership => 6,
            Self::EconomicAssociation => 7,
            Self::NonProfitAssociationOrFoundation => 8,
            Self::Partnership => 9,
        }
    }
}

/// A valid organisationsnummer, held in the canonical form `NNNNNN-NNNN`.
///
/// Accepted written forms: `NNNNNN-NNNC`, `NNNNNNNNNC`, and the 12-digit forms with the prefix
/// `16` (`16NNNNNN-NNNC`, `16NNNNNNNNNC`) used where a field must hold personnummer too. The third
/// digit must be 2 or higher, which is what keeps organisationsnummer apart from personnummer
/// (whose third digit starts the month); the first digit must be an assigned
/// [`OrganisationGroup`]; the last digit is the Luhn check digit.
///
/// A sole trader (enskild näringsidkare) has no organisationsnummer of their own but is
/// identified by their personnummer: that is a [`SubjectId`](super::SubjectId) choice.
///
/// Unlike the personal identifiers, `Debug` shows the whole number: organisationsnummer are
/// public records of legal persons, and seeing which organisation is involved is what debugging
/// needs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Organisationsnummer {
    text: [u8; 11],
    group: OrganisationGroup,
}

impl Organisationsnummer {
    /// The canonical form, `NNNNNN-NNNN`.
    pub fn as_str(&self) -> &str {
        digits::ascii(&self.text)
    }

    /// The legal-form group (first digit).
    pub fn group(&self) -> OrganisationGroup {
        self.group
    }
}

impl FromStr for Organisationsnummer {
    type Err = IdentifierError;

    /// Parses any accepted written form; no reference date is needed, as organisationsnummer
    /// carry no century.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let scanned = Scanned::scan(input)?;
        if scanned.separator() == Some(Separator::Plus) {
            return Err(IdentifierError::PlusInOrganisationsnummer);
        }
        if scanned.is_twelve() && scanned.prefix() != 16 {
            return Err(IdentifierError::OrganisationsnummerPrefix {
                prefix: scanned.prefix(),
            });
        }
        let ten = scanned.ten();
        if ten[2] < 2 {
            return Err(IdentifierError::OrganisationsnummerThirdDigit { digit: ten[2] });
        }
        let group = OrganisationGroup::from_digit(ten[0])
            .ok_or(IdentifierError::UnknownOrganisationGroup { digit: ten[0] })?;
        luhn::verify(&ten)?;

        let mut text = [b'-'; 11];
        for (slot, digit) in text[..6].iter_mut().zip(&ten[..6]) {
            *slot = b'0' + digit;
        }
        for (slot, digit) in text[7..].iter_mut().zip(&ten[6..]) {
            *slot = b'0' + digit;
        }
        Ok(Self { text, group })
    }
}

impl fmt::Debug for Organisationsnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Organisationsnummer({})", self.as_str())
    }
}

canonical_string_traits!(Organisationsnummer, "an organisationsnummer");

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Result<Organisationsnummer, IdentifierError> {
        input.parse()
    }

    #[test]
    fn accepts_known_numbers_in_every_form() -> Result<(), IdentifierError> {
        for input in ["556016-0680", "5560160680", "16556016-0680", "165560160680"] {
            let number = parse(input)?;
            assert_eq!(number.to_string(), "556016-0680", "{input}");
            assert_eq!(number.group(), OrganisationGroup::LimitedCompany);
        }
        assert_eq!(
            parse("202100-5489")?.group(),
            OrganisationGroup::PublicSector
        );
        assert_eq!(parse("212000-0142")?.as_str(), "212000-0142");
        Ok(())
    }

    #[test]
    fn rejects_each_kind_of_mistake() {
        use IdentifierError::*;
        let cases: &[(&str, IdentifierError)] = &[
            (
                "556016-0681",
                CheckDigit {
                    found: 1,
                    expected: 0,
                },
            ),
            ("556016+0680", PlusInOrganisationsnummer),
            ("19556016-0680", OrganisationsnummerPrefix { prefix: 19 }),
            ("121212-1212", OrganisationsnummerThirdDigit { digit: 1 }),
            ("550016-0680", OrganisationsnummerThirdDigit { digit: 0 }),
            ("456016-0680", UnknownOrganisationGroup { digit: 4 }),
            ("056016-0680", UnknownOrganisationGroup { digit: 0 }),
            ("556016-068", WrongLength { got: 9 }),
            (
                "556016-06B0",
                InvalidCharacter {
                    found: 'B',
                    position: 10,
                },
            ),
            (
                "55601-60680",
                MisplacedSeparator {
                    found: '-',
                    position: 6,
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).err().as_ref(), Some(expected), "{input}");
        }
        assert_eq!(
            OrganisationsnummerThirdDigit { digit: 1 }.to_string(),
            "organisationsnummer third digit is 1, it must be 2 or higher"
        );
    }

    #[test]
    fn group_digits_round_trip() {
        for digit in 0..=9 {
            if let Some(group) = OrganisationGroup::from_digit(digit) {
                assert_eq!(group.digit(), digit);
            } else {
                assert!(digit == 0 || digit == 4);
            }
        }
    }

    #[test]
    fn debug_and_serde() -> Result<(), Box<dyn std::error::Error>> {
        let number = parse("556016-0680")?;
        assert_eq!(format!("{number:?}"), "Organisationsnummer(556016-0680)");
        assert_eq!(serde_json::to_string(&number)?, "\"556016-0680\"");
        let back: Organisationsnummer = serde_json::from_str("\"165560160680\"")?;
        assert_eq!(back, number);
        assert!(serde_json::from_str::<Organisationsnummer>("\"556016-0681\"").is_err());
        assert!(serde_json::from_str::<Organisationsnummer>("5560160680").is_err());
        Ok(())
    }
}
