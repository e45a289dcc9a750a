//! Keyed commitments: how a personal identifier enters a leaf without being readable from it.
//!
//! A commitment is `HMAC-SHA256(node secret, "utbyte-commitment/v1\n" || domain || "\n" || value)`.
//! Without the node's secret, nobody holding the tiles can test a guessed personnummer against a
//! leaf (the number space is small enough that a plain hash would be brute-forced in minutes).
//! With it, the node can find every entry about a person, which is what a subject-access report
//! needs. The commitment is deterministic, so entries about the same subject share it: an auditor
//! can see that two entries concern the same (unknown) person, never who it is.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use std::fmt;

/// The node's commitment secret. Never printed, never leaves the node.
#[derive(Clone)]
pub struct CommitmentKey([u8; 32]);

impl fmt::Debug for CommitmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CommitmentKey(withheld)")
    }
}

impl CommitmentKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CommitmentKey(bytes)
    }

    /// The secret bytes, for storing the key.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Commits to `value` within `domain` (for example `"subject"`), so that the same value in
    /// different roles gives unrelated commitments.
    pub fn commit(&self, domain: &str, value: &[u8]) -> Commitment {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 takes keys of every length"),
        };
        mac.update(b"utbyte-commitment/v1\n");
        mac.update(domain.as_bytes());
        mac.update(b"\n");
        mac.update(value);
        Commitment(mac.finalize().into_bytes().into())
    }
}

/// A 32-byte keyed commitment, written as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lower-case hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Commitment(out))
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({})", self.to_hex())
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Commitment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Commitment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Commitment::from_hex(&text)
            .ok_or_else(|| serde::de::Error::custom("a commitment is 64 lower-case hex digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_depends_on_key_domain_and_value() {
        let k1 = CommitmentKey::from_bytes([1; 32]);
        let k2 = CommitmentKey::from_bytes([2; 32]);
        let c = k1.commit("subject", b"19121212-1212");
        assert_eq!(c, k1.commit("subject", b"19121212-1212"));
        assert_ne!(c, k2.commit("subject", b"19121212-1212"));
        assert_ne!(c, k1.commit("officer", b"19121212-1212"));
        assert_ne!(c, k1.commit("subject", b"19121212-1213"));
        // Domain and value are separated: moving the boundary changes the commitment.
        assert_ne!(k1.commit("ab", b"c"), k1.commit("a", b"bc"));
    }

    #[test]
    fn hex_round_trip_and_debug_hides_key() {
        let c = CommitmentKey::from_bytes([7; 32]).commit("subject", b"x");
        assert_eq!(Commitment::from_hex(&c.to_hex()), Some(c));
        assert_eq!(Commitment::from_hex("AB"), None);
        assert_eq!(
            format!("{:?}", CommitmentKey::from_bytes([7; 32])),
            "CommitmentKey(withheld)"
        );
    }
}
