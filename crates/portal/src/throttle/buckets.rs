//! The budget of guesses per source address: a token bucket per [`Source`], in a map of bounded
//! size.
//!
//! A bucket holds at most [`BURST`] tokens and gains [`PER_MINUTE`] a minute. A sign-in takes a
//! token before anything is computed; a wrong password keeps it, anything else gives it back
//! (`SourceBuckets::give_back`). So the budget counts guesses, not sign-ins: an office behind
//! one address, whose people mostly type their passwords right, is not throttled by its own
//! colleagues.

use super::{make_room, Source};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Tokens a source starts with, and can save up to. Ten lets a person mistype a few times and
/// still meet the lock (five failures on one username) before the budget; with [`PER_MINUTE`]
/// it bounds what one address can make the node compute to ten argon2 runs a minute after the
/// first ten, and password spraying across usernames to ten guesses a minute.
pub const BURST: f64 = 10.0;

/// Tokens a source gains a minute.
pub const PER_MINUTE: f64 = 10.0;

/// Sources tracked at most: ten thousand buckets are under a megabyte. More addresses than that
/// active at once push out the least recently seen, which only gives those a fresh budget.
pub const MAX_SOURCES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The tokens at `now`, refilled since the last change.
    fn level(&self, now: Instant) -> f64 {
        let minutes = now.saturating_duration_since(self.at).as_secs_f64() / 60.0;
        (self.tokens + minutes * PER_MINUTE).min(BURST)
    }
}

/// Every tracked source's bucket.
pub(crate) struct SourceBuckets {
    buckets: HashMap<Source, Bucket>,
    capacity: usize,
}

impl SourceBuckets {
    pub fn new(capacity: usize) -> Self {
        Self {
            buckets: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Takes a token for one guess from `source`; without one, how long until there is one.
    pub fn take(&mut self, source: Source, now: Instant) -> Result<(), Duration> {
        if !self.buckets.contains_key(&source) {
            // A full bucket is what a source without one has: forgetting those loses nothing.
            make_room(
                &mut self.buckets,
                self.capacity,
                |b| b.level(now) >= BURST,
                |b| b.at,
            );
        }
        let bucket = self.buckets.entry(source).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        let level = bucket.level(now);
        if level >= 1.0 {
            *bucket = Bucket {
                tokens: level - 1.0,
                at: now,
            };
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - level) * 60.0 / PER_MINUTE))
        }
    }

    /// Returns the token of a sign-in that guessed nothing (a success, no turn at hashing).
    pub fn give_back(&mut self, source: Source, now: Instant) {
        if let Some(bucket) = self.buckets.get_mut(&source) {
            *bucket = Bucket {
                tokens: (bucket.level(now) + 1.0).min(BURST),
                at: now,
            };
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn source(n: u32) -> Source {
        Source::of(Some(SocketAddr::from((
            Ipv4Addr::from(0x0a00_0000 + n),
            443,
        ))))
    }

    fn take_all(buckets: &mut SourceBuckets, source: Source, now: Instant) -> usize {
        (0..100)
            .take_while(|_| buckets.take(source, now).is_ok())
            .count()
    }

    #[test]
    fn a_source_has_its_burst_then_refills_at_the_rate() {
        let mut buckets = SourceBuckets::new(MAX_SOURCES);
        let start = Instant::now();
        let a = source(1);
        assert_eq!(take_all(&mut buckets, a, start), 10);
        let wait = buckets.take(a, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(6), "one token per six seconds");
        // Five seconds later still nothing; six, one token; a minute, ten.
        assert!(buckets.take(a, start + Duration::from_secs(5)).is_err());
        let later = start + Duration::from_secs(6);
        assert!(buckets.take(a, later).is_ok());
        assert!(buckets.take(a, later).is_err());
        let minute = later + Duration::from_secs(60);
        assert_eq!(take_all(&mut buckets, a, minute), 10);
        // Saving up never goes beyond the burst.
        let hour = minute + Duration::from_secs(3600);
        assert_eq!(take_all(&mut buckets, a, hour), 10);
    }

    #[test]
    fn given_back_tokens_do_not_count_and_never_exceed_the_burst() {
        let mut buckets = SourceBuckets::new(MAX_SOURCES);
        let now = Instant::now();
        let office = source(7);
        for _ in 0..50 {
            buckets.take(office, now).unwrap();
            buckets.give_back(office, now);
        }
        assert_eq!(take_all(&mut buckets, office, now), 10);
        buckets.give_back(source(8), now);
        assert_eq!(buckets.len(), 1, "giving back creates no bucket");
    }

    #[test]
    fn sources_are_isolated() {
        let mut buckets = SourceBuckets::new(MAX_SOURCES);
        let now = Instant::now();
        assert_eq!(take_all(&mut buckets, source(1), now), 10);
        assert!(buckets.take(source(1), now).is_err());
        assert_eq!(take_all(&mut buckets, source(2), now), 10);
        assert_eq!(take_all(&mut buckets, Source::Unknown, now), 10);
    }

    #[test]
    fn the_map_stays_bounded_under_a_flood_of_addresses() {
        let capacity = 1000;
        let mut buckets = SourceBuckets::new(capacity);
        let now = Instant::now();
        // A hundred thousand addresses, each with one guess, all within the same second.
        for n in 0..100_000 {
            buckets.take(source(n), now).unwrap();
            assert!(buckets.len() <= capacity, "{} buckets", buckets.len());
        }
        // The newest are still tracked: the last source has spent its token.
        assert_eq!(take_all(&mut buckets, source(99_999), now), 9);
        // Once refilled, entries carry nothing and are forgotten before anything active.
        let later = now + Duration::from_secs(120);
        let spent = source(200_000);
        assert_eq!(take_all(&mut buckets, spent, later), 10);
        for n in 300_000..300_000 + capacity as u32 / 2 {
            buckets.take(source(n), later).unwrap();
        }
        assert!(
            buckets.take(spent, later).is_err(),
            "an active source was forgotten while idle ones were kept"
        );
    }
}
