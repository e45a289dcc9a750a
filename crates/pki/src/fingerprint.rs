//! Certificate fingerprints: the SHA-256 of a certificate's DER, written as 64 lower-case hex
//! digits.
//!
//! The fingerprint is how the federation names one certificate: the signed federation
//! configuration lists revoked certificates by fingerprint, and a node's audit records name the
//! peer certificate it talked to. Hashing the whole DER (not the key, not the serial) makes the
//! name unforgeable and independent of how the certificate was issued.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The SHA-256 fingerprint of a certificate's DER encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a string is not a certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a certificate fingerprint is 64 hex digits (SHA-256 of the DER), got {got:?}")]
pub struct FingerprintError {
    /// The input, cut to its first 80 characters (a fingerprint is public, not a secret).
    pub got: String,
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    /// Accepts 64 hex digits in either case; the canonical form is lower case.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(input, &mut bytes) {
            Ok(()) => Ok(Self(bytes)),
            Err(_) => Err(FingerprintError {
                got: input.chars().take(80).collect(),
            }),
        }
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_sha256_of_der_in_lower_case_hex() -> Result<(), FingerprintError> {
        let fingerprint = Fingerprint::of_der(b"abc");
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(fingerprint.to_string(), expected);
        assert_eq!(expected.to_uppercase().parse::<Fingerprint>()?, fingerprint);
        Ok(())
    }

    #[test]
    fn rejects_anything_but_64_hex_digits() {
        for bad in ["", "ab", &"g".repeat(64), &"a".repeat(65), &"a".repeat(63)] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }
}
