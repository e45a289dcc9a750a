//! `utbyte audit …`: the auditor's toolbox over a ledger directory.
//!
//! Everything here reads the directory as an auditor would (checkpoint, tiles, bundles; the
//! log only for `verify`), except `subject`, which also needs the node's restricted index and
//! commitment key under `DIR/private/`. The hidden `sample` subcommand creates a demo ledger.

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use utbyte_audit::sample::sample_record;
use utbyte_audit::{stats, subject_report, AuditDir, AuditLog, Page, SubjectIdentifier};
use utbyte_domain::SubjectId;
use utbyte_ledger::verify::{verify_dir, VerifyOptions};
use utbyte_ledger::VerifierKey;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole ledger from its log and check every published byte, the latest
    /// checkpoint's signature, its consistency with an earlier checkpoint, and witnesses.
    Verify {
        /// The ledger directory.
        dir: PathBuf,
        /// An earlier checkpoint (file) that the current one must extend.
        #[arg(long)]
        since: Option<PathBuf>,
        /// The log's public key (vkey file) as you know it; default: DIR/log.vkey.
        #[arg(long)]
        key: Option<PathBuf>,
        /// A witness's public key (vkey file) whose cosignature is required; repeatable.
        #[arg(long = "witness")]
        witnesses: Vec<PathBuf>,
    },
    /// Print the inclusion proof of entry N against the latest checkpoint, as JSON.
    Prove {
        /// The ledger directory.
        dir: PathBuf,
        /// The entry's index (0-based).
        #[arg(long)]
        index: u64,
    },
    /// Subject-access report: who received information about this person, when, on what basis.
    Subject {
        /// The ledger directory (needs the node's private/ directory).
        dir: PathBuf,
        /// Personnummer, samordningsnummer (12 digits) or organisationsnummer.
        #[arg(long)]
        id: String,
        /// Print JSON with an inclusion proof for every entry.
        #[arg(long)]
        json: bool,
    },
    /// Entries by event, field outcome, offering, provision, day, and event per day; how long
    /// reviews took from request to decision (median, 90th percentile, maximum, histogram).
    Stats {
        /// The ledger directory.
        dir: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a ledger with deterministic sample records (for demos and tests).
    #[command(hide = true)]
    Sample {
        /// Where to create the ledger (must be absent or empty).
        dir: PathBuf,
        /// How many records.
        #[arg(long, default_value_t = 1000)]
        records: u64,
        /// The recording authority.
        #[arg(long, default_value = "Skatteverket")]
        provider: String,
        /// The log's origin (checkpoint first line and key name).
        #[arg(long, default_value = "skatteverket.utbyte.example/audit")]
        origin: String,
    },
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            dir,
            since,
            key,
            witnesses,
        } => verify(&dir, since, key, &witnesses),
        AuditCommand::Prove { dir, index } => prove(&dir, index),
        AuditCommand::Subject { dir, id, json } => subject(&dir, &id, json),
        AuditCommand::Stats { dir, json } => {
            let audit =
                AuditDir::open(&dir, None).with_context(|| format!("opening {}", dir.display()))?;
            let s = stats(&audit)?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&s)?))
            } else {
                emit(&s.to_string())
            }
        }
        AuditCommand::Sample {
            dir,
            records,
            provider,
            origin,
        } => sample(&dir, records, &provider, &origin),
    }
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn read_key(path: &Path) -> anyhow::Result<VerifierKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading key {}", path.display()))?;
    VerifierKey::parse(text.strip_suffix('\n').unwrap_or(&text))
        .with_context(|| format!("key {}", path.display()))
}

