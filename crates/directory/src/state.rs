//! The directory's state on disk: every signed version of the federation configuration ever
//! published, what changed in each, and the directory's own settings. `utbyte directory serve`
//! and the operator's commands share it; nothing else holds the federation's state.
//!
//! ```text
//! STATE/
//!   directory.json     the directory's authority id and the lifetime of each signed version
//!   directory.key      the Ed25519 key that signs the configuration, 0600 (the default place)
//!   lock               locked exclusively while a version is written
//!   versions/
//!     000001.jws       each signed version (flattened JSON JWS), never changed once written
//!     000001.change    one line: what changed from the version before
//! ```
//!
//! The current configuration is the newest version's payload; there is no second copy that
//! could drift from what was signed. Each file is written to a temporary name, flushed, and
//! renamed into place, then the directory is flushed: a reader sees a whole file or none. The
//! note goes first and the JWS last, so a version exists exactly when its `.jws` does; a crash
//! between the two leaves a note that the next write of that version replaces.
//!
//! Writers take an exclusive lock on `lock` (`flock`, released when the file closes, so a
//! crashed writer never leaves it held) and read the newest version under it, so two operators
//! or an operator and the serving directory re-issuing at half-life never both write the same
//! version number.

use crate::publisher::stamp;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};
use utbyte_federation::{ConfigError, FederationConfig, Jws, RulebookBundle};

const SETTINGS_FILE: &str = "directory.json";
/// Where the signing key is kept unless the configuration names another file.
pub const DEFAULT_KEY_FILE: &str = "directory.key";
const LOCK_FILE: &str = "lock";
const VERSIONS_DIR: &str = "versions";

/// Why the state cannot be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the directory's signing key: {0}")]
    Key(#[from] utbyte_pki::PkiError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{} holds no federation state (run `utbyte directory init`)", .0.display())]
    NotInitialised(PathBuf),
    #[error("{} already holds a federation state; refusing to replace it", .0.display())]
    AlreadyInitialised(PathBuf),
    #[error("no version {0} has been published")]
    NoVersion(u64),
    #[error("{}: {reason}", file.display())]
    Corrupt { file: PathBuf, reason: String },
    #[error("{0}")]
    Refused(String),
    #[error("the rulebook is refused: {} problem{}", problems.len(), if problems.len() == 1 { "" } else { "s" })]
    Rulebook { problems: Vec<String> },
}

/// The directory's own settings, fixed when the federation state is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySettings {
    /// The authority the directory's certificate names (nodes' `[directory] authority`).
    pub authority: String,
    /// How long each signed version is valid; it is re-issued at half of it.
    pub lifetime_seconds: u64,
}

impl DirectorySettings {
    pub fn lifetime(&self) -> Duration {
        Duration::seconds(i64::try_from(self.lifetime_seconds).unwrap_or(i64::MAX))
    }
}

/// One published version: the configuration, its signed form and what changed.
#[derive(Debug, Clone)]
pub struct Published {
    pub config: FederationConfig,
    pub signed: Jws,
    pub change: String,
}

/// One line of the version history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionSummary {
    pub version: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub rulebook_hash: String,
    pub members: usize,
    pub revoked: usize,
    pub change: String,
}

