//! What personnummer and samordningsnummer have in common (together they are the
//! *identitetsbeteckningar* of folkbokföring): a birth date, a three-digit serial, a Luhn check
//! digit, and the rules that recover the century of a 10-digit form.
//!
//! The two public types wrap [`Identitetsbeteckning`] so that they stay distinct types (a
//! samordningsnummer must never be accepted where a personnummer is required) while sharing one
//! implementation of the rules that are actually the same.

use std::fmt;

use super::date::CalendarDate;
use super::digits::{self, Scanned, Separator};
use super::{luhn, IdentifierError};

/// Which of the two number series is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Series {
    /// Day field is the day of birth, 01–31.
    Personnummer,
    /// Day field is the day of birth plus 60, 61–91.
    Samordningsnummer,
}

/// Samordningsnummer add this to the day of birth so that the two series never collide.
const SAMORDNING_DAY_OFFSET: u8 = 60;

/// The legal gender recorded by the ninth digit of the 10-digit form (odd: man, even: woman).
///
/// It reflects the legal gender when the number was assigned; Skatteverket assigns a new number
/// when legal gender changes. It is exposed because some provisions distinguish by it, not as
/// a general-purpose attribute of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegalGender {
    /// Even ninth digit (kvinna).
    Woman,
    /// Odd ninth digit (man).
    Man,
}

/// A validated number in canonical form `YYYYMMDD-NNNN` (day field as written, so +60 for a
/// samordningsnummer), with its birth date kept alongside so that accessors cannot fail.
///
/// Both fields are derived from the same validated input, so deriving `Eq`/`Ord`/`Hash` over
/// both is the same as over the text alone; ordering is by birth date, then serial.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Identitetsbeteckning {
    text: [u8; 13],
    birth_date: CalendarDate,
}

impl Identitetsbeteckning {
    /// Parses any accepted written form. `reference` is needed only for a 10-digit form; without
    /// it such a form is rejected rather than guessed.
    pub(crate) fn parse(
        input: &str,
        series: Series,
        reference: Option<CalendarDate>,
    ) -> Result<Self, IdentifierError> {
        let scanned = Scanned::scan(input)?;
        let plus = scanned.separator() == Some(Separator::Plus);
        if plus && scanned.is_twelve() {
            return Err(IdentifierError::PlusWithTwelveDigits);
        }
        let ten = scanned.ten();
        let (yy, month, day_field) = (
            digits::pair(&ten, 0),
            digits::pair(&ten, 2),
            digits::pair(&ten, 4),
        );

        let day = calendar_day(day_field, series)?;
        if !(1..=12).contains(&month) {
            return Err(IdentifierError::InvalidMonth { month });
        }
        let year = if scanned.is_twelve() {
            u16::from(scanned.prefix()) * 100 + u16::from(yy)
        } else {
            let reference = reference.ok_or(IdentifierError::CenturyNeedsReferenceDate)?;
            resolve_century(yy, month, day, plus, reference)?
        };
        let birth_date = CalendarDate::new(year, month, day)?;
        luhn::verify(&ten)?;

        let mut text = [b'-'; 13];
        let year_digits = [year / 1000, year / 100 % 10, year / 10 % 10, year % 10];
        for (slot, digit) in text[..4].iter_mut().zip(year_digits) {
            // Each element is below 10, so the narrowing is exact.
            *slot = b'0' + digit as u8;
        }
        for (slot, digit) in text[4..8].iter_mut().zip(&ten[2..6]) {
            *slot = b'0' + digit;
        }
        for (slot, digit) in text[9..].iter_mut().zip(&ten[6..]) {
            *slot = b'0' + digit;
        }
        Ok(Self { text, birth_date })
    }

    /// The canonical form, `YYYYMMDD-NNNN`.
    pub(crate) fn as_str(&self) -> &str {
        digits::ascii(&self.text)
    }

    pub(crate) fn birth_date(&self) -> CalendarDate {
        self.birth_date
    }

    pub(crate) fn legal_gender(&self) -> LegalGender {
        // Byte 11 of `YYYYMMDD-NNNN` is the third serial digit, the ninth of the 10-digit form.
        if (self.text[11] - b'0') % 2 == 1 {
            LegalGender::Man
        } else {
            LegalGender::Woman
        }
    }

    /// `Name(YYYYMMDD-****)`: enough to tell numbers apart while debugging, never enough to
    /// identify a person from a log line.
    pub(crate) fn fmt_masked(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date_part = self.as_str().get(..9).unwrap_or_default();
        write!(f, "{name}({date_part}****)")
    }
}