fn verify(
    dir: &Path,
    since: Option<PathBuf>,
    key: Option<PathBuf>,
    witnesses: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let options = VerifyOptions {
        cancelled: None,
        log_key: key.as_deref().map(read_key).transpose()?,
        since: since
            .map(|p| {
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
            })
            .transpose()?,
        witnesses: witnesses
            .iter()
            .map(|p| read_key(p))
            .collect::<anyhow::Result<_>>()?,
    };
    let report = match verify_dir(dir, &options) {
        Ok(r) => r,
        Err(e) => {
            println!("FAILED: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    // The ledger checks bytes; the audit layer checks that every leaf is a canonical record.
    let audit = AuditDir::open(dir, options.log_key.clone())?;
    for i in 0..audit.size() {
        if let Err(e) = audit.record(i) {
            println!("FAILED: {e}");
            return Ok(ExitCode::from(1));
        }
    }
    println!(
        "OK: {} — {} entries in {} group commits, all recomputed",
        report.origin, report.log_size, report.commits
    );
    println!(
        "  checkpoint: size {}, root {}, signature valid",
        report.checkpoint_size, report.root
    );
    println!("  {} tile and bundle files match the log byte for byte; every leaf is a canonical audit record", report.files_checked);
    if report.checkpoint_size < report.log_size {
        println!(
            "  note: the checkpoint is {} entries behind the log (publication pending)",
            report.log_size - report.checkpoint_size
        );
    }
    if let Some(old) = report.consistent_since {
        println!(
            "  consistent with the earlier checkpoint at size {old}: history was only appended to"
        );
    }
    for (name, ts) in &report.cosigned_by {
        println!("  cosigned by witness {name} at {ts}");
    }
    if report.key_from_directory {
        println!(
            "  note: the log key was taken from {}/log.vkey; pass --key with a copy you trust",
            dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prove(dir: &Path, index: u64) -> anyhow::Result<ExitCode> {
    let audit = AuditDir::open(dir, None).with_context(|| format!("opening {}", dir.display()))?;
    let (leaf, leaf_hash, proof) = audit.proven_entry(index)?;
    let out = json!({
        "origin": audit.checkpoint().origin,
        "index": index,
        "tree_size": audit.size(),
        "root": audit.checkpoint().root,
        "leaf": String::from_utf8_lossy(&leaf),
        "leaf_hash": leaf_hash,
        "proof": proof,
        "proof_bytes": proof.byte_len(),
        "checkpoint": audit.checkpoint_text(),
    });
    emit(&format!("{}\n", serde_json::to_string_pretty(&out)?))
}

fn subject(dir: &Path, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    // The identifier is never echoed back, not even in an error.
    let parsed: SubjectId = id
        .parse()
        .map_err(|e| anyhow::anyhow!("--id is not a valid identifier: {e}"))?;
    let audit = AuditDir::open(dir, None).with_context(|| format!("opening {}", dir.display()))?;
    let report = subject_report(&audit, &SubjectIdentifier::from(&parsed), Page::ALL)?;
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&report)?))
    } else {
        emit(&report.to_string())
    }
}

fn sample(dir: &Path, records: u64, provider: &str, origin: &str) -> anyhow::Result<ExitCode> {
    let log = Arc::new(
        AuditLog::create(dir, origin).with_context(|| format!("creating {}", dir.display()))?,
    );
    let threads = 8;
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (log, provider) = (log.clone(), provider.to_owned());
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in (t..records).step_by(threads as usize) {
                    let (record, subjects) = sample_record(i, &provider);
                    log.record(record, &subjects)?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("sample writer panicked"))??;
    }
    let log = Arc::try_unwrap(log).map_err(|_| anyhow::anyhow!("ledger still shared"))?;
    let size = log.ledger().size();
    log.close()?;
    println!("created {} with {size} sample records", dir.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_ledger(records: u64) -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("ledger");
        let cmd = AuditCommand::Sample {
            dir: dir.clone(),
            records,
            provider: "Skatteverket".into(),
            origin: "test.utbyte.invalid/audit".into(),
        };
        assert_eq!(run(cmd).unwrap(), ExitCode::SUCCESS);
        (root, dir)
    }

    #[test]
    fn verify_prove_subject_and_stats_work_on_a_sample_ledger() {
        let (root, dir) = sample_ledger(300);
        let old = root.path().join("old-checkpoint");
        std::fs::copy(dir.join("checkpoint"), &old).unwrap();
        let verify = |since: Option<PathBuf>| {
            run(AuditCommand::Verify {
                dir: dir.clone(),
                since,
                key: Some(dir.join("log.vkey")),
                witnesses: vec![],
            })
            .unwrap()
        };
        assert_eq!(verify(None), ExitCode::SUCCESS);
        assert_eq!(
            run(AuditCommand::Prove {
                dir: dir.clone(),
                index: 299
            })
            .unwrap(),
            ExitCode::SUCCESS
        );
        assert!(run(AuditCommand::Prove {
            dir: dir.clone(),
            index: 300
        })
        .is_err());
        let subject = AuditCommand::Subject {
            dir: dir.clone(),
            id: "191212121212".into(),
            json: true,
        };
        assert_eq!(run(subject).unwrap(), ExitCode::SUCCESS);
        let bad_id = AuditCommand::Subject {
            dir: dir.clone(),
            id: "191212121213".into(),
            json: false,
        };
        let message = run(bad_id).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("not a valid identifier") && !message.contains("191212121213"),
            "{message}"
        );
        assert_eq!(
            run(AuditCommand::Stats {
                dir: dir.clone(),
                json: true
            })
            .unwrap(),
            ExitCode::SUCCESS
        );

        // Grow the ledger: the old checkpoint must be proven consistent with the new one.
        let log = AuditLog::open(&dir).unwrap();
        let (record, subjects) = sample_record(7, "Skatteverket");
        log.record(record, &subjects).unwrap();
        log.close().unwrap();
        assert_eq!(verify(Some(old.clone())), ExitCode::SUCCESS);

        // A flipped byte in the log is reported as a verification failure (exit 1).
        let path = dir.join("log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x20;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(verify(Some(old)), ExitCode::from(1));
    }
}
