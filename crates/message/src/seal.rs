//! The encryption profile: a message's content sealed for the recipient authority with HPKE
//! (RFC 9180), base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM
//! (ids 0x0020, 0x0001, 0x0001).
//!
//! Each authority's node holds X25519 message keys (derived from 32-byte seeds kept like its
//! other keys) and publishes their public halves in the signed federation configuration, newest
//! first. A sender seals for the newest; the recipient keeps older keys for what was sealed
//! before a rotation and picks the one the envelope names. A key's id is the first 8 bytes of
//! SHA-256 of its public key, in hex.
//!
//! The `info` string names the profile and its version; the associated data is SHA-256 of the
//! envelope's exact text, so sealed content cannot be moved under another envelope (another
//! recipient, another id, another kind) without the recipient noticing. Sealed bytes are
//! `0x01 ‖ key id (8) ‖ enc (32) ‖ AES-128-GCM ciphertext and tag` — the whole layout, with
//! test vectors, is in `docs/message-encryption.md`.

use crate::envelope::{digest, Envelope};
use crate::Content;
use base64::Engine as _;
use hpke::aead::AesGcm128;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};

type Kem = X25519HkdfSha256;

/// The application's `info` for every key schedule of this profile.
pub const INFO: &[u8] = b"utbyte message content v1";
/// The first byte of sealed content in this layout.
const FORMAT: u8 = 1;
const KEY_ID: usize = 8;
const ENC: usize = 32;
const HEADER: usize = 1 + KEY_ID + ENC;

/// Why content could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed content is too short or not in layout version 1")]
    Format,
    #[error("the content is sealed for message key `{0}`, which this node does not hold")]
    UnknownKey(String),
    #[error(
        "the envelope names message key `{envelope}` but the content is sealed for `{sealed}`"
    )]
    KeyMismatch { envelope: String, sealed: String },
    #[error("the sealed content does not open: altered, or sealed under another envelope")]
    Opening,
    #[error("the opened content is not a message's content: {0}")]
    Content(String),
    #[error("`{0}` is not an X25519 public key (32 bytes, base64url)")]
    PublicKey(String),
    #[error("HPKE: {0}")]
    Hpke(String),
}

/// A public message key as the federation configuration lists it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecipientKey {
    public: <Kem as hpke::Kem>::PublicKey,
    id: [u8; KEY_ID],
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecipientKey({})", self.id())
    }
}

impl RecipientKey {
    fn new(public: <Kem as hpke::Kem>::PublicKey) -> Self {
        let digest = Sha256::digest(public.to_bytes());
        let mut id = [0u8; KEY_ID];
        id.copy_from_slice(&digest[..KEY_ID]);
        Self { public, id }
    }

    /// Reads a key from base64url (unpadded) text.
    pub fn decode(text: &str) -> Result<Self, SealError> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| <Kem as hpke::Kem>::PublicKey::from_bytes(&bytes).ok())
            .map(Self::new)
            .ok_or_else(|| SealError::PublicKey(text.chars().take(60).collect()))
    }

    /// The key as base64url (unpadded) text.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.public.to_bytes())
    }

    /// The key's id: 16 hex digits.
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }
}

/// A node's private message key.
pub struct MessageKey {
    secret: <Kem as hpke::Kem>::PrivateKey,
    public: RecipientKey,
}

impl std::fmt::Debug for MessageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MessageKey({})", self.public.id())
    }
}

impl MessageKey {
    /// The key derived from a 32-byte secret seed (RFC 9180 `DeriveKeyPair`).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let (secret, public) = Kem::derive_keypair(seed);
        Self {
            secret,
            public: RecipientKey::new(public),
        }
    }

    pub fn public(&self) -> &RecipientKey {
        &self.public
    }
}

/// Seals `content` for `recipient`, under the envelope whose exact text is `envelope_json`
/// (which must name the recipient key's id).
pub fn seal(
    recipient: &RecipientKey,
    envelope_json: &str,
    content: &Content,
) -> Result<Vec<u8>, SealError> {
    let plaintext = serde_json::to_vec(content).map_err(|e| SealError::Content(e.to_string()))?;
    seal_raw(recipient, envelope_json, &plaintext)
}

