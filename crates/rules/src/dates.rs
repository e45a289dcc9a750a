//! Calendar dates in data files, written `YYYY-MM-DD`.

use serde::{Deserialize, Deserializer, Serializer};
use time::{format_description::FormatItem, macros::format_description, Date};

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
