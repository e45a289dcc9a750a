//! `verify` must notice a single flipped byte anywhere in the stored ledger: the log, every tile
//! and entry bundle, the checkpoint and the public key.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::{Ledger, LedgerOptions};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Offsets to flip in a file of `len` bytes: the first and last 64, and a stride through the rest.
fn positions(len: usize, stride: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..len.min(64)).collect();
    p.extend((64..len).step_by(stride));
    p.extend(len.saturating_sub(64).max(64)..len);
    p.sort_unstable();
    p.dedup();
    p
}

#[test]
fn a_flipped_byte_anywhere_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(
        Ledger::create(
            dir.path(),
            "tamper.utbyte.invalid/log",
            LedgerOptions::default(),
        )
        .unwrap(),
    );
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let l = ledger.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    l.append(format!("thread {t} entry {i} {}", "z".repeat(i % 40)).as_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    // A checkpoint mid-way leaves partial tiles for an older size on disk: they are checked too.
    Arc::try_unwrap(ledger).unwrap().close().unwrap();
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();

    let mut checked = 0;
    let mut skipped = Vec::new();
    for path in files(dir.path()) {
        let rel = path
            .strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        // Secrets and the lock are not part of what an auditor verifies.
        if rel.starts_with("private/") || rel == "LOCK" {
            skipped.push(rel);
            continue;
        }
        let original = std::fs::read(&path).unwrap();
        let stride = if rel == "log" { 89 } else { 211 };
        for at in positions(original.len(), stride) {
            // Alternate low and high bits so both the checksummed bytes and the text survive tests.
            {
                let mask = if at % 2 == 0 { 0x01u8 } else { 0x80 };
                let mut damaged = original.clone();
                damaged[at] ^= mask;
                std::fs::write(&path, &damaged).unwrap();
                let result = verify_dir(dir.path(), &VerifyOptions::default());
                assert!(
                    result.is_err(),
                    "flipping bit {mask:#04x} of byte {at} in {rel} went unnoticed"
                );
                checked += 1;
            }
        }
        std::fs::write(&path, &original).unwrap();
    }
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
    assert!(checked > 500, "only {checked} flips tried");
    assert_eq!(skipped.len(), 3, "unexpected files skipped: {skipped:?}");

    // Extra or missing files are noticed too.
    std::fs::create_dir_all(dir.path().join("tile/0/000.p")).unwrap();
    std::fs::write(dir.path().join("tile/0/000.p/7"), [0u8; 7 * 32]).unwrap();
    assert!(
        verify_dir(dir.path(), &VerifyOptions::default()).is_err(),
        "stray partial tile"
    );
    std::fs::remove_dir_all(dir.path().join("tile/0/000.p")).unwrap();
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
    std::fs::remove_file(dir.path().join("tile/entries/001")).unwrap();
    assert!(
        verify_dir(dir.path(), &VerifyOptions::default()).is_err(),
        "missing bundle"
    );
}

#[test]
fn a_cancelled_verification_stops_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(
        dir.path(),
        "cancel.utbyte.invalid/log",
        LedgerOptions::default(),
    )
    .unwrap();
    for i in 0..10 {
        ledger.append(format!("entry {i}").as_bytes()).unwrap();
    }
    ledger.close().unwrap();
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = VerifyOptions {
        cancelled: Some(Arc::clone(&flag)),
        ..VerifyOptions::default()
    };
    verify_dir(dir.path(), &options).unwrap();
    flag.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        verify_dir(dir.path(), &options),
        Err(utbyte_ledger::verify::VerifyError::Cancelled)
    ));
}
