//! The lock: failed sign-ins counted per pair of source and username, in a book of bounded
//! size. Why per pair, and what happens when many sources fail on one username, is in the
//! [module above](super).
//!
//! A username is kept as a `NameKey` (a keyed hash), never as typed. The book never asks
//! whether an account exists: an unknown username is counted, locked and forgotten exactly like
//! an existing one.

use super::{make_room, Source};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Wrong passwords from one source that lock it out of one username: as many as a person may
/// plausibly mistype, few enough that guessing from one address is hopeless.
pub const MAX_FAILURES: u32 = 5;

/// How long a source's failures on a username count, from its last one — and so how long its
/// lock lasts.
pub const LOCK: Duration = Duration::from_secs(15 * 60);

/// Sources with failures on one username that make it a spread attack: then every source that
/// has failed on it is refused, after one failure instead of [`MAX_FAILURES`]. Three, so that a
/// person mistyping at two machines does not trigger it, while guessing spread over addresses
/// costs a fresh address per guess.
pub const LOCK_SOURCES: usize = 3;

/// Sources remembered per username. Beyond [`LOCK_SOURCES`] more only lengthen the list; when it
/// is full the source whose last failure is oldest is forgotten (it gets one more guess).
pub const SOURCES_PER_NAME: usize = 16;

/// Usernames tracked at most (about ten megabytes when every one has a full list of sources).
pub const MAX_NAMES: usize = 10_000;

/// A username as the book keeps it.
pub(crate) type NameKey = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Failures {
    fn live(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) < LOCK
    }
}

/// The failures on one username, by source.
#[derive(Debug, Default)]
struct Name {
    sources: Vec<(Source, Failures)>,
    last: Option<Instant>,
}

impl Name {
    fn of(&self, source: Source, now: Instant) -> Option<Failures> {
        self.sources
            .iter()
            .find(|(s, f)| *s == source && f.live(now))
            .map(|(_, f)| *f)
    }

    fn failing_sources(&self, now: Instant) -> usize {
        self.sources.iter().filter(|(_, f)| f.live(now)).count()
    }

    fn lock(&self, source: Source, now: Instant) -> Option<Instant> {
        let own = self.of(source, now)?;
        let locked = own.count >= MAX_FAILURES || self.failing_sources(now) >= LOCK_SOURCES;
        locked.then(|| own.last + LOCK)
    }

    fn lapsed(&self, now: Instant) -> bool {
        self.last
            .is_none_or(|last| now.saturating_duration_since(last) >= LOCK)
    }
}

/// Every tracked username's failures.
pub(crate) struct FailureBook {
    names: HashMap<NameKey, Name>,
    capacity: usize,
}

