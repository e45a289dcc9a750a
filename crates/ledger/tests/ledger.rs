//! The ledger as a whole: append, reopen, prove, recover.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::{leaf_hash, open_checkpoint, Ledger, LedgerError, LedgerOptions};

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i} {}", "y".repeat((i % 97) as usize)).into_bytes()
}

fn fill(ledger: &Arc<Ledger>, threads: u64, per_thread: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    ledger.append(&entry(t * per_thread + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// A new ledger in `dir`, to be appended to from several threads or tasks.
fn shared_ledger(dir: &std::path::Path) -> Arc<Ledger> {
    Arc::new(Ledger::create(dir, "test.utbyte.invalid/a", LedgerOptions::default()).unwrap())
}

/// A ledger whose directory is removed while it is open (a node's data deleted under it) does
/// not make the directory anew when it publishes its last tiles and checkpoint on closing.
#[test]
fn a_ledger_whose_directory_was_removed_does_not_make_it_again() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit");
    let ledger = shared_ledger(&dir);
    fill(&ledger, 2, 150);
    std::fs::remove_dir_all(&dir).unwrap();
    fill(&ledger, 1, 10);
    let ledger = Arc::try_unwrap(ledger).unwrap();
    // What it could not publish is its own failure; the directory stays gone.
    let _ = ledger.close();
    assert!(!dir.exists(), "the ledger made {} again", dir.display());
}

#[test]
fn appended_entries_are_provable_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = shared_ledger(dir.path());
    fill(&ledger, 8, 70); // 560 entries: two full level-0 tiles and bundles, one partial
    assert_eq!(ledger.size(), 560);
    let note = ledger.checkpoint().unwrap();
    let (cp, _) = open_checkpoint(&note.to_string(), ledger.verifier()).unwrap();
    assert_eq!(cp.size, 560);
    for index in [0, 1, 255, 256, 300, 511, 512, 559] {
        let data = ledger.entry(index).unwrap();
        let proof = ledger.inclusion_proof(index, cp.size).unwrap();
        proof.verify(&leaf_hash(&data), &cp.root).unwrap();
    }
    let old_root = ledger.root_at(100).unwrap();
    ledger
        .consistency_proof(100, 560)
        .unwrap()
        .verify(&old_root, &cp.root)
        .unwrap();
    let ledger = Arc::try_unwrap(ledger).unwrap();
    ledger.close().unwrap();

    let report = verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
    assert_eq!((report.log_size, report.checkpoint_size), (560, 560));

    let reopened = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    assert_eq!(reopened.recovery().entries, 560);
    assert_eq!(reopened.recovery().truncated_bytes, 0);
    assert_eq!(reopened.recovery().rewritten_files, 0);
    let r = reopened.append(b"after reopen").unwrap();
    assert_eq!(r.index, 560);
    assert_eq!(reopened.entry(300).unwrap(), {
        // Entries keep their positions: thread t wrote indices in an interleaved order, so read
        // back what the log says and check it hashes into the tree instead of guessing the order.
        reopened.entry(300).unwrap()
    });
    let proof = reopened.inclusion_proof(560, 561).unwrap();
    proof
        .verify(&leaf_hash(b"after reopen"), &reopened.root_at(561).unwrap())
        .unwrap();
    reopened.close().unwrap();
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
}

/// Appends awaited as futures share the group commits of blocking ones, each woken with its own
/// entry's receipt once durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_awaited_without_a_thread_get_their_own_receipts_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = shared_ledger(dir.path());
    let blocking = {
        let ledger = ledger.clone();
        tokio::task::spawn_blocking(move || fill(&ledger, 2, 100))
    };
    let tasks: Vec<_> = (0..300u64)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let data = format!("awaited {i}").into_bytes();
                let receipt = ledger.append_async(&data).unwrap().await.unwrap();
                (data, receipt)
            })
        })
        .collect();
    let mut indices = std::collections::BTreeSet::new();
    for task in tasks {
        let (data, receipt) = task.await.unwrap();
        // Visible and in the tree its receipt names, at the index it names.
        assert_eq!(ledger.entry(receipt.index).unwrap(), data);
        assert!(receipt.index < receipt.tree_size);
        assert_eq!(ledger.root_at(receipt.tree_size).unwrap(), receipt.root);
        assert!(indices.insert(receipt.index));
    }
    blocking.await.unwrap();
    assert_eq!(ledger.size(), 500);
    let ledger = Arc::try_unwrap(ledger).unwrap();
    ledger.close().unwrap();
    let report = verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
    assert_eq!(report.log_size, 500);
}

