//! The tree published as C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>).
//!
//! A tile is 256 consecutive hashes at one tile level: level 0 holds leaf hashes, level `l`
//! holds the roots of the full tiles of level `l - 1` (subtrees of 256^l leaves). Full tiles and
//! full entry bundles never change once written, so they can be cached and mirrored forever;
//! only the rightmost, partial tiles (`.p/<W>`) and the checkpoint change as the log grows.

use crate::error::LedgerError;
use crate::hash::{node_hash, Hash, HASH_LEN};
use crate::tree::HashSource;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Hashes per full tile.
pub const TILE_WIDTH: usize = 256;
/// Tree levels spanned by one tile level.
pub const TILE_HEIGHT: u32 = 8;

/// `N` encoded as zero-padded 3-digit path elements, all but the last prefixed with `x`.
fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn with_width(base: String, width: usize) -> String {
    if width == TILE_WIDTH {
        base
    } else {
        format!("{base}.p/{width}")
    }
}

/// `tile/<L>/<N>[.p/<W>]`, relative to the ledger directory.
pub fn tile_path(level: u32, index: u64, width: usize) -> String {
    with_width(format!("tile/{level}/{}", encode_index(index)), width)
}

/// `tile/entries/<N>[.p/<W>]`, relative to the ledger directory.
pub fn bundle_path(index: u64, width: usize) -> String {
    with_width(format!("tile/entries/{}", encode_index(index)), width)
}

/// The directory that holds every partial version of a tile (`…/<N>.p`).
pub fn partial_dir(full_path: &str) -> String {
    format!("{full_path}.p")
}

/// How many hashes tile `index` at tile level `level` holds in a tree of `size` leaves.
pub fn tile_width(level: u32, index: u64, size: u64) -> usize {
    let at_level = size.checked_shr(TILE_HEIGHT * level).unwrap_or(0);
    let start = index.saturating_mul(TILE_WIDTH as u64);
    at_level.saturating_sub(start).min(TILE_WIDTH as u64) as usize
}

/// The root of a perfect subtree whose leaves (at any height) are `hashes`; `len` is a power of 2.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    let mut layer: Vec<Hash> = hashes.to_vec();
    while layer.len() > 1 {
        layer = layer
            .chunks(2)
            .map(|p| {
                if p.len() == 2 {
                    node_hash(&p[0], &p[1])
                } else {
                    p[0]
                }
            })
            .collect();
    }
    layer.first().copied().unwrap_or_default()
}

/// Serialises hashes as a tile file body.
pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Parses a tile file body of exactly `width` hashes.
pub fn decode_tile(bytes: &[u8], width: usize) -> Option<Vec<Hash>> {
    if bytes.len() != width * HASH_LEN {
        return None;
    }
    Some(
        bytes
            .chunks_exact(HASH_LEN)
            .filter_map(Hash::from_slice)
            .collect(),
    )
}

/// Serialises entries as an entry bundle: each entry prefixed by its big-endian u16 length.
pub fn encode_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let e = e.as_ref();
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// Parses an entry bundle, requiring exactly `width` entries and no trailing bytes.
pub fn decode_bundle(bytes: &[u8], width: usize) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(width);
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = u16::from_be_bytes(*len) as usize;
        let entry = tail.get(..len)?;
        out.push(entry.to_vec());
        rest = &tail[len..];
    }
    (out.len() == width).then_some(out)
}

/// A full tile that has just been completed.
#[derive(Debug, Clone)]
pub struct FullTile {
    pub level: u32,
    pub index: u64,
    pub hashes: Vec<Hash>,
}

/// Builds tiles as leaves arrive, keeping only the rightmost partial tile of each level.
#[derive(Debug, Clone, Default)]
pub struct TileBuilder {
    /// Per tile level: index of the partial tile, and its hashes.
    levels: Vec<(u64, Vec<Hash>)>,
}

impl TileBuilder {
    /// Appends a leaf hash and returns the full tiles it completes (lowest level first).
    pub fn push(&mut self, leaf: Hash) -> Vec<FullTile> {
        let mut done = Vec::new();
        let mut level = 0usize;
        let mut hash = leaf;
        loop {
            if self.levels.len() <= level {
                self.levels.push((0, Vec::with_capacity(TILE_WIDTH)));
            }
            let (index, hashes) = &mut self.levels[level];
            hashes.push(hash);
            if hashes.len() < TILE_WIDTH {
                return done;
            }
            let full = std::mem::replace(hashes, Vec::with_capacity(TILE_WIDTH));
            hash = perfect_root(&full);
            done.push(FullTile {
                level: level as u32,
                index: *index,
                hashes: full,
            });
            *index += 1;
            level += 1;
        }
    }

    /// The non-empty partial tiles: `(level, index, hashes)`.
    pub fn partials(&self) -> impl Iterator<Item = (u32, u64, &[Hash])> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, (_, h))| !h.is_empty())
            .map(|(l, (i, h))| (l as u32, *i, h.as_slice()))
    }

    /// The partial tile at `level`, if its index is `index`.
    pub fn partial(&self, level: u32, index: u64) -> Option<&[Hash]> {
        self.levels
            .get(level as usize)
            .filter(|(i, h)| *i == index && !h.is_empty())
            .map(|(_, h)| h.as_slice())
    }
}