/// The calendar day encoded by the day field, after checking that it belongs to `series`.
fn calendar_day(day_field: u8, series: Series) -> Result<u8, IdentifierError> {
    let samordning_days = 1 + SAMORDNING_DAY_OFFSET..=31 + SAMORDNING_DAY_OFFSET;
    match series {
        Series::Personnummer if samordning_days.contains(&day_field) => {
            Err(IdentifierError::SamordningsnummerNotPersonnummer { day: day_field })
        }
        // Other impossible days are reported by the calendar check, which knows the month.
        Series::Personnummer => Ok(day_field),
        Series::Samordningsnummer if samordning_days.contains(&day_field) => {
            Ok(day_field - SAMORDNING_DAY_OFFSET)
        }
        Series::Samordningsnummer if (1..=31).contains(&day_field) => {
            Err(IdentifierError::PersonnummerNotSamordningsnummer { day: day_field })
        }
        Series::Samordningsnummer => Err(IdentifierError::SamordningsnummerDay { day: day_field }),
    }
}

/// The birth year of a 10-digit form.
///
/// Folkbokföringslagen writes `-` for someone younger than 100 and `+` from the year they turn
/// 100, so the century is whatever puts the birth date within the last hundred years before
/// `reference` (for `-`) or a hundred years earlier still (for `+`). This is why the result
/// depends on the date of the decision, and why the caller must supply it.
fn resolve_century(
    yy: u8,
    month: u8,
    day: u8,
    plus: bool,
    reference: CalendarDate,
) -> Result<u16, IdentifierError> {
    let reference_year = i32::from(reference.year());
    // The latest year not after the reference year that ends in `yy`.
    let mut year = reference_year - (reference_year - i32::from(yy)).rem_euclid(100);
    if year == reference_year && (month, day) > (reference.month(), reference.day()) {
        // Not born yet this year, so born a century ago (and now 99).
        year -= 100;
    }
    if plus {
        year -= 100;
    }
    u16::try_from(year).map_err(|_| IdentifierError::YearOutOfRange { year })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: u16, month: u8, day: u8) -> CalendarDate {
        CalendarDate::new(year, month, day).unwrap_or_else(|e| panic!("bad test date: {e}"))
    }

    fn year_at(yy: u8, month: u8, day: u8, plus: bool, reference: CalendarDate) -> u16 {
        resolve_century(yy, month, day, plus, reference)
            .unwrap_or_else(|e| panic!("unexpected error: {e}"))
    }

    #[test]
    fn century_follows_age_at_reference_date() {
        let reference = date(2024, 6, 15);
        assert_eq!(year_at(12, 12, 12, false, reference), 2012);
        assert_eq!(year_at(12, 12, 12, true, reference), 1912);
        assert_eq!(year_at(81, 12, 28, false, reference), 1981);
        // Born this year, on or before the reference date: age 0.
        assert_eq!(year_at(24, 6, 15, false, reference), 2024);
        // Born this year's date but later: 99 years old.
        assert_eq!(year_at(24, 6, 16, false, reference), 1924);
        // Turned 100 today: '+'.
        assert_eq!(year_at(24, 6, 15, true, reference), 1924);
        assert_eq!(year_at(24, 6, 16, true, reference), 1824);
    }

    #[test]
    fn century_out_of_range_is_an_error() {
        assert_eq!(
            resolve_century(50, 1, 1, true, date(120, 1, 1)),
            Err(IdentifierError::YearOutOfRange { year: -50 })
        );
    }

    #[test]
    fn leap_day_is_checked_after_century_resolution() {
        // 000229: 2000 is a leap year, 1900 is not.
        let at = |reference| {
            Identitetsbeteckning::parse("000229-0005", Series::Personnummer, Some(reference))
        };
        assert_eq!(
            at(date(2024, 1, 1)).map(|n| n.birth_date()),
            Ok(date(2000, 2, 29))
        );
        assert_eq!(
            at(date(1999, 1, 1)).map(|n| n.birth_date()),
            Err(IdentifierError::InvalidDay {
                year: 1900,
                month: 2,
                day: 29
            })
        );
    }

    #[test]
    fn day_field_selects_series() {
        assert_eq!(calendar_day(12, Series::Personnummer), Ok(12));
        assert_eq!(calendar_day(63, Series::Samordningsnummer), Ok(3));
        assert_eq!(
            calendar_day(63, Series::Personnummer),
            Err(IdentifierError::SamordningsnummerNotPersonnummer { day: 63 })
        );
        assert_eq!(
            calendar_day(3, Series::Samordningsnummer),
            Err(IdentifierError::PersonnummerNotSamordningsnummer { day: 3 })
        );
        for day in [0, 32, 60, 92, 99] {
            assert_eq!(
                calendar_day(day, Series::Samordningsnummer),
                Err(IdentifierError::SamordningsnummerDay { day })
            );
        }
    }
}
