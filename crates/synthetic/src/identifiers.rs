//! Valid Swedish identifiers made from random digits: the Luhn check digit is computed here, and
//! each number is then parsed by `utbyte_domain`, so only what the domain accepts ever leaves
//! this module. Numbers are unique within one generated population.

use std::collections::BTreeSet;

use utbyte_domain::{
    IdentifierError, OrganisationGroup, Organisationsnummer, Personnummer, Samordningsnummer,
    SubjectId,
};

use super::calendar::Date;
use super::rng::Rng;

/// The Luhn (mod 10) check digit for the nine digits before it, weights 2, 1, 2, … from the
/// left, as Skatteverket specifies for personnummer and Bolagsverket for organisationsnummer.
pub(crate) fn luhn_check_digit(digits: &[u8; 9]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(position, &digit)| {
            let product = u32::from(digit) * if position % 2 == 0 { 2 } else { 1 };
            product / 10 + product % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The kind of personal number to make.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PersonSeries {
    Personnummer,
    Samordningsnummer,
}

/// Hands out unique identifiers.
#[derive(Default)]
pub(crate) struct Issuer {
    issued: BTreeSet<[u8; 10]>,
}

impl Issuer {
    /// A new personal number for someone born on `birth`, whose legal gender is a man when `man`
    /// (odd ninth digit), or `None` if a thousand random birth numbers were all taken (a day has
    /// 500 of each parity; the caller then tries another day).
    pub(crate) fn person(
        &mut self,
        rng: &mut Rng,
        series: PersonSeries,
        birth: Date,
        man: bool,
    ) -> Result<Option<SubjectId>, IdentifierError> {
        let day = match series {
            PersonSeries::Personnummer => birth.day,
            PersonSeries::Samordningsnummer => birth.day + 60,
        };
        let yymmdd = [
            ((birth.year / 10) % 10) as u8,
            (birth.year % 10) as u8,
            birth.month / 10,
            birth.month % 10,
            day / 10,
            day % 10,
        ];
        for _ in 0..1000 {
            // Birth numbers 001–999; the last of the three digits carries the legal gender.
            let tens = rng.between(0, 99) as u8;
            let gender_digit = 2 * rng.between(0, 4) as u8 + u8::from(man);
            if tens == 0 && gender_digit == 0 {
                continue;
            }
            let Some(digits) = self.claim(&yymmdd, [tens / 10, tens % 10, gender_digit]) else {
                continue;
            };
            let text = format!(
                "{:02}{}-{}",
                birth.year / 100,
                ascii(&digits[..6]),
                ascii(&digits[6..])
            );
            return Ok(Some(match series {
                PersonSeries::Personnummer => text.parse::<Personnummer>()?.into(),
                PersonSeries::Samordningsnummer => text.parse::<Samordningsnummer>()?.into(),
            }));
        }
        Ok(None)
    }

    /// A new organisationsnummer of an aktiebolag: group digit 5, then 5–9 (as the numbers
    /// Bolagsverket has issued since the 1970s: 55…, 556…, 559…), a third digit of 2 or more.
    pub(crate) fn aktiebolag(&mut self, rng: &mut Rng) -> Result<SubjectId, IdentifierError> {
        loop {
            let mut head = [5, 5, rng.between(6, 9) as u8, 0, 0, 0];
            for digit in &mut head[3..] {
                *digit = rng.between(0, 9) as u8;
            }
            let tail = [
                rng.between(0, 9) as u8,
                rng.between(0, 9) as u8,
                rng.between(0, 9) as u8,
            ];
            let Some(digits) = self.claim(&head, tail) else {
                continue;
            };
            let text = format!("{}-{}", ascii(&digits[..6]), ascii(&digits[6..]));
            let number: Organisationsnummer = text.parse()?;
            debug_assert_eq!(number.group(), OrganisationGroup::LimitedCompany);
            return Ok(number.into());
        }
    }

    /// The ten digits with their check digit, if not issued before.
    fn claim(&mut self, head: &[u8; 6], serial: [u8; 3]) -> Option<[u8; 10]> {
        let mut nine = [0; 9];
        nine[..6].copy_from_slice(head);
        nine[6..].copy_from_slice(&serial);
        let mut ten = [0; 10];
        ten[..9].copy_from_slice(&nine);
        ten[9] = luhn_check_digit(&nine);
        self.issued.insert(ten).then_some(ten)
    }
}

fn ascii(digits: &[u8]) -> String {
    digits
        .iter()
        .map(|digit| char::from(b'0' + digit))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_known_numbers() {
        assert_eq!(luhn_check_digit(&[8, 1, 1, 2, 2, 8, 9, 8, 7]), 4); // 811228-9874
        assert_eq!(luhn_check_digit(&[1, 2, 1, 2, 1, 2, 1, 2, 1]), 2); // 121212-1212
        assert_eq!(luhn_check_digit(&[5, 5, 6, 0, 1, 6, 0, 6, 8]), 0); // 556016-0680
        assert_eq!(luhn_check_digit(&[7, 0, 1, 0, 6, 3, 2, 3, 9]), 1); // 701063-2391
    }
}
