//! The `[recovery]` section of node.toml: how a node drives exchanges left in flight to an end,
//! and how long, as a provider, it keeps the answers it signed so that a recipient recovering
//! after a crash can ask again.
//!
//! ```toml
//! [recovery]
//! grace_seconds = 60            # a request in flight this long has lost its sender
//! give_up_hours = 24            # a provider unreachable this long: the request fails
//! answer_retention_hours = 48   # as provider: request ids and signed answers kept this long
//! reconcile_seconds = 300       # how often receipts are reconciled with providers' ledgers
//! ```

use serde::Deserialize;
use time::Duration;

/// Recovery of exchanges in flight, on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecoveryConfig {
    /// How long a request may stay in flight before the background round takes it to have lost
    /// the task that sent it (the node crashed, or the case system hung up and the handler was
    /// dropped). It must be longer than `limits.request_timeout_ms`, the longest a handler can
    /// still be waiting for the answer, so recovery never races a live exchange. Requests left
    /// in flight by an earlier run of the node are recovered at start without waiting.
    pub grace_seconds: u64,
    /// How long recovery keeps asking a provider it cannot reach (or that answers with a server
    /// error) before the request is marked failed. A day rides out a provider's maintenance
    /// window or a night's outage, yet a case system learns of the failure the next working day.
    pub give_up_hours: u64,
    /// How long this node, as provider, remembers a request id with the answer it signed. It
    /// bounds how late a recipient can recover an exchange, so it is twice the default
    /// `give_up_hours`: a recipient that gives up on its own schedule still finds the answer
    /// while it tries. It is not longer because a kept answer holds disclosed values, which
    /// are personal data kept only for as long as recovery needs them.
    pub answer_retention_hours: u64,
    /// How often this node reconciles its receipts with every provider's ledger
    /// ([`crate::reconcile`]): each round reads only what the providers recorded since the
    /// last, so a few minutes costs little and an auditor rarely waits for a gap to show.
    pub reconcile_seconds: u64,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            grace_seconds: 60,
            give_up_hours: 24,
            answer_retention_hours: 48,
            reconcile_seconds: 300,
        }
    }
}

impl RecoveryConfig {
    /// Checks what TOML types cannot; the message names the option. `request_timeout_ms` is
    /// the local listener's limit, which the grace period must exceed.
    pub fn validate(&self, request_timeout_ms: u64) -> Result<(), String> {
        if self.grace_seconds.saturating_mul(1000) <= request_timeout_ms {
            return Err(format!(
                "recovery: grace_seconds must be longer than limits.request_timeout_ms \
                 ({request_timeout_ms} ms), or recovery could ask again while the first \
                 exchange is still waiting"
            ));
        }
        if self.reconcile_seconds == 0 {
            return Err("recovery: reconcile_seconds must be at least 1".into());
        }
        if self.give_up_hours == 0 || self.answer_retention_hours == 0 {
            return Err(
                "recovery: give_up_hours and answer_retention_hours must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        Duration::seconds(i64::try_from(self.grace_seconds).unwrap_or(i64::MAX / 1000))
    }

    /// How long an unreachable provider is asked again.
    pub fn give_up(&self) -> Duration {
        Duration::hours(i64::try_from(self.give_up_hours).unwrap_or(i64::MAX / 3600))
    }

    /// How often reconciliation runs.
    pub fn reconcile_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.reconcile_seconds)
    }

    /// How long request ids and kept answers are remembered.
    pub fn retention(&self) -> Duration {
        Duration::hours(i64::try_from(self.answer_retention_hours).unwrap_or(i64::MAX / 3600))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_grace_must_outlast_a_request() {
        let defaults = RecoveryConfig::default();
        assert!(defaults.validate(30_000).is_ok());
        let error = defaults.validate(60_000).unwrap_err();
        assert!(error.contains("grace_seconds"), "{error}");
        let none = RecoveryConfig {
            give_up_hours: 0,
            ..defaults
        };
        assert!(none.validate(30_000).unwrap_err().contains("give_up_hours"));
        assert_eq!(defaults.retention(), Duration::hours(48));
        assert_eq!(defaults.grace(), Duration::seconds(60));
    }
}
