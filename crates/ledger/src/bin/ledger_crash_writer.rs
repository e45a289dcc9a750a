//! Test helper for the crash test (`tests/crash.rs`): opens (or creates) a ledger and appends
//! from several threads until it is killed, printing `ack <index> <leaf hash hex>` for an entry
//! only after `append` has returned for it. The test SIGKILLs this process at random moments and
//! checks that every printed entry survived.
//!
//! Usage: `ledger-crash-writer DIR THREADS`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use utbyte_ledger::{leaf_hash, Ledger, LedgerOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads)) = (
        args.get(1),
        args.get(2).and_then(|t| t.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: ledger-crash-writer DIR THREADS");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let options = LedgerOptions {
        publish_interval: std::time::Duration::from_millis(20),
    };
    let opened = if dir.join("log.vkey").exists() {
        Ledger::open(&dir, options)
    } else {
        Ledger::create(&dir, "crash.test.utbyte.invalid/log", options)
    };
    let ledger = match opened {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("open failed: {e}");
            return ExitCode::from(1);
        }
    };
    println!("open {}", ledger.size());
    let pid = std::process::id();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                for seq in 0u64.. {
                    // Entry sizes vary so that frames straddle page and buffer boundaries.
                    let pad = ((seq * 7919 + t as u64 * 104_729) % 700) as usize;
                    let entry = format!("pid {pid} thread {t} seq {seq} {}", "x".repeat(pad));
                    match ledger.append(entry.as_bytes()) {
                        Ok(r) => {
                            let line = format!(
                                "ack {} {}\n",
                                r.index,
                                leaf_hash(entry.as_bytes()).to_hex()
                            );
                            let _ = std::io::stdout().lock().write_all(line.as_bytes());
                        }
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    ExitCode::SUCCESS
}
