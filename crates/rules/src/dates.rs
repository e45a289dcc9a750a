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

pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*date))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}
