//! C2SP signed notes (<https://c2sp.org/signed-note>): text, a blank line, signature lines.
//!
//! This module knows the wire format and the key encodings (`vkey` and `PRIVATE+KEY+…`); what a
//! signature *means* (a log's checkpoint signature or a witness cosignature) is decided by the
//! signature type byte and lives in [`crate::checkpoint`].

use crate::hash::sha256;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fmt;

/// Signature type byte for a plain Ed25519 note signature (the log's own key).
pub const ALG_ED25519: u8 = 0x01;
/// Signature type byte for a timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// More signatures than any checkpoint of ours carries; the spec requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;
/// Upper bound on the size of a note we are willing to parse.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// What was wrong with a note or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    #[error("note has no blank line separating the text from the signatures")]
    NoSignatureBlock,
    #[error("note text must end with a newline")]
    TextNotTerminated,
    #[error("malformed signature line {0:?}")]
    MalformedSignature(String),
    #[error("note carries more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("invalid key name {0:?}: it must be non-empty and contain no spaces or '+'")]
    InvalidKeyName(String),
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("key has signature type 0x{found:02x}, expected 0x{expected:02x}")]
    WrongKeyType { found: u8, expected: u8 },
    #[error("note is not signed by {name} (key ID {id:08x})")]
    MissingSignature { name: String, id: u32 },
    #[error("signature by {name} does not verify")]
    BadSignature { name: String },
}

/// One signature line: `— <name> base64(key ID || signature)`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The signature bytes after the key ID (for cosignatures: timestamp || signature).
    pub bytes: Vec<u8>,
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSignature({} {:08x})", self.name, self.key_id)
    }
}

/// A signed note: text (ending in a newline) and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note. Signatures are not verified here.
    pub fn parse(input: &str) -> Result<Self, NoteError> {
        if input.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        if input.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let split = input.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let text = &input[..split + 1];
        let block = &input[split + 2..];
        if !block.ends_with('\n') {
            return Err(NoteError::MalformedSignature(block.to_owned()));
        }
        let mut signatures = Vec::new();
        for line in block[..block.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(parse_signature_line(line)?);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Starts an unsigned note; the text must end with a newline.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::TextNotTerminated);
        }
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        Ok(Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// The signatures whose name and key ID match (there should be at most one).
    pub fn signatures_by<'a>(
        &'a self,
        name: &'a str,
        key_id: u32,
    ) -> impl Iterator<Item = &'a NoteSignature> + 'a {
        self.signatures
            .iter()
            .filter(move |s| s.name == name && s.key_id == key_id)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            let mut blob = sig.key_id.to_be_bytes().to_vec();
            blob.extend_from_slice(&sig.bytes);
            writeln!(f, "\u{2014} {} {}", sig.name, B64.encode(blob))?;
        }
        Ok(())
    }
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, NoteError> {
    let bad = || NoteError::MalformedSignature(line.to_owned());
    let rest = line.strip_prefix("\u{2014} ").ok_or_else(bad)?;
    let (name, blob) = rest.split_once(' ').ok_or_else(bad)?;
    check_key_name(name).map_err(|_| bad())?;
    let bytes = B64.decode(blob).map_err(|_| bad())?;
    if bytes.len() < 5 {
        return Err(bad());
    }
    let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id,
        bytes: bytes[4..].to_vec(),
    })
}

/// Key names are non-empty and contain no Unicode spaces and no `+`.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || type || public key)[:4]`, big-endian.
pub fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> u32 {
    let digest = sha256(&[name.as_bytes(), b"\n", &[alg], public]);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// An Ed25519 public key with its name and signature type, as in a C2SP `vkey`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub alg: u8,
    pub id: u32,
    pub key: VerifyingKey,
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.to_text())
    }
}

impl VerifierKey {
    /// Builds the verifier for `key` under `name` with signature type `alg`.
    pub fn new(name: &str, alg: u8, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let id = key_id(name, alg, key.as_bytes());
        Ok(VerifierKey {
            name: name.to_owned(),
            alg,
            id,
            key,
        })
    }

    /// Parses `<name>+<hex key ID>+<base64(type || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey("expected <name>+<key ID>+<key>"));
        };
        check_key_name(name)?;
        let (alg, material) = decode_key_material(id_hex, key_b64)?;
        let key = VerifyingKey::from_bytes(&material)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        let verifier = VerifierKey::new(name, alg, key)?;
        if format!("{:08x}", verifier.id) != id_hex {
            return Err(NoteError::MalformedKey("key ID does not match the key"));
        }
        Ok(verifier)
    }

    /// The `vkey` text form.
    pub fn to_text(&self) -> String {
        let mut blob = vec![self.alg];
        blob.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(blob))
    }
}

fn decode_key_material(id_hex: &str, key_b64: &str) -> Result<(u8, [u8; 32]), NoteError> {
    if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NoteError::MalformedKey("key ID must be 8 hex digits"));
    }
    let blob = B64
        .decode(key_b64)
        .map_err(|_| NoteError::MalformedKey("key is not base64"))?;
    let (alg, material) = blob
        .split_first()
        .ok_or(NoteError::MalformedKey("empty key"))?;
    let material = <[u8; 32]>::try_from(material)
        .map_err(|_| NoteError::MalformedKey("Ed25519 keys are 32 bytes"))?;
    Ok((*alg, material))
}

/// An Ed25519 private key with its name and signature type. Never printed.
pub struct SignerKey {
    pub verifier: VerifierKey,
    pub key: SigningKey,
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SignerKey({}, private half withheld)",
            self.verifier.name
        )
    }
}

impl SignerKey {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, alg: u8, seed: [u8; 32]) -> Result<Self, NoteError> {
        let key = SigningKey::from_bytes(&seed);
        let verifier = VerifierKey::new(name, alg, key.verifying_key())?;
        Ok(SignerKey { verifier, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey(
                "expected PRIVATE+KEY+<name>+<key ID>+<key>",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "expected PRIVATE+KEY+<name>+<key ID>+<key>",
            ));
        };
        let (alg, seed) = decode_key_material(id_hex, key_b64)?;
        let signer = SignerKey::from_seed(name, alg, seed)?;
        if format!("{:08x}", signer.verifier.id) != id_hex {
            return Err(NoteError::MalformedKey("key ID does not match the key"));
        }
        Ok(signer)
    }

    /// The `PRIVATE+KEY+…` text form. Handle as a secret.
    pub fn to_text(&self) -> String {
        let mut blob = vec![self.verifier.alg];
        blob.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.verifier.name,
            self.verifier.id,
            B64.encode(blob)
        )
    }
}

/// The operating system could not provide random bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no entropy from the operating system: {0}")]
pub struct RandomError(pub String);

/// 32 bytes from the operating system's random source.
pub fn random_seed() -> Result<[u8; 32], RandomError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| RandomError(e.to_string()))?;
    Ok(seed)
}
