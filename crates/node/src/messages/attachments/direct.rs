//! Arriving chunks written to their place without the page cache.
//!
//! A received file is written once and read once, by the case system that fetches it, often
//! much later. Written through the page cache, every byte would be copied into freshly
//! allocated cache pages — the largest single cost of taking a file in, larger than hashing it
//! twice and opening it — and would push out of the cache what the node does read often. So a
//! chunk is written with `O_DIRECT`, straight from its buffer: from an address, at an offset and
//! of a length that are multiples of [`BLOCK`]. A sealed chunk's place is not aligned (chunks are
//! 16 bytes longer than 1 MiB), so each write begins with the bytes of the block the previous
//! chunk ended in, read back from the file, and ends with zeros to the end of its last block,
//! which the next chunk writes over (the file is cut to its size after the last). Chunks are
//! therefore written in order, one at a time. Where the file system does not take `O_DIRECT`
//! (tmpfs, for one), the same writes go through the page cache.

use super::open_private;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use utbyte_message::attachment::SEALED_CHUNK;

/// The alignment of direct writes: a page, which every common device's block divides.
const BLOCK: usize = 4096;

/// The capacity of a chunk buffer: a sealed chunk, the block before it, the padding after it
/// and the slack to align its start.
pub(super) const CAPACITY: usize = SEALED_CHUNK + 3 * BLOCK;

/// One arriving chunk in a buffer laid out for its direct write: alignment slack, then room
/// for the end of the chunk before it, then the chunk.
pub(super) struct Arriving {
    buffer: Vec<u8>,
    /// Where the first aligned byte of the buffer is.
    start: usize,
    /// The chunk's place in the file.
    offset: u64,
}

impl Arriving {
    /// Chunk `index`, empty, in `buffer` (of at least [`CAPACITY`]).
    pub(super) fn new(mut buffer: Vec<u8>, index: u64) -> Self {
        buffer.clear();
        buffer.reserve_exact(CAPACITY);
        let start = (BLOCK - buffer.as_ptr().addr() % BLOCK) % BLOCK;
        let mut arriving = Self {
            buffer,
            start,
            offset: index * SEALED_CHUNK as u64,
        };
        let from = arriving.chunk_start();
        arriving.buffer.resize(from, 0);
        arriving
    }

    /// Bytes of the chunk before this one that share this chunk's first block.
    fn before(&self) -> usize {
        (self.offset % BLOCK as u64) as usize
    }

    fn chunk_start(&self) -> usize {
        self.start + self.before()
    }

    /// Adds bytes that arrived; `false` (and nothing added) if the chunk would grow longer than
    /// a sealed chunk.
    pub(super) fn extend(&mut self, bytes: &[u8]) -> bool {
        if self.chunk().len() + bytes.len() > SEALED_CHUNK {
            return false;
        }
        self.buffer.extend_from_slice(bytes);
        true
    }

    /// The chunk's bytes.
    pub(super) fn chunk(&self) -> &[u8] {
        &self.buffer[self.chunk_start()..]
    }

    pub(super) fn chunk_mut(&mut self) -> &mut [u8] {
        let from = self.chunk_start();
        &mut self.buffer[from..]
    }

    /// Writes the chunk at its place in the file at `path`, whose chunks before it are written.
    pub(super) fn write(&mut self, path: &Path) -> io::Result<()> {
        let (from, len) = (self.chunk_start(), self.chunk().len());
        let aligned = self.offset - self.before() as u64;
        if self.before() > 0 {
            let file = open_private(path)?;
            file.read_exact_at(&mut self.buffer[self.start..from], aligned)?;
        }
        let end = self.start + (self.before() + len).next_multiple_of(BLOCK);
        // Within the capacity: the buffer does not move.
        self.buffer.resize(end, 0);
        let written = write_direct(path, &self.buffer[self.start..end], aligned);
        self.buffer.truncate(from + len);
        written
    }

    pub(super) fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }
}

/// Writes aligned `bytes` at `offset` with `O_DIRECT`, or through the page cache where the
/// file system refuses it.
fn write_direct(path: &Path, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let direct = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .and_then(|file| file.write_all_at(bytes, offset));
    match direct {
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
            open_private(path)?.write_all_at(bytes, offset)
        }
        done => done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks written in order make the file the sealed chunks end to end, on the disk and in
    /// memory (tmpfs).
    #[test]
    fn chunks_written_in_order_are_the_file_end_to_end() {
        let chunks: Vec<Vec<u8>> = (0..4u8)
            .map(|i| {
                let len = if i == 3 { 5000 } else { SEALED_CHUNK };
                (0..len).map(|b| (b % 251) as u8 ^ i).collect()
            })
            .collect();
        let size = chunks.iter().map(Vec::len).sum::<usize>();
        for dir in [tempfile::tempdir(), tempfile::tempdir_in("/dev/shm")] {
            let dir = dir.unwrap();
            let path = dir.path().join("0.data");
            for (i, chunk) in chunks.iter().enumerate() {
                let mut arriving = Arriving::new(Vec::new(), i as u64);
                assert!(arriving.extend(&chunk[..100]));
                assert!(arriving.extend(&chunk[100..]));
                assert!(!arriving.extend(&[0; SEALED_CHUNK]), "longer than a chunk");
                assert_eq!(arriving.chunk(), &chunk[..]);
                arriving.write(&path).unwrap();
                assert_eq!(
                    arriving.chunk(),
                    &chunk[..],
                    "the chunk unchanged by its write"
                );
            }
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            assert!(file.metadata().unwrap().len() >= size as u64);
            file.set_len(size as u64).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), chunks.concat());
        }
    }
}
