//! [`Personnummer`]: the identity number of a person registered in folkbokföringen.

use super::identitetsbeteckning::{Identitetsbeteckning, Series};
use super::{person_number, CalendarDate, IdentifierError, LegalGender};

/// A valid personnummer, held in the canonical 12-digit form `YYYYMMDD-NNNN`.
///
/// Accepted written forms: `YYMMDD-NNNC`, `YYMMDD+NNNC`, `YYMMDDNNNC` (with
/// [`parse_at`](Self::parse_at) only, since their century depends on a date), and
/// `YYYYMMDD-NNNC`, `YYYYMMDDNNNC` (anywhere). The date must be a real calendar date and `C` the
/// Luhn check digit of the 10-digit form. A samordningsnummer (day 61–91) is rejected with
/// [`IdentifierError::SamordningsnummerNotPersonnummer`]: the two series are kept as distinct
/// types because a provision may allow one and not the other.
///
/// `Debug` masks the last four digits; see the [module documentation](super).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Personnummer(Identitetsbeteckning);

person_number!(
    Personnummer,
    Series::Personnummer,
    "a 12-digit personnummer"
);

impl Personnummer {
    /// The personnummer of someone born on `born` with birth number `serial` (0–999), its check
    /// digit computed: for making numbers (synthetic registers, tests, benchmarks), never for
    /// reading them. A serial above 999 is not a birth number and is refused.
    pub fn from_parts(born: CalendarDate, serial: u16) -> Result<Self, IdentifierError> {
        let text = format!(
            "{:04}{:02}{:02}{serial:03}",
            born.year(),
            born.month(),
            born.day()
        );
        let mut nine = [0u8; 9];
        for (digit, c) in nine.iter_mut().zip(text.bytes().skip(2)) {
            *digit = c.wrapping_sub(b'0');
        }
        let check = super::luhn::check_digit(&nine);
        format!("{}-{}{check}", &text[..8], &text[8..]).parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> CalendarDate {
        CalendarDate::new(2024, 6, 15).unwrap_or_else(|e| panic!("{e}"))
    }

    fn canonical(input: &str) -> Result<String, IdentifierError> {
        Personnummer::parse_at(input, reference()).map(|p| p.to_string())
    }

    #[test]
    fn accepts_every_written_form_of_known_numbers() {
        let skatteverket = Ok("19121212-1212".to_owned());
        assert_eq!(canonical("19121212-1212"), skatteverket);
        assert_eq!(canonical("191212121212"), skatteverket);
        assert_eq!(canonical("121212+1212"), skatteverket);
        assert_eq!(canonical("121212-1212"), Ok("20121212-1212".to_owned()));
        assert_eq!(canonical("1212121212"), Ok("20121212-1212".to_owned()));
        assert_eq!(canonical("811228-9874"), Ok("19811228-9874".to_owned()));
        assert_eq!(canonical("8112289874"), Ok("19811228-9874".to_owned()));
    }

    #[test]
    fn from_str_accepts_only_the_twelve_digit_form() {
        assert_eq!(
            "19121212-1212"
                .parse::<Personnummer>()
                .map(|p| p.to_string()),
            Ok("19121212-1212".to_owned())
        );
        assert_eq!(
            "121212-1212".parse::<Personnummer>(),
            Err(IdentifierError::CenturyNeedsReferenceDate)
        );
    }

    #[test]
    fn exposes_birth_date_and_legal_gender() -> Result<(), IdentifierError> {
        let man = Personnummer::parse_at("811228-9874", reference())?; // 9th digit 7
        assert_eq!(man.birth_date(), CalendarDate::new(1981, 12, 28)?);
        assert_eq!(man.legal_gender(), LegalGender::Man);
        let woman: Personnummer = "19121212-1220".parse()?; // 9th digit 2
        assert_eq!(woman.legal_gender(), LegalGender::Woman);
        Ok(())
    }

    #[test]
    fn from_parts_computes_the_check_digit() -> Result<(), IdentifierError> {
        let date = CalendarDate::new(1912, 12, 12)?;
        assert_eq!(
            Personnummer::from_parts(date, 121)?.as_str(),
            "19121212-1212"
        );
        let date = CalendarDate::new(1981, 12, 28)?;
        assert_eq!(
            Personnummer::from_parts(date, 987)?.as_str(),
            "19811228-9874"
        );
        assert!(Personnummer::from_parts(date, 1000).is_err());
        Ok(())
    }

    #[test]
    fn debug_masks_the_serial_and_check_digit() {
        let p = "19121212-1212".parse::<Personnummer>();
        assert_eq!(
            p.map(|p| format!("{p:?}")),
            Ok("Personnummer(19121212-****)".to_owned())
        );
    }

    #[test]
    fn every_error_variant_is_reachable_and_precise() {
        use IdentifierError::*;
        let cases: &[(&str, IdentifierError)] = &[
            (
                "19121212-12x2",
                InvalidCharacter {
                    found: 'x',
                    position: 12,
                },
            ),
            (
                "121212--1212",
                RepeatedSeparator {
                    found: '-',
                    position: 8,
                },
            ),
            (
                "12121-21212",
                MisplacedSeparator {
                    found: '-',
                    position: 6,
                },
            ),
            ("121212-121", WrongLength { got: 9 }),
            ("19121212+1212", PlusWithTwelveDigits),
            ("121312-1212", InvalidMonth { month: 13 }),
            ("000012-1212", InvalidMonth { month: 0 }),
            (
                "20230232-1212",
                InvalidDay {
                    year: 2023,
                    month: 2,
                    day: 32,
                },
            ),
            (
                "20230229-1212",
                InvalidDay {
                    year: 2023,
                    month: 2,
                    day: 29,
                },
            ),
            (
                "19121200-1212",
                InvalidDay {
                    year: 1912,
                    month: 12,
                    day: 0,
                },
            ),
            (
                "19121212-1213",
                CheckDigit {
                    found: 3,
                    expected: 2,
                },
            ),
            (
                "811228-9875",
                CheckDigit {
                    found: 5,
                    expected: 4,
                },
            ),
            ("701063-2391", SamordningsnummerNotPersonnummer { day: 63 }),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input).err().as_ref(), Some(expected), "{input}");
        }
    }

    #[test]
    fn error_messages_are_precise_and_lower_case() {
        let messages = [
            ("20230232-1212", "invalid day 32 for 2023-02"),
            ("19121212-1213", "check digit is 3 but should be 2"),
            ("121312-1212", "invalid month 13, expected 01-12"),
            (
                "121212-121",
                "wrong length: got 9 digits, expected 10 or 12",
            ),
            (
                "19121212-12x2",
                "invalid character 'x' at position 12, expected a digit",
            ),
        ];
        for (input, expected) in messages {
            let message = canonical(input).err().map(|e| e.to_string());
            assert_eq!(message.as_deref(), Some(expected));
        }
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let json = serde_json::to_string(&"19121212-1212".parse::<Personnummer>().ok());
        assert_eq!(json.ok().as_deref(), Some("\"19121212-1212\""));
        let back: Result<Personnummer, _> = serde_json::from_str("\"191212121212\"");
        assert_eq!(
            back.map(|p| p.to_string()).ok().as_deref(),
            Some("19121212-1212")
        );
        for bad in [
            "\"19121212-1213\"",
            "\"121212-1212\"",
            "191212121212",
            "null",
        ] {
            let error = serde_json::from_str::<Personnummer>(bad).map(|_| ());
            let message = error.map_err(|e| e.to_string()).err().unwrap_or_default();
            assert!(!message.is_empty(), "{bad} was accepted");
            assert!(!message.contains("1212121"), "{message}");
        }
    }
}
