//! The ledger (`utbyte-ledger`): its log file, recovery on open, signed notes, checkpoints,
//! keys, proofs and tiles.
//!
//! Selector (first byte, modulo 8):
//! - 0: the rest as a log file, scanned (`wal::scan`): the committed prefix re-encodes to the
//!   same bytes, and the tail is what is left of the file.
//! - 1: the rest as the `log` of a ledger directory, opened (`Ledger::open`).
//! - 2: the rest read (`arbitrary`) as a plan for a log of valid and broken frames, torn and
//!   flipped bytes, and a checkpoint signed by the log's key, then opened.
//!   For 1 and 2: recovery never panics; it refuses what the scan calls damage and a checkpoint
//!   ahead of the log, and otherwise opens with every committed entry readable and provable; an
//!   entry appended after recovery survives a close, `verify_dir` and a second open.
//! - 3: the rest as text: a signed note, a checkpoint body, a `vkey`, a private key, a
//!   commitment, a hash — each that parses prints back as it was written.
//! - 4: the rest as a checkpoint body, signed here by the log's key and cosigned by a witness,
//!   then opened and its cosignature verified.
//! - 5: the rest as an inclusion or consistency proof (the JSON of `utbyte audit prove`, and
//!   raw sizes and hashes): verifying never panics.
//! - 6: the rest (`arbitrary`) as tree sizes and an index: proofs made from a tree verify, and
//!   stop verifying when one hash changes.
//! - 7: the rest as a hash tile and an entry bundle: what decodes re-encodes to the same bytes.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use utbyte_fuzz::{scratch, split};
use utbyte_ledger::checkpoint::{cosign, open_checkpoint, verify_cosignature, Checkpoint};
use utbyte_ledger::hash::{empty_root, leaf_hash, Hash};
use utbyte_ledger::note::{Note, SignerKey, VerifierKey, ALG_COSIGNATURE_V1};
use utbyte_ledger::proof::{root_from_inclusion, verify_consistency, verify_inclusion};
use utbyte_ledger::tiles::{decode_bundle, decode_tile, encode_bundle, encode_tile};
use utbyte_ledger::tree::{self, CompactRange, MemoryTree};
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::wal::{self, Tail};
use utbyte_ledger::{
    keys, Commitment, ConsistencyProof, InclusionProof, Ledger, LedgerError, LedgerOptions,
};

const ORIGIN: &str = "fuzz.utbyte.example/ledger";

fuzz_target!(
    init: {
        log_key();
        witness_key();
    },
    |data: &[u8]| run(data)
);

fn run(data: &[u8]) {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    match selector % 8 {
        0 => {
            scan(rest);
        }
        1 => open(rest, None),
        2 => {
            if let Ok(plan) = Plan::arbitrary_take_rest(Unstructured::new(rest)) {
                let (log, checkpoint) = plan.build();
                open(&log, checkpoint);
            }
        }
        3 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                texts(text);
            }
        }
        4 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                signed_checkpoint(text);
            }
        }
        5 => proofs(rest),
        6 => {
            if let Ok(sizes) = Sizes::arbitrary_take_rest(Unstructured::new(rest)) {
                tree_proofs(sizes);
            }
        }
        _ => tiles(rest),
    }
}

/// A committed entry or commit frame, as the scan reports them.
enum Event {
    Entry(Vec<u8>),
    Commit(u64, Hash),
}

struct Scanned {
    scan: wal::Scan,
    entries: Vec<Vec<u8>>,
}

