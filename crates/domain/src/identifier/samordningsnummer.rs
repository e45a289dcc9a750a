//! [`Samordningsnummer`]: the identity number Skatteverket assigns, on an authority's request, to
//! a person who is not (or not yet) registered in folkbokföringen.

use super::identitetsbeteckning::{Identitetsbeteckning, Series};
use super::{person_number, CalendarDate, IdentifierError, LegalGender};

/// A valid samordningsnummer, held in the canonical 12-digit form `YYYYMMDD-NNNN` where the day
/// field is the day of birth plus 60 (61–91).
///
/// It is written and checked exactly like a [`Personnummer`](super::Personnummer), and parsed
/// with the same century rules, but it is a different type: a samordningsnummer identifies a
/// person less reliably, and a provision may allow disclosure for one kind and not the other.
/// A personnummer (day 01–31) is rejected with
/// [`IdentifierError::PersonnummerNotSamordningsnummer`], so code never mixes the two by accident.
///
/// `Debug` masks the last four digits; see the [module documentation](super).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Samordningsnummer(Identitetsbeteckning);

person_number!(
    Samordningsnummer,
    Series::Samordningsnummer,
    "a 12-digit samordningsnummer"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> CalendarDate {
        CalendarDate::new(2024, 6, 15).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse(input: &str) -> Result<Samordningsnummer, IdentifierError> {
        Samordningsnummer::parse_at(input, reference())
    }

    #[test]
    fn accepts_a_known_number_in_every_form() {
        for input in ["701063-2391", "7010632391", "19701063-2391", "197010632391"] {
            assert_eq!(
                parse(input).map(|s| s.to_string()),
                Ok("19701063-2391".to_owned())
            );
        }
        assert_eq!(
            "19701063-2391"
                .parse::<Samordningsnummer>()
                .map(|s| s.birth_date()),
            CalendarDate::new(1970, 10, 3)
        );
        assert_eq!(
            parse("701063-2391").map(|s| s.legal_gender()),
            Ok(LegalGender::Man)
        );
    }

    #[test]
    fn a_personnummer_is_not_a_samordningsnummer() {
        assert_eq!(
            parse("19121212-1212"),
            Err(IdentifierError::PersonnummerNotSamordningsnummer { day: 12 })
        );
        assert_eq!(
            "19121212-1212"
                .parse::<Samordningsnummer>()
                .map_err(|e| e.to_string()),
            Err("day 12 marks a personnummer (01-31), not a samordningsnummer (61-91)".to_owned())
        );
    }

    #[test]
    fn rejects_each_kind_of_mistake() {
        use IdentifierError::*;
        let cases: &[(&str, IdentifierError)] = &[
            ("701045-2391", SamordningsnummerDay { day: 45 }),
            ("701092-2391", SamordningsnummerDay { day: 92 }),
            ("701060-2391", SamordningsnummerDay { day: 60 }),
            ("700000-2391", SamordningsnummerDay { day: 0 }),
            (
                "19700291-2391",
                InvalidDay {
                    year: 1970,
                    month: 2,
                    day: 31,
                },
            ),
            ("701363-2391", InvalidMonth { month: 13 }),
            (
                "701063-2392",
                CheckDigit {
                    found: 2,
                    expected: 1,
                },
            ),
            ("19701063+2391", PlusWithTwelveDigits),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).err().as_ref(), Some(expected), "{input}");
        }
        assert_eq!(
            "701063-2391".parse::<Samordningsnummer>(),
            Err(CenturyNeedsReferenceDate)
        );
    }

    #[test]
    fn debug_masks_and_serde_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let number: Samordningsnummer = "19701063-2391".parse()?;
        assert_eq!(format!("{number:?}"), "Samordningsnummer(19701063-****)");
        assert_eq!(serde_json::to_string(&number)?, "\"19701063-2391\"");
        let back: Samordningsnummer = serde_json::from_str("\"197010632391\"")?;
        assert_eq!(back, number);
        assert!(serde_json::from_str::<Samordningsnummer>("\"19121212-1212\"").is_err());
        Ok(())
    }
}
