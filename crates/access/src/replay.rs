//! Tokens accepted once: an officer assertion is forwarded with one request, so its `jti` seen
//! again within its lifetime is a replay — the assertion was captured and is being reused.
//! Entries are kept until the token's own expiry (after which the token is refused as expired
//! anyway) and the set is bounded, so a flood of assertions cannot grow memory without limit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Assertions remembered at most; beyond this the oldest-expiring are forgotten first. Ten
/// thousand outstanding assertions is far more than any agency's officers make within an
/// assertion's few minutes of life.
pub const MAX_REMEMBERED: usize = 10_000;

/// The `jti`s of tokens accepted and not yet expired.
#[derive(Debug, Default)]
pub struct SeenTokens {
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_id: HashMap<String, u64>,
    by_expiry: BTreeMap<(u64, String), ()>,
}

impl SeenTokens {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `jti` (expiring at `expires`, seconds since the epoch) and says whether it is
    /// new. `now` drops what has expired.
    pub fn first_use(&self, jti: &str, expires: u64, now: u64) -> bool {
        let Ok(mut seen) = self.inner.lock() else {
            return false;
        };
        while let Some((&(at, _), ())) = seen.by_expiry.first_key_value() {
            if at > now && seen.by_id.len() < MAX_REMEMBERED {
                break;
            }
            if let Some(((_, id), ())) = seen.by_expiry.pop_first() {
                seen.by_id.remove(&id);
            }
        }
        if seen.by_id.contains_key(jti) {
            return false;
        }
        seen.by_id.insert(jti.to_owned(), expires);
        seen.by_expiry.insert((expires, jti.to_owned()), ());
        true
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|s| s.by_id.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_once_until_it_expires_and_memory_is_bounded() {
        let seen = SeenTokens::new();
        assert!(seen.first_use("a", 100, 10));
        assert!(!seen.first_use("a", 100, 50), "replayed within its life");
        assert!(seen.first_use("b", 200, 50));
        // At 150 `a` has expired (a replay of it is refused as expired elsewhere) and is gone.
        assert!(seen.first_use("c", 300, 150));
        assert_eq!(seen.len(), 2);
        for i in 0..MAX_REMEMBERED + 10 {
            seen.first_use(&format!("x{i}"), 10_000, 150);
        }
        assert!(seen.len() <= MAX_REMEMBERED);
    }
}
