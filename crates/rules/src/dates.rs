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

pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*date))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}
