//! The audit layer end to end: record, reopen, report, count, and the canonical form.

// Test code: a failed unwrap is a failed test, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use utbyte_audit::sample::{sample_record, SAMPLE_SUBJECTS};
use utbyte_audit::{
    stats, subject_report, AuditDir, AuditLog, AuditRecord, EventKind, Page, RecordError,
    SubjectIdentifier,
};
use utbyte_ledger::verify::{verify_dir, VerifyOptions};

const PROVIDER: &str = "Skatteverket";

fn build(dir: &std::path::Path, n: u64) {
    let log = Arc::new(AuditLog::create(dir, "skatteverket.utbyte.invalid/audit").unwrap());
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in (t..n).step_by(4) {
                    let (record, subjects) = sample_record(i, PROVIDER);
                    log.record(record, &subjects).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    Arc::try_unwrap(log).unwrap().close().unwrap();
}

#[test]
fn subject_report_lists_exactly_the_records_about_the_subject_with_valid_proofs() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 400);
    verify_dir(dir.path(), &VerifyOptions::default()).unwrap();
    let audit = AuditDir::open(dir.path(), None).unwrap();
    assert_eq!(audit.size(), 400);

    let subject = SubjectIdentifier::new(SAMPLE_SUBJECTS[0]).unwrap();
    let report = subject_report(&audit, &subject, Page::ALL).unwrap();
    // Ground truth computed independently of the index: regenerate the samples.
    let expected = (0..400)
        .filter(|&i| {
            let (_, subjects) = sample_record(i, PROVIDER);
            subjects.contains(&subject)
        })
        .count();
    assert!(expected > 20);
    assert_eq!(report.entries.len(), expected);
    let root = audit.checkpoint().root;
    for e in &report.entries {
        e.proof.verify(&e.leaf_hash, &root).unwrap();
    }
    // No identifier in the report, in any form.
    let json = serde_json::to_string(&report).unwrap();
    for id in SAMPLE_SUBJECTS {
        assert!(
            !json.contains(id) && !json.contains(&id.replace('-', "")),
            "identifier leaked into report"
        );
        assert!(!report.to_string().contains(id));
    }
    // Nor in the published tiles.
    for entry in walk(&dir.path().join("tile")) {
        let bytes = std::fs::read(entry).unwrap();
        for id in SAMPLE_SUBJECTS {
            assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()));
        }
    }
    assert_eq!(report.next, None, "one report holds every record");
    let nobody = SubjectIdentifier::new("19000101-0000").unwrap();
    assert!(subject_report(&audit, &nobody, Page::ALL)
        .unwrap()
        .entries
        .is_empty());

    // Paged: the pages, read one after the other, are the whole report, each entry once.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = subject_report(&audit, &subject, Page { after, limit: 7 }).unwrap();
        assert!(page.entries.len() <= 7);
        paged.extend(page.entries.iter().map(|e| e.index));
        match page.next {
            Some(next) => {
                assert_eq!(Some(next), page.entries.last().map(|e| e.index));
                after = Some(next);
            }
            None => break,
        }
    }
    let whole: Vec<u64> = report.entries.iter().map(|e| e.index).collect();
    assert_eq!(paged, whole);
}

#[test]
fn index_is_rebuilt_when_lost_and_records_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 120);
    let subject = SubjectIdentifier::new(SAMPLE_SUBJECTS[1]).unwrap();
    let before = subject_report(
        &AuditDir::open(dir.path(), None).unwrap(),
        &subject,
        Page::ALL,
    )
    .unwrap()
    .entries
    .len();
    std::fs::remove_file(utbyte_audit::index::SubjectIndex::path(dir.path())).unwrap();
    let log = AuditLog::open(dir.path()).unwrap();
    assert_eq!(log.records_about(&subject).len(), before);
    let (record, subjects) = sample_record(1, PROVIDER);
    log.record(record, &subjects).unwrap();
    log.close().unwrap();
    let after = subject_report(
        &AuditDir::open(dir.path(), None).unwrap(),
        &SubjectIdentifier::new(SAMPLE_SUBJECTS[sample_subject(1)]).unwrap(),
        Page::ALL,
    );
    assert!(after.unwrap().entries.iter().any(|e| e.index == 120));
}

fn sample_subject(i: u64) -> usize {
    let (_, subjects) = sample_record(i, PROVIDER);
    SAMPLE_SUBJECTS
        .iter()
        .position(|s| subjects.contains(&SubjectIdentifier::new(s).unwrap()))
        .unwrap()
}

