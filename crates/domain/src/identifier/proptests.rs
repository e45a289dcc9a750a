//! Property tests for the invariants the unit tests can only sample: every valid number is
//! accepted and round-trips, no single-digit change goes unnoticed, no input panics, and the
//! 10-digit and 12-digit forms agree.

use std::fmt::Display;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::date::days_in_month;
use super::{luhn, CalendarDate, Organisationsnummer, Personnummer, Samordningsnummer, SubjectId};

fn ok<T, E: Display>(result: Result<T, E>) -> Result<T, TestCaseError> {
    result.map_err(|e| TestCaseError::fail(e.to_string()))
}

/// A real date in `years`.
fn date_in(years: std::ops::RangeInclusive<u16>) -> impl Strategy<Value = CalendarDate> {
    (years, 1u8..=12, 0u8..31).prop_filter_map("not a calendar date", |(year, month, day)| {
        CalendarDate::new(year, month, 1 + day % days_in_month(year, month)).ok()
    })
}

/// The parts of a valid personnummer or samordningsnummer.
#[derive(Debug, Clone)]
struct Birth {
    date: CalendarDate,
    serial: [u8; 3],
    samordning: bool,
}

impl Birth {
    fn ten_digits(&self) -> String {
        let day = self.date.day() + if self.samordning { 60 } else { 0 };
        let nine = format!(
            "{:02}{:02}{:02}{}{}{}",
            self.date.year() % 100,
            self.date.month(),
            day,
            self.serial[0],
            self.serial[1],
            self.serial[2]
        );
        let mut digits = [0u8; 9];
        for (slot, byte) in digits.iter_mut().zip(nine.bytes()) {
            *slot = byte - b'0';
        }
        format!("{nine}{}", luhn::check_digit(&digits))
    }

    fn canonical(&self) -> String {
        let ten = self.ten_digits();
        format!("{:02}{}-{}", self.date.year() / 100, &ten[..6], &ten[6..])
    }

    /// The 10-digit form as written on `reference`: `+` from the 100th birthday.
    fn short_form(&self, reference: CalendarDate, omit_hyphen: bool) -> String {
        let ten = self.ten_digits();
        let hundredth = (self.date.year() + 100, self.date.month(), self.date.day());
        let separator = if hundredth <= (reference.year(), reference.month(), reference.day()) {
            "+"
        } else if omit_hyphen {
            ""
        } else {
            "-"
        };
        format!("{}{separator}{}", &ten[..6], &ten[6..])
    }
}

fn birth_in(years: std::ops::RangeInclusive<u16>) -> impl Strategy<Value = Birth> {
    (date_in(years), any::<[u8; 3]>(), any::<bool>()).prop_map(|(date, serial, samordning)| Birth {
        date,
        serial: serial.map(|d| d % 10),
        samordning,
    })
}

/// A reference date and a birth at most 199 years before it (the reach of the 10-digit form).
fn birth_before_reference() -> impl Strategy<Value = (Birth, CalendarDate)> {
    date_in(1900..=2400).prop_flat_map(|reference| {
        let year = reference.year();
        (birth_in(year - 199..=year), Just(reference))
            .prop_filter("born after the reference date", |(birth, reference)| {
                birth.date <= *reference
            })
    })
}

fn organisationsnummer_text() -> impl Strategy<Value = String> {
    let groups = prop::sample::select(vec![1u8, 2, 3, 5, 6, 7, 8, 9]);
    (groups, 0u8..10, 2u8..10, any::<[u8; 6]>()).prop_map(|(group, second, third, rest)| {
        let mut nine = [group, second, third, 0, 0, 0, 0, 0, 0];
        for (slot, digit) in nine[3..].iter_mut().zip(rest) {
            *slot = digit % 10;
        }
        let text: String = nine.iter().map(|d| char::from(b'0' + d)).collect();
        format!("{}-{}{}", &text[..6], &text[6..], luhn::check_digit(&nine))
    })
}

/// Parses as whichever kind `birth` is, yielding the canonical string.
fn parse_twelve(birth: &Birth, input: &str) -> Result<String, super::IdentifierError> {
    if birth.samordning {
        input.parse::<Samordningsnummer>().map(|n| n.to_string())
    } else {
        input.parse::<Personnummer>().map(|n| n.to_string())
    }
}

