//! Sign-in that cannot be turned against the node: a cap on password hashing, a budget of guesses
//! per source address, and a lock that an attacker cannot aim at someone else.
//!
//! A sign-in is one argon2id computation (19 MiB, tens of milliseconds of a core) whether the
//! username exists or not. Without bounds, 48 anonymous clients posting the sign-in form took a
//! node from 0.56 GB to 4.86 GB and slowed disclosures from 11 ms to 765 ms, and five wrong
//! passwords a quarter of an hour, from anywhere, kept a known account locked for good.
//! `sign_in` decides in this order:
//!
//! 1. **The lock** ([`lockout`]): may this source try this username now? Answering takes no
//!    hashing, so a locked source that keeps trying costs nothing.
//! 2. **The source's budget** ([`buckets`]): a token per guess from a bucket of ten per source
//!    address, refilled at ten a minute. Without a token: 429 with `Retry-After`, before any
//!    hashing and before any failure is counted.
//! 3. **A turn at hashing** ([`hashing`]): at most as many argon2 computations at once as the
//!    machine has cores; no turn within two seconds: 503 with `Retry-After`. Memory for hashing
//!    stays under `cores × 19 MiB` whatever the flood.
//! 4. **The verdict**: a wrong password keeps its token and counts a failure for the pair
//!    (source, username); anything else gives the token back, and the right password forgets this
//!    source's failures on this username.
//!
//! # The lock is per source and username
//!
//! One counter per account — what the account store offers, and what the portal used — lets
//! anyone who knows a username lock its owner out by failing five times a quarter of an hour, and
//! since the store serves no session of a locked account, sign the owner out as well. So failures
//! are counted per pair of source and username, in memory:
//!
//! - **Five wrong passwords from one source lock that source out of that username** for fifteen
//!   minutes from the last. The owner signing in from another address is not refused. One address
//!   can guess five passwords per username per quarter-hour, and ten a minute across usernames.
//! - **When three or more sources have failed on one username within fifteen minutes** — guessing
//!   spread over addresses — every source that has failed on it is refused until its own failures
//!   lapse, after one failure instead of five. A source with no failure on it still signs in with
//!   the right password: spread guessing then costs a fresh address per guess per quarter-hour,
//!   and still locks no one out. The price: during such an attack, an owner who mistyped once is
//!   refused at that machine until the failure lapses (the page says until when), and can sign
//!   in from another or ask an administrator, whose unlock forgets every source's failures.
//!
//! Unknown usernames are counted exactly like existing ones — the book never asks the account
//! store — and their sign-ins verify against the decoy hash through the same cap, so wrong,
//! locked, throttled and busy answers are the same whether the username exists. Only the right
//! password tells. Concurrent attempts from one source can all pass the lock before the first of
//! them is counted; the budget bounds them to ten.
//!
//! # Sources
//!
//! A source is the client's IP address as the connection gives it (`ConnectInfo<SocketAddr>`,
//! which the node's listeners insert); an IPv6 address counts by its /64, the network one host
//! is given. `X-Forwarded-For` is not read: anyone can write it. Without `ConnectInfo` — the
//! portal's router called in-process, as in tests — every request is the one source
//! [`Source::Unknown`]. Behind a proxy every sign-in has the proxy's address, and shares one
//! budget and one lock per username.
//!
//! # Memory
//!
//! The maps are bounded ([`buckets::MAX_SOURCES`] sources, [`lockout::MAX_NAMES`] usernames of
//! [`lockout::SOURCES_PER_NAME`] sources each). When one is full, entries that carry nothing (a
//! full bucket, lapsed failures) go first, then the least recently used: forgetting an active
//! entry gives a source a fresh budget or a clean record and never refuses anyone. A username is
//! kept as a SHA-256 under a key drawn at start, never as typed: what is typed as a username may
//! be a password or a personal identity number in the wrong field. A restart forgets the lot,
//! which an attacker cannot cause.

mod argon;
pub mod buckets;
pub mod hashing;
pub mod lockout;
mod threads;

use crate::identity::{Identity, IdentityProvider, SignInError};
use axum::extract::{ConnectInfo, FromRequestParts};
use buckets::SourceBuckets;
use http::request::Parts;
use lockout::{FailureBook, NameKey};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What a sign-in that found no turn at hashing is told to wait: about as long as a turn may take.
pub const BUSY_RETRY: Duration = hashing::HASH_WAIT;

/// Where a sign-in comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// No address known (the router called in-process): all such requests are one source.
    Unknown,
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 address.
    V6([u16; 4]),
}