#[test]
fn stats_count_by_event_offering_provision_and_day() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 100);
    let s = stats(&AuditDir::open(dir.path(), None).unwrap()).unwrap();
    assert_eq!(s.entries, 100);
    assert_eq!(s.by_event.get("disclosure"), Some(&60));
    assert_eq!(s.by_event.get("refusal"), Some(&20));
    assert_eq!(s.by_event.get("review_decision"), Some(&10));
    assert_eq!(s.by_event.get("configuration_change"), Some(&10));
    assert_eq!(s.by_offering.values().sum::<u64>(), 90);
    assert_eq!(s.by_day.values().sum::<u64>(), 100);
    assert_eq!(s.by_provision.get("OSL 10:28"), Some(&90));
    // Per day and event: the same totals both ways.
    for (day, events) in &s.by_day_event {
        assert_eq!(Some(&events.values().sum::<u64>()), s.by_day.get(day));
    }
    let per_event = |event: &str| -> u64 {
        s.by_day_event
            .values()
            .filter_map(|events| events.get(event))
            .sum()
    };
    assert_eq!(per_event("disclosure"), 60);
    assert_eq!(per_event("review_decision"), 10);
    // The sample's review decisions refer to refusals, not to review requests: no turnaround.
    assert!(s.review_turnaround_seconds.is_empty());
    assert_eq!(s.review_turnaround(), None);
}

#[test]
fn stats_measure_review_turnaround_by_ledger_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::create(dir.path(), "skatteverket.utbyte.invalid/audit").unwrap();
    let append = |event: EventKind, time: &str, refers_to: Option<u64>| {
        let (mut record, subjects) = sample_record(1, PROVIDER);
        record.event = event;
        record.time = time.to_owned();
        record.refers_to = refers_to;
        record.payload_sha256 = (event != EventKind::ReviewRequest).then(|| "ab".repeat(32));
        if event == EventKind::ReviewRequest {
            record.fields[0].outcome = utbyte_audit::Outcome::Review;
        }
        log.record(record, &subjects).unwrap().index
    };
    append(EventKind::Disclosure, "2025-03-01T08:00:00Z", None);
    let request = append(EventKind::ReviewRequest, "2025-03-01T09:00:00Z", None);
    append(EventKind::Disclosure, "2025-03-01T09:10:00Z", None);
    append(
        EventKind::ReviewDecision,
        "2025-03-01T09:45:30Z",
        Some(request),
    );
    let unanswered = append(EventKind::ReviewRequest, "2025-03-02T09:00:00Z", None);
    append(EventKind::ReviewDecision, "2025-03-02T10:00:00Z", Some(0));
    log.close().unwrap();

    let s = stats(&AuditDir::open(dir.path(), None).unwrap()).unwrap();
    assert_eq!((request, unanswered), (1, 4));
    assert_eq!(s.review_turnaround_seconds, vec![45 * 60 + 30]);
    assert_eq!(s.open_reviews(), 1);
    assert_eq!(s.review_turnaround().unwrap().median_seconds, 2730);
    assert_eq!(s.by_day_event["2025-03-01"]["disclosure"], 2);
    assert_eq!(s.by_day_event["2025-03-02"]["review_request"], 1);
}

