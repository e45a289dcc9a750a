//! [`Rng`]: the generator's only source of randomness, fixed forever so that a seed means the
//! same data in every version of utbyte and of its dependencies.
//!
//! SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014),
//! the 64-bit mixer Java's `SplittableRandom` uses, with bounded integers drawn by Lemire's
//! multiply-and-reject ("Fast random integer generation in an interval", 2019), so no draw is
//! biased. A crate's generator could change its algorithm or its range sampling in a minor
//! release and silently change the demo's data; twenty lines here cannot. It is not a
//! cryptographic generator and nothing here needs one.

/// A SplitMix64 stream.
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// Uniform in `low..=high` (`low` when `high < low`).
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low).saturating_add(1))
    }

    /// Uniform index into a collection of `len` items (0 when empty).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `per_mille` / 1000.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen item of a non-empty array (emptiness is a compile-time error).
    pub(crate) fn pick<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        const { assert!(N > 0, "pick from an empty list") };
        items[self.index(N)]
    }

    /// An item chosen with the given weights (an array of `(weight, item)`, not all zero).
    pub(crate) fn weighted<T: Copy, const N: usize>(&mut self, items: &[(u64, T); N]) -> T {
        const { assert!(N > 0, "pick from an empty list") };
        let total: u64 = items.iter().map(|(weight, _)| weight).sum();
        let mut draw = self.below(total);
        for &(weight, item) in items {
            if draw < weight {
                return item;
            }
            draw -= weight;
        }
        items[N - 1].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64() {
        // Reference values of SplitMix64 from seed 1234567.
        let mut rng = Rng::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn bounded_draws_stay_in_bounds() {
        let mut rng = Rng::new(7);
        for n in [1_u64, 2, 3, 10, 1000, u64::MAX] {
            for _ in 0..200 {
                assert!(rng.below(n) < n);
            }
        }
        assert_eq!(rng.below(0), 0);
        for _ in 0..200 {
            let value = rng.between(5, 9);
            assert!((5..=9).contains(&value));
        }
        assert_eq!(rng.between(9, 5), 9);
    }
}
