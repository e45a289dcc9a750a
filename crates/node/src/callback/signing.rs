//! Signing callbacks per Standard Webhooks (<https://www.standardwebhooks.com>): the node's
//! secret, kept as `whsec_<base64>` in a file of its own, and the `webhook-signature` header
//! value `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`.
//!
//! One secret per node, symmetric: a case system verifies with the same secret the node signs
//! with, so the operator hands the file's content to each case system as it hands out any
//! other credential (docs/callbacks.md). The file is created with mode 0600 on first use.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix Standard Webhooks gives a secret.
const PREFIX: &str = "whsec_";

/// How many random bytes a new secret has (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// The node's callback signing secret. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// Why the secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the callback secret in {path} cannot be {what}: {source}")]
    Io {
        path: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("the callback secret in {path} is not `whsec_` followed by base64 of 24 to 64 bytes")]
    Malformed { path: String },
}

impl WebhookSecret {
    /// The secret from `whsec_<base64>` text.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.trim().strip_prefix(PREFIX)?).ok()?;
        (24..=64).contains(&key.len()).then_some(Self { key })
    }

    /// The secret in `path`, drawn and written there (mode 0600) if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretError> {
        let shown = path.display().to_string();
        let io = |what| {
            let path = shown.clone();
            move |source| SecretError::Io { path, what, source }
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).ok_or(SecretError::Malformed { path: shown }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; SECRET_BYTES];
                getrandom::fill(&mut key)
                    .map_err(|e| io("drawn")(std::io::Error::other(e.to_string())))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io("written"))?;
                }
                let secret = Self { key };
                crate::write_private(path, format!("{}\n", secret.encoded()).as_bytes())
                    .map_err(io("written"))?;
                Ok(secret)
            }
            Err(error) => Err(io("read")(error)),
        }
    }

    /// The secret as `whsec_<base64>`, the form case systems are given.
    pub fn encoded(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// The `webhook-signature` header value for a message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // An HMAC takes a key of any length, so this cannot fail; the fallback keeps the
        // signature verifiably wrong rather than panicking.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return "v1,".to_owned();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The example of the Standard Webhooks reference libraries (their test suites sign this
    /// message with this secret).
    #[test]
    fn the_signature_matches_the_specifications_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_file_is_created_private_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("callback.secret");
        let first = WebhookSecret::load_or_create(&path).unwrap();
        let again = WebhookSecret::load_or_create(&path).unwrap();
        assert_eq!(first.encoded(), again.encoded());
        assert!(first.encoded().starts_with("whsec_"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&first.encoded()[6..]));
        std::fs::write(&path, "whsec_c2hvcnQ=").unwrap();
        assert!(matches!(
            WebhookSecret::load_or_create(&path),
            Err(SecretError::Malformed { .. })
        ));
    }
}
