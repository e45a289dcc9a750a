//! The federation configuration: who is a member, where their nodes are, which certificates to
//! trust and which are revoked, and the shared rulebook every node decides with.
//!
//! The directory signs it; every node pulls it, verifies the signature against the directory key
//! it was given out of band, keeps the last good copy, and stops exchanging once that copy has
//! expired. The rulebook travels inside the configuration (its files, and their hash), so every
//! node of a federation decides with the same, identified rules.

use crate::jws::{Jws, JwsError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::OffsetDateTime;
use utbyte_message::RecipientKey;
use utbyte_rules::source::SourceFile;
use utbyte_rules::Rulebook;

/// The JWS content type of a federation configuration.
pub const CONTENT_TYPE: &str = "utbyte-federation+json";

/// One member authority and its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The authority id the rulebook uses.
    pub authority: String,
    pub name: String,
    pub orgnr: String,
    /// The node's base URL, `https://host:port`.
    pub endpoint: String,
    /// SHA-256 fingerprints (hex) of the node's current certificates.
    pub certificates: Vec<String>,
    /// The Ed25519 public key (base64url, 32 bytes) the node signs its answers with.
    pub answer_key: String,
    /// The X25519 public keys (base64url, 32 bytes) messages to the authority are sealed for,
    /// newest first: senders seal for the first; the node keeps the others' private halves to
    /// open what was sealed before a rotation. None: the authority takes no messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message_keys: Vec<String>,
}

impl Member {
    /// The key the member's answers must be signed with.
    pub fn answer_key(&self) -> Result<VerifyingKey, ConfigError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.answer_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "member `{}` has an answer key that is not 32 bytes of base64url",
                    self.authority
                ))
            })?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| {
            ConfigError::Invalid(format!(
                "member `{}` has an answer key that is not an Ed25519 public key",
                self.authority
            ))
        })
    }

    /// The key messages to the member are sealed for now (the newest), if it takes messages.
    pub fn message_key(&self) -> Result<Option<RecipientKey>, ConfigError> {
        self.message_keys
            .first()
            .map(|text| {
                RecipientKey::decode(text).map_err(|e| {
                    ConfigError::Invalid(format!("member `{}`: message key {e}", self.authority))
                })
            })
            .transpose()
    }

    /// The member's certificates that `revoked` does not list.
    pub fn current_certificates(&self, revoked: &[String]) -> Vec<String> {
        self.certificates
            .iter()
            .filter(|c| !revoked.contains(c))
            .cloned()
            .collect()
    }
}

/// One file of the shared rulebook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulebookFile {
    pub path: String,
    pub text: String,
}

/// The shared rulebook: its identity and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulebookBundle {
    pub name: String,
    pub version: String,
    /// The SHA-256 the rulebook computes over its files; checked when the bundle is loaded.
    pub hash: String,
    pub files: Vec<RulebookFile>,
}

impl RulebookBundle {
    /// Bundles the files of a loaded rulebook.
    pub fn new(rulebook: &Rulebook, files: &[SourceFile]) -> Self {
        Self {
            name: rulebook.manifest.name.clone(),
            version: rulebook.manifest.version.clone(),
            hash: rulebook.hash().to_owned(),
            files: files
                .iter()
                .filter(|f| !f.path.starts_with("scenarios/") && !f.path.starts_with("requests/"))
                .map(|f| RulebookFile {
                    path: f.path.clone(),
                    text: f.text.clone(),
                })
                .collect(),
        }
    }

    /// Loads the rulebook and checks that it is the one the bundle names.
    pub fn load(&self) -> Result<Rulebook, ConfigError> {
        let files: Vec<SourceFile> = self
            .files
            .iter()
            .map(|f| SourceFile::new(f.path.clone(), f.text.clone()))
            .collect();
        let rulebook =
            Rulebook::from_sources(&files).map_err(|e| ConfigError::Rulebook(e.to_string()))?;
        if rulebook.hash() != self.hash {
            return Err(ConfigError::RulebookHash {
                expected: self.hash.clone(),
                got: rulebook.hash().to_owned(),
            });
        }
        Ok(rulebook)
    }
}

