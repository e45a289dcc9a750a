//! When to try a failed callback again, and when to give up: exponential backoff from a base,
//! capped, with jitter; a dead letter after the configured number of attempts or age.
//!
//! The delay before attempt *n + 1* after *n* failures is `min(cap, base · 2^(n-1))`, of which
//! the upper half is drawn at random ("equal jitter"): never less than half the backoff, so a
//! failing target is not hammered, and spread so that the notices of one outage do not all
//! come back in the same second.

use std::time::Duration;

use time::OffsetDateTime;

/// The retry policy of a node's callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The delay after the first failure (before jitter).
    pub base: Duration,
    /// The longest delay between two attempts.
    pub cap: Duration,
    /// After this many failed attempts a notice is dead.
    pub max_attempts: u32,
    /// A notice scheduled longer ago than this is dead after its next failure.
    pub max_age: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(OffsetDateTime),
    GiveUp,
}

impl RetrySchedule {
    /// The backoff after `failures` failed attempts (at least one), before jitter.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The delay after `failures` failed attempts with `jitter` in `[0, 1)` applied to its
    /// upper half.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let backoff = self.backoff(failures);
        let half = backoff / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// After the `failures`-th failed attempt at `now` of a notice scheduled at `created_at`.
    pub fn after_failure(
        &self,
        failures: u32,
        created_at: OffsetDateTime,
        now: OffsetDateTime,
        jitter: f64,
    ) -> AfterFailure {
        let age = now - created_at;
        if failures >= self.max_attempts || age >= self.max_age {
            return AfterFailure::GiveUp;
        }
        AfterFailure::RetryAt(now + self.delay(failures, jitter))
    }
}

/// A jitter in `[0, 1)` from the system's random source (0.5 if it fails: the schedule then
/// merely loses its spread).
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: RetrySchedule = RetrySchedule {
        base: Duration::from_secs(10),
        cap: Duration::from_secs(300),
        max_attempts: 8,
        max_age: Duration::from_secs(24 * 3600),
    };

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
    }

    #[test]
    fn the_backoff_doubles_up_to_the_cap() {
        let secs: Vec<u64> = (1..=8).map(|n| SCHEDULE.backoff(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(SCHEDULE.backoff(u32::MAX), SCHEDULE.cap, "no overflow");
    }

    #[test]
    fn jitter_spreads_the_upper_half_only() {
        assert_eq!(SCHEDULE.delay(3, 0.0), Duration::from_secs(20));
        assert_eq!(SCHEDULE.delay(3, 0.5), Duration::from_secs(30));
        assert!(SCHEDULE.delay(3, 0.999_999) < Duration::from_secs(40));
        assert_eq!(SCHEDULE.delay(3, 7.0), Duration::from_secs(40), "clamped");
        for _ in 0..100 {
            let jitter = random_jitter();
            assert!((0.0..1.0).contains(&jitter));
        }
    }

    #[test]
    fn a_notice_dies_after_its_attempts_or_its_age() {
        assert_eq!(
            SCHEDULE.after_failure(1, at(0), at(5), 0.0),
            AfterFailure::RetryAt(at(10))
        );
        assert_eq!(
            SCHEDULE.after_failure(7, at(0), at(100), 0.0),
            AfterFailure::RetryAt(at(250))
        );
        assert_eq!(
            SCHEDULE.after_failure(8, at(0), at(100), 0.0),
            AfterFailure::GiveUp
        );
        assert_eq!(
            SCHEDULE.after_failure(2, at(0), at(24 * 3600), 0.0),
            AfterFailure::GiveUp
        );
    }
}
