//! A plain proleptic Gregorian calendar date.
//!
//! The domain crate does no I/O and never reads the clock: the caller decides what "today" is and
//! passes it in. That keeps parsing deterministic and testable, and it makes the reference date of
//! a decision something that can be recorded and replayed. A full date library would be more than
//! this module needs, which is only "is this a real day" and "which of two days comes first".

use std::fmt;

use super::IdentifierError;

/// A valid calendar date with a four-digit year (0000–9999).
///
/// Ordering is chronological (fields are compared year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate {
    year: u16,
    month: u8,
    day: u8,
}

impl CalendarDate {
    /// Builds a date, rejecting months outside 1–12 and days that do not exist in that month of
    /// that year (29 February only in leap years).
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, IdentifierError> {
        if year > 9999 {
            return Err(IdentifierError::YearOutOfRange {
                year: i32::from(year),
            });
        }
        if !(1..=12).contains(&month) {
            return Err(IdentifierError::InvalidMonth { month });
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(IdentifierError::InvalidDay { year, month, day });
        }
        Ok(Self { year, month, day })
    }

    /// The year, 0–9999.
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }
}

impl fmt::Display for CalendarDate {
    /// ISO 8601: `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12 so that no day is valid in it.
pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_dates_including_leap_days() {
        assert!(CalendarDate::new(2024, 2, 29).is_ok());
        assert!(CalendarDate::new(2000, 2, 29).is_ok());
        assert!(CalendarDate::new(2023, 12, 31).is_ok());
        assert!(CalendarDate::new(0, 1, 1).is_ok());
    }

    #[test]
    fn rejects_impossible_dates_with_precise_errors() {
        assert_eq!(
            CalendarDate::new(2023, 2, 29),
            Err(IdentifierError::InvalidDay {
                year: 2023,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            CalendarDate::new(1900, 2, 29),
            Err(IdentifierError::InvalidDay {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        assert_eq!(
            CalendarDate::new(2023, 4, 31),
            Err(IdentifierError::InvalidDay {
                year: 2023,
                month: 4,
                day: 31
            })
        );
        assert_eq!(
            CalendarDate::new(2023, 1, 0),
            Err(IdentifierError::InvalidDay {
                year: 2023,
                month: 1,
                day: 0
            })
        );
        assert_eq!(
            CalendarDate::new(2023, 13, 1),
            Err(IdentifierError::InvalidMonth { month: 13 })
        );
        assert_eq!(
            CalendarDate::new(10000, 1, 1),
            Err(IdentifierError::YearOutOfRange { year: 10000 })
        );
    }

    #[test]
    fn orders_chronologically_and_displays_iso() -> Result<(), IdentifierError> {
        assert!(CalendarDate::new(1999, 12, 31)? < CalendarDate::new(2000, 1, 1)?);
        assert!(CalendarDate::new(2000, 1, 2)? > CalendarDate::new(2000, 1, 1)?);
        assert_eq!(CalendarDate::new(912, 3, 4)?.to_string(), "0912-03-04");
        assert_eq!(
            IdentifierError::InvalidDay {
                year: 2023,
                month: 2,
                day: 32
            }
            .to_string(),
            "invalid day 32 for 2023-02"
        );
        Ok(())
    }
}