/// A federation state directory, opened with the key that signs its versions.
#[derive(Debug)]
pub struct FederationState {
    dir: PathBuf,
    key: SigningKey,
    settings: DirectorySettings,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StateError {
    let what = what.into();
    move |source| StateError::Io { what, source }
}

impl FederationState {
    /// Creates a new federation state in `dir` (which must hold none): the signing key at
    /// `key_path` (created 0600 unless it exists), the settings, and version 1 with no members
    /// and `rulebook`.
    pub fn init(
        dir: &Path,
        key_path: &Path,
        settings: DirectorySettings,
        rulebook: RulebookBundle,
        now: OffsetDateTime,
    ) -> Result<(Self, Published), StateError> {
        if settings.lifetime_seconds < 60 {
            return Err(StateError::Refused(
                "the configuration lifetime must be at least a minute".into(),
            ));
        }
        let settings_file = dir.join(SETTINGS_FILE);
        if settings_file.exists() || dir.join(VERSIONS_DIR).exists() {
            return Err(StateError::AlreadyInitialised(dir.to_owned()));
        }
        fs::create_dir_all(dir.join(VERSIONS_DIR))
            .map_err(io(format!("creating {}", dir.display())))?;
        let key = utbyte_pki::signing_key::load_or_create(key_path)?;
        let text = serde_json::to_vec_pretty(&settings).map_err(|e| StateError::Corrupt {
            file: settings_file.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&settings_file, &text)?;
        let state = Self {
            dir: dir.to_owned(),
            key,
            settings,
        };
        let mut first = FederationConfig {
            version: 1,
            issued_at: now,
            expires_at: now,
            members: Vec::new(),
            revoked: Vec::new(),
            rulebook,
        };
        let change = format!(
            "federation created with rulebook {} {}",
            first.rulebook.name, first.rulebook.version
        );
        let published = {
            let _lock = state.lock()?;
            stamp(&mut first, now, state.settings.lifetime());
            state.write_version(first, change)?
        };
        Ok((state, published))
    }

    /// Opens the state in `dir`, signed with the key at `key_path` (which must exist).
    pub fn open(dir: &Path, key_path: &Path) -> Result<Self, StateError> {
        let settings_file = dir.join(SETTINGS_FILE);
        let text = match fs::read(&settings_file) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotInitialised(dir.to_owned()))
            }
            other => other.map_err(io(format!("reading {}", settings_file.display())))?,
        };
        let settings = serde_json::from_slice(&text).map_err(|e| StateError::Corrupt {
            file: settings_file,
            reason: e.to_string(),
        })?;
        let key = utbyte_pki::signing_key::load(key_path)?;
        Ok(Self {
            dir: dir.to_owned(),
            key,
            settings,
        })
    }

    pub fn settings(&self) -> &DirectorySettings {
        &self.settings
    }

    /// The key nodes verify the configuration with (`[directory] key` in `node.toml`).
    pub fn directory_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Every published version number, oldest first.
    pub fn version_numbers(&self) -> Result<Vec<u64>, StateError> {
        let dir = self.dir.join(VERSIONS_DIR);
        let mut numbers = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io(format!("listing {}", dir.display())))? {
            let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
            let name = entry.file_name();
            let number = name
                .to_str()
                .and_then(|n| n.strip_suffix(".jws"))
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse::<u64>().ok());
            numbers.extend(number);
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// The newest version's number.
    pub fn latest_version(&self) -> Result<u64, StateError> {
        self.version_numbers()?
            .last()
            .copied()
            .ok_or_else(|| StateError::NotInitialised(self.dir.clone()))
    }

    /// The newest version: the configuration in force.
    pub fn current(&self) -> Result<Published, StateError> {
        self.version(self.latest_version()?)
    }

    /// Version `number`, its signature checked against the directory's key.
    pub fn version(&self, number: u64) -> Result<Published, StateError> {
        let file = self.version_file(number, "jws");
        let text = match fs::read(&file) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NoVersion(number))
            }
            other => other.map_err(io(format!("reading {}", file.display())))?,
        };
        let corrupt = |reason: String| StateError::Corrupt {
            file: file.clone(),
            reason,
        };
        let signed: Jws = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        let payload = signed
            .verify(
                utbyte_federation::config::CONTENT_TYPE,
                &self.directory_key(),
            )
            .map_err(|e| corrupt(e.to_string()))?;
        let config: FederationConfig =
            serde_json::from_slice(&payload).map_err(|e| corrupt(e.to_string()))?;
        if config.version != number {
            return Err(corrupt(format!("it holds version {}", config.version)));
        }
        let change = fs::read_to_string(self.version_file(number, "change"))
            .map(|c| c.trim_end().to_owned())
            .unwrap_or_default();
        Ok(Published {
            config,
            signed,
            change,
        })
    }

    /// The history: every version with what changed, oldest first.
    pub fn versions(&self) -> Result<Vec<VersionSummary>, StateError> {
        self.version_numbers()?
            .into_iter()
            .map(|number| {
                let Published { config, change, .. } = self.version(number)?;
                Ok(VersionSummary {
                    version: config.version,
                    issued_at: config.issued_at,
                    expires_at: config.expires_at,
                    rulebook_hash: config.rulebook.hash,
                    members: config.members.len(),
                    revoked: config.revoked.len(),
                    change,
                })
            })
            .collect()
    }

    /// Applies an operator's change to the newest version and publishes the result as the next
    /// version. `apply` says what it changed, or refuses; a refusal or any error publishes
    /// nothing.
    pub fn change(
        &self,
        now: OffsetDateTime,
        apply: impl FnOnce(&mut FederationConfig) -> Result<String, StateError>,
    ) -> Result<Published, StateError> {
        let _lock = self.lock()?;
        let current = self.current()?;
        let mut next = current.config;
        let change = apply(&mut next)?;
        next.version += 1;
        stamp(&mut next, now, self.settings.lifetime());
        self.write_version(next, change)
    }

    /// Publishes the newest version again, under the next number, once half its lifetime has
    /// passed, so nodes that pull regularly never hold an expired copy. `None` when not due.
    pub fn reissue_if_due(&self, now: OffsetDateTime) -> Result<Option<Published>, StateError> {
        let due =
            |config: &FederationConfig| now >= config.issued_at + self.settings.lifetime() / 2;
        if !due(&self.current()?.config) {
            return Ok(None);
        }
        let _lock = self.lock()?;
        let current = self.current()?;
        // Someone else may have published while this waited for the lock.
        if !due(&current.config) {
            return Ok(None);
        }
        let mut next = current.config;
        next.version += 1;
        stamp(&mut next, now, self.settings.lifetime());
        self.write_version(next, "re-issued at half its lifetime".into())
            .map(Some)
    }

    /// Signs and writes `config` as a new version; the caller holds the lock.
    fn write_version(
        &self,
        config: FederationConfig,
        change: String,
    ) -> Result<Published, StateError> {
        let signed = config.sign(&self.key)?;
        let jws = self.version_file(config.version, "jws");
        if jws.exists() {
            return Err(StateError::Corrupt {
                file: jws,
                reason: "exists already; versions are never rewritten".into(),
            });
        }
        // One line, so the history lists one line per version.
        let change = change.replace(['\n', '\r'], " ");
        write_atomically(
            &self.version_file(config.version, "change"),
            format!("{change}\n").as_bytes(),
        )?;
        let text = serde_json::to_vec(&signed).map_err(|e| StateError::Corrupt {
            file: jws.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&jws, &text)?;
        Ok(Published {
            config,
            signed,
            change,
        })
    }

    fn version_file(&self, number: u64, extension: &str) -> PathBuf {
        self.dir
            .join(VERSIONS_DIR)
            .join(format!("{number:06}.{extension}"))
    }

    fn lock(&self) -> Result<File, StateError> {
        let path = self.dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(format!("opening {}", path.display())))?;
        file.lock()
            .map_err(io(format!("locking {}", path.display())))?;
        Ok(file)
    }
}

/// Writes `bytes` to `path` by way of a temporary file in the same directory: flushed, renamed
/// over `path`, and the directory flushed, so `path` is either the old file or the whole new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(io(format!("writing {}", path.display())))
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
