//! Attachments: files of any size, sealed in chunks so that no part of the way ever holds more
//! than one chunk in memory.
//!
//! Each attachment has its own random AES-128-GCM key ([`AttachmentKey`]). Its plaintext is cut
//! into chunks of [`CHUNK`] bytes (the last may be shorter, and an empty file is one empty
//! chunk); chunk *i* is sealed under the nonce `i (8 bytes, big-endian) ‖ 0 0 0 ‖ last`, where
//! `last` is 1 for the final chunk and 0 otherwise — the STREAM construction, so chunks cannot
//! be reordered, dropped or the stream cut short without the recipient noticing. The sealed
//! attachment is the sealed chunks end to end: `CHUNK + 16` bytes each, the last shorter.
//!
//! The key travels inside the message's content, which is sealed with HPKE for the recipient
//! authority; what the content says of a file ([`Attachment`]: name, media type, size, SHA-256
//! of the plaintext) is therefore readable by the recipient's node only. What the federation
//! needs to move the sealed bytes ([`Transfer`]: the sealed size) is in the envelope, in clear,
//! and says nothing of what the file holds. Each chunk travels with its SHA-256
//! (`Content-Digest`), and the recipient's node opens it with the key before keeping it.

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use serde::{Deserialize, Serialize};
use sha2::digest::generic_array::GenericArray;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
/// The AEAD tag each sealed chunk carries.
pub const TAG: usize = 16;
/// Bytes of one full sealed chunk.
pub const SEALED_CHUNK: usize = CHUNK + TAG;
/// Most attachments one message may carry.
pub const MAX_ATTACHMENTS: usize = 20;
/// Associated data of every chunk: the profile and its version.
const AAD: &[u8] = b"utbyte attachment v1";

/// Why a chunk or a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    #[error("chunk {0} does not open: altered, out of place, or sealed under another key")]
    Opening(u64),
    #[error("an attachment key is 16 bytes in base64url")]
    Key,
}

/// What the sealed content says of one attached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// The file's name as the sender gave it.
    pub name: String,
    /// Its media type, as declared (`application/octet-stream` when none was).
    pub media_type: String,
    /// Plaintext bytes.
    pub size: u64,
    /// SHA-256 of the plaintext, hex.
    pub sha256: String,
    /// The chunk key, base64url.
    pub key: String,
}

/// What the envelope says of one attachment: enough to move its sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Sealed bytes: the plaintext size and one tag per chunk.
    pub sealed_size: u64,
}

impl Transfer {
    /// How many sealed chunks the attachment has.
    pub fn chunks(&self) -> u64 {
        self.sealed_size.div_ceil(SEALED_CHUNK as u64).max(1)
    }

    /// The sealed length of chunk `index`.
    pub fn chunk_len(&self, index: u64) -> usize {
        let start = index * SEALED_CHUNK as u64;
        (self.sealed_size.saturating_sub(start)).min(SEALED_CHUNK as u64) as usize
    }

    /// Whether a sealed size is one some plaintext seals to.
    pub fn is_consistent(&self) -> bool {
        self.chunk_len(self.chunks() - 1) >= TAG
    }
}

/// How many chunks a plaintext of `size` bytes is cut into.
pub fn chunks(size: u64) -> u64 {
    size.div_ceil(CHUNK as u64).max(1)
}

/// The sealed size of a plaintext of `size` bytes.
pub fn sealed_size(size: u64) -> u64 {
    size + chunks(size) * TAG as u64
}

/// One attachment's chunk key.
#[derive(Clone)]
pub struct AttachmentKey {
    /// `ring`'s AES-GCM: its assembly runs several times faster than a portable
    /// implementation, and every byte of every file passes through it twice.
    cipher: LessSafeKey,
    bytes: [u8; 16],
}

impl std::fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachmentKey(..)")
    }
}

/// Chunk `index`'s nonce: each is used once per key, as the chunk index and the end mark make
/// it unique within a file and every file has its own key.
fn nonce(index: u64, last: bool) -> Nonce {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

impl AttachmentKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        let key = UnboundKey::new(&AES_128_GCM, &bytes)
            .unwrap_or_else(|_| unreachable!("16 bytes are an AES-128 key"));
        Self {
            cipher: LessSafeKey::new(key),
            bytes,
        }
    }

    /// Reads a key from base64url (unpadded).
    pub fn decode(text: &str) -> Result<Self, AttachmentError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| AttachmentError::Key)?;
        let bytes: [u8; 16] = bytes.try_into().map_err(|_| AttachmentError::Key)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key's 16 bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.bytes
    }

    /// The key as base64url (unpadded).
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.bytes)
    }

    /// Seals chunk `index` in place: `chunk` holds at most [`CHUNK`] plaintext bytes and grows
    /// by the tag.
    pub fn seal_chunk(&self, index: u64, last: bool, chunk: &mut Vec<u8>) {
        debug_assert!(chunk.len() <= CHUNK);
        // Sealing fails only for plaintexts beyond GCM's 64 GiB, which a chunk never is.
        let sealed =
            self.cipher
                .seal_in_place_append_tag(nonce(index, last), Aad::from(AAD), chunk);
        debug_assert!(sealed.is_ok());
    }

    /// Opens chunk `index` in place: `chunk` holds the sealed bytes and shrinks to the plaintext.
    pub fn open_chunk(
        &self,
        index: u64,
        last: bool,
        chunk: &mut Vec<u8>,
    ) -> Result<(), AttachmentError> {
        let plain = self.open_in_place(index, last, chunk)?;
        chunk.truncate(plain);
        Ok(())
    }

    /// Opens chunk `index` in place in a slice holding exactly its sealed bytes; the plaintext
    /// is the slice's first bytes, as many as returned.
    pub fn open_in_place(
        &self,
        index: u64,
        last: bool,
        chunk: &mut [u8],
    ) -> Result<usize, AttachmentError> {
        self.cipher
            .open_in_place(nonce(index, last), Aad::from(AAD), chunk)
            .map(|plain| plain.len())
            .map_err(|_| AttachmentError::Opening(index))
    }
}

