//! The node's key material on disk.
//!
//! ```text
//! DIR/log.vkey               the log's public key (C2SP vkey); safe to publish, 0600 like
//!                            every ledger file (see `files`)
//! DIR/private/               0700
//! DIR/private/log.key        the log's Ed25519 signing key (PRIVATE+KEY+…), 0600
//! DIR/private/commitment.key the HMAC secret for identifier commitments (hex), 0600
//! ```
//!
//! Secrets are created with `create_new` and mode 0600 from the start (never chmod'ed after the
//! fact), fsynced with their directory, and refused on open if anyone but the owner can read them.

use crate::commitment::CommitmentKey;
use crate::error::LedgerError;
use crate::note::{random_seed, SignerKey, VerifierKey, ALG_ED25519};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// File name of the log's public key inside a ledger directory.
pub const VKEY_FILE: &str = "log.vkey";
const PRIVATE_DIR: &str = "private";
const LOG_KEY_FILE: &str = "log.key";
const COMMITMENT_KEY_FILE: &str = "commitment.key";

/// The node's secrets: the log signing key and the commitment key.
#[derive(Debug)]
pub struct NodeSecrets {
    pub log: SignerKey,
    pub commitment: CommitmentKey,
}

/// Path of the directory holding the node's secrets (and the audit crate's restricted index).
pub fn private_dir(dir: &Path) -> PathBuf {
    dir.join(PRIVATE_DIR)
}

/// Generates and stores fresh keys for a log named `origin`.
pub fn create(dir: &Path, origin: &str) -> Result<NodeSecrets, LedgerError> {
    let random = |e: crate::note::RandomError| LedgerError::Random(e.0);
    let log = SignerKey::from_seed(origin, ALG_ED25519, random_seed().map_err(random)?).map_err(
        |source| LedgerError::Key {
            path: dir.join(VKEY_FILE),
            source,
        },
    )?;
    let commitment = CommitmentKey::from_bytes(random_seed().map_err(random)?);
    let private = private_dir(dir);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(LedgerError::io("creating", &private))?;
    write_new(
        &private.join(LOG_KEY_FILE),
        &format!("{}\n", log.to_text()),
        0o600,
    )?;
    let encoded = hex::encode(commitment.to_bytes());
    write_new(
        &private.join(COMMITMENT_KEY_FILE),
        &format!("{encoded}\n"),
        0o600,
    )?;
    sync_dir(&private)?;
    write_new(
        &dir.join(VKEY_FILE),
        &format!("{}\n", log.verifier.to_text()),
        // Public, but like every ledger file its owner's alone: it is published by copying.
        crate::files::FILE_MODE,
    )?;
    sync_dir(dir)?;
    Ok(NodeSecrets { log, commitment })
}

/// Loads the node's secrets, refusing files that others can read.
pub fn load(dir: &Path) -> Result<NodeSecrets, LedgerError> {
    let path = private_dir(dir).join(LOG_KEY_FILE);
    let text = read_secret(&path)?;
    let log = SignerKey::parse(&text).map_err(|source| LedgerError::Key { path, source })?;
    let commitment = load_commitment_key(dir)?;
    Ok(NodeSecrets { log, commitment })
}

/// Loads only the commitment key (for subject-access reports on a read-only ledger).
pub fn load_commitment_key(dir: &Path) -> Result<CommitmentKey, LedgerError> {
    let path = private_dir(dir).join(COMMITMENT_KEY_FILE);
    let text = read_secret(&path)?;
    let hex = text.trim();
    let bad = || LedgerError::Corrupt {
        path: path.clone(),
        offset: 0,
        detail: "expected 64 hex digits".to_owned(),
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(CommitmentKey::from_bytes(bytes))
}

/// Loads the log's public key from `DIR/log.vkey`.
pub fn load_verifier(dir: &Path) -> Result<VerifierKey, LedgerError> {
    let path = dir.join(VKEY_FILE);
    let text = fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            LedgerError::NotALedger(dir.to_owned())
        } else {
            LedgerError::Io {
                action: "reading",
                path: path.clone(),
                source: e,
            }
        }
    })?;
    // Exactly one key and one newline: anything else in the file is not what we wrote.
    let line = text.strip_suffix('\n').unwrap_or(&text);
    VerifierKey::parse(line).map_err(|source| LedgerError::Key { path, source })
}

fn read_secret(path: &Path) -> Result<String, LedgerError> {
    let meta = fs::metadata(path).map_err(LedgerError::io("reading", path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(LedgerError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    fs::read_to_string(path).map_err(LedgerError::io("reading", path))
}

fn write_new(path: &Path, contents: &str, mode: u32) -> Result<(), LedgerError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(LedgerError::io("creating", path))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(LedgerError::io("writing", path))
}

/// Makes a directory's entries (new or renamed files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), LedgerError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LedgerError::io("syncing directory", dir))
}
