//! JSON Web Signatures (RFC 7515, flattened JSON serialization) with Ed25519 (`EdDSA`, RFC 8037).
//!
//! Written here rather than taken from a JWT crate: utbyte signs arbitrary payloads (federation
//! configurations, answers with receipts), not claims sets, and needs exactly one algorithm with
//! no way to negotiate another. The whole format is a protected header, a payload and a signature
//! over `base64url(header) "." base64url(payload)`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// A signed payload in the flattened JSON serialization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Jws {
    pub protected: String,
    pub payload: String,
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    kid: String,
    typ: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the signature is not valid base64url")]
    Encoding,
    #[error("the protected header is not a JSON object with alg, kid and typ")]
    Header,
    #[error("the algorithm is `{0}`; only EdDSA is accepted")]
    Algorithm(String),
    #[error("the content type is `{got}`; expected `{expected}`")]
    Type { got: String, expected: String },
    #[error("signed by key `{got}`, but only `{expected}` is trusted for this")]
    UnknownKey { got: String, expected: String },
    #[error("the signature does not verify")]
    Signature,
}

/// The key id of a public key: the first 16 hex digits of SHA-256 over its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..8])
}

impl Jws {
    /// Signs `payload` as content type `typ`.
    pub fn sign(payload: &[u8], typ: &str, key: &SigningKey) -> Self {
        let header = Header {
            alg: "EdDSA".into(),
            kid: key_id(&key.verifying_key()),
            typ: typ.into(),
        };
        // A struct of three strings always serialises.
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let protected = URL_SAFE_NO_PAD.encode(header);
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let signature = key.sign(format!("{protected}.{payload}").as_bytes());
        Self {
            protected,
            payload,
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }
    }

    /// Verifies the signature with the one key trusted for content type `typ` and returns the
    /// payload.
    pub fn verify(&self, typ: &str, key: &VerifyingKey) -> Result<Vec<u8>, JwsError> {
        let header = URL_SAFE_NO_PAD
            .decode(&self.protected)
            .map_err(|_| JwsError::Encoding)?;
        let header: Header = serde_json::from_slice(&header).map_err(|_| JwsError::Header)?;
        if header.alg != "EdDSA" {
            return Err(JwsError::Algorithm(header.alg));
        }
        if header.typ != typ {
            return Err(JwsError::Type {
                got: header.typ,
                expected: typ.into(),
            });
        }
        let expected = key_id(key);
        if header.kid != expected {
            return Err(JwsError::UnknownKey {
                got: header.kid,
                expected,
            });
        }
        let signature = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .map_err(|_| JwsError::Encoding)?;
        let signature = Signature::from_slice(&signature).map_err(|_| JwsError::Signature)?;
        key.verify(
            format!("{}.{}", self.protected, self.payload).as_bytes(),
            &signature,
        )
        .map_err(|_| JwsError::Signature)?;
        URL_SAFE_NO_PAD
            .decode(&self.payload)
            .map_err(|_| JwsError::Encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_signed_payload_verifies_and_round_trips() {
        let jws = Jws::sign(b"{\"a\":1}", "test+json", &key(1));
        assert_eq!(
            jws.verify("test+json", &key(1).verifying_key()).unwrap(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn every_tampering_is_caught() {
        let jws = Jws::sign(b"payload", "t", &key(1));
        let other = key(2).verifying_key();
        assert!(matches!(
            jws.verify("t", &other),
            Err(JwsError::UnknownKey { .. })
        ));
        assert!(matches!(
            jws.verify("u", &key(1).verifying_key()),
            Err(JwsError::Type { .. })
        ));
        let mut changed = jws.clone();
        changed.payload = URL_SAFE_NO_PAD.encode(b"payloaD");
        assert_eq!(
            changed.verify("t", &key(1).verifying_key()),
            Err(JwsError::Signature)
        );
        // A header claiming another algorithm is refused before any verification.
        let mut none = jws.clone();
        none.protected = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x","typ":"t"}"#);
        assert_eq!(
            none.verify("t", &key(1).verifying_key()),
            Err(JwsError::Algorithm("none".into()))
        );
    }
}
