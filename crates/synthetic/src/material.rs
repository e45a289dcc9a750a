//! Synthetic material for files: bytes of noise from the same SplitMix64 stream as the
//! registers, so nothing on the way (compression, deduplication) can shrink them and a seed
//! always gives the same file. The demo's seized material, the attachment tests and the
//! attachment benchmark draw their files here.

use crate::rng::Rng;

/// A stream of noise bytes.
pub struct Noise(Rng);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(Rng::new(seed))
    }

    /// Fills `out` with the next bytes of the stream (blocks whose length is a multiple of 8
    /// continue it exactly).
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut words = out.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.0.next_u64().to_le_bytes());
        }
        let rest = words.into_remainder();
        if !rest.is_empty() {
            let last = self.0.next_u64().to_le_bytes();
            let n = rest.len();
            rest.copy_from_slice(&last[..n]);
        }
    }
}

/// `size` bytes of noise from `seed`.
pub fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; size];
    Noise::new(seed).fill(&mut bytes);
    bytes
}

/// Writes `size` bytes of noise from `seed` to `out`, a block at a time.
pub fn write_noise(out: &mut impl std::io::Write, size: u64, seed: u64) -> std::io::Result<()> {
    let mut noise = Noise::new(seed);
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        noise.fill(&mut block);
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_bytes_and_another_seed_others() {
        assert_eq!(noise(1001, 7), noise(1001, 7));
        assert_ne!(noise(64, 7), noise(64, 8));
        // Blocks of whole words continue one stream: a file written block by block is the
        // file made at once.
        let mut blocks = Noise::new(7);
        let mut parts = vec![0u8; 1024];
        blocks.fill(&mut parts[..512]);
        blocks.fill(&mut parts[512..]);
        assert_eq!(parts, noise(1024, 7));
        let mut written = Vec::new();
        write_noise(&mut written, 3 << 19, 7).unwrap();
        assert_eq!(
            written,
            noise(3 << 19, 7),
            "written across blocks, the same stream"
        );
    }
}