fn scan(bytes: &[u8]) -> Scanned {
    let mut events = Vec::new();
    let mut entries = Vec::new();
    let len = bytes.len() as u64;
    let scan = {
        let events = std::cell::RefCell::new(&mut events);
        wal::scan(
            Cursor::new(bytes),
            len,
            |index, entry, leaf| {
                assert_eq!(index, entries.len() as u64, "entries out of order");
                assert_eq!(*leaf, leaf_hash(entry));
                entries.push(entry.to_vec());
                events.borrow_mut().push(Event::Entry(entry.to_vec()));
                Ok(())
            },
            |size, root| {
                events.borrow_mut().push(Event::Commit(size, *root));
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("reading from memory fails: {e}"))
    };
    assert!(scan.committed_len <= len);
    assert_eq!(scan.committed_size, entries.len() as u64);
    assert_eq!(scan.range.size(), scan.committed_size);
    match &scan.tail {
        Tail::Clean => assert_eq!(scan.committed_len, len),
        Tail::Uncommitted { bytes } => {
            assert!(*bytes > 0 && *bytes <= wal::MAX_UNCOMMITTED);
            assert_eq!(scan.committed_len + bytes, len);
        }
        Tail::Corrupt { .. } => {}
    }
    if scan.committed_len > 0 {
        // The committed prefix is exactly the frames reported, encoded again.
        let mut again = wal::MAGIC.to_vec();
        let mut range = CompactRange::new();
        for event in &events {
            match event {
                Event::Entry(entry) => {
                    let leaf = leaf_hash(entry);
                    range.push(leaf);
                    wal::encode_entry(&mut again, entry, &leaf);
                }
                Event::Commit(size, root) => {
                    assert_eq!((*size, *root), (range.size(), range.root()));
                    wal::encode_commit(&mut again, *size, root);
                }
            }
        }
        assert_eq!(again.as_slice(), &bytes[..scan.committed_len as usize]);
    }
    Scanned { scan, entries }
}

/// A ledger directory of this process's: keys made once, everything else cleared per input.
fn ledger_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("ledger");
        Ledger::create(&dir, ORIGIN, options())
            .and_then(Ledger::close)
            .unwrap_or_else(|e| panic!("creating the ledger: {e}"));
        dir
    })
}

fn options() -> LedgerOptions {
    LedgerOptions {
        publish_interval: Duration::from_millis(1),
    }
}

fn log_key() -> &'static SignerKey {
    static KEY: OnceLock<SignerKey> = OnceLock::new();
    KEY.get_or_init(|| {
        keys::load(ledger_dir())
            .unwrap_or_else(|e| panic!("the ledger's keys: {e}"))
            .log
    })
}

fn witness_key() -> &'static SignerKey {
    static KEY: OnceLock<SignerKey> = OnceLock::new();
    KEY.get_or_init(|| {
        SignerKey::from_seed("witness.example", ALG_COSIGNATURE_V1, [3; 32])
            .unwrap_or_else(|e| panic!("the witness key: {e}"))
    })
}

