//! The log file: the ledger's single source of truth, and the only file that is fsynced.
//!
//! ```text
//! file   := "UTBYTE-LEDGER-1\n" frame*
//! frame  := kind:u8  len:u32be  payload[len]  check[8]
//! kind   := 'E' (an entry; payload = the entry bytes, at most 65 535)
//!         | 'C' (a commit; payload = tree size u64be || root hash [32])
//! check  := for 'E': the first 8 bytes of the entry's RFC 6962 leaf hash
//!           for 'C': the first 8 bytes of SHA-256("utbyte-ledger commit\n" || payload)
//! ```
//!
//! One group commit is one `write` of its entry frames followed by one commit frame, then one
//! `fdatasync`; appenders are acknowledged only after that returns. So every acknowledged entry
//! lies before a durable commit frame, and everything after the last commit frame belongs to a
//! batch that nobody was told about. Recovery cuts exactly that tail, which can be at most one
//! batch long ([`MAX_UNCOMMITTED`]); a longer tail, or a broken frame followed by a valid commit,
//! is damage to acknowledged data and is reported, never silently cut. Each commit frame also
//! records the root at its size, which [`scan`] checks, so a reader knows that every committed
//! prefix hashes to what the writer saw when it acknowledged it.

use crate::hash::{leaf_hash, sha256, Hash};
use crate::tree::CompactRange;
use std::io::{self, Read, Seek, SeekFrom};

/// First bytes of every log file; the version is part of the magic.
pub const MAGIC: &[u8; 16] = b"UTBYTE-LEDGER-1\n";
/// Largest entry, set by the 16-bit length prefix of C2SP entry bundles.
pub const MAX_ENTRY: usize = u16::MAX as usize;
/// Largest batch (entry frames plus commit frame) the writer ever issues in one write.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// The longest tail a crash can leave after the last commit frame.
pub const MAX_UNCOMMITTED: u64 = (MAX_BATCH_BYTES + FRAME_OVERHEAD + MAX_ENTRY) as u64;

const KIND_ENTRY: u8 = b'E';
const KIND_COMMIT: u8 = b'C';
/// Bytes a frame adds around its payload.
pub const FRAME_OVERHEAD: usize = 1 + 4 + 8;
const COMMIT_LEN: usize = 8 + 32;

/// Appends an entry frame to `out`. `leaf` must be `leaf_hash(entry)`.
pub fn encode_entry(out: &mut Vec<u8>, entry: &[u8], leaf: &Hash) {
    out.push(KIND_ENTRY);
    out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(&leaf.0[..8]);
}

/// Appends a commit frame for the tree `(size, root)` to `out`.
pub fn encode_commit(out: &mut Vec<u8>, size: u64, root: &Hash) {
    let mut payload = [0u8; COMMIT_LEN];
    payload[..8].copy_from_slice(&size.to_be_bytes());
    payload[8..].copy_from_slice(&root.0);
    out.push(KIND_COMMIT);
    out.extend_from_slice(&(COMMIT_LEN as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&commit_check(&payload));
}

fn commit_check(payload: &[u8]) -> [u8; 8] {
    let digest = sha256(&[b"utbyte-ledger commit\n", payload]);
    let mut check = [0u8; 8];
    check.copy_from_slice(&digest[..8]);
    check
}

/// How a scan of the log ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// The file ends right after a commit frame.
    Clean,
    /// Bytes after the last commit frame that no appender was acknowledged for: a crash residue.
    Uncommitted { bytes: u64 },
    /// Damage to committed data, or a tail longer than any crash can leave.
    Corrupt { offset: u64, detail: String },
}

/// The result of reading a log file from the start.
#[derive(Debug, Clone)]
pub struct Scan {
    /// Byte offset just past the last valid commit frame.
    pub committed_len: u64,
    /// Number of committed entries.
    pub committed_size: u64,
    /// The committed tree's right edge (gives the root).
    pub range: CompactRange,
    /// Number of commit frames seen.
    pub commits: u64,
    pub tail: Tail,
}

/// A frame as read from the file.
enum Frame {
    Entry(Vec<u8>, Hash),
    Commit(u64, Hash),
}

enum ReadOutcome {
    Frame(Frame, u64),
    End,
    Truncated,
    /// A frame that cannot be valid (bad kind, length or checksum).
    Invalid {
        detail: String,
    },
}