impl FailureBook {
    pub fn new(capacity: usize) -> Self {
        Self {
            names: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Until when `source` may not try `name` at `now`; `None` if it may.
    pub fn locked(&self, name: &NameKey, source: Source, now: Instant) -> Option<Instant> {
        self.names.get(name)?.lock(source, now)
    }

    /// Counts a wrong password from `source` on `name`; returns the lock it leads to, if any.
    pub fn fail(&mut self, name: &NameKey, source: Source, now: Instant) -> Option<Instant> {
        if !self.names.contains_key(name) {
            make_room(
                &mut self.names,
                self.capacity,
                |n| n.lapsed(now),
                |n| n.last,
            );
        }
        let entry = self.names.entry(*name).or_default();
        entry.last = Some(now);
        entry.sources.retain(|(_, f)| f.live(now));
        match entry.sources.iter_mut().find(|(s, _)| *s == source) {
            Some((_, failures)) => {
                failures.count = failures.count.saturating_add(1);
                failures.last = now;
            }
            None => {
                if entry.sources.len() >= SOURCES_PER_NAME {
                    if let Some(oldest) =
                        (0..entry.sources.len()).min_by_key(|&i| entry.sources[i].1.last)
                    {
                        entry.sources.swap_remove(oldest);
                    }
                }
                entry.sources.push((
                    source,
                    Failures {
                        count: 1,
                        last: now,
                    },
                ));
            }
        }
        entry.lock(source, now)
    }

    /// The right password from `source`: its failures on `name` are forgotten, no one else's.
    pub fn succeed(&mut self, name: &NameKey, source: Source) {
        if let Some(entry) = self.names.get_mut(name) {
            entry.sources.retain(|(s, _)| *s != source);
            if entry.sources.is_empty() {
                self.names.remove(name);
            }
        }
    }

    /// Forgets every failure on `name` (an administrator lifted the lock).
    pub fn clear(&mut self, name: &NameKey) {
        self.names.remove(name);
    }

    /// Whether some source is locked out of `name` at `now`.
    pub fn locked_anywhere(&self, name: &NameKey, now: Instant) -> bool {
        self.names
            .get(name)
            .is_some_and(|n| n.sources.iter().any(|(s, _)| n.lock(*s, now).is_some()))
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn source(n: u32) -> Source {
        Source::of(Some(SocketAddr::from((Ipv4Addr::from(0xc000_0200 + n), 1))))
    }

    fn name(n: u32) -> NameKey {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&n.to_be_bytes());
        key
    }

    #[test]
    fn five_failures_lock_the_source_out_of_the_username_only() {
        let mut book = FailureBook::new(MAX_NAMES);
        let now = Instant::now();
        let (anna, attacker, owner) = (name(1), source(66), source(1));
        for _ in 1..MAX_FAILURES {
            assert_eq!(book.fail(&anna, attacker, now), None);
        }
        assert_eq!(book.fail(&anna, attacker, now), Some(now + LOCK));
        assert_eq!(book.locked(&anna, attacker, now), Some(now + LOCK));
        assert!(book.locked_anywhere(&anna, now));
        // The owner, elsewhere, and the attacker on another username are not refused.
        assert_eq!(book.locked(&anna, owner, now), None);
        assert_eq!(book.locked(&name(2), attacker, now), None);
        // The lock lapses fifteen minutes after the last failure, and the count with it.
        let lapsed = now + LOCK;
        assert_eq!(book.locked(&anna, attacker, lapsed), None);
        assert_eq!(book.fail(&anna, attacker, lapsed), None);
    }

    #[test]
    fn a_success_forgets_only_that_sources_failures() {
        let mut book = FailureBook::new(MAX_NAMES);
        let now = Instant::now();
        let anna = name(1);
        for _ in 0..4 {
            book.fail(&anna, source(1), now);
            book.fail(&anna, source(2), now);
        }
        book.succeed(&anna, source(1));
        assert_eq!(
            book.fail(&anna, source(1), now),
            None,
            "counted from one again"
        );
        assert!(book.fail(&anna, source(2), now).is_some(), "its fifth");
    }

    #[test]
    fn failures_from_several_sources_refuse_every_failing_source_but_not_a_clean_one() {
        let mut book = FailureBook::new(MAX_NAMES);
        let now = Instant::now();
        let anna = name(1);
        assert_eq!(book.fail(&anna, source(1), now), None);
        assert_eq!(book.fail(&anna, source(2), now), None);
        // The third source to fail makes it a spread attack: each failing source is refused.
        let third = now + Duration::from_secs(60);
        assert_eq!(book.fail(&anna, source(3), third), Some(third + LOCK));
        for n in 1..=2 {
            assert_eq!(book.locked(&anna, source(n), third), Some(now + LOCK));
        }
        assert_eq!(
            book.locked(&anna, source(4), third),
            None,
            "the owner elsewhere"
        );
        // As the early failures lapse, fewer than three sources are failing: no one is refused.
        let later = now + LOCK;
        assert_eq!(book.locked(&anna, source(3), later), None);
    }

    #[test]
    fn the_sources_of_one_username_are_bounded() {
        let mut book = FailureBook::new(MAX_NAMES);
        let now = Instant::now();
        let anna = name(1);
        for n in 0..1000 {
            book.fail(&anna, source(n), now + Duration::from_millis(u64::from(n)));
        }
        let entry = book.names.get(&anna).unwrap();
        assert_eq!(entry.sources.len(), SOURCES_PER_NAME);
        // The most recent are kept.
        assert!(entry.sources.iter().any(|(s, _)| *s == source(999)));
        assert!(entry.sources.iter().all(|(s, _)| *s != source(0)));
    }

    #[test]
    fn the_book_stays_bounded_and_forgets_lapsed_names_first() {
        let capacity = 1000;
        let mut book = FailureBook::new(capacity);
        let now = Instant::now();
        for n in 0..50_000 {
            book.fail(&name(n), source(1), now);
            assert!(book.len() <= capacity, "{} names", book.len());
        }
        // A name locked now survives a flood of names whose failures have lapsed.
        let later = now + LOCK;
        let target = name(1_000_000);
        for _ in 0..MAX_FAILURES {
            book.fail(&target, source(9), later);
        }
        for n in 2_000_000..2_000_000 + capacity as u32 / 2 {
            book.fail(&name(n), source(1), later);
        }
        assert!(book.locked(&target, source(9), later).is_some());
    }

    #[test]
    fn an_administrators_unlock_forgets_every_source() {
        let mut book = FailureBook::new(MAX_NAMES);
        let now = Instant::now();
        let anna = name(1);
        for _ in 0..MAX_FAILURES {
            book.fail(&anna, source(1), now);
        }
        book.clear(&anna);
        assert!(!book.locked_anywhere(&anna, now));
        assert_eq!(book.len(), 0);
    }
}
