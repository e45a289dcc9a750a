//! A node's hold on the federation configuration: the last good copy, replaced only by a newer,
//! validly signed one, and usable only while it has not expired.

use crate::config::{ConfigError, FederationConfig};
use crate::jws::Jws;
use ed25519_dalek::VerifyingKey;
use std::sync::{Arc, RwLock};
use time::OffsetDateTime;

/// The configuration a node trusts, shared between its tasks.
#[derive(Debug, Clone)]
pub struct TrustedConfig {
    directory_key: VerifyingKey,
    current: Arc<RwLock<Option<Arc<FederationConfig>>>>,
}

impl TrustedConfig {
    pub fn new(directory_key: VerifyingKey) -> Self {
        Self {
            directory_key,
            current: Arc::new(RwLock::new(None)),
        }
    }

    /// Accepts a newly fetched configuration if it is signed by the directory, in force and not
    /// older than the one held. On any error the last good copy stays.
    pub fn accept(
        &self,
        signed: &Jws,
        now: OffsetDateTime,
    ) -> Result<Arc<FederationConfig>, ConfigError> {
        let config = FederationConfig::verify(signed, &self.directory_key, now)?;
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(have) = current.as_ref() {
            if config.version < have.version {
                return Err(ConfigError::Rollback {
                    have: have.version,
                    got: config.version,
                });
            }
        }
        let config = Arc::new(config);
        *current = Some(Arc::clone(&config));
        Ok(config)
    }

    /// The configuration to exchange under at `now`, or why there is none.
    pub fn current(&self, now: OffsetDateTime) -> Result<Arc<FederationConfig>, ConfigError> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let config = current.as_ref().ok_or_else(|| {
            ConfigError::Invalid("no federation configuration has been fetched yet".into())
        })?;
        config.check_time(now)?;
        Ok(Arc::clone(config))
    }
}