/// Reads the log from `reader` (positioned at the start), calling `on_entry(index, entry, leaf)`
/// for each committed entry in order, and `on_commit(size, root)` after each commit frame. An
/// entry is reported only once the commit frame covering it has been read and its root checked,
/// so callers never see a partial batch.
pub fn scan<R: Read + Seek>(
    mut reader: R,
    file_len: u64,
    mut on_entry: impl FnMut(u64, &[u8], &Hash) -> Result<(), String>,
    mut on_commit: impl FnMut(u64, &Hash) -> Result<(), String>,
) -> io::Result<Scan> {
    let mut magic = [0u8; MAGIC.len()];
    let mut scan = Scan {
        committed_len: 0,
        committed_size: 0,
        range: CompactRange::new(),
        commits: 0,
        tail: Tail::Clean,
    };
    // Creation writes the magic before the ledger exists, so no crash leaves a log without it,
    // not even an empty one: an empty log is damage too, or appends would follow with no magic.
    if file_len < MAGIC.len() as u64 || reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
        scan.tail = Tail::Corrupt {
            offset: 0,
            detail: "not a utbyte ledger log (bad magic)".to_owned(),
        };
        return Ok(scan);
    }
    scan.committed_len = MAGIC.len() as u64;
    let mut offset = scan.committed_len;
    let mut pending: Vec<(Vec<u8>, Hash)> = Vec::new();
    let mut pending_range = scan.range.clone();
    let mut problem: Option<String> = None;
    loop {
        match read_frame(&mut reader)? {
            ReadOutcome::Frame(Frame::Entry(entry, leaf), len) => {
                pending_range.push(leaf);
                pending.push((entry, leaf));
                offset += len;
                if offset - scan.committed_len > MAX_UNCOMMITTED {
                    break;
                }
            }
            ReadOutcome::Frame(Frame::Commit(size, root), len) => {
                if size != pending_range.size() || root != pending_range.root() {
                    scan.tail = Tail::Corrupt {
                        offset,
                        detail: format!(
                            "commit frame claims size {size}, but the entries before it form a tree of size {} with a different root",
                            pending_range.size()
                        ),
                    };
                    return Ok(scan);
                }
                for (i, (entry, leaf)) in pending.drain(..).enumerate() {
                    let index = scan.committed_size + i as u64;
                    if let Err(detail) = on_entry(index, &entry, &leaf) {
                        scan.tail = Tail::Corrupt { offset, detail };
                        return Ok(scan);
                    }
                }
                if let Err(detail) = on_commit(size, &root) {
                    scan.tail = Tail::Corrupt { offset, detail };
                    return Ok(scan);
                }
                offset += len;
                scan.committed_len = offset;
                scan.committed_size = size;
                scan.range = pending_range.clone();
                scan.commits += 1;
            }
            ReadOutcome::End if offset == scan.committed_len => return Ok(scan),
            ReadOutcome::End | ReadOutcome::Truncated => break,
            ReadOutcome::Invalid { detail } => {
                problem = Some(detail);
                break;
            }
        }
    }
    // Everything after the last commit is either the residue of one interrupted batch or damage.
    // A crash leaves a prefix of one batch, which never contains a complete commit frame; a
    // valid commit frame anywhere in the tail means committed data before it was damaged.
    let bytes = file_len - scan.committed_len;
    if bytes <= MAX_UNCOMMITTED {
        reader.seek(SeekFrom::Start(scan.committed_len))?;
        let mut tail = Vec::with_capacity(bytes as usize);
        reader
            .by_ref()
            .take(MAX_UNCOMMITTED)
            .read_to_end(&mut tail)?;
        if let Some(at) = find_commit_frame(&tail) {
            scan.tail = Tail::Corrupt {
                offset: scan.committed_len,
                detail: format!(
                    "{} before a valid commit frame at byte {}",
                    problem.as_deref().unwrap_or("unreadable frame"),
                    scan.committed_len + at as u64
                ),
            };
            return Ok(scan);
        }
    }
    let bytes = file_len - scan.committed_len;
    scan.tail = if bytes > MAX_UNCOMMITTED {
        Tail::Corrupt {
            offset: scan.committed_len,
            detail: format!("{bytes} bytes after the last commit frame: more than one batch, so not a crash residue"),
        }
    } else {
        Tail::Uncommitted { bytes }
    };
    Ok(scan)
}

fn read_frame<R: Read>(reader: &mut R) -> io::Result<ReadOutcome> {
    let mut header = [0u8; 5];
    match read_full(reader, &mut header)? {
        0 => return Ok(ReadOutcome::End),
        n if n < header.len() => return Ok(ReadOutcome::Truncated),
        _ => {}
    }
    let kind = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let valid_len = match kind {
        KIND_ENTRY => len <= MAX_ENTRY,
        KIND_COMMIT => len == COMMIT_LEN,
        _ => {
            let detail = format!("unknown frame kind 0x{kind:02x}");
            return Ok(ReadOutcome::Invalid { detail });
        }
    };
    if !valid_len {
        let detail = format!(
            "frame length {len} is impossible for kind '{}'",
            kind as char
        );
        return Ok(ReadOutcome::Invalid { detail });
    }
    let mut body = vec![0u8; len + 8];
    if read_full(reader, &mut body)? < body.len() {
        return Ok(ReadOutcome::Truncated);
    }
    let (payload, check) = body.split_at(len);
    let frame_len = (FRAME_OVERHEAD + len) as u64;
    if kind == KIND_ENTRY {
        let leaf = leaf_hash(payload);
        if leaf.0[..8] != *check {
            let detail = "entry frame fails its checksum".to_owned();
            return Ok(ReadOutcome::Invalid { detail });
        }
        return Ok(ReadOutcome::Frame(
            Frame::Entry(payload.to_vec(), leaf),
            frame_len,
        ));
    }
    if commit_check(payload) != *check {
        let detail = "commit frame fails its checksum".to_owned();
        return Ok(ReadOutcome::Invalid { detail });
    }
    let mut size = [0u8; 8];
    size.copy_from_slice(&payload[..8]);
    let root = Hash::from_slice(&payload[8..]).unwrap_or_default();
    Ok(ReadOutcome::Frame(
        Frame::Commit(u64::from_be_bytes(size), root),
        frame_len,
    ))
}

/// The offset of the first complete, valid commit frame in `bytes`, at any alignment.
fn find_commit_frame(bytes: &[u8]) -> Option<usize> {
    let header = [KIND_COMMIT, 0, 0, 0, COMMIT_LEN as u8];
    let frame = FRAME_OVERHEAD + COMMIT_LEN;
    (0..bytes.len().saturating_sub(frame - 1)).find(|&at| {
        bytes[at..at + 5] == header && {
            let payload = &bytes[at + 5..at + 5 + COMMIT_LEN];
            commit_check(payload) == bytes[at + 5 + COMMIT_LEN..at + frame]
        }
    })
}

/// Like `read_exact`, but reports how many bytes were available instead of failing at EOF.
fn read_full<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
