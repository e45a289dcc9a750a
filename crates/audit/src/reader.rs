//! Reading a ledger directory the way an auditor does: from the signed checkpoint and the
//! published tiles and bundles only, without opening (or locking) the writer's log.

use crate::error::AuditError;
use crate::record::AuditRecord;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use utbyte_ledger::tiles::{bundle_path, decode_bundle, DirTiles, TileHashes, TILE_WIDTH};
use utbyte_ledger::{
    keys, open_checkpoint, tree, Checkpoint, Hash, InclusionProof, LedgerError, VerifierKey,
};

/// A ledger directory opened read-only at its published checkpoint.
#[derive(Debug)]
pub struct AuditDir {
    dir: PathBuf,
    verifier: VerifierKey,
    checkpoint: Checkpoint,
    checkpoint_text: String,
    /// The last bundle read, since records are mostly read in order.
    cache: RefCell<Option<(u64, Vec<Vec<u8>>)>>,
}

impl AuditDir {
    /// Opens `dir`, verifying its checkpoint with `DIR/log.vkey` (or `key`, if given).
    pub fn open(dir: &Path, key: Option<VerifierKey>) -> Result<Self, AuditError> {
        let verifier = match key {
            Some(k) => k,
            None => keys::load_verifier(dir)?,
        };
        let path = dir.join("checkpoint");
        let text = std::fs::read_to_string(&path).map_err(LedgerError::io("reading", &path))?;
        let (checkpoint, _) = open_checkpoint(&text, &verifier)?;
        Ok(AuditDir {
            dir: dir.to_owned(),
            verifier,
            checkpoint,
            checkpoint_text: text,
            cache: RefCell::new(None),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The verified checkpoint everything is read at.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The checkpoint as published (signed note text, with any cosignatures).
    pub fn checkpoint_text(&self) -> &str {
        &self.checkpoint_text
    }

    /// The log's key.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Number of entries at the checkpoint.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// The raw entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, AuditError> {
        let size = self.size();
        if index >= size {
            return Err(
                LedgerError::from(tree::RangeError::IndexOutOfRange { index, size }).into(),
            );
        }
        let bundle = index / TILE_WIDTH as u64;
        let offset = (index % TILE_WIDTH as u64) as usize;
        let mut cache = self.cache.borrow_mut();
        if cache.as_ref().map(|(b, _)| *b) != Some(bundle) {
            let width = (size - bundle * TILE_WIDTH as u64).min(TILE_WIDTH as u64) as usize;
            *cache = Some((bundle, self.read_bundle(bundle, width)?));
        }
        let entries = cache
            .as_ref()
            .map(|(_, e)| e.as_slice())
            .unwrap_or_default();
        entries.get(offset).cloned().ok_or_else(|| {
            LedgerError::Tile {
                path: bundle_path(bundle, TILE_WIDTH),
                detail: format!("no entry {offset}"),
            }
            .into()
        })
    }

    /// Reads a bundle of `width` entries; a partial one may have been replaced by its full bundle.
    fn read_bundle(&self, bundle: u64, width: usize) -> Result<Vec<Vec<u8>>, AuditError> {
        let exact = bundle_path(bundle, width);
        let full = bundle_path(bundle, TILE_WIDTH);
        let (path, bytes) = match std::fs::read(self.dir.join(&exact)) {
            Ok(b) => (exact, b),
            Err(_) if width < TILE_WIDTH => {
                let b = std::fs::read(self.dir.join(&full))
                    .map_err(LedgerError::io("reading", self.dir.join(&full)))?;
                (full, b)
            }
            Err(e) => {
                return Err(LedgerError::Io {
                    action: "reading",
                    path: self.dir.join(exact),
                    source: e,
                }
                .into())
            }
        };
        let stored = if path.contains(".p/") {
            width
        } else {
            TILE_WIDTH
        };
        let mut entries = decode_bundle(&bytes, stored).ok_or_else(|| LedgerError::Tile {
            path,
            detail: format!("not a bundle of {stored} entries"),
        })?;
        entries.truncate(width);
        Ok(entries)
    }

    /// The audit record at `index`.
    pub fn record(&self, index: u64) -> Result<AuditRecord, AuditError> {
        let leaf = self.entry(index)?;
        AuditRecord::from_leaf(&leaf).map_err(|source| AuditError::Leaf { index, source })
    }

    /// The inclusion proof of entry `index` at the checkpoint, computed from the published tiles.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof, AuditError> {
        let fetch = DirTiles { dir: &self.dir };
        let source = TileHashes::new(&fetch, self.size());
        tree::inclusion_proof(&source, index, self.size()).map_err(|e| match e {
            tree::TreeError::Range(r) => AuditError::Ledger(r.into()),
            tree::TreeError::Source(e) => AuditError::Ledger(e),
        })
    }

    /// Proves entry `index` and checks the proof against the checkpoint before returning it.
    pub fn proven_entry(&self, index: u64) -> Result<(Vec<u8>, Hash, InclusionProof), AuditError> {
        let entry = self.entry(index)?;
        let leaf = utbyte_ledger::leaf_hash(&entry);
        let proof = self.inclusion_proof(index)?;
        proof
            .verify(&leaf, &self.checkpoint.root)
            .map_err(|source| AuditError::Proof { index, source })?;
        Ok((entry, leaf, proof))
    }
}
