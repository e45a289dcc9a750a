//! Calendar dates in data files, written `YYYY-MM-DD`, and the calendar they are judged on.
//!
//! Every date a rulebook holds — a pre-assessment's `valid_from`/`valid_until`, a joint
//! operation's `starts`/`ends`, `context.date` as a policy compares it — is a Swedish calendar
//! date. An agreement between Swedish authorities "valid through 31 December" ends at midnight
//! in Sweden, not at midnight in Greenwich: judged on the UTC calendar it would keep disclosing
//! automatically for an hour (CET) or two (CEST) into the next Swedish day, and one starting
//! today would be refused until 01:00 or 02:00. So an instant becomes a date only through
//! [`swedish_date`] (Europe/Stockholm, with its summer time); both ends of a period are
//! inclusive whole Swedish days.

use serde::{Deserialize, Deserializer, Serializer};
use time::{format_description::FormatItem, macros::format_description, Date};

/// The Swedish calendar date at an instant; the one way an instant becomes a legal date.
pub use utbyte_domain::legal_time::swedish_date;

const FORMAT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

pub fn parse(text: &str) -> Result<Date, String> {
    Date::parse(text, FORMAT)
        .map_err(|err| format!("`{text}` is not a date of the form YYYY-MM-DD: {err}"))
}

pub fn format(date: Date) -> String {
    date.format(FORMAT).unwrap_or_else(|_| date.to_string())
}

/// A date as the number YYYYMMDD, the form policies compare (`context.date >= 20250101`).
pub fn number(date: Date) -> i64 {
    i64::from(date.year()) * 10_000
        + i64::from(u8::from(date.month())) * 100
        + i64::from(date.day())
}

/// The Swedish day of an instant, as policies see it (`context.date`, YYYYMMDD).
pub fn day_number(time: time::OffsetDateTime) -> i64 {
    number(swedish_date(time))
}

pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*date))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// An optional `YYYY-MM-DD` date (`#[serde(default, with = "crate::dates::optional")]`).
pub mod optional {
    use serde::{Deserialize, Deserializer};
    use time::Date;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Date>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// The Swedish days on which a rule applies, both ends inclusive, as YYYYMMDD numbers so a
/// decision compares them with `context.date` at no cost. Unbounded ends are `i64::MIN`/`MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub from: i64,
    pub until: i64,
}

impl Default for Period {
    fn default() -> Self {
        Period::ALWAYS
    }
}

impl Period {
    pub const ALWAYS: Period = Period {
        from: i64::MIN,
        until: i64::MAX,
    };

    /// From `first` (inclusive) to the day before `end` (the first day it no longer applies).
    pub fn between(first: Option<Date>, end: Option<Date>) -> Period {
        Period {
            from: first.map_or(i64::MIN, number),
            until: end.and_then(Date::previous_day).map_or(i64::MAX, number),
        }
    }

    pub fn contains(&self, day: i64) -> bool {
        self.from <= day && day <= self.until
    }

    /// The days both periods share (empty when `from > until`).
    pub fn within(self, other: Period) -> Period {
        Period {
            from: self.from.max(other.from),
            until: self.until.min(other.until),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.from > self.until
    }

    /// Whether every day of `inner` lies in this period.
    pub fn covers(&self, inner: Period) -> bool {
        inner.is_empty() || (self.from <= inner.from && inner.until <= self.until)
    }

    pub fn is_always(&self) -> bool {
        *self == Period::ALWAYS
    }
}

impl std::fmt::Display for Period {
    /// `2024-07-01–2026-12-31`, `från 2024-07-01`, `till och med 2026-12-31`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let day = |n: i64| format!("{:04}-{:02}-{:02}", n / 10_000, n / 100 % 100, n % 100);
        match (self.from, self.until) {
            (i64::MIN, i64::MAX) => f.write_str("always"),
            (i64::MIN, until) => write!(f, "until {}", day(until)),
            (from, i64::MAX) => write!(f, "from {}", day(from)),
            (from, until) => write!(f, "{}–{}", day(from), day(until)),
        }
    }
}
