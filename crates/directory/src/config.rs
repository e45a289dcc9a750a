//! The directory's configuration, read from TOML (`utbyte directory serve --config
//! directory.toml`; every operator command accepts it too, for `state_dir` and `signing_key`).
//!
//! ```toml
//! listen = "0.0.0.0:7400"                  # mutual TLS, the federation's nodes
//! state_dir = "/var/lib/utbyte-directory"  # every published version (see `state`)
//! credentials_dir = "/etc/utbyte/pki"      # ca.crt, node.crt, node.key (utbyte pki issue)
//! signing_key = "/var/lib/utbyte-directory/directory.key"  # default: STATE/directory.key
//! lifetime_hours = 24                      # default; validity of each signed version (init)
//! reload_millis = 1000                     # default; how often the state is checked for news
//! shutdown_seconds = 10                    # default; on SIGTERM/SIGINT: time for requests in flight
//! catalog_dir = "/etc/utbyte/catalog"      # optional: serve the catalog from this data
//! catalog_base = "https://utbyte.example/" # default; the IRI base of the catalog's exports
//! ```
//!
//! Relative paths are taken relative to the file's directory. `lifetime_hours` is the lifetime
//! a new federation state gets from `utbyte directory init --config`; a state keeps its own
//! afterwards, so every command and the server agree on it.

use crate::state::DEFAULT_KEY_FILE;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

/// The whole directory configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub credentials_dir: PathBuf,
    /// The Ed25519 key that signs the configuration; `STATE/directory.key` when not given.
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
    #[serde(default = "default_lifetime_hours")]
    pub lifetime_hours: u64,
    #[serde(default = "default_reload_millis")]
    pub reload_millis: u64,
    #[serde(default = "default_shutdown_seconds")]
    pub shutdown_seconds: u64,
    #[serde(default)]
    pub catalog_dir: Option<PathBuf>,
    #[serde(default = "default_catalog_base")]
    pub catalog_base: String,
}

fn default_lifetime_hours() -> u64 {
    24
}

fn default_reload_millis() -> u64 {
    1000
}

fn default_shutdown_seconds() -> u64 {
    10
}

fn default_catalog_base() -> String {
    "https://utbyte.example/".into()
}

impl DirectoryConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, DirectoryConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self =
            toml::from_str(&text).map_err(|source| DirectoryConfigError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.state_dir = base.join(&config.state_dir);
        config.credentials_dir = base.join(&config.credentials_dir);
        config.signing_key = config.signing_key.map(|k| base.join(k));
        config.catalog_dir = config.catalog_dir.map(|c| base.join(c));
        let invalid = |message: &str| DirectoryConfigError::Invalid {
            path: path.to_owned(),
            message: message.into(),
        };
        if config.lifetime_hours == 0 {
            return Err(invalid("lifetime_hours must be at least 1"));
        }
        if !(100..=60_000).contains(&config.reload_millis) {
            return Err(invalid("reload_millis must be 100 to 60000"));
        }
        if !config.catalog_base.ends_with('/') {
            return Err(invalid("catalog_base must end with `/`"));
        }
        Ok(config)
    }

    /// The signing key's file.
    pub fn signing_key_path(&self) -> PathBuf {
        key_path(&self.state_dir, self.signing_key.as_deref())
    }

    pub fn reload_interval(&self) -> Duration {
        Duration::from_millis(self.reload_millis)
    }

    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_secs(self.shutdown_seconds)
    }
}

/// The signing key's file: `key` if given, else the default place in the state directory.
pub fn key_path(state_dir: &Path, key: Option<&Path>) -> PathBuf {
    key.map(Path::to_owned)
        .unwrap_or_else(|| state_dir.join(DEFAULT_KEY_FILE))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:7400"
state_dir = "state"
credentials_dir = "pki"
"#;

    fn parse(extra: &str) -> Result<DirectoryConfig, DirectoryConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory.toml");
        std::fs::write(&path, format!("{MINIMAL}{extra}")).unwrap();
        DirectoryConfig::load(&path)
    }

    #[test]
    fn defaults_apply_and_paths_are_relative_to_the_file() {
        let config = parse("").unwrap();
        assert_eq!(config.listen, "127.0.0.1:7400".parse().unwrap());
        assert!(config.state_dir.is_absolute() && config.state_dir.ends_with("state"));
        assert!(config.credentials_dir.is_absolute() && config.credentials_dir.ends_with("pki"));
        assert_eq!(config.lifetime_hours, 24);
        assert_eq!(config.reload_interval(), Duration::from_secs(1));
        assert_eq!(config.shutdown_deadline(), Duration::from_secs(10));
        assert_eq!(config.catalog_dir, None);
        assert_eq!(config.catalog_base, "https://utbyte.example/");
        assert_eq!(
            config.signing_key_path(),
            config.state_dir.join("directory.key")
        );
    }

    #[test]
    fn signing_key_is_read_relative_to_the_file() {
        let config = parse("signing_key = \"keys/dir.key\"\n").unwrap();
        let key = config.signing_key_path();
        assert!(key.is_absolute() && key.ends_with("keys/dir.key"));
    }

    #[test]
    fn lifetime_hours_is_read_and_must_be_positive() {
        assert_eq!(parse("lifetime_hours = 6\n").unwrap().lifetime_hours, 6);
        let err = parse("lifetime_hours = 0\n").unwrap_err().to_string();
        assert!(err.contains("lifetime_hours"), "{err}");
    }

    #[test]
    fn reload_millis_is_read_and_bounded() {
        let config = parse("reload_millis = 250\n").unwrap();
        assert_eq!(config.reload_interval(), Duration::from_millis(250));
        let err = parse("reload_millis = 5\n").unwrap_err().to_string();
        assert!(err.contains("reload_millis"), "{err}");
    }

    #[test]
    fn shutdown_seconds_is_read() {
        let config = parse("shutdown_seconds = 3\n").unwrap();
        assert_eq!(config.shutdown_deadline(), Duration::from_secs(3));
    }

    #[test]
    fn catalog_dir_and_base_are_read() {
        let config =
            parse("catalog_dir = \"catalog\"\ncatalog_base = \"https://data.example/\"\n").unwrap();
        let dir = config.catalog_dir.unwrap();
        assert!(dir.is_absolute() && dir.ends_with("catalog"));
        assert_eq!(config.catalog_base, "https://data.example/");
        let err = parse("catalog_base = \"https://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("catalog_base"), "{err}");
    }

    #[test]
    fn unknown_and_missing_options_are_refused() {
        let err = parse("colour = \"blue\"\n").unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("directory.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:7400\"\n").unwrap();
        let err = DirectoryConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("state_dir"), "{err}");
    }
}
