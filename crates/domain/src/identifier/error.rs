//! The one error type for every identifier in this module.
//!
//! Each variant names exactly one thing that is wrong and, where it helps, where. The messages go
//! to people who typed or pasted a number, so they must say what to fix. They must also be safe to
//! log: a variant may carry a single field (a month, a day, a check digit) but never the whole
//! identifier, because personal identifiers must not reach logs.

use thiserror::Error;

/// Why a string is not a valid Swedish identifier.
///
/// Positions are 1-based and count characters (not bytes) of the input as given, so they match
/// what a person sees when they look at what they typed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The input contains something other than digits and a single `-` or `+` separator.
    #[error("invalid character {found:?} at position {position}, expected a digit")]
    InvalidCharacter {
        /// The offending character.
        found: char,
        /// Its 1-based character position.
        position: usize,
    },

    /// A second separator appeared after the first one.
    #[error("second separator {found:?} at position {position}, at most one is allowed")]
    RepeatedSeparator {
        /// The second separator.
        found: char,
        /// Its 1-based character position.
        position: usize,
    },

    /// The separator is not right before the last four digits.
    #[error(
        "separator {found:?} at position {position} is misplaced, it must come right before the \
         last four digits"
    )]
    MisplacedSeparator {
        /// The separator.
        found: char,
        /// Its 1-based character position.
        position: usize,
    },

    /// The input does not have 10 or 12 digits.
    #[error("wrong length: got {got} digits, expected 10 or 12")]
    WrongLength {
        /// How many digits the input has.
        got: usize,
    },

    /// `+` marks a person aged 100 or more in the 10-digit form only; the 12-digit form states
    /// the century outright, so a `+` there is a contradiction rather than extra information.
    #[error("'+' used with a 12-digit form, the '+' separator only exists in the 10-digit form")]
    PlusWithTwelveDigits,

    /// A 10-digit personnummer or samordningsnummer was parsed without a reference date.
    #[error(
        "a 10-digit form needs a reference date to resolve the century, use the 12-digit form \
         or parse_at"
    )]
    CenturyNeedsReferenceDate,

    /// Resolving the century of a 10-digit form produced a year outside 0000–9999.
    #[error("the 10-digit form resolves to year {year}, outside 0000-9999")]
    YearOutOfRange {
        /// The year the century rules produced.
        year: i32,
    },

    /// The month is not 01–12.
    #[error("invalid month {month}, expected 01-12")]
    InvalidMonth {
        /// The month as written.
        month: u8,
    },

    /// The day does not exist in that month of that year (leap years included).
    #[error("invalid day {day} for {year:04}-{month:02}")]
    InvalidDay {
        /// The year (after century resolution).
        year: u16,
        /// The month.
        month: u8,
        /// The day as a calendar day (for a samordningsnummer, after subtracting 60).
        day: u8,
    },

    /// The last digit does not match the Luhn check digit of the first nine of the 10-digit form.
    #[error("check digit is {found} but should be {expected}")]
    CheckDigit {
        /// The check digit in the input.
        found: u8,
        /// The check digit the other nine digits require.
        expected: u8,
    },

    /// A personnummer was expected but the day field marks a samordningsnummer.
    #[error("day {day} marks a samordningsnummer (61-91), not a personnummer (01-31)")]
    SamordningsnummerNotPersonnummer {
        /// The day field as written.
        day: u8,
    },

    /// A samordningsnummer was expected but the day field is a plain calendar day.
    #[error("day {day} marks a personnummer (01-31), not a samordningsnummer (61-91)")]
    PersonnummerNotSamordningsnummer {
        /// The day field as written.
        day: u8,
    },

    /// A samordningsnummer day field outside 61–91 that is not a personnummer day either.
    #[error("samordningsnummer day {day} not in 61-91")]
    SamordningsnummerDay {
        /// The day field as written.
        day: u8,
    },

    /// The third digit of an organisationsnummer is 0 or 1, which would make it a possible
    /// personnummer month; the rule exists precisely so the two can never collide.
    #[error("organisationsnummer third digit is {digit}, it must be 2 or higher")]
    OrganisationsnummerThirdDigit {
        /// The third digit of the 10-digit form.
        digit: u8,
    },

    /// A 12-digit organisationsnummer must start with the prefix `16`.
    #[error("12-digit organisationsnummer starts with {prefix:02}, it must start with 16")]
    OrganisationsnummerPrefix {
        /// The first two digits as written.
        prefix: u8,
    },

    /// `+` has no meaning in an organisationsnummer (organisations have no age).
    #[error("'+' used in an organisationsnummer, only '-' is allowed")]
    PlusInOrganisationsnummer,

    /// The first digit of an organisationsnummer is not an assigned legal-form group.
    #[error(
        "organisationsnummer group {digit} is not assigned, expected 1, 2, 3, 5, 6, 7, 8 or 9"
    )]
    UnknownOrganisationGroup {
        /// The first digit of the 10-digit form.
        digit: u8,
    },
}

