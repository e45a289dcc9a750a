//! Witnessing: a witness cosigns only histories consistent with what it saw, so a log that forks
//! (shows two different histories) cannot get the second one cosigned.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use utbyte_ledger::note::{random_seed, SignerKey, ALG_COSIGNATURE_V1};
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::{
    open_checkpoint, verify_cosignature, Ledger, LedgerOptions, Note, Witness, WitnessError,
};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn witness_cosigns_consistent_growth_and_refuses_a_fork() {
    let root = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    let ledger =
        Ledger::create(&a_dir, "fork.utbyte.invalid/log", LedgerOptions::default()).unwrap();
    for i in 0..300 {
        ledger.append(format!("common {i}").as_bytes()).unwrap();
    }
    let first = ledger.checkpoint().unwrap();
    let witness_key = SignerKey::from_seed(
        "witness.utbyte.invalid/w1",
        ALG_COSIGNATURE_V1,
        random_seed().unwrap(),
    )
    .unwrap();
    let witness_vkey = witness_key.verifier.clone();
    let mut witness = Witness::new(witness_key, ledger.verifier().clone());
    let empty = ledger.consistency_proof(0, 300).unwrap();
    witness
        .cosign(&first.to_string(), &empty, 1_700_000_000)
        .unwrap();
    ledger.close().unwrap();

    // The same node key, two diverging histories.
    copy_dir(&a_dir, &b_dir);
    let a = Ledger::open(&a_dir, LedgerOptions::default()).unwrap();
    let b = Ledger::open(&b_dir, LedgerOptions::default()).unwrap();
    for i in 0..20 {
        a.append(format!("history A {i}").as_bytes()).unwrap();
        b.append(format!("history B {i}").as_bytes()).unwrap();
    }
    let a_note = a.checkpoint().unwrap();
    let b_same_size = b.checkpoint().unwrap();
    for i in 20..25 {
        b.append(format!("history B {i}").as_bytes()).unwrap();
    }
    let b_note = b.checkpoint().unwrap();

    let a_sig = witness
        .cosign(
            &a_note.to_string(),
            &a.consistency_proof(300, 320).unwrap(),
            1_700_000_060,
        )
        .unwrap();
    let mut cosigned = a_note.clone();
    cosigned.signatures.push(a_sig);
    verify_cosignature(&cosigned, &witness_vkey).unwrap();
    a.add_cosignatures(&cosigned).unwrap();

    // B's proofs are honest about B, but B is not an extension of what the witness cosigned:
    // neither at the same size nor later.
    let same = witness.cosign(
        &b_same_size.to_string(),
        &b.consistency_proof(320, 320).unwrap(),
        1_700_000_061,
    );
    assert!(
        matches!(same, Err(WitnessError::Inconsistent { .. })),
        "{same:?}"
    );
    let refused = witness.cosign(
        &b_note.to_string(),
        &b.consistency_proof(320, 325).unwrap(),
        1_700_000_061,
    );
    assert!(
        matches!(refused, Err(WitnessError::Inconsistent { .. })),
        "{refused:?}"
    );
    let wrong_sizes = witness.cosign(
        &b_note.to_string(),
        &b.consistency_proof(300, 325).unwrap(),
        1_700_000_061,
    );
    assert!(
        matches!(wrong_sizes, Err(WitnessError::ProofForOtherSizes { .. })),
        "{wrong_sizes:?}"
    );
    // Nor will it go backwards.
    let rollback = witness.cosign(
        &first.to_string(),
        &a.consistency_proof(300, 300).unwrap(),
        1_700_000_062,
    );
    assert!(
        matches!(rollback, Err(WitnessError::Rollback { .. })),
        "{rollback:?}"
    );

    a.close().unwrap();
    b.close().unwrap();
    let with_witness = VerifyOptions {
        witnesses: vec![witness_vkey.clone()],
        since: Some(first.to_string()),
        ..Default::default()
    };
    let report = verify_dir(&a_dir, &with_witness).unwrap();
    assert_eq!(report.consistent_since, Some(300));
    assert_eq!(
        report.cosigned_by,
        vec![("witness.utbyte.invalid/w1".to_owned(), 1_700_000_060)]
    );
    assert!(
        verify_dir(&b_dir, &with_witness).is_err(),
        "B carries no cosignature"
    );

    // The published checkpoint parses as a normal checkpoint with an extra signature line.
    let text = std::fs::read_to_string(a_dir.join("checkpoint")).unwrap();
    let note = Note::parse(&text).unwrap();
    assert_eq!(note.signatures.len(), 2);
    let (cp, _) =
        open_checkpoint(&text, &utbyte_ledger::keys::load_verifier(&a_dir).unwrap()).unwrap();
    assert_eq!(cp.size, 320);
    // A tampered timestamp breaks the cosignature.
    let mut forged = note.clone();
    forged.signatures[1].bytes[7] ^= 1;
    assert!(verify_cosignature(&forged, &witness_vkey).is_err());
}