/// The whole federation configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Increases with every change; a node never goes back to a lower version.
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// After this instant nodes stop exchanging until they get a newer configuration.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub members: Vec<Member>,
    /// Fingerprints of revoked certificates.
    pub revoked: Vec<String>,
    pub rulebook: RulebookBundle,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the federation configuration is not signed by the directory: {0}")]
    Signature(#[from] JwsError),
    #[error("the federation configuration is malformed: {0}")]
    Malformed(String),
    #[error("the federation configuration is invalid: {0}")]
    Invalid(String),
    #[error("the federation configuration expired at {expired_at}; exchanges stop until a newer one is fetched")]
    Expired { expired_at: String },
    #[error("the federation configuration is issued in the future ({issued_at})")]
    NotYetValid { issued_at: String },
    #[error("version {got} is older than version {have}, which this node already has")]
    Rollback { have: u64, got: u64 },
    #[error("the shared rulebook does not load: {0}")]
    Rulebook(String),
    #[error("the shared rulebook's hash is {got}, but the configuration names {expected}")]
    RulebookHash { expected: String, got: String },
}

fn is_fingerprint(f: &str) -> bool {
    f.len() == 64
        && f.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl FederationConfig {
    /// Checks the configuration's own consistency.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.version == 0 {
            return invalid("version must be at least 1".into());
        }
        if self.expires_at <= self.issued_at {
            return invalid("it expires before it is issued".into());
        }
        let mut authorities = HashSet::new();
        let mut fingerprints = HashSet::new();
        for m in &self.members {
            if !authorities.insert(m.authority.as_str()) {
                return invalid(format!("member `{}` appears twice", m.authority));
            }
            if let Err(err) = m.orgnr.parse::<utbyte_domain::Organisationsnummer>() {
                return invalid(format!(
                    "member `{}` has an invalid organisationsnummer: {err}",
                    m.authority
                ));
            }
            if !m.endpoint.starts_with("https://") {
                return invalid(format!(
                    "member `{}` has endpoint `{}`; only https is allowed",
                    m.authority, m.endpoint
                ));
            }
            m.answer_key()?;
            for key in &m.message_keys {
                RecipientKey::decode(key).map_err(|e| {
                    ConfigError::Invalid(format!("member `{}`: message key {e}", m.authority))
                })?;
            }
            for f in &m.certificates {
                if !is_fingerprint(f) {
                    return invalid(format!(
                        "member `{}` has a malformed certificate fingerprint `{f}`",
                        m.authority
                    ));
                }
                if !fingerprints.insert(f.as_str()) {
                    return invalid(format!("certificate {f} is listed for two members"));
                }
            }
        }
        if let Some(f) = self.revoked.iter().find(|f| !is_fingerprint(f)) {
            return invalid(format!("malformed revoked fingerprint `{f}`"));
        }
        Ok(())
    }

    /// The member whose node presents a certificate with this fingerprint, unless it is revoked.
    pub fn member_by_certificate(&self, fingerprint: &str) -> Option<&Member> {
        if self.revoked.iter().any(|r| r == fingerprint) {
            return None;
        }
        self.members
            .iter()
            .find(|m| m.certificates.iter().any(|c| c == fingerprint))
    }

    pub fn member(&self, authority: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.authority == authority)
    }

    /// Signs the configuration with the directory key.
    pub fn sign(&self, key: &SigningKey) -> Result<Jws, ConfigError> {
        self.validate()?;
        let payload =
            serde_json::to_vec(self).map_err(|e| ConfigError::Malformed(e.to_string()))?;
        Ok(Jws::sign(&payload, CONTENT_TYPE, key))
    }

    /// Verifies a signed configuration against the directory key and the clock.
    pub fn verify(
        signed: &Jws,
        key: &VerifyingKey,
        now: OffsetDateTime,
    ) -> Result<Self, ConfigError> {
        let payload = signed.verify(CONTENT_TYPE, key)?;
        let config: Self =
            serde_json::from_slice(&payload).map_err(|e| ConfigError::Malformed(e.to_string()))?;
        config.validate()?;
        config.check_time(now)?;
        Ok(config)
    }

    /// Whether the configuration is in force at `now`.
    pub fn check_time(&self, now: OffsetDateTime) -> Result<(), ConfigError> {
        let format = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        // A little leeway for clocks that are not quite in step.
        if self.issued_at > now + time::Duration::minutes(5) {
            return Err(ConfigError::NotYetValid {
                issued_at: format(self.issued_at),
            });
        }
        if now >= self.expires_at {
            return Err(ConfigError::Expired {
                expired_at: format(self.expires_at),
            });
        }
        Ok(())
    }
}
