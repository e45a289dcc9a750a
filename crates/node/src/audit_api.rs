//! The auditor's view of this node's own ledger, on the local API: where the log stands (size,
//! root, signed checkpoint, witness cosignatures), a full verification, subject-access reports
//! (registerutdrag) and follow-up statistics.
//!
//! Every request reads the ledger directory afresh, as `utbyte audit` does: the signed
//! `checkpoint`, tiles and entry bundles, never the writer's lock. That is safe while the node
//! appends, because the ledger replaces published files only by rename (a reader sees an old or
//! a new version, never half of one), full tiles never change, and a reader falls back to the
//! full tile when a partial one it expected has just been superseded. Before reading, the
//! ledger is asked to publish what is durable, so a report includes every acknowledged record.
//! Verification reads the log itself, which may grow meanwhile: a failure is re-checked while
//! the ledger keeps growing, and reported only once it stands on a ledger that stood still.
//!
//! The response types also deserialize, for Rust clients of the local API (the portal).

use crate::access::Who;
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::audit::{
    AuditStats, AuditStatus, CosignatureView, NoticeCount, ReportActor, ReportEntryView,
    ReportProof, SubjectAccessReport, SubjectQuery, TurnaroundBucketView, TurnaroundView,
    VerifyOutcome,
};
use utbyte_api::paths;
use utbyte_audit::{
    subject_report, AuditDir, AuditError, AuditLog, Page, ReportEntry, Stats, SubjectIdentifier,
    SubjectReport, Turnaround,
};
use utbyte_domain::SubjectId;
use utbyte_http::{Json, Problem};
use utbyte_ledger::verify::{verify_dir, VerifyError, VerifyOptions};
use utbyte_ledger::{open_checkpoint, LedgerError, VerifierKey};

/// Records in a page of the subject-access report, unless the auditor asks for another number.
const REPORT_PAGE: u32 = 100;
/// Most records in one page: each is read and proven, so a page's cost is bounded.
const MAX_REPORT_PAGE: u32 = 1000;

/// Verification attempts while the ledger keeps growing under it.
const VERIFY_ATTEMPTS: u32 = 3;
/// How long to let an append in flight settle before deciding whether a failure stands.
const VERIFY_SETTLE: Duration = Duration::from_millis(200);

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::AUDIT_STATUS, get(status))
        .route(paths::AUDIT_VERIFY, post(verify))
        .route(paths::AUDIT_SUBJECT, post(subject))
        .route(paths::AUDIT_STATS, get(stats))
}

pub(crate) fn unreadable(err: impl std::fmt::Display) -> Problem {
    problems::AUDIT_UNREADABLE.with(err.to_string())
}

/// Runs `work` on the blocking pool: everything here reads files, some of them all of them.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| problems::INTERNAL.with(e.to_string()))?
}

/// Publishes what is durable, so that readers see every acknowledged record. A failure here
/// only leaves the last published checkpoint in place, which is still correct to read.
fn publish(audit: &AuditLog) {
    if let Err(err) = audit.ledger().checkpoint() {
        tracing::warn!(%err, "could not publish the audit checkpoint; reading the last one");
    }
}

/// Opens the ledger directory at its latest published checkpoint.
pub(crate) fn open_dir(audit: &AuditLog) -> Result<AuditDir, Problem> {
    publish(audit);
    let ledger = audit.ledger();
    AuditDir::open(ledger.dir(), Some(ledger.verifier().clone())).map_err(unreadable)
}

