//! Crash test: a real writer process (`ledger-crash-writer`, 8 appender threads) is SIGKILLed at
//! random moments, 20 times over the same ledger. After each kill the ledger must reopen, every
//! entry the writer reported as acknowledged must be present with the same bytes and provable
//! against the signed checkpoint, and `verify` must pass.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::{leaf_hash, open_checkpoint, Ledger, LedgerOptions};

/// xorshift64*: a reproducible source of kill delays (the seed is printed on failure).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn sigkill_at_random_moments_never_loses_an_acknowledged_entry() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("crash test seed: {seed} (rerun with CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut truncations = 0;
    for cycle in 0..20 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-crash-writer"))
            .arg(dir.path())
            .arg("8")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Drain stdout while the writer runs, so a full pipe never throttles it, and say when the
        // writer has finished opening (its first line).
        let stdout = child.stdout.take().unwrap();
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut out = String::new();
            let mut lines = BufReader::new(stdout);
            let mut first = String::new();
            lines.read_line(&mut first)?;
            let _ = opened_tx.send(());
            out.push_str(&first);
            lines.read_to_string(&mut out).map(|_| out)
        });
        // Mostly mid-append; one cycle in four during open and recovery.
        let during_open = rng.next().is_multiple_of(4);
        let delay = if during_open {
            rng.next() % 20
        } else {
            5 + rng.next() % 150
        };
        if !during_open {
            opened_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("writer did not open within 30 s");
        }
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let out = reader.join().unwrap().unwrap();
        let mut new_acks = 0;
        for line in out.lines() {
            let mut parts = line.split(' ');
            if parts.next() != Some("ack") {
                continue;
            }
            let (Some(index), Some(hash)) = (parts.next(), parts.next()) else {
                continue;
            };
            let (Ok(index), true) = (index.parse::<u64>(), hash.len() == 64) else {
                continue;
            };
            let previous = acked.insert(index, hash.to_owned());
            assert!(
                previous.is_none(),
                "cycle {cycle}: index {index} acknowledged twice"
            );
            new_acks += 1;
        }

        if !dir.path().join("log.vkey").exists() {
            // Killed before creation finished: creation is atomic, so there is nothing at all.
            assert!(
                acked.is_empty(),
                "cycle {cycle}: acknowledged entries but no ledger"
            );
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "half-created ledger"
            );
            continue;
        }
        let ledger = Ledger::open(dir.path(), LedgerOptions::default())
            .unwrap_or_else(|e| panic!("cycle {cycle} (seed {seed}): reopen failed: {e}"));
        truncations += u64::from(ledger.recovery().truncated_bytes > 0);
        let size = ledger.size();
        let note = ledger.checkpoint().unwrap();
        let (cp, _) = open_checkpoint(&note.to_string(), ledger.verifier()).unwrap();
        assert_eq!(cp.size, size);
        if let Some((&last, _)) = acked.last_key_value() {
            assert!(
                last < size,
                "cycle {cycle}: acknowledged index {last} but log has {size} entries"
            );
        }
        for (&index, hash) in &acked {
            let data = ledger.entry(index).unwrap();
            assert_eq!(
                &leaf_hash(&data).to_hex(),
                hash,
                "cycle {cycle}: entry {index} changed"
            );
        }
        // Proofs for a sample (all of them would be slow in debug builds and prove nothing more).
        for (&index, _) in acked.iter().rev().take(50).chain(acked.iter().take(10)) {
            let leaf = leaf_hash(&ledger.entry(index).unwrap());
            ledger
                .inclusion_proof(index, cp.size)
                .unwrap()
                .verify(&leaf, &cp.root)
                .unwrap();
        }
        ledger.close().unwrap();
        verify_dir(dir.path(), &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("cycle {cycle} (seed {seed}): verify failed: {e}"));
        let when = if during_open {
            "after spawn"
        } else {
            "after open"
        };
        eprintln!("cycle {cycle}: killed {delay} ms {when}, {new_acks} new acks, log size {size}");
    }
    assert!(
        acked.len() > 1000,
        "the writer made too little progress to test anything: {}",
        acked.len()
    );
    eprintln!(
        "{} acknowledged entries survived 20 kills; {truncations} reopenings cut a torn batch",
        acked.len()
    );
}
