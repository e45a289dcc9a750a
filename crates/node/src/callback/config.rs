//! The `[callbacks]` section of node.toml:
//!
//! ```toml
//! [callbacks]
//! allow = ["https://case.fk.example/callbacks/"]  # URL prefixes; none allows no callback
//! secret_file = "callback.secret"                 # default DIR/callback.secret (whsec_…)
//! max_attempts = 12                               # then the notice is a dead letter
//! max_age_hours = 72                              # or once it is this old
//! backoff_base_seconds = 10                       # delay after the first failure
//! backoff_cap_seconds = 3600                      # longest delay between attempts
//! ```
//!
//! `https://` targets are verified against the node's `agency_ca_bundle`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::schedule::RetrySchedule;
use super::target::AllowedTargets;

/// How a node calls its case systems back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    /// The URL prefixes a callback may be under. Empty (the default) refuses every callback.
    pub allow: Vec<String>,
    /// The Standard Webhooks secret (`whsec_…`), created on first use; relative to the
    /// configuration file. `None`: `DIR/callback.secret`.
    pub secret_file: Option<PathBuf>,
    pub max_attempts: u32,
    pub max_age_hours: u64,
    pub backoff_base_seconds: u64,
    pub backoff_cap_seconds: u64,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            secret_file: None,
            max_attempts: 12,
            max_age_hours: 72,
            backoff_base_seconds: 10,
            backoff_cap_seconds: 3600,
        }
    }
}

impl CallbacksConfig {
    /// Checks what TOML types cannot; the message names the option.
    pub fn validate(&self) -> Result<(), String> {
        self.targets()
            .map_err(|error| format!("callbacks: allow: {error}"))?;
        if self.max_attempts == 0 || self.max_age_hours == 0 {
            return Err("callbacks: max_attempts and max_age_hours must be at least 1".into());
        }
        if self.backoff_base_seconds == 0 || self.backoff_cap_seconds < self.backoff_base_seconds {
            return Err(
                "callbacks: backoff_base_seconds must be at least 1 and backoff_cap_seconds at \
                 least backoff_base_seconds"
                    .into(),
            );
        }
        Ok(())
    }

    /// The allow-list.
    pub fn targets(&self) -> Result<AllowedTargets, String> {
        AllowedTargets::parse(&self.allow)
    }

    /// The retry policy.
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            base: Duration::from_secs(self.backoff_base_seconds),
            cap: Duration::from_secs(self.backoff_cap_seconds),
            max_attempts: self.max_attempts,
            max_age: Duration::from_secs(self.max_age_hours.saturating_mul(3600)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(text: &str) -> CallbacksConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_allow_nothing_and_retry_for_three_days() {
        let config = parse("");
        assert_eq!(config, CallbacksConfig::default());
        assert!(config.targets().unwrap().is_empty());
        let schedule = config.schedule();
        assert_eq!(schedule.max_attempts, 12);
        assert_eq!(schedule.max_age, Duration::from_secs(72 * 3600));
        assert_eq!(schedule.base, Duration::from_secs(10));
        assert_eq!(schedule.cap, Duration::from_secs(3600));
    }

    #[test]
    fn allow_admits_its_prefixes() {
        let config = parse(r#"allow = ["https://case.example/cb/"]"#);
        let targets = config.targets().unwrap();
        assert!(targets.check("https://case.example/cb/1").is_ok());
        assert!(targets.check("https://case.example/other").is_err());
        let bad = parse(r#"allow = ["case.example"]"#).validate().unwrap_err();
        assert!(
            bad.contains("callbacks: allow") && bad.contains("case.example"),
            "{bad}"
        );
    }

    #[test]
    fn secret_file_is_read() {
        let config = parse(r#"secret_file = "cb.secret""#);
        assert_eq!(config.secret_file, Some(PathBuf::from("cb.secret")));
    }

    #[test]
    fn max_attempts_is_read_and_must_be_positive() {
        assert_eq!(parse("max_attempts = 3").schedule().max_attempts, 3);
        assert!(parse("max_attempts = 0").validate().is_err());
    }

    #[test]
    fn max_age_hours_is_read_and_must_be_positive() {
        let schedule = parse("max_age_hours = 2").schedule();
        assert_eq!(schedule.max_age, Duration::from_secs(7200));
        assert!(parse("max_age_hours = 0").validate().is_err());
    }

    #[test]
    fn backoff_base_and_cap_are_read_and_ordered() {
        let schedule = parse("backoff_base_seconds = 2\nbackoff_cap_seconds = 8").schedule();
        assert_eq!(
            (schedule.base, schedule.cap),
            (Duration::from_secs(2), Duration::from_secs(8))
        );
        assert!(parse("backoff_base_seconds = 0").validate().is_err());
        assert!(parse("backoff_base_seconds = 9\nbackoff_cap_seconds = 8")
            .validate()
            .is_err());
    }

    #[test]
    fn unknown_options_are_refused() {
        assert!(toml::from_str::<CallbacksConfig>("colour = 1").is_err());
    }
}