#[cfg(test)]
mod tests {
    use super::IdentifierError::{self, *};

    /// One of each variant, with the exact message a person would see.
    const MESSAGES: &[(IdentifierError, &str)] = &[
        (
            InvalidCharacter {
                found: 'x',
                position: 3,
            },
            "invalid character 'x' at position 3, expected a digit",
        ),
        (
            RepeatedSeparator {
                found: '-',
                position: 9,
            },
            "second separator '-' at position 9, at most one is allowed",
        ),
        (
            MisplacedSeparator {
                found: '+',
                position: 4,
            },
            "separator '+' at position 4 is misplaced, it must come right before the last four \
             digits",
        ),
        (
            WrongLength { got: 11 },
            "wrong length: got 11 digits, expected 10 or 12",
        ),
        (
            PlusWithTwelveDigits,
            "'+' used with a 12-digit form, the '+' separator only exists in the 10-digit form",
        ),
        (
            CenturyNeedsReferenceDate,
            "a 10-digit form needs a reference date to resolve the century, use the 12-digit \
             form or parse_at",
        ),
        (
            YearOutOfRange { year: -50 },
            "the 10-digit form resolves to year -50, outside 0000-9999",
        ),
        (
            InvalidMonth { month: 13 },
            "invalid month 13, expected 01-12",
        ),
        (
            InvalidDay {
                year: 2023,
                month: 2,
                day: 32,
            },
            "invalid day 32 for 2023-02",
        ),
        (
            CheckDigit {
                found: 3,
                expected: 2,
            },
            "check digit is 3 but should be 2",
        ),
        (
            SamordningsnummerNotPersonnummer { day: 63 },
            "day 63 marks a samordningsnummer (61-91), not a personnummer (01-31)",
        ),
        (
            PersonnummerNotSamordningsnummer { day: 3 },
            "day 3 marks a personnummer (01-31), not a samordningsnummer (61-91)",
        ),
        (
            SamordningsnummerDay { day: 45 },
            "samordningsnummer day 45 not in 61-91",
        ),
        (
            OrganisationsnummerThirdDigit { digit: 1 },
            "organisationsnummer third digit is 1, it must be 2 or higher",
        ),
        (
            OrganisationsnummerPrefix { prefix: 19 },
            "12-digit organisationsnummer starts with 19, it must start with 16",
        ),
        (
            PlusInOrganisationsnummer,
            "'+' used in an organisationsnummer, only '-' is allowed",
        ),
        (
            UnknownOrganisationGroup { digit: 4 },
            "organisationsnummer group 4 is not assigned, expected 1, 2, 3, 5, 6, 7, 8 or 9",
        ),
    ];

    #[test]
    fn messages_are_exact_lower_case_and_unpunctuated() {
        for (error, expected) in MESSAGES {
            let message = error.to_string();
            assert_eq!(message, *expected);
            assert!(
                !message.starts_with(|c: char| c.is_uppercase()),
                "{message}"
            );
            assert!(!message.ends_with('.'), "{message}");
        }
    }
}