/// Every string that differs from `text` in exactly one digit.
fn single_digit_changes(text: &str) -> Vec<String> {
    let mut changed = Vec::new();
    for (index, original) in text.char_indices().filter(|(_, c)| c.is_ascii_digit()) {
        for replacement in ('0'..='9').filter(|&c| c != original) {
            let mut mutant = text.to_owned();
            mutant.replace_range(index..index + 1, replacement.encode_utf8(&mut [0; 4]));
            changed.push(mutant);
        }
    }
    changed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (1) A valid date, serial and Luhn digit always parses, and survives Display and serde.
    #[test]
    fn valid_numbers_parse_and_round_trip(birth in birth_in(0..=9999)) {
        let canonical = birth.canonical();
        prop_assert_eq!(ok(parse_twelve(&birth, &canonical))?, canonical.clone());
        prop_assert_eq!(ok(parse_twelve(&birth, &canonical.replace('-', "")))?, canonical.clone());

        let subject: SubjectId = ok(canonical.parse())?;
        prop_assert_eq!(subject.to_string(), canonical.clone());
        let json = ok(serde_json::to_string(&subject))?;
        prop_assert_eq!(ok(serde_json::from_str::<SubjectId>(&json))?, subject);
        // Debug never shows the serial and check digit.
        let kind = if birth.samordning { "Samordningsnummer" } else { "Personnummer" };
        prop_assert_eq!(format!("{subject:?}"), format!("{kind}({}****)", &canonical[..9]));

        match subject {
            SubjectId::Personnummer(p) => {
                prop_assert!(!birth.samordning);
                prop_assert_eq!(p.birth_date(), birth.date);
            }
            SubjectId::Samordningsnummer(s) => {
                prop_assert!(birth.samordning);
                prop_assert_eq!(s.birth_date(), birth.date);
            }
            SubjectId::Organisationsnummer(_) => {
                return Err(TestCaseError::fail("a person was recognised as an organisation"));
            }
        }
    }

    /// (1) for organisationsnummer.
    #[test]
    fn valid_organisationsnummer_round_trip(text in organisationsnummer_text()) {
        let number: Organisationsnummer = ok(text.parse())?;
        prop_assert_eq!(number.to_string(), text.clone());
        prop_assert_eq!(ok(format!("16{}", text.replace('-', "")).parse::<Organisationsnummer>())?, number);
        let json = ok(serde_json::to_string(&number))?;
        prop_assert_eq!(ok(serde_json::from_str::<Organisationsnummer>(&json))?, number);
        let subject: SubjectId = ok(text.parse())?;
        prop_assert_eq!(subject, SubjectId::Organisationsnummer(number));
    }

    /// (2) Changing any one digit is caught (or, for the century digits the checksum does not
    /// cover, yields a different number).
    #[test]
    fn single_digit_changes_are_never_silently_equal(
        (birth, reference) in birth_before_reference(),
        orgnr in organisationsnummer_text(),
    ) {
        let canonical = birth.canonical();
        for mutant in single_digit_changes(&canonical) {
            prop_assert_ne!(parse_twelve(&birth, &mutant).ok(), Some(canonical.clone()));
        }
        let short = birth.short_form(reference, false);
        for mutant in single_digit_changes(&short) {
            let parsed = SubjectId::parse_at(&mutant, reference).map(|s| s.to_string());
            prop_assert_ne!(parsed.ok(), Some(canonical.clone()));
        }
        for mutant in single_digit_changes(&orgnr) {
            prop_assert!(mutant.parse::<Organisationsnummer>().is_err());
        }
    }

    /// (3) No input makes any parser panic.
    #[test]
    fn arbitrary_input_never_panics(
        input in prop_oneof![any::<String>(), "[0-9+-]{0,14}", "(16|19|20)?[0-9]{6}[-+]?[0-9]{4}"],
        reference in date_in(0..=9999),
    ) {
        let _ = input.parse::<Personnummer>();
        let _ = input.parse::<Samordningsnummer>();
        let _ = input.parse::<Organisationsnummer>();
        let _ = input.parse::<SubjectId>();
        let _ = Personnummer::parse_at(&input, reference);
        let _ = Samordningsnummer::parse_at(&input, reference);
        let _ = SubjectId::parse_at(&input, reference).map(|s| (s.to_string(), format!("{s:?}")));
        if let Ok(json) = serde_json::to_string(&input) {
            let _ = serde_json::from_str::<SubjectId>(&json);
        }
    }

    /// (4) The 10-digit form written on the reference date means the same as the 12-digit form.
    #[test]
    fn ten_and_twelve_digit_forms_agree(
        (birth, reference) in birth_before_reference(),
        omit_hyphen in any::<bool>(),
    ) {
        let twelve = SubjectId::parse_at(&birth.canonical(), reference);
        let ten = SubjectId::parse_at(&birth.short_form(reference, omit_hyphen), reference);
        prop_assert_eq!(ok(ten)?, ok(twelve)?);
    }
}
