//! Verifying inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2).
//!
//! These functions are what an auditor runs: they need nothing but the proof, the sizes and the
//! hashes, and share no code with proof *generation* ([`crate::tree`]), so a bug in one cannot
//! hide a bug in the other. Both are checked against published RFC 6962 vectors in the tests.

use crate::hash::{node_hash, Hash};
use serde::{Deserialize, Serialize};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The second tree is smaller than the first: logs only grow.
    #[error("tree size {second} is smaller than {first}: a log never shrinks")]
    SizesReversed { first: u64, second: u64 },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {got} hashes; a proof for these tree sizes has {expected}")]
    WrongLength { got: usize, expected: usize },
    /// The proof's hashes do not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
}

/// An RFC 9162 inclusion proof, in the JSON form printed by `utbyte audit prove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Index of the leaf (0-based).
    pub index: u64,
    /// Size of the tree the proof is for.
    pub tree_size: u64,
    /// Hashes from the leaf's sibling up to the root's child, base64 in JSON.
    pub hashes: Vec<Hash>,
}

/// An RFC 9162 consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The earlier tree size.
    pub old_size: u64,
    /// The later tree size.
    pub new_size: u64,
    /// The proof's hashes, base64 in JSON.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf` is at `self.index` in the tree with root `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(self.index, self.tree_size, leaf, &self.hashes, root)
    }

    /// Size of the proof's hashes in bytes (what travels on the wire, before encoding).
    pub fn byte_len(&self) -> usize {
        self.hashes.len() * crate::hash::HASH_LEN
    }
}

impl ConsistencyProof {
    /// Checks that the tree with `new_root` extends the tree with `old_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(
            self.old_size,
            self.new_size,
            &self.hashes,
            old_root,
            new_root,
        )
    }
}

/// The root implied by an inclusion proof of `leaf` at `index` in a tree of `size`.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut root = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::RootMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            root = node_hash(p, &root);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            root = node_hash(&root, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::RootMismatch);
    }
    Ok(root)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(index, size, leaf, proof)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2). The empty tree is consistent with every
/// tree, and a tree with itself, in both cases with an empty proof.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Hash],
    first_root: &Hash,
    second_root: &Hash,
) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesReversed { first, second });
    }
    if first == second || first == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                expected: 0,
            });
        }
        return if first == 0 || first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let expected = consistency_proof_len(first, second);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            got: proof.len(),
            expected,
        });
    }
    // When the old tree is a perfect subtree of the new one, its root is the proof's implicit
    // first element.
    let mut hashes: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        hashes.push(*first_root);
    }
    hashes.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if snode == 0 {
            return Err(ProofError::RootMismatch);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode == 0 && fr == *first_root && sr == *second_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Number of hashes in an inclusion proof: the inner path below the point where the leaf's path
/// and the right border of the tree meet, plus one hash per set bit of the border above it.
/// (`inner` is 64 for a tree of more than 2^63 leaves, where nothing is left above it.)
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = u64::BITS - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in a consistency proof for `0 < first < second`.
fn consistency_proof_len(first: u64, second: u64) -> usize {
    let inner = u64::BITS - ((first - 1) ^ (second - 1)).leading_zeros();
    let border = (first - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let shift = (first - 1).trailing_ones();
    let start = if first.is_power_of_two() { 0 } else { 1 };
    (inner - shift.min(inner)) as usize + border as usize + start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_of_more_than_2_pow_63_leaves_are_judged_without_overflow() {
        // A proof's sizes are whatever its sender wrote; such a tree is 64 levels deep.
        let leaf = Hash::default();
        assert_eq!(
            root_from_inclusion(0, u64::MAX, &leaf, &[]),
            Err(ProofError::WrongLength {
                got: 0,
                expected: 64
            })
        );
        assert!(root_from_inclusion(0, u64::MAX, &leaf, &[leaf; 64]).is_ok());
        assert_eq!(
            verify_consistency(1, u64::MAX, &[], &leaf, &leaf),
            Err(ProofError::WrongLength {
                got: 0,
                expected: 64
            })
        );
    }
}
