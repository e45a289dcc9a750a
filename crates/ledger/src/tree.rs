//! Building roots and proofs from stored hashes (RFC 6962 §2.1, RFC 9162 §2.1.3–2.1.4).
//!
//! Generation follows the RFC's recursive definitions (`MTH`, `PATH`, `SUBPROOF`) literally, over
//! any [`HashSource`] that can produce the hash of a *perfect* subtree. Everything a log stores is
//! made of perfect subtrees (tiles hold nothing else), and every imperfect range an RFC proof
//! needs is aligned so that it decomposes into a few perfect ones.

use crate::hash::{empty_root, node_hash, Hash};
use crate::proof::{ConsistencyProof, InclusionProof};

/// Something that knows the hashes of perfect subtrees of one tree.
pub trait HashSource {
    /// Why a hash could not be produced (for example, a missing tile).
    type Error;

    /// `MTH(D[index * 2^level .. (index + 1) * 2^level])`: the root of the perfect subtree of
    /// height `level` at position `index`. Only called for subtrees inside the tree.
    fn perfect(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// A proof or root was asked for outside the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// The index is not below the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// Consistency was asked between sizes in the wrong order.
    #[error("cannot prove tree size {old} consistent with the smaller size {new}")]
    SizesReversed { old: u64, new: u64 },
}

/// Either a range error or the source's own error.
#[derive(Debug, thiserror::Error)]
pub enum TreeError<E> {
    #[error(transparent)]
    Range(#[from] RangeError),
    #[error("reading tree hashes: {0}")]
    Source(E),
}

/// The largest power of two strictly smaller than `n` (for `n >= 2`).
fn split_point(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// `MTH(D[start..end])` for a range aligned as RFC 6962 recursion produces them.
pub fn range_hash<S: HashSource>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.perfect(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split_point(n);
    let left = range_hash(src, start, start + k)?;
    let right = range_hash(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root hash of the tree of `size` leaves.
pub fn root<S: HashSource>(src: &S, size: u64) -> Result<Hash, S::Error> {
    range_hash(src, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (`PATH` in RFC 6962).
pub fn inclusion_proof<S: HashSource>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<InclusionProof, TreeError<S::Error>> {
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size }.into());
    }
    let mut hashes = Vec::new();
    path(src, index, 0, size, &mut hashes).map_err(TreeError::Source)?;
    Ok(InclusionProof {
        index,
        tree_size: size,
        hashes,
    })
}

fn path<S: HashSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < start + k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves
/// (`PROOF` / `SUBPROOF` in RFC 6962 §2.1.2).
pub fn consistency_proof<S: HashSource>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<ConsistencyProof, TreeError<S::Error>> {
    if old > new {
        return Err(RangeError::SizesReversed { old, new }.into());
    }
    let mut hashes = Vec::new();
    if old > 0 && old < new {
        subproof(src, old, 0, new, true, &mut hashes).map_err(TreeError::Source)?;
    }
    Ok(ConsistencyProof {
        old_size: old,
        new_size: new,
        hashes,
    })
}

fn subproof<S: HashSource>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    whole_old_tree: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !whole_old_tree {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, whole_old_tree, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of the perfect subtrees that the binary
/// decomposition of the size gives, largest (leftmost) first. Enough to append and to compute
/// the root in O(log n), without any other stored hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    peaks: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut merges = self.size.trailing_ones();
        while merges > 0 {
            // Invariant: one peak per set bit of `size`, so a pop is always there to take.
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            merges -= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root hash: peaks folded from right to left.
    pub fn root(&self) -> Hash {
        let mut iter = self.peaks.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, peak| node_hash(peak, &acc))
    }
}

/// Every level of a tree held in memory. For tests, the verifier and the 10-million-entry
/// benchmark (hashes only: 64 bytes per leaf).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends one leaf hash, completing every perfect subtree it closes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
    }

    /// The root of the tree of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, MissingHash> {
        if size > self.size() {
            return Err(MissingHash {
                level: 0,
                index: size - 1,
            });
        }
        root(self, size)
    }
}

/// A subtree beyond the end of a [`MemoryTree`] was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no subtree at level {level}, index {index}: beyond the end of the tree")]
pub struct MissingHash {
    pub level: u32,
    pub index: u64,
}

impl HashSource for MemoryTree {
    type Error = MissingHash;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        self.levels
            .get(level as usize)
            .and_then(|l| usize::try_from(index).ok().and_then(|i| l.get(i)))
            .copied()
            .ok_or(MissingHash { level, index })
    }
}
