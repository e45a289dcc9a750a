//! A ledger shared by several writers: two audit logs with the same keys, each the replica of
//! one log kept elsewhere, see each other's records, with their subjects indexed, at the
//! indices the log gave them; a directory that holds what the log does not is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use utbyte_audit::sample::sample_record;
use utbyte_audit::{AuditError, AuditLog, SharedLog};

/// The shared log, in memory: entries in order, placed as they come.
#[derive(Default)]
struct Log(Mutex<Vec<Vec<u8>>>);

impl SharedLog for Log {
    fn append(&self, entry: &[u8]) -> Result<u64, String> {
        let mut entries = self.0.lock().unwrap();
        entries.push(entry.to_vec());
        Ok(entries.len() as u64 - 1)
    }

    fn entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, String> {
        let entries = self.0.lock().unwrap();
        Ok(entries
            .iter()
            .skip(from as usize)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    fn settle(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Two directories with one ledger's keys: a new ledger, and a copy of it.
fn two_replicas(root: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (one, two) = (root.join("one"), root.join("two"));
    AuditLog::create(&one, "test.utbyte.invalid/audit")
        .unwrap()
        .close()
        .unwrap();
    let copied = std::process::Command::new("cp")
        .args(["-a", one.to_str().unwrap(), two.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    (one, two)
}

#[test]
fn replicas_see_each_others_records_at_the_logs_indices() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = two_replicas(dir.path());
    let log: Arc<Log> = Arc::new(Log::default());
    let one = AuditLog::open(&one).unwrap().sharing(log.clone()).unwrap();
    let two = AuditLog::open(&two).unwrap().sharing(log.clone()).unwrap();
    let mut subjects = Vec::new();
    for i in 0..6 {
        let (record, about) = sample_record(i, "forsakringskassan");
        let writer = if i % 2 == 0 { &one } else { &two };
        let receipt = writer.record(record, &about).unwrap();
        assert_eq!(receipt.index, i, "the log's index");
        assert!(receipt.tree_size > i);
        subjects.extend(about.into_iter().map(|s| (i, s)));
    }
    assert_eq!(one.follow().unwrap(), 6);
    assert_eq!(two.settle().unwrap(), 6);
    let (size, root) = one.ledger().head();
    assert_eq!((size, root), two.ledger().head(), "one tree");
    for index in 0..6 {
        assert_eq!(
            one.ledger().entry(index).unwrap(),
            log.entries(index, 1).unwrap()[0]
        );
    }
    for (index, subject) in &subjects {
        assert!(one.records_about(subject).contains(index));
        assert!(two.records_about(subject).contains(index));
    }
}

#[test]
fn a_directory_holding_what_the_log_does_not_is_no_replica() {
    let dir = tempfile::tempdir().unwrap();
    let (one, _) = two_replicas(dir.path());
    let local = AuditLog::open(&one).unwrap();
    let (record, about) = sample_record(0, "forsakringskassan");
    local.record(record, &about).unwrap();
    let log: Arc<Log> = Arc::new(Log::default());
    let refused = local.sharing(log.clone());
    assert!(matches!(refused, Err(AuditError::NotAReplica { local: 1 })));
    // A log that holds the same entry at the same index: the directory is its replica.
    let local = AuditLog::open(&one).unwrap();
    log.append(&local.ledger().entry(0).unwrap()).unwrap();
    let replica = local.sharing(log).unwrap();
    assert_eq!(replica.ledger().size(), 1);
}
