//! [`Publisher`]: the directory's side of the federation configuration. It holds the current
//! configuration, signs it, and issues a new version whenever it changes or when the signed
//! copy has used up half its lifetime, so that nodes pulling regularly never hold an expired one.

use ed25519_dalek::SigningKey;
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};
use utbyte_federation::Jws;
use utbyte_federation::{ConfigError, FederationConfig};

/// The configuration the directory publishes, and its signed form.
#[derive(Debug)]
pub struct Publisher {
    key: SigningKey,
    lifetime: Duration,
    current: Mutex<(FederationConfig, Jws)>,
}

impl Publisher {
    /// Publishes `config` (its version, issue and expiry times are set here) signed with `key`;
    /// each signed version is valid for `lifetime`.
    pub fn new(
        key: SigningKey,
        mut config: FederationConfig,
        lifetime: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, ConfigError> {
        if lifetime <= Duration::ZERO {
            return Err(ConfigError::Invalid(
                "the configuration lifetime must be positive".into(),
            ));
        }
        config.version = config.version.max(1);
        stamp(&mut config, now, lifetime);
        let signed = config.sign(&key)?;
        Ok(Self {
            key,
            lifetime,
            current: Mutex::new((config, signed)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, (FederationConfig, Jws)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signed configuration to hand out at `now`, re-issued under a new version first if
    /// the current one is past half its lifetime.
    pub fn signed(&self, now: OffsetDateTime) -> Result<Jws, ConfigError> {
        let mut current = self.lock();
        let (config, signed) = &mut *current;
        if now >= config.issued_at + self.lifetime / 2 {
            let mut next = config.clone();
            next.version += 1;
            stamp(&mut next, now, self.lifetime);
            *signed = next.sign(&self.key)?;
            *config = next;
        }
        Ok(signed.clone())
    }

    /// The configuration as currently published.
    pub fn config(&self) -> FederationConfig {
        self.lock().0.clone()
    }

    /// Changes the configuration and publishes it as a new version; on any error the published
    /// version stays. Returns the new version number.
    pub fn update(
        &self,
        now: OffsetDateTime,
        change: impl FnOnce(&mut FederationConfig),
    ) -> Result<u64, ConfigError> {
        let mut current = self.lock();
        let mut next = current.0.clone();
        change(&mut next);
        next.version = current.0.version + 1;
        stamp(&mut next, now, self.lifetime);
        let signed = next.sign(&self.key)?;
        let version = next.version;
        *current = (next, signed);
        Ok(version)
    }
}

fn stamp(config: &mut FederationConfig, now: OffsetDateTime, lifetime: Duration) {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    config.issued_at = now;
    config.expires_at = now + lifetime;
}