/// Seals any bytes the same way: what a node keeps for itself only (a notice held for its own
/// reviewer is sealed for its own key).
pub fn seal_raw(
    recipient: &RecipientKey,
    envelope_json: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    seal_bytes(
        recipient,
        envelope_json,
        plaintext,
        &mut rand_core::UnwrapErr(rand_core::OsRng),
    )
}

/// Seals bytes a node keeps for itself only, outside any message (a file being uploaded), for
/// one of its own keys; `label` names what they are and is bound as the associated data, so
/// they open only as what they were sealed as.
pub fn seal_local(own: &RecipientKey, label: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_with(
        own,
        &digest(label),
        plaintext,
        &mut rand_core::UnwrapErr(rand_core::OsRng),
    )
}

/// Opens bytes sealed with [`seal_local`] under the same `label`.
pub fn open_local(keys: &[MessageKey], label: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    open_with(keys, &digest(label), sealed)
}

fn seal_bytes(
    recipient: &RecipientKey,
    envelope_json: &str,
    plaintext: &[u8],
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, SealError> {
    seal_with(recipient, &digest(envelope_json), plaintext, rng)
}

fn seal_with(
    recipient: &RecipientKey,
    aad: &[u8; 32],
    plaintext: &[u8],
    rng: &mut impl rand_core::CryptoRng,
) -> Result<Vec<u8>, SealError> {
    let (enc, mut context) = hpke::setup_sender::<AesGcm128, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &recipient.public,
        INFO,
        rng,
    )
    .map_err(|e| SealError::Hpke(e.to_string()))?;
    let ciphertext = context
        .seal(plaintext, aad)
        .map_err(|e| SealError::Hpke(e.to_string()))?;
    let mut sealed = Vec::with_capacity(HEADER + ciphertext.len());
    sealed.push(FORMAT);
    sealed.extend_from_slice(&recipient.id);
    sealed.extend_from_slice(&enc.to_bytes());
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// The id of the key `sealed` was sealed for.
pub fn sealed_for(sealed: &[u8]) -> Result<String, SealError> {
    match sealed {
        [FORMAT, rest @ ..] if rest.len() > KEY_ID + ENC => Ok(hex::encode(&rest[..KEY_ID])),
        _ => Err(SealError::Format),
    }
}

/// Opens content sealed for one of `keys` under the envelope whose exact text is
/// `envelope_json`.
pub fn open(keys: &[MessageKey], envelope_json: &str, sealed: &[u8]) -> Result<Content, SealError> {
    let plaintext = open_bytes(keys, envelope_json, sealed)?;
    let content: Content =
        serde_json::from_slice(&plaintext).map_err(|e| SealError::Content(e.to_string()))?;
    content
        .validate()
        .map_err(|e| SealError::Content(e.to_string()))?;
    Ok(content)
}

/// Opens bytes sealed with [`seal_raw`].
pub fn open_raw(
    keys: &[MessageKey],
    envelope_json: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    open_bytes(keys, envelope_json, sealed)
}

fn open_bytes(
    keys: &[MessageKey],
    envelope_json: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    let id = sealed_for(sealed)?;
    let named = Envelope::from_json(envelope_json)
        .map(|e| e.key)
        .map_err(|_| SealError::Opening)?;
    if named != id {
        return Err(SealError::KeyMismatch {
            envelope: named,
            sealed: id,
        });
    }
    open_with(keys, &digest(envelope_json), sealed)
}

fn open_with(keys: &[MessageKey], aad: &[u8; 32], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let id = sealed_for(sealed)?;
    let key = keys
        .iter()
        .find(|k| k.public.id() == id)
        .ok_or(SealError::UnknownKey(id))?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed[1 + KEY_ID..HEADER])
        .map_err(|_| SealError::Format)?;
    let mut context =
        hpke::setup_receiver::<AesGcm128, HkdfSha256, Kem>(&OpModeR::Base, &key.secret, &enc, INFO)
            .map_err(|_| SealError::Opening)?;
    context
        .open(&sealed[HEADER..], aad)
        .map_err(|_| SealError::Opening)
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
