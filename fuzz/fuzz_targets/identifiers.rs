//! Swedish identifiers (`utbyte-domain`) and Swedish legal time.
//!
//! Selector (first byte), even: the rest as an identifier's written form, through every parser
//! — `Personnummer`, `Samordningsnummer`, `Organisationsnummer` and `SubjectId`, with `FromStr`,
//! with `parse_at` against a fixed reference date, and with serde. Properties: a parsed number's
//! canonical form parses to itself in every way; a 12-digit form means the same with and without
//! a reference date; `SubjectId` recognises the kind the specific parsers accept; `Debug` masks a
//! person's serial and check digit; no error message carries an identifier.
//!
//! Odd: the rest as an instant (seconds, nanoseconds, offset), through `legal_time`: never a
//! panic, whatever the year; the Swedish wall-clock time denotes the same instant; the
//! reference date is always a valid date.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt::Debug;
use std::str::FromStr;
use time::{OffsetDateTime, UtcOffset};
use utbyte_domain::{
    legal_time, IdentifierError, Organisationsnummer, Personnummer, Samordningsnummer, SubjectId,
};
use utbyte_fuzz::{has_digit_run, reference_date, split};

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    if selector % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            identifier(text);
        }
    } else {
        instant(rest);
    }
});

fn identifier(text: &str) {
    let reference = reference_date();
    let person = person_number(
        text,
        Personnummer::from_str,
        |t| Personnummer::parse_at(t, reference),
        Personnummer::as_str,
    );
    let coordination = person_number(
        text,
        Samordningsnummer::from_str,
        |t| Samordningsnummer::parse_at(t, reference),
        Samordningsnummer::as_str,
    );
    let organisation = text.parse::<Organisationsnummer>();
    check_error(text, &organisation);
    if let Ok(number) = &organisation {
        let canonical = number.as_str();
        assert_eq!(canonical.len(), 11, "{canonical}");
        assert_eq!(
            canonical.parse::<Organisationsnummer>().as_ref(),
            Ok(number)
        );
        assert_eq!(number.to_string(), canonical);
        assert_eq!(number.group().digit(), canonical.as_bytes()[0] - b'0');
        serde_round_trip(number);
    }

    // Serde accepts exactly what `FromStr` accepts, and refuses a number without quoting it.
    let quoted = serde_json::to_string(text).unwrap_or_else(|e| panic!("a string: {e}"));
    let by_serde = serde_json::from_str::<SubjectId>(&quoted).ok();
    let by_from_str = text.parse::<SubjectId>();
    check_error(text, &by_from_str);
    assert_eq!(by_serde, by_from_str.clone().ok());
    if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        if let Err(e) = serde_json::from_str::<SubjectId>(text) {
            assert!(!e.to_string().contains(text) || text.len() < 6, "{e}");
        }
    }

    let subject = SubjectId::parse_at(text, reference);
    check_error(text, &subject);
    if let Ok(subject) = &subject {
        match subject {
            SubjectId::Personnummer(p) => assert_eq!(person.as_ref(), Some(p)),
            SubjectId::Samordningsnummer(s) => assert_eq!(coordination.as_ref(), Some(s)),
            SubjectId::Organisationsnummer(o) => assert_eq!(organisation.as_ref(), Ok(o)),
        }
        let canonical = subject.as_str();
        assert_eq!(canonical.parse::<SubjectId>().as_ref(), Ok(subject));
        assert_eq!(
            SubjectId::parse_at(canonical, reference).as_ref(),
            Ok(subject)
        );
        serde_round_trip(subject);
    }
    if let Ok(from_str) = &by_from_str {
        // A form that needs no reference date means the same whatever the date.
        assert_eq!(subject.as_ref(), Ok(from_str));
    }
}

/// The checks a personnummer and a samordningsnummer share; the number `parse_at` gives.
fn person_number<T>(
    text: &str,
    from_str: impl Fn(&str) -> Result<T, IdentifierError>,
    parse_at: impl Fn(&str) -> Result<T, IdentifierError>,
    as_str: impl Fn(&T) -> &str,
) -> Option<T>
where
    T: Debug + PartialEq + serde::Serialize + serde::de::DeserializeOwned,
{
    let plain = from_str(text);
    let at = parse_at(text);
    check_error(text, &plain);
    check_error(text, &at);
    if let Ok(number) = &plain {
        assert_eq!(
            at.as_ref(),
            Ok(number),
            "a 12-digit form ignores the reference date"
        );
    }
    let number = at.ok()?;
    let canonical = as_str(&number).to_owned();
    let bytes = canonical.as_bytes();
    assert!(
        bytes.len() == 13
            && bytes[8] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 8 || b.is_ascii_digit()),
        "not YYYYMMDD-NNNN: {canonical}"
    );
    assert_eq!(from_str(&canonical).as_ref(), Ok(&number));
    assert_eq!(parse_at(&canonical).as_ref(), Ok(&number));
    let debug = format!("{number:?}");
    assert!(
        debug.ends_with(&format!("({}-****)", &canonical[..8])),
        "Debug shows the serial: {debug}"
    );
    serde_round_trip(&number);
    Some(number)
}

fn serde_round_trip<T>(value: &T)
where
    T: Debug + PartialEq + serde::Serialize + serde::de::DeserializeOwned,
{
    let json = serde_json::to_string(value).unwrap_or_else(|e| panic!("serialises: {e}"));
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
    assert_eq!(&back, value);
}

/// An error names one field at most, never an identifier: no six digits in a row.
fn check_error<T>(text: &str, result: &Result<T, IdentifierError>) {
    if let Err(e) = result {
        let message = e.to_string();
        assert!(
            !has_digit_run(&message, 6) || text.chars().count() >= 100_000,
            "an identifier in an error: {message}"
        );
    }
}

fn instant(rest: &[u8]) {
    let mut bytes = [0u8; 16];
    let n = rest.len().min(16);
    bytes[..n].copy_from_slice(&rest[..n]);
    let seconds = i64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
    let nanos = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default()) % 1_000_000_000;
    let offset = i32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default()) % 93_600;
    let Ok(utc) = OffsetDateTime::from_unix_timestamp(seconds) else {
        return;
    };
    let Ok(offset) = UtcOffset::from_whole_seconds(offset) else {
        return;
    };
    let utc = utc.replace_nanosecond(nanos).unwrap_or(utc);
    for at in [utc, utc.checked_to_offset(offset).unwrap_or(utc)] {
        let swedish = legal_time::swedish_time(at);
        assert_eq!(swedish.instant(), at, "the Swedish time is another instant");
        let offset = legal_time::swedish_offset(at).whole_seconds();
        assert!(offset == 3600 || offset == 7200, "offset {offset}");
        let _ = swedish.abbreviation();
        let date = legal_time::swedish_date(at);
        assert_eq!(date, swedish.local.date());
        let reference = legal_time::swedish_reference_date(at)
            .unwrap_or_else(|e| panic!("no reference date for {at}: {e}"));
        if (0..=9999).contains(&date.year()) {
            assert_eq!(
                (
                    i32::from(reference.year()),
                    reference.month(),
                    reference.day()
                ),
                (date.year(), u8::from(date.month()), date.day())
            );
        }
    }
}