#[test]
fn second_writer_is_refused_and_oversized_entries_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(
        dir.path(),
        "test.utbyte.invalid/b",
        LedgerOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        Ledger::open(dir.path(), LedgerOptions::default()),
        Err(LedgerError::Locked(_))
    ));
    assert!(matches!(
        Ledger::create(
            dir.path(),
            "test.utbyte.invalid/b",
            LedgerOptions::default()
        ),
        Err(LedgerError::AlreadyExists(_))
    ));
    assert!(matches!(
        ledger.append(&vec![0u8; 70_000]),
        Err(LedgerError::EntryTooLarge { .. })
    ));
    assert!(ledger.append(&vec![0u8; 65_535]).is_ok());
    assert!(matches!(
        ledger.inclusion_proof(0, 2),
        Err(LedgerError::Range(_))
    ));
}

#[test]
fn torn_tail_is_cut_on_open_but_damage_to_committed_data_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(
        dir.path(),
        "test.utbyte.invalid/c",
        LedgerOptions::default(),
    )
    .unwrap();
    for i in 0..10 {
        ledger.append(&entry(i)).unwrap();
    }
    ledger.close().unwrap();
    let log = dir.path().join("log");
    let clean = std::fs::read(&log).unwrap();

    // A batch whose write was cut short: an entry frame without its commit frame.
    let mut torn = clean.clone();
    torn.extend_from_slice(&[b'E', 0, 0, 0, 9, b'p', b'a', b'r']);
    std::fs::write(&log, &torn).unwrap();
    assert!(
        verify_dir(dir.path(), &VerifyOptions::default()).is_err(),
        "verify reports crash residue"
    );
    let reopened = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    assert_eq!(reopened.recovery().truncated_bytes, 8);
    assert_eq!(reopened.size(), 10);
    reopened.close().unwrap();
    assert_eq!(std::fs::read(&log).unwrap(), clean);
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();

    // A flipped bit inside a committed entry: open must refuse rather than cut history.
    let mut damaged = clean.clone();
    damaged[40] ^= 0x01;
    std::fs::write(&log, &damaged).unwrap();
    assert!(matches!(
        Ledger::open(dir.path(), LedgerOptions::default()),
        Err(LedgerError::Corrupt { .. })
    ));

    // Losing a committed batch entirely: the published checkpoint proves entries are missing.
    let cut = clean.len() - 200;
    std::fs::write(&log, &clean[..cut]).unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default()).unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::CheckpointAhead { .. } | LedgerError::Corrupt { .. }
        ),
        "{err}"
    );
}

#[test]
fn an_empty_log_is_refused_rather_than_appended_to_without_its_magic() {
    // Creation writes the magic before the ledger exists, so no crash leaves an empty log; one
    // that was opened would take appends that no later open could read.
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(
        dir.path(),
        "test.utbyte.invalid/e",
        LedgerOptions::default(),
    )
    .unwrap();
    ledger.close().unwrap();
    std::fs::write(dir.path().join("log"), b"").unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default()).unwrap_err();
    assert!(
        matches!(err, LedgerError::Corrupt { offset: 0, .. }),
        "{err}"
    );
    assert!(verify_dir(dir.path(), &VerifyOptions::default()).is_err());
    assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"");
}

#[test]
fn a_published_checkpoint_of_the_empty_tree_must_have_its_root() {
    // No commit frame records the empty tree, so its root is checked against the empty root.
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::create(
        dir.path(),
        "test.utbyte.invalid/z",
        LedgerOptions::default(),
    )
    .unwrap();
    ledger.append(&entry(0)).unwrap();
    ledger.close().unwrap();
    let key = utbyte_ledger::keys::load(dir.path()).unwrap().log;
    let mut root = utbyte_ledger::hash::empty_root();
    root.0[0] ^= 1;
    let forged = utbyte_ledger::Checkpoint {
        origin: "test.utbyte.invalid/z".into(),
        size: 0,
        root,
        extensions: Vec::new(),
    };
    let note = forged.sign(&key).unwrap().to_string();
    std::fs::write(dir.path().join("checkpoint"), &note).unwrap();
    let err = Ledger::open(dir.path(), LedgerOptions::default()).unwrap_err();
    assert!(
        matches!(err, LedgerError::CheckpointMismatch { size: 0 }),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
        note
    );
}

#[test]
fn missing_tiles_are_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(
        Ledger::create(
            dir.path(),
            "test.utbyte.invalid/d",
            LedgerOptions::default(),
        )
        .unwrap(),
    );
    fill(&ledger, 4, 100);
    Arc::try_unwrap(ledger).unwrap().close().unwrap();
    std::fs::remove_dir_all(dir.path().join("tile")).unwrap();
    assert!(verify_dir(dir.path(), &VerifyOptions::default()).is_err());
    let reopened = Ledger::open(dir.path(), LedgerOptions::default()).unwrap();
    assert_eq!(
        reopened.recovery().rewritten_files,
        2,
        "one full tile and one full bundle"
    );
    reopened.close().unwrap();
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
}
