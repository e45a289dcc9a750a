//! The written form shared by every Swedish identifier: 10 or 12 ASCII digits with at most one
//! `-` or `+` right before the last four.
//!
//! Scanning is kept apart from validation so that every identifier reports layout mistakes
//! (stray characters, a misplaced separator, the wrong number of digits) the same way and with
//! the same positions, before it looks at what the digits mean. Nothing here allocates, so a
//! hostile multi-megabyte input costs one pass and no memory.

use super::IdentifierError;

/// The separator between the date (or first six digits) and the last four digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Separator {
    /// `-`: the ordinary separator (for a 10-digit personnummer: younger than 100).
    Hyphen,
    /// `+`: only in a 10-digit personnummer or samordningsnummer, for someone 100 or older.
    Plus,
}

/// 10 or 12 digits, with the separator that was written between them (if any).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scanned {
    digits: [u8; 12],
    len: usize,
    separator: Option<Separator>,
}

impl Scanned {
    /// Splits `input` into digits and a separator, rejecting anything that is not the layout
    /// `D{6}[-+]?D{4}` or `D{8}[-+]?D{4}`. Whether `+` is allowed is the caller's business.
    pub(crate) fn scan(input: &str) -> Result<Self, IdentifierError> {
        let mut digits = [0u8; 12];
        let mut count = 0usize;
        // (separator character, its 1-based position, digits seen before it)
        let mut separator: Option<(char, usize, usize)> = None;

        for (index, c) in input.chars().enumerate() {
            let position = index + 1;
            match c {
                '0'..='9' => {
                    if let Some(slot) = digits.get_mut(count) {
                        *slot = c as u8 - b'0';
                    }
                    count += 1;
                }
                '-' | '+' => {
                    if separator.is_some() {
                        return Err(IdentifierError::RepeatedSeparator { found: c, position });
                    }
                    separator = Some((c, position, count));
                }
                _ => return Err(IdentifierError::InvalidCharacter { found: c, position }),
            }
        }

        if count != 10 && count != 12 {
            return Err(IdentifierError::WrongLength { got: count });
        }
        let separator = match separator {
            None => None,
            Some((found, position, before)) if before != count - 4 => {
                return Err(IdentifierError::MisplacedSeparator { found, position });
            }
            Some(('+', _, _)) => Some(Separator::Plus),
            Some(_) => Some(Separator::Hyphen),
        };
        Ok(Self {
            digits,
            len: count,
            separator,
        })
    }

    /// Whether this is the 12-digit form.
    pub(crate) fn is_twelve(&self) -> bool {
        self.len == 12
    }

    /// The separator as written, if any.
    pub(crate) fn separator(&self) -> Option<Separator> {
        self.separator
    }

    /// The leading two digits of a 12-digit form (century or organisationsnummer prefix).
    /// Meaningless for a 10-digit form.
    pub(crate) fn prefix(&self) -> u8 {
        self.digits[0] * 10 + self.digits[1]
    }

    /// The 10-digit form: the last ten digits, whichever form was written.
    pub(crate) fn ten(&self) -> [u8; 10] {
        let mut ten = [0u8; 10];
        ten.copy_from_slice(&self.digits[self.len - 10..self.len]);
        ten
    }
}

/// The two-digit number at `index` of a digit slice.
pub(crate) fn pair(digits: &[u8; 10], index: usize) -> u8 {
    digits[index] * 10 + digits[index + 1]
}

/// Views canonical ASCII text as `&str`.
///
/// Every caller passes bytes it wrote itself from the digits `0`–`9` and `-`, so the conversion
/// cannot fail; should that invariant ever break, an empty string is returned rather than a
/// panic, and the unit tests of each identifier (which compare `as_str` to the expected text)
/// would catch it.
pub(crate) fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_all_layouts() {
        for input in [
            "1212121212",
            "121212-1212",
            "121212+1212",
            "191212121212",
            "19121212-1212",
        ] {
            assert!(Scanned::scan(input).is_ok(), "{input}");
        }
        let plus = Scanned::scan("121212+1212").map(|s| s.separator());
        assert_eq!(plus, Ok(Some(Separator::Plus)));
    }

    #[test]
    fn reports_layout_errors_with_positions() {
        assert_eq!(
            Scanned::scan("121212 1212").map(|_| ()),
            Err(IdentifierError::InvalidCharacter {
                found: ' ',
                position: 7
            })
        );
        assert_eq!(
            Scanned::scan("1212é1-1212").map(|_| ()),
            Err(IdentifierError::InvalidCharacter {
                found: 'é',
                position: 5
            })
        );
        assert_eq!(
            Scanned::scan("1212-12-1212").map(|_| ()),
            Err(IdentifierError::RepeatedSeparator {
                found: '-',
                position: 8
            })
        );
        assert_eq!(
            Scanned::scan("12121-21212").map(|_| ()),
            Err(IdentifierError::MisplacedSeparator {
                found: '-',
                position: 6
            })
        );
        assert_eq!(
            Scanned::scan("1212121212-").map(|_| ()),
            Err(IdentifierError::MisplacedSeparator {
                found: '-',
                position: 11
            })
        );
        assert_eq!(
            Scanned::scan("12121-1212").map(|_| ()),
            Err(IdentifierError::WrongLength { got: 9 })
        );
        assert_eq!(
            Scanned::scan("").map(|_| ()),
            Err(IdentifierError::WrongLength { got: 0 })
        );
        let long = "1".repeat(100_000);
        assert_eq!(
            Scanned::scan(&long).map(|_| ()),
            Err(IdentifierError::WrongLength { got: 100_000 })
        );
    }

    #[test]
    fn ten_is_the_last_ten_digits() {
        let twelve = Scanned::scan("19121212-1212").map(|s| s.ten());
        let ten = Scanned::scan("121212-1212").map(|s| s.ten());
        assert_eq!(twelve, ten);
        assert_eq!(Scanned::scan("19121212-1212").map(|s| s.prefix()), Ok(19));
    }
}