/// Where tiles come from: files, memory, or both.
pub trait TileFetch {
    /// Tile `index` at tile level `level`, exactly `width` hashes wide.
    fn tile(&self, level: u32, index: u64, width: usize) -> Result<Arc<Vec<Hash>>, LedgerError>;
}

/// Reads published tiles from a ledger directory. A missing partial tile is served from the full
/// tile if it exists (partials may be deleted once their full tile is written).
#[derive(Debug, Clone)]
pub struct DirTiles<'a> {
    pub dir: &'a Path,
}

impl TileFetch for DirTiles<'_> {
    fn tile(&self, level: u32, index: u64, width: usize) -> Result<Arc<Vec<Hash>>, LedgerError> {
        let wanted = tile_path(level, index, width);
        let (path, bytes) = match std::fs::read(self.dir.join(&wanted)) {
            Ok(bytes) => (wanted, bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && width < TILE_WIDTH => {
                let full = tile_path(level, index, TILE_WIDTH);
                let mut bytes = std::fs::read(self.dir.join(&full))
                    .map_err(LedgerError::io("reading", self.dir.join(&full)))?;
                bytes.truncate(width * HASH_LEN);
                (full, bytes)
            }
            Err(e) => {
                return Err(LedgerError::Io {
                    action: "reading",
                    path: self.dir.join(wanted),
                    source: e,
                })
            }
        };
        decode_tile(&bytes, width)
            .map(Arc::new)
            .ok_or_else(|| LedgerError::Tile {
                path,
                detail: format!("expected {width} hashes, found {} bytes", bytes.len()),
            })
    }
}

/// Tiles already fetched for one proof, by (tile level, tile index).
type TileCache = HashMap<(u32, u64), Arc<Vec<Hash>>>;

/// Perfect-subtree hashes of the tree of `size` leaves, computed from tiles (with a small
/// per-proof cache, since one proof reads the same tile several times).
pub struct TileHashes<'a, F: TileFetch> {
    fetch: &'a F,
    size: u64,
    cache: RefCell<TileCache>,
}

impl<'a, F: TileFetch> TileHashes<'a, F> {
    /// Hashes of the tree of `size` leaves, read through `fetch`.
    pub fn new(fetch: &'a F, size: u64) -> Self {
        TileHashes {
            fetch,
            size,
            cache: RefCell::new(HashMap::new()),
        }
    }
}

impl<F: TileFetch> HashSource for TileHashes<'_, F> {
    type Error = LedgerError;

    fn perfect(&self, level: u32, index: u64) -> Result<Hash, LedgerError> {
        let tile_level = level / TILE_HEIGHT;
        let height = level % TILE_HEIGHT;
        let first = index << height;
        let count = 1usize << height;
        let tile_index = first / TILE_WIDTH as u64;
        let offset = (first % TILE_WIDTH as u64) as usize;
        let width = tile_width(tile_level, tile_index, self.size);
        if offset + count > width {
            return Err(LedgerError::Tile {
                path: tile_path(tile_level, tile_index, width.max(1)),
                detail: format!(
                    "subtree at level {level}, index {index} is outside a tree of size {}",
                    self.size
                ),
            });
        }
        let cached = self.cache.borrow().get(&(tile_level, tile_index)).cloned();
        let tile = match cached {
            Some(tile) => tile,
            None => {
                let tile = self.fetch.tile(tile_level, tile_index, width)?;
                self.cache
                    .borrow_mut()
                    .insert((tile_level, tile_index), tile.clone());
                tile
            }
        };
        Ok(perfect_root(&tile[offset..offset + count]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(tile_path(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(1, 5, 17), "tile/1/005.p/17");
        assert_eq!(bundle_path(1000, 256), "tile/entries/x001/000");
    }

    #[test]
    fn widths_follow_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level
        // 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17, and
        // one partial level 2 tile of width 1."
        assert_eq!(tile_width(0, 272, 70_000), 256);
        assert_eq!(tile_width(0, 273, 70_000), 112);
        assert_eq!(tile_width(1, 0, 70_000), 256);
        assert_eq!(tile_width(1, 1, 70_000), 17);
        assert_eq!(tile_width(2, 0, 70_000), 1);
        assert_eq!(tile_width(3, 0, 70_000), 0);
        assert_eq!(tile_width(1, 0, 256), 1);
    }

    #[test]
    fn bundles_round_trip_and_reject_garbage() {
        let entries = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        let bytes = encode_bundle(&entries);
        assert_eq!(decode_bundle(&bytes, 3), Some(entries));
        assert_eq!(decode_bundle(&bytes, 2), None);
        assert_eq!(decode_bundle(&bytes[..bytes.len() - 1], 3), None);
    }
}