/// Leaves only the keys in the ledger directory, then writes `log` (and `checkpoint`).
fn prepare(dir: &Path, log: &[u8], checkpoint: Option<&str>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let name = entry.file_name();
        if name == "log.vkey" || name == "private" {
            continue;
        }
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.unwrap_or_else(|e| panic!("clearing {}: {e}", path.display()));
    }
    std::fs::write(dir.join("log"), log).unwrap_or_else(|e| panic!("{e}"));
    if let Some(text) = checkpoint {
        std::fs::write(dir.join("checkpoint"), text).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn open(log: &[u8], checkpoint: Option<String>) {
    let expected = scan(log);
    let dir = ledger_dir();
    prepare(dir, log, checkpoint.as_deref());
    let published = checkpoint
        .as_deref()
        .and_then(|text| open_checkpoint(text, &log_key().verifier).ok())
        .map(|(cp, _)| cp);
    let ledger = match Ledger::open(dir, options()) {
        Ok(ledger) => ledger,
        Err(err) => {
            let _ = err.to_string();
            let corrupt = matches!(expected.scan.tail, Tail::Corrupt { .. });
            let refused = matches!(
                err,
                LedgerError::Corrupt { .. }
                    | LedgerError::CheckpointAhead { .. }
                    | LedgerError::CheckpointMismatch { .. }
                    | LedgerError::Checkpoint(_)
            );
            assert!(
                refused && (corrupt || checkpoint.is_some()),
                "a log the scan accepts is refused: {err}"
            );
            if corrupt {
                // A damaged log is left as it was, for investigation.
                let now = std::fs::read(dir.join("log")).unwrap_or_default();
                assert_eq!(now, log, "a refused log was changed");
            }
            return;
        }
    };
    assert!(
        !matches!(expected.scan.tail, Tail::Corrupt { .. }),
        "a damaged log was opened"
    );
    let size = ledger.size();
    assert_eq!(size, expected.scan.committed_size);
    if let Some(cp) = &published {
        assert!(
            cp.size <= size,
            "opened under a checkpoint ahead of the log"
        );
        let root = ledger
            .root_at(cp.size)
            .unwrap_or_else(|e| panic!("no root at the checkpoint's size: {e}"));
        assert_eq!(
            root, cp.root,
            "opened under a checkpoint of another history"
        );
    }
    let cut = match expected.scan.tail {
        Tail::Uncommitted { bytes } => bytes,
        _ => 0,
    };
    assert_eq!(ledger.recovery().truncated_bytes, cut);
    assert_eq!(ledger.recovery().entries, size);
    let root = ledger
        .root_at(size)
        .unwrap_or_else(|e| panic!("no root at size {size}: {e}"));
    assert_eq!(root, expected.scan.range.root());
    for (index, entry) in (0u64..).zip(&expected.entries) {
        let read = ledger
            .entry(index)
            .unwrap_or_else(|e| panic!("entry {index} of {size} unreadable: {e}"));
        assert_eq!(&read, entry, "entry {index} changed");
        let proof = ledger
            .inclusion_proof(index, size)
            .unwrap_or_else(|e| panic!("no proof for entry {index} of {size}: {e}"));
        proof
            .verify(&leaf_hash(entry), &root)
            .unwrap_or_else(|e| panic!("entry {index} of {size} does not prove: {e}"));
    }
    // Recovery leaves a ledger that takes appends and opens again.
    let receipt = ledger
        .append(b"appended after recovery")
        .unwrap_or_else(|e| panic!("a recovered ledger does not append: {e}"));
    let _ = receipt;
    ledger
        .close()
        .unwrap_or_else(|e| panic!("a recovered ledger does not close: {e}"));
    let report = verify_dir(dir, &VerifyOptions::default())
        .unwrap_or_else(|e| panic!("a recovered ledger does not verify: {e}"));
    assert_eq!(report.log_size, size + 1);
    let again = Ledger::open(dir, options())
        .unwrap_or_else(|e| panic!("a recovered ledger does not open again: {e}"));
    assert_eq!(again.size(), size + 1);
    assert_eq!(again.recovery().truncated_bytes, 0);
    again
        .close()
        .unwrap_or_else(|e| panic!("a reopened ledger does not close: {e}"));
}

/// A log built from valid frames and damage.
#[derive(Arbitrary, Debug)]
struct Plan {
    magic: bool,
    frames: Vec<Frame>,
    damage: Vec<Damage>,
    /// Sign a checkpoint at the n-th commit's (size, root), optionally with another root or a
    /// larger size.
    checkpoint: Option<(u8, CheckpointTwist)>,
}

#[derive(Arbitrary, Debug)]
enum Frame {
    Entry(Vec<u8>),
    Commit,
    /// A commit frame whose size or root is not the tree's.
    WrongCommit(u8),
    /// An entry frame whose checksum does not match.
    BadEntry(Vec<u8>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Damage {
    Flip { at: u32, xor: u8 },
    Cut { at: u32 },
}

#[derive(Arbitrary, Debug)]
enum CheckpointTwist {
    Exact,
    OtherRoot,
    Ahead(u8),
}

impl Plan {
    fn build(&self) -> (Vec<u8>, Option<String>) {
        let mut log = Vec::new();
        if self.magic {
            log.extend_from_slice(wal::MAGIC);
        }
        let mut range = CompactRange::new();
        let mut commits = vec![(0u64, empty_root())];
        for frame in &self.frames {
            match frame {
                Frame::Entry(entry) => {
                    let entry = &entry[..entry.len().min(wal::MAX_ENTRY)];
                    let leaf = leaf_hash(entry);
                    range.push(leaf);
                    wal::encode_entry(&mut log, entry, &leaf);
                }
                Frame::Commit => {
                    wal::encode_commit(&mut log, range.size(), &range.root());
                    commits.push((range.size(), range.root()));
                }
                Frame::WrongCommit(n) => {
                    let mut root = range.root();
                    root.0[0] ^= n | 1;
                    let size = range.size() + u64::from(n % 3);
                    wal::encode_commit(&mut log, size, &root);
                }
                Frame::BadEntry(entry) => {
                    let entry = &entry[..entry.len().min(wal::MAX_ENTRY)];
                    let mut leaf = leaf_hash(entry);
                    leaf.0[0] ^= 1;
                    wal::encode_entry(&mut log, entry, &leaf);
                }
                Frame::Raw(bytes) => log.extend_from_slice(bytes),
            }
        }
        for damage in &self.damage {
            match *damage {
                Damage::Flip { at, xor } if !log.is_empty() => {
                    let at = at as usize % log.len();
                    log[at] ^= xor;
                }
                Damage::Cut { at } => log.truncate(at as usize % (log.len() + 1)),
                Damage::Flip { .. } => {}
            }
        }
        let checkpoint = self.checkpoint.as_ref().map(|(n, twist)| {
            let (size, mut root) = commits[usize::from(*n) % commits.len()];
            let size = match twist {
                CheckpointTwist::Exact => size,
                CheckpointTwist::OtherRoot => {
                    root.0[31] ^= 0x80;
                    size
                }
                CheckpointTwist::Ahead(n) => size + 1 + u64::from(*n),
            };
            let body = Checkpoint {
                origin: ORIGIN.to_owned(),
                size,
                root,
                extensions: Vec::new(),
            };
            body.sign(log_key())
                .unwrap_or_else(|e| panic!("signing a checkpoint: {e}"))
                .to_string()
        });
        (log, checkpoint)
    }
}

fn texts(text: &str) {
    if let Ok(note) = Note::parse(text) {
        let printed = note.to_string();
        assert_eq!(Note::parse(&printed).as_ref(), Ok(&note));
        assert_eq!(printed, text, "a note prints otherwise than it was written");
        let _ = open_checkpoint(text, &log_key().verifier);
        let _ = verify_cosignature(&note, &witness_key().verifier);
    }
    if let Ok(checkpoint) = Checkpoint::from_text(text) {
        assert_eq!(checkpoint.to_text(), text);
    }
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(key.to_text(), text);
    }
    if let Ok(key) = SignerKey::parse(text) {
        assert_eq!(key.to_text(), text.trim_end_matches('\n'));
        assert_eq!(
            VerifierKey::parse(&key.verifier.to_text()).ok(),
            Some(key.verifier)
        );
    }
    if let Some(commitment) = Commitment::from_hex(text) {
        assert_eq!(commitment.to_hex(), text);
    }
    if let Ok(hash) = Hash::from_base64(text) {
        assert_eq!(hash.to_base64(), text);
    }
}

fn signed_checkpoint(body: &str) {
    let Ok(mut note) = Note::new(body) else {
        return;
    };
    let key = log_key();
    let Ok(checkpoint) = Checkpoint::from_text(body) else {
        return;
    };
    let Ok(signed) = checkpoint.sign(key) else {
        return;
    };
    note.signatures = signed.signatures;
    if let Ok(cosignature) = cosign(&note, witness_key(), 1_772_443_800) {
        note.signatures.push(cosignature);
    }
    let text = note.to_string();
    match open_checkpoint(&text, &key.verifier) {
        Ok((opened, _)) => {
            assert_eq!(opened, checkpoint);
            assert_eq!(opened.origin, key.verifier.name);
            let parsed = Note::parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                verify_cosignature(&parsed, &witness_key().verifier).ok(),
                Some(1_772_443_800)
            );
        }
        Err(err) => {
            // Only a body for another log, or one too large for a note, is refused.
            assert!(
                checkpoint.origin != key.verifier.name || text.len() > 64 * 1024,
                "a checkpoint signed by the log's key is refused: {err}"
            );
        }
    }
}

fn proofs(bytes: &[u8]) {
    if let Ok(proof) = serde_json::from_slice::<InclusionProof>(bytes) {
        let _ = proof.verify(&Hash::default(), &Hash::default());
        let _ = proof.byte_len();
    }
    if let Ok(proof) = serde_json::from_slice::<ConsistencyProof>(bytes) {
        let _ = proof.verify(&Hash::default(), &Hash::default());
    }
    if bytes.len() < 16 {
        return;
    }
    let (numbers, rest) = bytes.split_at(16);
    let first = u64::from_le_bytes(numbers[..8].try_into().unwrap_or_default());
    let second = u64::from_le_bytes(numbers[8..].try_into().unwrap_or_default());
    let hashes: Vec<Hash> = rest.chunks_exact(32).filter_map(Hash::from_slice).collect();
    let (leaf, path) = match hashes.split_first() {
        Some((leaf, path)) => (*leaf, path),
        None => (Hash::default(), &[][..]),
    };
    let _ = root_from_inclusion(first, second, &leaf, path);
    let _ = verify_inclusion(first, second, &leaf, path, &leaf);
    let _ = verify_consistency(first, second, path, &leaf, &leaf);
}

#[derive(Arbitrary, Debug)]
struct Sizes {
    size: u16,
    index: u16,
    old: u16,
    flip: u8,
}

fn tree_proofs(sizes: Sizes) {
    let size = u64::from(sizes.size % 600) + 1;
    let index = u64::from(sizes.index) % size;
    let old = u64::from(sizes.old) % (size + 1);
    let mut memory = MemoryTree::new();
    let mut range = CompactRange::new();
    for i in 0..size {
        let leaf = leaf_hash(&i.to_be_bytes());
        memory.push(leaf);
        range.push(leaf);
    }
    let root = memory.root_at(size).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(root, range.root());
    let leaf = leaf_hash(&index.to_be_bytes());
    let mut inclusion =
        tree::inclusion_proof(&memory, index, size).unwrap_or_else(|e| panic!("{e:?}"));
    inclusion
        .verify(&leaf, &root)
        .unwrap_or_else(|e| panic!("leaf {index} of {size}: {e}"));
    let old_root = memory.root_at(old).unwrap_or_else(|e| panic!("{e}"));
    let mut consistency =
        tree::consistency_proof(&memory, old, size).unwrap_or_else(|e| panic!("{e:?}"));
    consistency
        .verify(&old_root, &root)
        .unwrap_or_else(|e| panic!("{old} to {size}: {e}"));
    if !inclusion.hashes.is_empty() {
        let at = usize::from(sizes.flip) % inclusion.hashes.len();
        inclusion.hashes[at].0[0] ^= 1;
        assert!(
            inclusion.verify(&leaf, &root).is_err(),
            "a changed proof verifies"
        );
    }
    if !consistency.hashes.is_empty() {
        let at = usize::from(sizes.flip) % consistency.hashes.len();
        consistency.hashes[at].0[0] ^= 1;
        assert!(
            consistency.verify(&old_root, &root).is_err(),
            "a changed consistency proof verifies ({old} to {size})"
        );
    }
}

fn tiles(bytes: &[u8]) {
    let Some((&width, body)) = bytes.split_first() else {
        return;
    };
    let width = usize::from(width) + 1;
    if let Some(hashes) = decode_tile(body, width) {
        assert_eq!(hashes.len(), width);
        assert_eq!(encode_tile(&hashes), body);
    }
    if let Some(entries) = decode_bundle(body, width) {
        assert_eq!(entries.len(), width);
        assert_eq!(encode_bundle(&entries), body);
    }
}
