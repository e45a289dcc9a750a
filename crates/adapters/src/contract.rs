//! What the adapter and the reference backend must agree on, in one place: the paths of the
//! register backend contract, how ids are encoded in them, and the limits. The prose is
//! `docs/register-backend.md`; a change here is a change of the contract.

use std::fmt::Write as _;

use utbyte_domain::SubjectId;
use utbyte_store::{StoreError, MAX_NAME_BYTES};

/// The most distinct fields one fetch may ask for. A rulebook's offering has tens of fields; the
/// limit keeps the request line within what proxies accept (nginx's default is 8 KiB) for ids of
/// ordinary length.
pub const MAX_FIELDS: usize = 256;

/// The largest answer body the adapter reads. A record of [`MAX_FIELDS`] facts fits easily;
/// anything larger is a backend answering outside the contract, and reading it would let one
/// backend exhaust the node's memory.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// The path (below the base URL) and query of a record fetch. Each id is percent-encoded on its
/// own and the field ids are joined with literal commas, so an id may contain any character,
/// a comma included.
pub(crate) fn record_path<'a>(
    offering: &str,
    subject: &SubjectId,
    fields: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut path = String::from("/offerings/");
    encode(offering, &mut path);
    path.push_str("/subjects/");
    encode(subject.as_str(), &mut path);
    path.push_str("?fields=");
    for (index, field) in fields.into_iter().enumerate() {
        if index > 0 {
            path.push(',');
        }
        encode(field, &mut path);
    }
    path
}

/// The most changes one read of the change feed may return.
pub const MAX_CHANGES: u32 = 1000;

/// The path (below the base URL) and query of a read of the change feed.
pub(crate) fn changes_path(after: u64, limit: u32) -> String {
    format!("/changes?after={after}&limit={limit}")
}

/// The path (below the base URL) the node posts the last change it handled to.
pub(crate) const HANDLED_PATH: &str = "/changes/handled";

/// The path (below the base URL) of a protected-identity lookup.
pub(crate) fn protected_identity_path(subject: &SubjectId) -> String {
    let mut path = String::from("/subjects/");
    encode(subject.as_str(), &mut path);
    path.push_str("/protected-identity");
    path
}

/// Percent-encodes every byte of `text` outside RFC 3986's unreserved set. Encoding more than
/// strictly needed means a backend never has to take a position on `+`, `;` or `,`.
fn encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Decodes RFC 3986 percent-encoding (a `+` stays a `+`). `None` when a `%` is not followed by
/// two hex digits or the bytes are not UTF-8.
pub(crate) fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let [high, low, tail @ ..] = tail else {
                return None;
            };
            bytes.push(hex_value(*high)? << 4 | hex_value(*low)?);
            rest = tail;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// An offering or field id must be non-empty and at most [`MAX_NAME_BYTES`] long, as in every
/// register. Checked on both sides: an empty id would make a path that reaches no route (a 404,
/// which means "nothing held") instead of an error.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        "it is empty".to_owned()
    } else if name.len() > MAX_NAME_BYTES {
        format!(
            "it is {} bytes long; the limit is {MAX_NAME_BYTES}",
            name.len()
        )
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName { what, reason })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn paths_encode_every_id_on_its_own() {
        let subject: SubjectId = "19121212-1212".parse().unwrap();
        assert_eq!(
            record_path("skv/folk bok", &subject, ["namn", "a,b", "å+ö"]),
            "/offerings/skv%2Ffolk%20bok/subjects/19121212-1212?fields=namn,a%2Cb,%C3%A5%2B%C3%B6"
        );
        assert_eq!(
            record_path("o", &subject, []),
            "/offerings/o/subjects/19121212-1212?fields="
        );
        assert_eq!(
            protected_identity_path(&subject),
            "/subjects/19121212-1212/protected-identity"
        );
    }

    #[test]
    fn decoding_reverses_encoding_and_refuses_broken_escapes() {
        for text in ["namn", "a,b c+d/e%f", "åäö ∑", "~._-"] {
            let mut encoded = String::new();
            encode(text, &mut encoded);
            assert_eq!(decode(&encoded).as_deref(), Some(text));
        }
        assert_eq!(decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(decode("%e5").as_deref(), None); // not UTF-8
        assert_eq!(decode("%4"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%"), None);
    }

    #[test]
    fn names_are_checked_like_the_register_checks_them() {
        assert!(check_name("field", "namn").is_ok());
        assert_eq!(
            check_name("field", "").map_err(|e| e.to_string()),
            Err("invalid field id: it is empty".to_owned())
        );
        assert_eq!(
            check_name("offering", &"x".repeat(MAX_NAME_BYTES + 1)).map_err(|e| e.to_string()),
            Err("invalid offering id: it is 129 bytes long; the limit is 128".to_owned())
        );
    }
}
