//! Tamper-evident audit ledger: an append-only transparency log.
//!
//! Anyone holding a signed checkpoint can check that an entry is in the log (inclusion proof)
//! and that the log was only ever appended to (consistency proof). The ledger knows nothing of
//! what its entries mean: they are bytes, and personal identifiers reach them only as keyed
//! [`commitment`]s made by the layer above.
//!
//! # On-disk layout
//!
//! ```text
//! DIR/log                 append-only log of entry and commit frames; the source of truth (wal)
//! DIR/checkpoint          latest signed checkpoint (C2SP tlog-checkpoint), with cosignatures
//! DIR/tile/<L>/<N>[.p/W]  hash tiles (C2SP tlog-tiles)
//! DIR/tile/entries/<N>…   entry bundles (C2SP tlog-tiles)
//! DIR/log.vkey            the log's public key (C2SP signed-note vkey)
//! DIR/private/            0700: log signing key and commitment key, 0600 each (keys)
//! DIR/LOCK                advisory lock held by the one writer
//! DIR/tmp/                scratch for atomic renames; emptied on open
//!
//! Every file is created 0600 and every directory 0700 (`files`): entry bundles hold whole
//! audit records.
//! ```
//!
//! # Crash safety
//!
//! Only `log` is fsynced, and an append is acknowledged only after the `fdatasync` that covers
//! its batch and the batch's commit frame (see [`wal`]). Everything else is derived from `log`:
//! on open, the log is scanned, an unacknowledged tail (at most one batch) is cut, and every full
//! tile and bundle is compared with what the log implies and rewritten if missing or different.
//! Published files are replaced by rename, so a reader sees an old or a new version, never half
//! of one. Commit frames make batches atomic: after a crash at any instant, a batch is either
//! entirely present (its `fdatasync` completed, so it was or could have been acknowledged) or
//! entirely absent (nobody was told it was written). So every acknowledged entry is present and
//! nothing partial is ever visible.
//! Damage that no crash can cause (a bad frame followed by a commit, a tail longer than a batch,
//! a published checkpoint larger than the log) stops the open with [`LedgerError::Corrupt`] or
//! [`LedgerError::CheckpointAhead`] instead of being repaired away.

//!
//! # Benchmark
//!
//! `cargo run --release -p utbyte-ledger --bin ledger-bench` prints durable appends/s and
//! acknowledgement latency with 1, 8 and 64 appenders, and proof size and verification time at
//! 10 million entries, against the anchors of the audit-ledger issue (see `src/bin/ledger_bench.rs`).

pub mod checkpoint;
pub mod commitment;
mod error;
mod files;
pub mod hash;
pub mod keys;
mod ledger;
pub mod note;
pub mod proof;
pub mod tiles;
pub mod tree;
pub mod verify;
pub mod wal;
pub mod witness;
mod writer;

pub use checkpoint::{
    cosign, open_checkpoint, verify_cosignature, verify_note_signature, Checkpoint, CheckpointError,
};
pub use commitment::{Commitment, CommitmentKey};
pub use error::LedgerError;
pub use hash::{leaf_hash, Hash};
pub use ledger::{read_bundle_entry, Appending, Ledger, LedgerOptions, Recovery};
pub use note::{Note, NoteError, SignerKey, VerifierKey};
pub use proof::{ConsistencyProof, InclusionProof, ProofError};
pub use witness::{Witness, WitnessError};
pub use writer::Receipt;

/// File name of the log inside a ledger directory.
pub const LOG_FILE: &str = "log";
