//! [`Publisher`]: the directory's side of the federation configuration. It holds the current
//! configuration, signs it, and issues a new version whenever it changes or when the signed
//! copy has used up half its lifetime, so that nodes pulling regularly never hold an expired one.
//!
//! A publisher made with [`Publisher::serving`] holds no key: it serves what it is handed
//! ([`Publisher::adopt`]) and never signs on its own. That is how `utbyte directory serve` uses
//! it, because there every version — re-issues included — is written to the state directory
//! first (see `crate::state`), so no version is ever handed out that is not kept.

use ed25519_dalek::SigningKey;
use std::sync::{Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};
use utbyte_federation::Jws;
use utbyte_federation::{ConfigError, FederationConfig};

/// The configuration the directory publishes, and its signed form.
#[derive(Debug)]
pub struct Publisher {
    /// `None` when the versions are signed elsewhere and adopted.
    key: Option<SigningKey>,
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
            key: Some(key),
            lifetime,
            current: Mutex::new((config, signed)),
        })
    }

    /// Serves `signed` (whose payload is `config`) as it is, re-issuing nothing; newer versions
    /// come through [`Self::adopt`].
    pub fn serving(config: FederationConfig, signed: Jws, lifetime: Duration) -> Self {
        Self {
            key: None,
            lifetime,
            current: Mutex::new((config, signed)),
        }
    }

    /// Serves `signed` from now on if its version is newer than the one served; returns whether
    /// it did.
    pub fn adopt(&self, config: FederationConfig, signed: Jws) -> bool {
        let mut current = self.lock();
        if config.version <= current.0.version {
            return false;
        }
        *current = (config, signed);
        true
    }

    fn lock(&self) -> MutexGuard<'_, (FederationConfig, Jws)> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The signed configuration to hand out at `now`, re-issued under a new version first if
    /// the current one is past half its lifetime.
    pub fn signed(&self, now: OffsetDateTime) -> Result<Jws, ConfigError> {
        let mut current = self.lock();
        let (config, signed) = &mut *current;
        let Some(key) = &self.key else {
            return Ok(signed.clone());
        };
        if now >= config.issued_at + self.lifetime / 2 {
            let mut next = config.clone();
            next.version += 1;
            stamp(&mut next, now, self.lifetime);
            *signed = next.sign(key)?;
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
        let key = self.key.as_ref().ok_or_else(|| {
            ConfigError::Invalid(
                "this directory publishes the versions of its state directory".into(),
            )
        })?;
        let mut current = self.lock();
        let mut next = current.0.clone();
        change(&mut next);
        next.version = current.0.version + 1;
        stamp(&mut next, now, self.lifetime);
        let signed = next.sign(key)?;
        let version = next.version;
        *current = (next, signed);
        Ok(version)
    }
}

/// Sets the issue time (whole seconds, as RFC 3339 carries them) and the expiry.
pub(crate) fn stamp(config: &mut FederationConfig, now: OffsetDateTime, lifetime: Duration) {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    config.issued_at = now;
    config.expires_at = now + lifetime;
}
