//! Audit records (`utbyte-audit`): what an auditor, the statistics and the subject index read
//! from ledger leaves and from the index file.
//!
//! Selector (first byte, modulo 3):
//! - 0: the rest as one leaf: `AuditRecord::from_leaf`. An accepted leaf is canonical (it
//!   re-encodes to the same bytes), keeps every rule of docs/audit-record.md (every string
//!   non-empty, at most 512 bytes, free of control characters), has a Swedish day, and counts.
//! - 1: the rest as leaves separated by newlines, in ledger order: the follow-up statistics
//!   and an in-memory subject index over those that are records.
//! - 2: the rest as the subject index file (`private/subject-index`), loaded read-only: every
//!   whole record in it is found, and the watermark is the largest one written.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use utbyte_audit::index::SubjectIndex;
use utbyte_audit::{AuditRecord, Stats};
use utbyte_fuzz::{scratch, split};
use utbyte_ledger::Commitment;

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = split(data) else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Ok(record) = AuditRecord::from_leaf(rest) {
                accepted(rest, &record);
                let mut stats = Stats::default();
                stats.add(0, &record);
                summarise(&stats);
            }
        }
        1 => sequence(rest),
        _ => index_file(rest),
    }
});

fn accepted(leaf: &[u8], record: &AuditRecord) {
    let again = record
        .to_leaf()
        .unwrap_or_else(|e| panic!("an accepted record does not encode: {e}"));
    assert_eq!(again, leaf, "an accepted leaf is not canonical");
    let value: Value = serde_json::from_slice(leaf).unwrap_or_else(|e| panic!("{e}"));
    strings(&value, "");
    let day = record.day();
    let b = day.as_bytes();
    assert!(
        day.len() == 10 && b[4] == b'-' && b[7] == b'-',
        "day {day} of {}",
        record.time
    );
}

/// docs/audit-record.md: "All strings are non-empty, contain no control characters and are at
/// most 512 bytes; lists have at most 256 items."
fn strings(value: &Value, at: &str) {
    match value {
        Value::String(s) => {
            assert!(!s.trim().is_empty(), "{at}: empty");
            assert!(s.len() <= 512, "{at}: {} bytes", s.len());
            assert!(
                !s.chars().any(char::is_control),
                "{at}: a control character"
            );
        }
        Value::Array(items) => {
            assert!(items.len() <= 256, "{at}: {} items", items.len());
            for item in items {
                strings(item, at);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                strings(member, &format!("{at}.{key}"));
            }
        }
        _ => {}
    }
}

fn summarise(stats: &Stats) {
    let _ = stats.open_reviews();
    if let Some(turnaround) = stats.review_turnaround() {
        assert!(turnaround.median_seconds <= turnaround.p90_seconds);
        assert!(turnaround.p90_seconds <= turnaround.max_seconds);
        let counted: u64 = turnaround.buckets.iter().map(|b| b.count).sum();
        assert_eq!(counted, turnaround.count);
    }
    serde_json::to_string(stats).unwrap_or_else(|e| panic!("stats do not serialise: {e}"));
}

fn sequence(rest: &[u8]) {
    let mut stats = Stats::default();
    let mut index = SubjectIndex::default();
    let mut about: Vec<(Commitment, u64)> = Vec::new();
    let records = rest
        .split(|b| *b == b'\n')
        .filter_map(|leaf| AuditRecord::from_leaf(leaf).ok());
    for (at, record) in (0u64..).zip(records) {
        stats.add(at, &record);
        index
            .add(at, &record)
            .unwrap_or_else(|e| panic!("an index in memory fails: {e}"));
        about.extend(record.subjects.iter().map(|c| (*c, at)));
    }
    summarise(&stats);
    for (commitment, at) in about {
        assert!(index.lookup(&commitment).contains(&at));
    }
}

fn index_file(bytes: &[u8]) {
    let dir = scratch().join("audit");
    let path = SubjectIndex::path(&dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    let index = SubjectIndex::load(&dir, false)
        .unwrap_or_else(|e| panic!("a readable index file is refused: {e}"));
    let mut watermark = 0;
    for record in bytes.chunks_exact(40) {
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&record[..32]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&record[32..]);
        let at = u64::from_be_bytes(at);
        if commitment == [0; 32] {
            watermark = watermark.max(at);
        } else {
            assert!(index.lookup(&Commitment(commitment)).contains(&at));
        }
    }
    assert_eq!(index.covered(), watermark);
}