impl Source {
    pub fn of(address: Option<SocketAddr>) -> Self {
        match address.map(|a| a.ip().to_canonical()) {
            None => Source::Unknown,
            Some(IpAddr::V4(v4)) => Source::V4(v4),
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                Source::V6([s[0], s[1], s[2], s[3]])
            }
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Unknown => f.write_str("unknown"),
            Source::V4(v4) => write!(f, "{v4}"),
            Source::V6([a, b, c, d]) => write!(f, "{a:x}:{b:x}:{c:x}:{d:x}::/64"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Source::of(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

/// Why a sign-in was not let in.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// This source may not try this username until then.
    Locked { until: Instant },
    /// This source has no guesses left for now (429).
    Throttled { retry_after: Duration },
    /// No turn at hashing (503).
    Busy,
    /// Wrong username or password.
    Rejected,
    /// The right password for a disabled account.
    Disabled,
    /// The account store or hashing failed.
    Failed(SignInError),
}

/// The budgets and failures of every source (see the module documentation).
pub(crate) struct SignInThrottle {
    buckets: Mutex<SourceBuckets>,
    book: Mutex<FailureBook>,
    name_key: [u8; 32],
}

impl SignInThrottle {
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut name_key = [0u8; 32];
        getrandom::fill(&mut name_key)?;
        Ok(Self {
            buckets: Mutex::new(SourceBuckets::new(buckets::MAX_SOURCES)),
            book: Mutex::new(FailureBook::new(lockout::MAX_NAMES)),
            name_key,
        })
    }

    fn name(&self, username: &str) -> NameKey {
        Sha256::new()
            .chain_update(self.name_key)
            .chain_update(username.as_bytes())
            .finalize()
            .into()
    }

    // A panic while a map was held leaves it consistent (every change is one assignment), so a
    // poisoned lock is taken over rather than failing every sign-in after it.
    fn buckets(&self) -> MutexGuard<'_, SourceBuckets> {
        self.buckets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn book(&self) -> MutexGuard<'_, FailureBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether some source is locked out of `username` now (for the administrator's view).
    pub fn locked_anywhere(&self, username: &str) -> bool {
        self.book()
            .locked_anywhere(&self.name(username), Instant::now())
    }

    /// Forgets every failure on `username` (an administrator lifted the lock).
    pub fn clear(&self, username: &str) {
        self.book().clear(&self.name(username));
    }
}

/// Signs `username` in from `source`, in the order the module documentation gives.
pub(crate) async fn sign_in(
    throttle: &SignInThrottle,
    provider: &dyn IdentityProvider,
    source: Source,
    username: &str,
    password: &str,
) -> Result<Identity, Refusal> {
    let name = throttle.name(username);
    if let Some(until) = throttle.book().locked(&name, source, Instant::now()) {
        return Err(Refusal::Locked { until });
    }
    throttle
        .buckets()
        .take(source, Instant::now())
        .map_err(|retry_after| Refusal::Throttled { retry_after })?;
    let outcome = provider.authenticate(username, password).await;
    let now = Instant::now();
    if let Err(SignInError::Rejected) = outcome {
        return Err(match throttle.book().fail(&name, source, now) {
            Some(until) => Refusal::Locked { until },
            None => Refusal::Rejected,
        });
    }
    throttle.buckets().give_back(source, now);
    match outcome {
        Ok(identity) => {
            throttle.book().succeed(&name, source);
            Ok(identity)
        }
        Err(SignInError::Disabled) => {
            throttle.book().succeed(&name, source);
            Err(Refusal::Disabled)
        }
        Err(SignInError::Busy) => Err(Refusal::Busy),
        Err(other) => Err(Refusal::Failed(other)),
    }
}

/// Keeps `map` under `capacity` entries before one is added: forgets the entries `forgettable`
/// says carry nothing and, if that leaves it over nine tenths full, the least recently used down
/// to nine tenths. A sweep costs one pass and frees a tenth, so a flood of new keys costs a
/// constant per key on average.
fn make_room<K: Copy + Eq + Hash, V, T: Ord + Copy>(
    map: &mut HashMap<K, V>,
    capacity: usize,
    forgettable: impl Fn(&V) -> bool,
    last_used: impl Fn(&V) -> T,
) {
    if map.len() < capacity {
        return;
    }
    map.retain(|_, v| !forgettable(v));
    let target = capacity - (capacity / 10).max(1);
    if map.len() <= target {
        return;
    }
    let mut ages: Vec<(T, K)> = map.iter().map(|(k, v)| (last_used(v), *k)).collect();
    let excess = ages.len() - target;
    ages.select_nth_unstable_by_key(excess - 1, |(t, _)| *t);
    for (_, key) in &ages[..excess] {
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider that answers every sign-in the same way and counts how often it was asked.
    struct Answering {
        answer: fn() -> Result<Identity, SignInError>,
        asked: AtomicUsize,
    }

    impl Answering {
        fn new(answer: fn() -> Result<Identity, SignInError>) -> Self {
            Self {
                answer,
                asked: AtomicUsize::new(0),
            }
        }

        fn asked(&self) -> usize {
            self.asked.load(Ordering::SeqCst)
        }
    }

    impl IdentityProvider for Answering {
        fn authenticate<'a>(
            &'a self,
            _: &'a str,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Identity, SignInError>> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { (self.answer)() })
        }
    }

    const ATTACKER: Source = Source::V4(Ipv4Addr::new(198, 51, 100, 66));

    #[tokio::test]
    async fn a_throttled_sign_in_is_never_checked_nor_counted_toward_the_lock() {
        let throttle = SignInThrottle::new().unwrap();
        let wrong = Answering::new(|| Err(SignInError::Rejected));
        for n in 0..10 {
            let answer = sign_in(&throttle, &wrong, ATTACKER, &format!("u{n}"), "x").await;
            assert!(matches!(answer, Err(Refusal::Rejected)));
        }
        for _ in 0..10 {
            let answer = sign_in(&throttle, &wrong, ATTACKER, "anna", "x").await;
            assert!(matches!(answer, Err(Refusal::Throttled { .. })));
        }
        assert_eq!(wrong.asked(), 10);
        assert!(
            !throttle.locked_anywhere("anna"),
            "429s counted as failures"
        );
    }

    #[tokio::test]
    async fn a_locked_source_is_answered_without_asking_or_spending() {
        let throttle = SignInThrottle::new().unwrap();
        let wrong = Answering::new(|| Err(SignInError::Rejected));
        for _ in 0..5 {
            let _ = sign_in(&throttle, &wrong, ATTACKER, "anna", "x").await;
        }
        for _ in 0..50 {
            let answer = sign_in(&throttle, &wrong, ATTACKER, "anna", "x").await;
            assert!(matches!(answer, Err(Refusal::Locked { .. })));
        }
        assert_eq!(wrong.asked(), 5);
        // Five of ten tokens spent: five more guesses at other usernames, then 429.
        for n in 0..5 {
            let answer = sign_in(&throttle, &wrong, ATTACKER, &format!("u{n}"), "x").await;
            assert!(matches!(answer, Err(Refusal::Rejected)));
        }
        let answer = sign_in(&throttle, &wrong, ATTACKER, "u9", "x").await;
        assert!(matches!(answer, Err(Refusal::Throttled { .. })));
    }

    #[tokio::test]
    async fn no_turn_at_hashing_spends_no_token_and_counts_no_failure() {
        let throttle = SignInThrottle::new().unwrap();
        let busy = Answering::new(|| Err(SignInError::Busy));
        for _ in 0..30 {
            let answer = sign_in(&throttle, &busy, ATTACKER, "anna", "x").await;
            assert!(matches!(answer, Err(Refusal::Busy)));
        }
        assert!(!throttle.locked_anywhere("anna"));
        let wrong = Answering::new(|| Err(SignInError::Rejected));
        let answer = sign_in(&throttle, &wrong, ATTACKER, "anna", "x").await;
        assert!(matches!(answer, Err(Refusal::Rejected)));
    }

    #[test]
    fn a_source_is_the_address_or_the_ipv6_network() {
        let at = |text: &str| Source::of(Some(text.parse().unwrap()));
        assert_eq!(at("192.0.2.7:5000"), at("192.0.2.7:6000"), "any port");
        assert_ne!(at("192.0.2.7:1"), at("192.0.2.8:1"));
        assert_eq!(at("[::ffff:192.0.2.7]:1"), at("192.0.2.7:1"), "v4-mapped");
        assert_eq!(at("[2001:db8:1:2::1]:1"), at("[2001:db8:1:2:ffff::9]:1"));
        assert_ne!(at("[2001:db8:1:2::1]:1"), at("[2001:db8:1:3::1]:1"));
        assert_eq!(at("[2001:db8:1:2::1]:1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(at("192.0.2.7:1").to_string(), "192.0.2.7");
        assert_eq!(Source::of(None), Source::Unknown);
    }

    #[test]
    fn making_room_keeps_the_newest_and_evicts_exactly_the_excess() {
        let mut map: HashMap<u32, u32> = (0..100).map(|k| (k, k)).collect();
        make_room(&mut map, 100, |_| false, |v| *v);
        assert_eq!(map.len(), 90);
        assert!((10..100).all(|k| map.contains_key(&k)));
        // Ties do not take more than the excess.
        let mut tied: HashMap<u32, u32> = (0..100).map(|k| (k, 0)).collect();
        make_room(&mut tied, 100, |_| false, |v| *v);
        assert_eq!(tied.len(), 90);
        // What carries nothing goes first.
        let mut idle: HashMap<u32, u32> = (0..100).map(|k| (k, k)).collect();
        make_room(&mut idle, 100, |v| v % 2 == 0, |v| *v);
        assert_eq!(idle.len(), 50);
        assert!(idle.contains_key(&1));
    }

    #[test]
    fn usernames_are_kept_under_a_key_of_this_process() {
        let one = SignInThrottle::new().unwrap();
        let two = SignInThrottle::new().unwrap();
        assert_eq!(one.name("anna"), one.name("anna"));
        assert_ne!(one.name("anna"), one.name("Anna"));
        assert_ne!(one.name("anna"), two.name("anna"));
        let plain: [u8; 32] = Sha256::digest(b"anna").into();
        assert_ne!(one.name("anna"), plain);
    }
}
