//! The PKI's files on disk: bounded reads, private directories, and atomic, no-clobber writes.
//!
//! A file is written in full to a temporary name in the same directory (created with its final
//! mode, so a key is never readable by others, not even briefly), flushed to disk, and then
//! hard-linked to its final name. Unlike `rename`, `link` fails when the target exists, so
//! "refuse to overwrite" holds even against a concurrent writer, and a reader never sees a
//! half-written certificate or key. The temporary name is removed afterwards either way.

use crate::error::PkiError;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read as _, Write as _};
use std::path::{Path, PathBuf};

/// No certificate or key this crate handles comes near this size; anything larger is not one.
pub(crate) const MAX_PEM_BYTES: u64 = 64 * 1024;

/// Mode of private keys and of directories that hold them.
pub(crate) const PRIVATE_FILE_MODE: u32 = 0o600;
const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of certificates, which are public.
pub(crate) const PUBLIC_FILE_MODE: u32 = 0o644;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |error| PkiError::Io {
        action,
        path,
        error,
    }
}

/// Reads a text file of at most [`MAX_PEM_BYTES`].
pub(crate) fn read_pem(path: &Path) -> Result<String, PkiError> {
    let file = File::open(path).map_err(io("read", path))?;
    let mut text = String::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io("read", path))?;
    if text.len() as u64 > MAX_PEM_BYTES {
        return Err(PkiError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_PEM_BYTES,
        });
    }
    Ok(text)
}

/// Reads a private key file, refusing one that group or others may access.
pub(crate) fn read_private(path: &Path) -> Result<String, PkiError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path)
            .map_err(io("read", path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(PkiError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    read_pem(path)
}

/// Creates `dir` (and its parents) if it does not exist; a directory this creates is private
/// to its owner, since it will hold a key.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), PkiError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir).map_err(io("create directory", dir))
}

/// Fails with [`PkiError::AlreadyExists`] if `path` exists (or is a dangling symlink).
pub(crate) fn refuse_existing(path: &Path) -> Result<(), PkiError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(PkiError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(io("inspect", path)(err)),
    }
}

/// Writes `contents` to the new file `path` with `mode`, atomically, never replacing an
/// existing file.
pub(crate) fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = temp_name(path)?;
    let result = write_temp(&temp, contents, mode).and_then(|()| {
        fs::hard_link(&temp, path).map_err(|err| {
            if err.kind() == ErrorKind::AlreadyExists {
                PkiError::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                io("create", path)(err)
            }
        })
    });
    // The temporary name goes whether or not the link succeeded; failing to remove it leaves
    // a stray file but no wrong one, so that error is not worth more than the result.
    let _ = fs::remove_file(&temp);
    result?;
    sync_dir(dir)
}

fn temp_name(path: &Path) -> Result<PathBuf, PkiError> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(path.with_file_name(format!(".{name}.{}.tmp", hex::encode(suffix))))
}

fn write_temp(temp: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(temp).map_err(io("create", temp))?;
    file.write_all(contents).map_err(io("write", temp))?;
    file.sync_all().map_err(io("write", temp))
}

/// Makes the new directory entries durable.
fn sync_dir(dir: &Path) -> Result<(), PkiError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", dir))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_with_the_mode_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("node.key");
        write_new(&key, b"secret", PRIVATE_FILE_MODE).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(matches!(
            write_new(&key, b"other", PRIVATE_FILE_MODE),
            Err(PkiError::AlreadyExists { .. })
        ));
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn refuses_keys_others_can_read_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("node.key");
        write_new(&key, b"secret", PRIVATE_FILE_MODE).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(PUBLIC_FILE_MODE)).unwrap();
        assert!(matches!(
            read_private(&key),
            Err(PkiError::KeyPermissions { mode: 0o644, .. })
        ));
        let big = dir.path().join("big.pem");
        fs::write(&big, vec![b'a'; MAX_PEM_BYTES as usize + 1]).unwrap();
        assert!(matches!(read_pem(&big), Err(PkiError::TooLarge { .. })));
    }

    #[test]
    fn creates_private_directories() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("a/ca");
        ensure_private_dir(&ca).unwrap();
        assert_eq!(mode(&ca), 0o700);
    }
}