#[test]
fn leaves_are_canonical_and_validated() {
    let (mut record, _) = sample_record(0, PROVIDER);
    record.subjects =
        vec![utbyte_ledger::CommitmentKey::from_bytes([1; 32]).commit("subject", b"x")];
    let leaf = record.to_leaf().unwrap();
    assert_eq!(AuditRecord::from_leaf(&leaf).unwrap(), record);
    let text = String::from_utf8(leaf.clone()).unwrap();
    assert!(text.starts_with("{\"actor\":{\"authority\":"), "{text}");
    // Same content, other spellings: rejected.
    let spaced = text.replacen(":", ": ", 1);
    assert_eq!(
        AuditRecord::from_leaf(spaced.as_bytes()),
        Err(RecordError::NotCanonical)
    );
    let mut value: serde_json::Value = serde_json::from_slice(&leaf).unwrap();
    value["extra"] = serde_json::json!(1);
    assert!(matches!(
        AuditRecord::from_leaf(value.to_string().as_bytes()),
        Err(RecordError::Json(_))
    ));

    let mut bad = record.clone();
    bad.time = "2025-03-01 10:00:00".into();
    assert!(matches!(
        bad.to_leaf(),
        Err(RecordError::Invalid { field: "time", .. })
    ));
    let mut bad = record.clone();
    bad.payload_sha256 = None;
    assert!(matches!(
        bad.to_leaf(),
        Err(RecordError::Invalid {
            field: "payload_sha256",
            ..
        })
    ));
    let mut bad = record.clone();
    bad.event = EventKind::Refusal;
    assert!(matches!(
        bad.to_leaf(),
        Err(RecordError::Invalid {
            field: "fields",
            ..
        })
    ));
    let mut bad = record;
    bad.rulebook_sha256 = "ABC".into();
    assert!(matches!(
        bad.to_leaf(),
        Err(RecordError::Invalid {
            field: "rulebook_sha256",
            ..
        })
    ));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn the_actors_client_and_vouch_are_texts_like_every_other() {
    // docs/audit-record.md: every string is non-empty, free of control characters and at most
    // 512 bytes — the system that vouched and how are strings of the record too.
    let (record, _) = sample_record(0, PROVIDER);
    for (client, vouch, field) in [
        ("", "assertion", "actor.client"),
        ("arende\u{1}", "assertion", "actor.client"),
        ("arende", "\n", "actor.vouch"),
        ("arende", &"v".repeat(513), "actor.vouch"),
    ] {
        let mut bad = record.clone();
        bad.actor.client = Some(client.to_owned());
        bad.actor.vouch = Some(vouch.to_owned());
        assert!(
            matches!(bad.to_leaf(), Err(RecordError::Invalid { field: f, .. }) if f == field),
            "{client:?} {vouch:?} written"
        );
        let leaf = serde_json::to_vec(&bad).unwrap();
        assert!(
            matches!(AuditRecord::from_leaf(&leaf), Err(RecordError::Invalid { field: f, .. }) if f == field),
            "{client:?} {vouch:?} read"
        );
    }
}

#[test]
fn a_notice_record_names_its_notices_and_what_it_follows_from() {
    let (sample, _) = sample_record(0, PROVIDER);
    let sent = AuditRecord {
        event: EventKind::NoticeSent,
        bulk: None,
        notices: Some(utbyte_audit::NoticeBatch {
            count: 3,
            events: vec!["adress-andrad".into()],
            first: 10,
            from: PROVIDER.into(),
            last: 14,
            subscription: "bostad-1".into(),
            to: "forsakringskassan".into(),
        }),
        refers_to: Some(2),
        ..sample.clone()
    };
    let leaf = sent.to_leaf().unwrap();
    assert_eq!(AuditRecord::from_leaf(&leaf).unwrap(), sent);
    let text = String::from_utf8(leaf).unwrap();
    assert!(
        text.contains(r#""notices":{"count":3,"events":["adress-andrad"],"first":10,"from":"Skatteverket","last":14,"subscription":"bostad-1","to":"forsakringskassan"},"offering""#),
        "{text}"
    );
    let invalid = |record: AuditRecord| match record.to_leaf() {
        Err(RecordError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    // A notice's event names its notices; no other event does.
    assert_eq!(
        invalid(AuditRecord {
            notices: None,
            ..sent.clone()
        }),
        "notices"
    );
    assert_eq!(
        invalid(AuditRecord {
            notices: sent.notices.clone(),
            ..sample.clone()
        }),
        "notices"
    );
    assert_eq!(
        invalid(AuditRecord {
            refers_to: None,
            ..sent.clone()
        }),
        "refers_to"
    );
    assert_eq!(
        invalid(AuditRecord {
            payload_sha256: None,
            event: EventKind::NoticeReceived,
            ..sent.clone()
        }),
        "payload_sha256"
    );
    // Withheld notices disclose nothing.
    assert_eq!(
        invalid(AuditRecord {
            event: EventKind::NoticeWithheld,
            ..sent
        }),
        "fields"
    );
}

#[test]
fn a_bulk_record_names_its_part_and_is_an_answer_or_its_receipt() {
    let (sample, _) = sample_record(0, PROVIDER);
    let part = AuditRecord {
        bulk: Some(utbyte_audit::BulkRef {
            count: 256,
            first: 1024,
            id: "0123456789abcdef0123456789abcdef".into(),
        }),
        ..sample.clone()
    };
    let leaf = part.to_leaf().unwrap();
    assert_eq!(AuditRecord::from_leaf(&leaf).unwrap(), part);
    let text = String::from_utf8(leaf).unwrap();
    assert!(
        text.contains(
            r#""bulk":{"count":256,"first":1024,"id":"0123456789abcdef0123456789abcdef"},"event""#
        ),
        "{text}"
    );
    let invalid = |record: AuditRecord| match record.to_leaf() {
        Err(RecordError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    for count in [0, 257] {
        let mut wrong = part.clone();
        if let Some(bulk) = &mut wrong.bulk {
            bulk.count = count;
        }
        assert_eq!(invalid(wrong), "bulk.count", "{count}");
    }
    assert_eq!(
        invalid(AuditRecord {
            event: EventKind::SubscriptionDecision,
            ..part
        }),
        "bulk"
    );
}