fn rfc3339(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// Where the ledger stands: origin, sizes, root, the latest signed checkpoint and its witness
/// cosignatures.
#[utoipa::path(
    operation_id = "audit_status",
    get,
    path = paths::AUDIT_STATUS,
    tag = "audit",
    responses(
        (status = 200, description = "The latest checkpoint", body = AuditStatus),
        (status = 500, description = "The ledger could not be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn status(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<AuditStatus>, Problem> {
    who.require(Duty::Audit)?;
    let audit = Arc::clone(&state.audit);
    blocking(move || {
        publish(&audit);
        let ledger = audit.ledger();
        read_status(ledger.dir(), ledger.verifier(), ledger.size())
    })
    .await
    .map(Json)
}

fn read_status(dir: &Path, key: &VerifierKey, log_size: u64) -> Result<AuditStatus, Problem> {
    use std::io::Read;
    let path = dir.join("checkpoint");
    let io = |e: std::io::Error| unreadable(format!("reading {}: {e}", path.display()));
    // Time and text from one open file: the checkpoint is replaced by rename, never rewritten.
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let modified = file.metadata().and_then(|m| m.modified()).map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let (checkpoint, note) = open_checkpoint(&text, key).map_err(unreadable)?;
    let cosignatures = note
        .signatures
        .iter()
        .filter(|s| !(s.name == key.name && s.key_id == key.id))
        .map(|s| {
            let timestamp = <[u8; 8]>::try_from(s.bytes.get(..8).unwrap_or_default())
                .ok()
                .filter(|_| s.bytes.len() == 8 + 64)
                .map(u64::from_be_bytes);
            CosignatureView {
                name: s.name.clone(),
                key_id: format!("{:08x}", s.key_id),
                timestamp,
                time: timestamp
                    .and_then(|t| i64::try_from(t).ok())
                    .and_then(rfc3339),
            }
        })
        .collect();
    Ok(AuditStatus {
        origin: checkpoint.origin,
        tree_size: checkpoint.size,
        log_size,
        root_hex: checkpoint.root.to_hex(),
        checkpoint: text,
        written_at: OffsetDateTime::from(modified).format(&Rfc3339).ok(),
        log_key: key.to_text(),
        cosignatures,
    })
}

/// Recomputes the whole ledger from its log and checks every published byte, the checkpoint's
/// signature and that every leaf is a canonical audit record — what `utbyte audit verify` does.
/// A verification failure is a finding: `200` with `verified: false` and the reason.
#[utoipa::path(
    operation_id = "audit_verify",
    post,
    path = paths::AUDIT_VERIFY,
    tag = "audit",
    responses(
        (status = 200, description = "Verified, or the finding that it is not", body = VerifyOutcome),
        (status = 500, description = "The ledger could not be read", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A verification of this ledger is already running", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The ledger kept growing during every attempt", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn verify(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<VerifyOutcome>, Problem> {
    who.require(Duty::Audit)?;
    let Ok(running) = Arc::clone(&state.verifying).try_acquire_owned() else {
        return Err(problems::VERIFY_RUNNING
            .with("a verification of this ledger is running; ask again when it has finished"));
    };
    let audit = Arc::clone(&state.audit);
    let origin = state.origin.clone();
    // Dropped with this handler — also when the client goes away before the answer — which
    // stops the run at its next entry; the slot is given back when the run has ended.
    let cancel = CancelOnDrop::default();
    let cancelled = Arc::clone(&cancel.0);
    blocking(move || {
        let _running = running;
        verify_live(&audit, origin, &cancelled)
    })
    .await
    .map(Json)
}

/// Sets its flag when dropped.
#[derive(Default)]
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How one verification run ended.
enum Run {
    Verified {
        report: utbyte_ledger::verify::VerifyReport,
        records: u64,
    },
    /// The ledger is not what it should be (or, if the ledger moved meanwhile, may not be).
    Finding { detail: String, in_flight: bool },
}

fn verify_live(
    audit: &AuditLog,
    origin: String,
    cancelled: &Arc<AtomicBool>,
) -> Result<VerifyOutcome, Problem> {
    let ledger = audit.ledger();
    let started = Instant::now();
    let finding = |detail, attempts| VerifyOutcome {
        verified: false,
        origin: origin.clone(),
        tree_size: None,
        log_size: None,
        root_hex: None,
        files_checked: None,
        records_checked: None,
        detail,
        took_ms: millis(started),
        attempts,
    };
    for attempt in 1..=VERIFY_ATTEMPTS {
        let before = ledger.size();
        match verify_once(ledger.dir(), ledger.verifier(), cancelled)? {
            Run::Verified { report, records } => {
                return Ok(VerifyOutcome {
                    verified: true,
                    origin,
                    tree_size: Some(report.checkpoint_size),
                    log_size: Some(report.log_size),
                    root_hex: Some(report.root.to_hex()),
                    files_checked: Some(report.files_checked),
                    records_checked: Some(records),
                    detail: format!(
                        "{} entries in {} group commits recomputed; checkpoint at size {} signed and matching; {} tile and bundle files match the log byte for byte; every leaf is a canonical audit record",
                        report.log_size, report.commits, report.checkpoint_size, report.files_checked
                    ),
                    took_ms: millis(started),
                    attempts: attempt,
                });
            }
            Run::Finding { detail, in_flight } => {
                // An append may be on its way to disk: let it land, then see whether the
                // ledger moved under the run. A failure on a ledger that stood still stands.
                std::thread::sleep(VERIFY_SETTLE);
                let moved = ledger.size() != before;
                if !moved && (!in_flight || attempt == VERIFY_ATTEMPTS) {
                    return Ok(finding(detail, attempt));
                }
            }
        }
    }
    Err(problems::AUDIT_BUSY.with(format!(
        "the ledger grew during each of {VERIFY_ATTEMPTS} verification runs; try again when it is quieter"
    )))
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn verify_once(dir: &Path, key: &VerifierKey, cancelled: &Arc<AtomicBool>) -> Result<Run, Problem> {
    let options = VerifyOptions {
        // The key the node holds, not a copy read from the directory under test.
        log_key: Some(key.clone()),
        cancelled: Some(Arc::clone(cancelled)),
        ..VerifyOptions::default()
    };
    let gone = || problems::VERIFY_CANCELLED.with("the client went away; the run was stopped");
    let report = match verify_dir(dir, &options) {
        Ok(report) => report,
        Err(VerifyError::Cancelled) => return Err(gone()),
        Err(VerifyError::Ledger(err @ LedgerError::Io { .. })) => return Err(unreadable(err)),
        Err(err) => {
            return Ok(Run::Finding {
                in_flight: matches!(err, VerifyError::UncommittedTail { .. }),
                detail: err.to_string(),
            })
        }
    };
    // The ledger checks bytes; the audit layer checks that every leaf is a canonical record.
    let audit = AuditDir::open(dir, Some(key.clone())).map_err(unreadable)?;
    for i in 0..report.checkpoint_size {
        if utbyte_ledger::verify::cancelled(&options) {
            return Err(gone());
        }
        match audit.record(i) {
            Ok(_) => {}
            Err(err @ AuditError::Leaf { .. }) => {
                return Ok(Run::Finding {
                    detail: err.to_string(),
                    in_flight: false,
                })
            }
            Err(err) => return Err(unreadable(err)),
        }
    }
    Ok(Run::Verified {
        records: report.checkpoint_size,
        report,
    })
}

/// The subject-access report: who received information about the subject, when and on what
/// basis, each entry with its inclusion proof against the latest checkpoint. The identifier is
/// sent in the body so that it never appears in a URL or an access log.
#[utoipa::path(
    operation_id = "audit_subject",
    post,
    path = paths::AUDIT_SUBJECT,
    tag = "audit",
    request_body = SubjectQuery,
    responses(
        (status = 200, description = "The records about the subject, a page at a time (`next` names where the next page starts)", body = SubjectAccessReport),
        (status = 400, description = "The body is not `{\"subject\": \"…\"}`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The subject identifier is not valid, or `limit` is outside 1 to 1000", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The ledger could not be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn subject(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Json(query): Json<SubjectQuery>,
) -> Result<Json<SubjectAccessReport>, Problem> {
    who.require(Duty::Audit)?;
    let subject = parse_subject(&query.subject, OffsetDateTime::now_utc())?;
    let limit = query.limit.unwrap_or(REPORT_PAGE);
    if !(1..=MAX_REPORT_PAGE).contains(&limit) {
        return Err(problems::INVALID_REQUEST
            .with(format!("`limit` must be 1 to {MAX_REPORT_PAGE}"))
            .with_extension("field", "limit"));
    }
    // A ledger index is an int64, as the document says; none is larger.
    if query.after.is_some_and(|after| after > i64::MAX as u64) {
        return Err(problems::INVALID_REQUEST
            .with(format!("`after` must be a ledger index: 0 to {}", i64::MAX))
            .with_extension("field", "after"));
    }
    let page = Page {
        after: query.after,
        limit: limit as usize,
    };
    let audit = Arc::clone(&state.audit);
    blocking(move || {
        let dir = open_dir(&audit)?;
        subject_report(&dir, &subject, page).map_err(unreadable)
    })
    .await
    .map(|report| Json(report_view(report)))
}

/// Validates and canonicalises the identifier; errors say what is wrong without echoing it.
fn parse_subject(
    value: &serde_json::Value,
    now: OffsetDateTime,
) -> Result<SubjectIdentifier, Problem> {
    let Some(text) = value.as_str() else {
        return Err(problems::MALFORMED_BODY.with("`subject` must be a JSON string"));
    };
    // Read against today in Sweden, as the exchange reads it: the `+` turns at Swedish midnight.
    let today = utbyte_domain::legal_time::swedish_reference_date(now)
        .map_err(|e| problems::INTERNAL.with(e.to_string()))?;
    let id = SubjectId::parse_at(text, today).map_err(|e| {
        problems::INVALID_SUBJECT.with(format!("`subject` is not a valid identifier: {e}"))
    })?;
    Ok(SubjectIdentifier::from(&id))
}

fn report_view(report: SubjectReport) -> SubjectAccessReport {
    SubjectAccessReport {
        origin: report.origin,
        tree_size: report.tree_size,
        root: report.root.to_base64(),
        checkpoint: report.checkpoint,
        subject_commitment: report.subject_commitment,
        entries: report.entries.into_iter().map(entry_view).collect(),
        next: report.next,
    }
}

fn entry_view(e: ReportEntry) -> ReportEntryView {
    ReportEntryView {
        index: e.index,
        time: e.time,
        event: serde_json::to_value(e.event)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        actor: ReportActor {
            authority: e.actor.authority,
            role: e.actor.role,
            unit: e.actor.unit,
        },
        provider: e.provider,
        offering: e.offering,
        disclosed_fields: e.disclosed_fields,
        withheld_fields: e.withheld_fields,
        purpose: e.purpose,
        legal_basis: e.legal_basis,
        case_ref: e.case_ref,
        operation_ref: e.operation_ref,
        citations: e.citations,
        leaf_hash: e.leaf_hash.to_base64(),
        proof: ReportProof {
            index: e.proof.index,
            tree_size: e.proof.tree_size,
            hashes: e.proof.hashes.iter().map(|h| h.to_base64()).collect(),
        },
    }
}

/// Follow-up statistics at the latest checkpoint: by event, field outcome, offering,
/// provision, day and event per day, and review turnaround.
#[utoipa::path(
    operation_id = "audit_stats",
    get,
    path = paths::AUDIT_STATS,
    tag = "audit",
    responses(
        (status = 200, description = "Counts over every record at the checkpoint", body = AuditStats),
        (status = 500, description = "The ledger could not be read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn stats(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<AuditStats>, Problem> {
    who.require(Duty::Audit)?;
    let audit = Arc::clone(&state.audit);
    blocking(move || {
        let dir = open_dir(&audit)?;
        let stats = counted(&dir)?;
        Ok(stats_view(&dir, &stats))
    })
    .await
    .map(Json)
}

/// Statistics counted so far, per ledger directory: records are only ever appended, so each
/// request counts only the records added since the last one.
static COUNTED: Mutex<BTreeMap<PathBuf, (String, u64, Stats)>> = Mutex::new(BTreeMap::new());

fn counted(dir: &AuditDir) -> Result<Stats, Problem> {
    let origin = &dir.checkpoint().origin;
    let cached = COUNTED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(dir.dir())
        .filter(|(o, size, _)| o == origin && *size <= dir.size())
        .map(|(_, size, stats)| (*size, stats.clone()));
    let (from, mut stats) = cached.unwrap_or_default();
    for i in from..dir.size() {
        stats.add(i, &dir.record(i).map_err(unreadable)?);
    }
    let mut cache = COUNTED.lock().unwrap_or_else(|p| p.into_inner());
    let newer = cache
        .get(dir.dir())
        .is_none_or(|(o, size, _)| o != origin || *size < dir.size());
    if newer {
        cache.insert(
            dir.dir().to_owned(),
            (origin.clone(), dir.size(), stats.clone()),
        );
    }
    Ok(stats)
}

fn turnaround_view(t: Turnaround) -> TurnaroundView {
    TurnaroundView {
        count: t.count,
        median_seconds: t.median_seconds,
        p90_seconds: t.p90_seconds,
        max_seconds: t.max_seconds,
        buckets: t
            .buckets
            .into_iter()
            .map(|b| TurnaroundBucketView {
                le_seconds: b.le_seconds,
                count: b.count,
            })
            .collect(),
    }
}

fn stats_view(dir: &AuditDir, stats: &Stats) -> AuditStats {
    AuditStats {
        origin: dir.checkpoint().origin.clone(),
        tree_size: dir.size(),
        entries: stats.entries,
        by_event: stats.by_event.clone(),
        by_field_outcome: stats.by_field_outcome.clone(),
        by_offering: stats.by_offering.clone(),
        by_provision: stats.by_provision.clone(),
        by_day: stats.by_day.clone(),
        by_day_event: stats.by_day_event.clone(),
        review_turnaround_seconds: stats.review_turnaround_seconds.clone(),
        open_reviews: stats.open_reviews(),
        review_turnaround: stats.review_turnaround().map(turnaround_view),
        notices: stats
            .notices
            .iter()
            .flat_map(|(offering, events)| {
                events.iter().flat_map(move |(event, outcomes)| {
                    outcomes.iter().map(move |(outcome, notices)| NoticeCount {
                        offering: offering.clone(),
                        event: event.clone(),
                        outcome: outcome.clone(),
                        notices: *notices,
                    })
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use utbyte_audit::sample::sample_record;

    #[test]
    fn subjects_are_validated_without_echoing_them() {
        let now = OffsetDateTime::now_utc();
        for bad in ["191212121213", "19121312-1212", "12345", ""] {
            let problem = parse_subject(&serde_json::json!(bad), now).expect_err("invalid");
            assert!(problem.is(problems::INVALID_SUBJECT), "{problem}");
            assert!(problem
                .detail
                .starts_with("`subject` is not a valid identifier: "));
            assert!(bad.is_empty() || !problem.detail.contains(bad), "{problem}");
        }
        let number =
            parse_subject(&serde_json::json!(191_212_121_212_u64), now).expect_err("not a string");
        assert!(number.is(problems::MALFORMED_BODY));
        assert!(!number.detail.contains("1912"));
        // Every written form of one number is one subject.
        let forms = ["19121212-1212", "191212121212", "121212+1212"];
        let ids: Vec<_> = forms
            .iter()
            .map(|f| parse_subject(&serde_json::json!(f), now).unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]));
        // A 10-digit form is read against today: with `-`, someone born in 2012.
        let younger = parse_subject(&serde_json::json!("121212-1212"), now).unwrap();
        assert_ne!(younger, ids[0]);
    }

    #[test]
    fn status_lists_cosignatures_but_not_the_logs_own_signature() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::create(dir.path(), "test.utbyte.invalid/audit").unwrap();
        let (record, subjects) = sample_record(0, "Skatteverket");
        log.record(record, &subjects).unwrap();
        let note = log.ledger().checkpoint().unwrap();
        let key = log.ledger().verifier().clone();
        let status = read_status(dir.path(), &key, 1).unwrap();
        assert_eq!((status.tree_size, status.log_size), (1, 1));
        assert!(status.cosignatures.is_empty(), "{status:?}");
        assert!(status.written_at.is_some());
        assert_eq!(status.checkpoint, note.to_string());

        let witness = utbyte_ledger::SignerKey::from_seed(
            "witness.example",
            utbyte_ledger::note::ALG_COSIGNATURE_V1,
            [9; 32],
        )
        .unwrap();
        let mut cosigned = note.clone();
        cosigned
            .signatures
            .push(utbyte_ledger::cosign(&note, &witness, 1_740_000_000).unwrap());
        log.ledger().add_cosignatures(&cosigned).unwrap();
        let status = read_status(dir.path(), &key, 1).unwrap();
        assert_eq!(status.cosignatures.len(), 1);
        let c = &status.cosignatures[0];
        assert_eq!(c.name, "witness.example");
        assert_eq!(c.key_id, format!("{:08x}", witness.verifier.id));
        assert_eq!(c.timestamp, Some(1_740_000_000));
        assert_eq!(c.time.as_deref(), Some("2025-02-19T21:20:00Z"));
    }

    #[test]
    fn stats_counted_incrementally_equal_a_full_count() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::create(dir.path(), "test.utbyte.invalid/audit").unwrap();
        let mut expected_entries = 0;
        for i in 0..30 {
            let (record, subjects) = sample_record(i, "Skatteverket");
            log.record(record, &subjects).unwrap();
            if i % 7 == 0 {
                let counted = counted(&open_dir(&log).unwrap()).unwrap();
                expected_entries = i + 1;
                assert_eq!(counted.entries, expected_entries);
            }
        }
        let audit_dir = open_dir(&log).unwrap();
        let full = utbyte_audit::stats(&audit_dir).unwrap();
        assert!(full.entries > expected_entries);
        assert_eq!(counted(&audit_dir).unwrap(), full);
    }
}
