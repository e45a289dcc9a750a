//! The Luhn (modulus 10) check digit used by personnummer, samordningsnummer and
//! organisationsnummer.
//!
//! The check digit is always computed over the 10-digit form: the century digits of a 12-digit
//! form and the `16` prefix of an organisationsnummer are outside the checksum. That is why a
//! 12-digit form cannot be validated by running Luhn over all twelve digits.

/// The check digit for nine leading digits (each 0–9).
///
/// Weights alternate 2, 1, 2, … from the left; a two-digit product contributes the sum of its
/// digits. The check digit brings the total up to a multiple of ten.
pub(crate) fn check_digit(nine: &[u8; 9]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(index, &digit)| {
            let weighted = u32::from(digit) * if index % 2 == 0 { 2 } else { 1 };
            weighted / 10 + weighted % 10
        })
        .sum();
    // `sum % 10` is below 10, so the result fits a digit.
    ((10 - sum % 10) % 10) as u8
}

/// Verifies the tenth digit of a 10-digit form against the first nine.
pub(crate) fn verify(ten: &[u8; 10]) -> Result<(), super::IdentifierError> {
    let mut nine = [0u8; 9];
    nine.copy_from_slice(&ten[..9]);
    let expected = check_digit(&nine);
    let found = ten[9];
    if found == expected {
        Ok(())
    } else {
        Err(super::IdentifierError::CheckDigit { found, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    fn check(s: &str) -> u8 {
        let mut nine = [0u8; 9];
        nine.copy_from_slice(&digits(s));
        check_digit(&nine)
    }

    #[test]
    fn known_check_digits() {
        assert_eq!(check("121212121"), 2); // 19121212-1212, Skatteverket's test number
        assert_eq!(check("811228987"), 4); // 811228-9874
        assert_eq!(check("701063239"), 1); // samordningsnummer 701063-2391
        assert_eq!(check("556016068"), 0); // Ericsson, 556016-0680
        assert_eq!(check("202100548"), 9);
        assert_eq!(check("212000014"), 2);
        assert_eq!(check("000000000"), 0);
    }

    #[test]
    fn verify_reports_found_and_expected() {
        let mut ten = [0u8; 10];
        ten.copy_from_slice(&digits("8112289873"));
        assert_eq!(
            verify(&ten),
            Err(super::super::IdentifierError::CheckDigit {
                found: 3,
                expected: 4
            })
        );
    }
}
