//! Keys kept as 32-byte seeds in files: a node's Ed25519 answer key, the directory's
//! configuration key and a node's X25519 message key (`seed`). Not X.509 material, but the same
//! kind of secret as a node key, so they are kept the same way: a private file (0600), created
//! atomically and never overwritten, refused when others can read it.
//!
//! The file holds the 32-byte seed and nothing else. Public keys travel as base64url without
//! padding (the form the federation configuration and `node.toml` use).

use crate::error::PkiError;
use crate::files::{self, PRIVATE_FILE_MODE};
use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::io::Read as _;
use std::path::Path;

/// The key in `path`, created (mode 0600, with its directory) when the file does not exist.
pub fn load_or_create(path: &Path) -> Result<SigningKey, PkiError> {
    seed_load_or_create(path).map(|seed| SigningKey::from_bytes(&seed))
}

/// The 32 random bytes in `path`, created (mode 0600, with its directory) when the file does
/// not exist: the seed any 32-byte key is derived from.
pub fn seed_load_or_create(path: &Path) -> Result<[u8; 32], PkiError> {
    match read_seed(path) {
        Err(PkiError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                files::ensure_private_dir(dir)?;
            }
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)?;
            match files::write_new(path, &seed, PRIVATE_FILE_MODE) {
                Ok(()) => Ok(seed),
                // Another process created it first: use that one, so both agree.
                Err(PkiError::AlreadyExists { .. }) => read_seed(path),
                Err(err) => Err(err),
            }
        }
        other => other,
    }
}

/// The key in `path`, which must exist.
pub fn load(path: &Path) -> Result<SigningKey, PkiError> {
    read_seed(path).map(|seed| SigningKey::from_bytes(&seed))
}

fn read_seed(path: &Path) -> Result<[u8; 32], PkiError> {
    let io = |error| PkiError::Io {
        action: "read",
        path: path.to_path_buf(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PkiError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut bytes = Vec::with_capacity(33);
    file.take(33).read_to_end(&mut bytes).map_err(io)?;
    <[u8; 32]>::try_from(bytes).map_err(|_| PkiError::SigningKey {
        path: path.to_path_buf(),
    })
}

/// A public key as base64url without padding.
pub fn encode_public(key: &VerifyingKey) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// A base64url (unpadded) Ed25519 public key; `None` for anything else.
pub fn decode_public(text: &str) -> Option<VerifyingKey> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn created_private_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/directory.key");
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).unwrap().to_bytes(), first.to_bytes());
        assert_eq!(load(&path).unwrap().to_bytes(), first.to_bytes());
        let public = first.verifying_key();
        assert_eq!(decode_public(&encode_public(&public)), Some(public));
        assert_eq!(decode_public("not a key"), None);
    }

    #[test]
    fn refuses_a_readable_or_malformed_key_and_a_missing_one_to_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answer.key");
        assert!(matches!(load(&path), Err(PkiError::Io { .. })));
        std::fs::write(&path, [7u8; 31]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(PkiError::SigningKey { .. })
        ));
        std::fs::write(&path, [7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&path), Err(PkiError::KeyPermissions { .. })));
    }
}