/// SHA-256 whose state can be kept between requests: a file uploaded in many pieces, over hours
/// and node restarts, is hashed once as it arrives. No hashing crate exposes its mid-stream
/// state for storage, so this keeps the eight state words and the length itself and feeds whole
/// 64-byte blocks to `sha2`'s compression function; only the final padding (FIPS 180-4 §5.1.1)
/// is written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256State {
    state: [u32; 8],
    /// Bytes hashed so far (always a multiple of 64 between calls).
    length: u64,
}

impl Default for Sha256State {
    fn default() -> Self {
        Self {
            state: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            length: 0,
        }
    }
}

impl Sha256State {
    /// Hashes `data`, whose length must be a multiple of 64 bytes (a full chunk always is).
    pub fn update_blocks(&mut self, data: &[u8]) {
        assert!(data.len().is_multiple_of(64), "whole blocks only");
        for block in data.chunks_exact(64) {
            sha2::compress256(
                &mut self.state,
                std::slice::from_ref(GenericArray::from_slice(block)),
            );
        }
        self.length += data.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The digest of everything hashed and then `rest` (any length).
    pub fn finish(mut self, rest: &[u8]) -> [u8; 32] {
        let whole = rest.len() - rest.len() % 64;
        self.update_blocks(&rest[..whole]);
        let bits = (self.length + (rest.len() - whole) as u64) * 8;
        let mut tail = rest[whole..].to_vec();
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&bits.to_be_bytes());
        self.update_blocks(&tail);
        let mut digest = [0u8; 32];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn chunk_counts_and_sealed_sizes() {
        assert_eq!(chunks(0), 1, "an empty file is one empty chunk");
        assert_eq!(sealed_size(0), 16);
        assert_eq!(chunks(CHUNK as u64), 1);
        assert_eq!(chunks(CHUNK as u64 + 1), 2);
        assert_eq!(sealed_size(CHUNK as u64 + 1), CHUNK as u64 + 1 + 32);
        let t = Transfer {
            sealed_size: sealed_size(3 * CHUNK as u64 + 5),
        };
        assert_eq!(t.chunks(), 4);
        assert_eq!(t.chunk_len(0), SEALED_CHUNK);
        assert_eq!(t.chunk_len(3), 5 + TAG);
        assert!(t.is_consistent());
        let bad = Transfer {
            sealed_size: 2 * SEALED_CHUNK as u64 + 3,
        };
        assert!(!bad.is_consistent(), "a last chunk shorter than a tag");
    }

    #[test]
    fn a_chunk_opens_only_at_its_place_and_as_sealed() {
        let key = AttachmentKey::generate().unwrap();
        let mut chunk = b"rad 1\nrad 2\n".to_vec();
        key.seal_chunk(3, false, &mut chunk);
        assert_eq!(chunk.len(), 12 + TAG);
        for (index, last) in [(2, false), (3, true), (4, false)] {
            let mut moved = chunk.clone();
            assert_eq!(
                key.open_chunk(index, last, &mut moved),
                Err(AttachmentError::Opening(index))
            );
        }
        let mut flipped = chunk.clone();
        flipped[5] ^= 1;
        assert!(key.open_chunk(3, false, &mut flipped).is_err());
        let other = AttachmentKey::decode(&AttachmentKey::generate().unwrap().encode()).unwrap();
        assert!(other.open_chunk(3, false, &mut chunk.clone()).is_err());
        let same = AttachmentKey::decode(&key.encode()).unwrap();
        same.open_chunk(3, false, &mut chunk).unwrap();
        assert_eq!(chunk, b"rad 1\nrad 2\n");
        assert_eq!(
            AttachmentKey::decode("kort").unwrap_err(),
            AttachmentError::Key
        );
    }

    /// Computed with another implementation of AES-128-GCM (Python's `cryptography`), with the
    /// key, nonces and associated data of this profile; also in docs/message-encryption.md.
    #[test]
    fn chunks_seal_as_the_profile_specifies() {
        let key = AttachmentKey::from_bytes(std::array::from_fn(|i| i as u8));
        for (index, last, plain, sealed) in [
            (
                0,
                false,
                "bilaga, del 1\n",
                "2bbfeb32fefa8aac87ec1648518bbd43aabed038e1e25c3a379b1b18f175",
            ),
            (
                1,
                true,
                "bilaga, del 2 (sista)\n",
                "a32dfdd4cb985cbab9be50c481cfe9c254d9bf6f7b8fb2e4596e15b35c4c60c99d1a80a0666a",
            ),
        ] {
            let mut chunk = plain.as_bytes().to_vec();
            key.seal_chunk(index, last, &mut chunk);
            assert_eq!(hex::encode(&chunk), sealed);
            key.open_chunk(index, last, &mut chunk).unwrap();
            assert_eq!(chunk, plain.as_bytes());
        }
    }

    proptest! {
        #[test]
        fn the_kept_state_hashes_as_sha256_does(
            data in proptest::collection::vec(any::<u8>(), 0..700),
            cut in 0usize..12,
        ) {
            let cut = (cut * 64).min(data.len() - data.len() % 64);
            let mut state = Sha256State::default();
            state.update_blocks(&data[..cut]);
            let kept: Sha256State =
                serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            let expected: [u8; 32] = Sha256::digest(&data).into();
            prop_assert_eq!(kept.finish(&data[cut..]), expected);
        }
    }
}
