//! Checkpoints (c2sp.org/tlog-checkpoint) and their signatures: the log's own Ed25519 signature
//! and witness cosignatures (c2sp.org/tlog-cosignature, `cosignature/v1`).
//!
//! A checkpoint is the log's signed commitment to one tree size and root. Anyone holding one can
//! ask for an inclusion proof against it and, later, a consistency proof to a newer one; a
//! witness cosignature adds a second party's statement that it saw no other history.

use crate::hash::Hash;
use crate::note::{
    Note, NoteError, NoteSignature, SignerKey, VerifierKey, ALG_COSIGNATURE_V1, ALG_ED25519,
};
use ed25519_dalek::{Signature, Signer};

/// What was wrong with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("checkpoint body is malformed: {0}")]
    Malformed(&'static str),
    #[error("checkpoint origin {found:?} is not the expected log {expected:?}")]
    WrongOrigin { found: String, expected: String },
    #[error("key {name} has signature type 0x{found:02x}; {purpose} needs 0x{expected:02x}")]
    WrongKeyType {
        name: String,
        found: u8,
        expected: u8,
        purpose: &'static str,
    },
}

/// The body of a checkpoint: origin, tree size, root hash, and optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: one line each for origin, size and base64 root, then extension lines.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text as a checkpoint body.
    pub fn from_text(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|l| !l.is_empty());
        let origin = origin.ok_or(CheckpointError::Malformed("empty origin line"))?;
        let size_line = lines
            .next()
            .ok_or(CheckpointError::Malformed("no tree size line"))?;
        let canonical = size_line == "0" || (!size_line.starts_with('0') && !size_line.is_empty());
        let size = size_line
            .parse::<u64>()
            .ok()
            .filter(|_| canonical && size_line.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(CheckpointError::Malformed(
                "tree size is not a canonical decimal",
            ))?;
        let root_line = lines
            .next()
            .ok_or(CheckpointError::Malformed("no root hash line"))?;
        let root = Hash::from_base64(root_line)
            .map_err(|_| CheckpointError::Malformed("root hash is not base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Malformed("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint with the log's key, giving a one-signature note.
    pub fn sign(&self, log_key: &SignerKey) -> Result<Note, CheckpointError> {
        expect_type(&log_key.verifier, ALG_ED25519, "a log signature")?;
        let mut note = Note::new(&self.to_text())?;
        let signature = log_key.key.sign(note.text.as_bytes());
        note.signatures.push(NoteSignature {
            name: log_key.verifier.name.clone(),
            key_id: log_key.verifier.id,
            bytes: signature.to_bytes().to_vec(),
        });
        Ok(note)
    }
}

fn expect_type(key: &VerifierKey, alg: u8, purpose: &'static str) -> Result<(), CheckpointError> {
    if key.alg == alg {
        Ok(())
    } else {
        Err(CheckpointError::WrongKeyType {
            name: key.name.clone(),
            found: key.alg,
            expected: alg,
            purpose,
        })
    }
}

/// Parses a signed checkpoint and verifies the log's signature with `log_key`. The origin must
/// be the key's name: a checkpoint signed for another log is not this log's.
pub fn open_checkpoint(
    text: &str,
    log_key: &VerifierKey,
) -> Result<(Checkpoint, Note), CheckpointError> {
    expect_type(log_key, ALG_ED25519, "a log signature")?;
    let note = Note::parse(text)?;
    verify_note_signature(&note, log_key)?;
    let checkpoint = Checkpoint::from_text(&note.text)?;
    if checkpoint.origin != log_key.name {
        return Err(CheckpointError::WrongOrigin {
            found: checkpoint.origin,
            expected: log_key.name.clone(),
        });
    }
    Ok((checkpoint, note))
}

/// Verifies the Ed25519 note signature of `key` on `note` (type 0x01).
pub fn verify_note_signature(note: &Note, key: &VerifierKey) -> Result<(), NoteError> {
    let mut found = false;
    for sig in note.signatures_by(&key.name, key.id) {
        let bad = || NoteError::BadSignature {
            name: key.name.clone(),
        };
        let signature = Signature::from_slice(&sig.bytes).map_err(|_| bad())?;
        key.key
            .verify_strict(note.text.as_bytes(), &signature)
            .map_err(|_| bad())?;
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(NoteError::MissingSignature {
            name: key.name.clone(),
            id: key.id,
        })
    }
}

/// The message a `cosignature/v1` signs: header, timestamp line, then the whole note text.
fn cosigned_message(timestamp: u64, note_text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{note_text}").into_bytes()
}

/// Produces a witness cosignature line for `note` at `timestamp` (POSIX seconds).
pub fn cosign(
    note: &Note,
    witness: &SignerKey,
    timestamp: u64,
) -> Result<NoteSignature, CheckpointError> {
    expect_type(&witness.verifier, ALG_COSIGNATURE_V1, "a cosignature")?;
    if timestamp > i64::MAX as u64 {
        return Err(CheckpointError::Malformed(
            "cosignature timestamp exceeds 2^63 - 1",
        ));
    }
    let signature = witness.key.sign(&cosigned_message(timestamp, &note.text));
    let mut bytes = timestamp.to_be_bytes().to_vec();
    bytes.extend_from_slice(&signature.to_bytes());
    Ok(NoteSignature {
        name: witness.verifier.name.clone(),
        key_id: witness.verifier.id,
        bytes,
    })
}

/// Verifies the cosignature of `witness` on `note`, returning its timestamp.
pub fn verify_cosignature(note: &Note, witness: &VerifierKey) -> Result<u64, CheckpointError> {
    expect_type(witness, ALG_COSIGNATURE_V1, "a cosignature")?;
    let sig = note
        .signatures_by(&witness.name, witness.id)
        .next()
        .ok_or_else(|| NoteError::MissingSignature {
            name: witness.name.clone(),
            id: witness.id,
        })?;
    let bad = || NoteError::BadSignature {
        name: witness.name.clone(),
    };
    if sig.bytes.len() != 8 + 64 {
        return Err(bad().into());
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&sig.bytes[..8]);
    let timestamp = u64::from_be_bytes(ts);
    let signature = Signature::from_slice(&sig.bytes[8..]).map_err(|_| bad())?;
    witness
        .key
        .verify_strict(&cosigned_message(timestamp, &note.text), &signature)
        .map_err(|_| bad())?;
    Ok(timestamp)
}
