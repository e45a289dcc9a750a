//! [`Date`]: the few calendar operations the generator needs (a uniform day in a range, the
//! first and last day of a month, ISO 8601 text), on a proleptic Gregorian day count.

use std::fmt;

use super::rng::Rng;

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    pub(crate) year: u16,
    pub(crate) month: u8,
    pub(crate) day: u8,
}

/// The day the synthetic registers describe: every date in them lies on or before it.
pub(crate) const AS_OF: Date = Date::new(2025, 6, 30);

impl Date {
    pub(crate) const fn new(year: u16, month: u8, day: u8) -> Self {
        Self { year, month, day }
    }

    /// A uniformly chosen day in `from..=to`.
    pub(crate) fn between(rng: &mut Rng, from: Date, to: Date) -> Date {
        let (low, high) = (from.days(), to.days());
        let offset = rng.below(u64::try_from(high - low + 1).unwrap_or(1));
        Self::from_days(low + offset as i64)
    }

    /// The first day of this date's month.
    pub(crate) fn month_start(self) -> Date {
        Self::new(self.year, self.month, 1)
    }

    /// The last day of this date's month.
    pub(crate) fn month_end(self) -> Date {
        Self::new(self.year, self.month, days_in_month(self.year, self.month))
    }

    /// The same day of the month `months` earlier (clamped to the month's length).
    pub(crate) fn months_before(self, months: u32) -> Date {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 - i64::from(months);
        let year = u16::try_from(index.div_euclid(12)).unwrap_or(0);
        let month = u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1);
        Self::new(year, month, self.day.min(days_in_month(year, month)))
    }

    /// `YYYY-MM`.
    pub(crate) fn year_month(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// Whole years from `self` to `on`.
    pub(crate) fn age_on(self, on: Date) -> u16 {
        let birthday_passed = (on.month, on.day) >= (self.month, self.day);
        (on.year - self.year).saturating_sub(u16::from(!birthday_passed))
    }

    /// Days since 1970-01-01 (Hinnant's `days_from_civil`).
    fn days(self) -> i64 {
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(self.month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The inverse of [`Date::days`] (Hinnant's `civil_from_days`).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        Self::new(
            u16::try_from(year).unwrap_or(0),
            u8::try_from(month).unwrap_or(1),
            u8::try_from(day).unwrap_or(1),
        )
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    /// ISO 8601: `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_counts_round_trip_over_two_centuries() {
        let first = Date::new(1900, 1, 1).days();
        let mut previous = Date::from_days(first - 1);
        for days in first..Date::new(2100, 1, 1).days() {
            let date = Date::from_days(days);
            assert_eq!(date.days(), days);
            assert!(date > previous);
            assert!(date.day >= 1 && date.day <= days_in_month(date.year, date.month));
            previous = date;
        }
        assert_eq!(Date::new(1970, 1, 1).days(), 0);
        assert_eq!(
            Date::from_days(Date::new(2024, 2, 28).days() + 1),
            Date::new(2024, 2, 29)
        );
    }

    #[test]
    fn months_and_ages() {
        assert_eq!(
            Date::new(2025, 3, 31).months_before(1),
            Date::new(2025, 2, 28)
        );
        assert_eq!(
            Date::new(2025, 1, 15).months_before(13),
            Date::new(2023, 12, 15)
        );
        assert_eq!(Date::new(2000, 7, 1).age_on(AS_OF), 24);
        assert_eq!(Date::new(2000, 6, 30).age_on(AS_OF), 25);
        assert_eq!(AS_OF.month_start().to_string(), "2025-06-01");
        assert_eq!(Date::new(2024, 2, 3).month_end().to_string(), "2024-02-29");
    }
}
