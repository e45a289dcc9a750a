//! Property tests: for random trees and random append sequences, every acknowledged entry is
//! provable and any two checkpoints are consistent.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use utbyte_ledger::tiles::{TileBuilder, TileFetch, TileHashes, TILE_WIDTH};
use utbyte_ledger::tree::{self, CompactRange, MemoryTree};
use utbyte_ledger::{leaf_hash, open_checkpoint, Hash, Ledger, LedgerError, LedgerOptions};

/// Tiles kept in memory, as the benchmark does, to compare tile-based proofs with the reference.
#[derive(Default)]
struct MemTiles {
    full: HashMap<(u32, u64), Vec<Hash>>,
    builder: TileBuilder,
}

impl TileFetch for MemTiles {
    fn tile(&self, level: u32, index: u64, width: usize) -> Result<Arc<Vec<Hash>>, LedgerError> {
        let hashes = match self.builder.partial(level, index) {
            Some(h) if h.len() >= width => h,
            _ => self
                .full
                .get(&(level, index))
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        };
        Ok(Arc::new(hashes.get(..width).unwrap_or_default().to_vec()))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Proofs built from tiles equal proofs built from the full tree, and both verify, for sizes
    /// on both sides of tile boundaries.
    #[test]
    fn tile_proofs_equal_reference_proofs_and_verify(n in 1u64..700, m_seed: u64, old_seed: u64) {
        let mut reference = MemoryTree::new();
        let mut tiles = MemTiles::default();
        let mut range = CompactRange::new();
        for i in 0..n {
            let leaf = leaf_hash(&i.to_be_bytes());
            reference.push(leaf);
            range.push(leaf);
            for full in tiles.builder.push(leaf) {
                tiles.full.insert((full.level, full.index), full.hashes);
            }
        }
        let root = reference.root_at(n).unwrap();
        prop_assert_eq!(root, range.root());
        let from_tiles = TileHashes::new(&tiles, n);
        prop_assert_eq!(tree::root(&from_tiles, n).unwrap(), root);

        let m = m_seed % n;
        let proof = tree::inclusion_proof(&reference, m, n).unwrap();
        prop_assert_eq!(&tree::inclusion_proof(&from_tiles, m, n).unwrap(), &proof);
        prop_assert!(proof.verify(&leaf_hash(&m.to_be_bytes()), &root).is_ok());
        prop_assert!(proof.verify(&leaf_hash(&(m + 1).to_be_bytes()), &root).is_err());

        let old = old_seed % (n + 1);
        let consistency = tree::consistency_proof(&reference, old, n).unwrap();
        prop_assert_eq!(&tree::consistency_proof(&from_tiles, old, n).unwrap(), &consistency);
        prop_assert!(consistency.verify(&reference.root_at(old).unwrap(), &root).is_ok());
        if old > 0 && old < n {
            let wrong = reference.root_at(old - 1).unwrap();
            prop_assert!(consistency.verify(&wrong, &root).is_err());
        }
        prop_assert!(TILE_WIDTH == 256);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Random rounds of concurrent appends with random sizes; a checkpoint after each round.
    /// Every acknowledged entry is provable in every checkpoint that contains it, and every pair
    /// of checkpoints is consistent.
    #[test]
    fn every_acknowledged_entry_is_provable_and_checkpoints_are_consistent(
        rounds in prop::collection::vec((1usize..9, prop::collection::vec(0usize..400, 1..40)), 1..6)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::create(dir.path(), "prop.utbyte.invalid/log", LedgerOptions::default()).unwrap());
        let mut acked: Vec<(u64, Hash)> = Vec::new();
        let mut checkpoints = Vec::new();
        for (round, (threads, sizes)) in rounds.iter().enumerate() {
            let sizes = Arc::new(sizes.clone());
            let handles: Vec<_> = (0..*threads).map(|t| {
                let (ledger, sizes) = (ledger.clone(), sizes.clone());
                std::thread::spawn(move || {
                    sizes.iter().enumerate().map(|(i, len)| {
                        let entry = format!("r{round} t{t} i{i} {}", "q".repeat(*len)).into_bytes();
                        let receipt = ledger.append(&entry).unwrap();
                        assert!(receipt.index < receipt.tree_size);
                        (receipt.index, leaf_hash(&entry))
                    }).collect::<Vec<_>>()
                })
            }).collect();
            for h in handles {
                acked.extend(h.join().unwrap());
            }
            let note = ledger.checkpoint().unwrap();
            checkpoints.push(open_checkpoint(&note.to_string(), ledger.verifier()).unwrap().0);
        }
        let mut indices: Vec<u64> = acked.iter().map(|(i, _)| *i).collect();
        indices.sort_unstable();
        prop_assert_eq!(indices, (0..acked.len() as u64).collect::<Vec<_>>(), "indices are dense and unique");
        for (index, leaf) in &acked {
            for cp in checkpoints.iter().filter(|cp| cp.size > *index) {
                prop_assert!(ledger.inclusion_proof(*index, cp.size).unwrap().verify(leaf, &cp.root).is_ok());
            }
        }
        for a in &checkpoints {
            for b in checkpoints.iter().filter(|b| b.size >= a.size) {
                prop_assert!(ledger.consistency_proof(a.size, b.size).unwrap().verify(&a.root, &b.root).is_ok());
            }
        }
    }
}
