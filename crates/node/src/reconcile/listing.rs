//! The provider's side of reconciliation, on the federation listener: it lists the entries of
//! its ledger that concern the calling member, and records, when that member says so, that an
//! answer it recorded never arrived.
//!
//! Both read the ledger directory at its published checkpoint, as an auditor does (after
//! asking the ledger to publish what is durable). An entry concerns a member when it is an
//! answer given to it — a disclosure, a refusal or a ticket for review whose requester it is,
//! or a review decision on such a ticket — or this node's record that such an answer was
//! never delivered. Only records this node made as provider count: its own receipts and
//! undelivered records about other providers' answers are not listed.

use super::Addressees;
use crate::audit_api::{blocking, open_dir, unreadable};
use crate::problems;
use crate::protocol::{
    LedgerListing, ListedEntry, ListingQuery, UndeliveredNotice, UndeliveredRecorded,
    RECONCILIATION_PATH, UNDELIVERED_PATH,
};
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;
use utbyte_audit::{AuditDir, AuditRecord, EventKind};
use utbyte_http::{Json, Peer, Problem, Query, INVALID_QUERY};
use utbyte_pki::NodeIdentity;

/// Most entries one listing reads, whatever it finds: a page costs the provider a bounded
/// amount of work even when few entries concern the caller.
const SCAN_LIMIT: u64 = 16_384;
/// Most entries one listing returns.
const MAX_LIMIT: u32 = 1000;

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(RECONCILIATION_PATH, get(listing))
        .route(UNDELIVERED_PATH, post(undelivered))
}

/// The calling member's authority, if its certificate is a listed member's.
fn member(state: &NodeState, peer: &NodeIdentity) -> Result<String, Problem> {
    let ctx = state.exchange_context()?;
    let fingerprint = peer.fingerprint.to_string();
    ctx.config
        .member_by_certificate(&fingerprint)
        .filter(|m| m.authority == peer.authority.as_str())
        .map(|m| m.authority.clone())
        .ok_or_else(|| problems::NOT_A_MEMBER.with("the certificate is not a listed member's"))
}

/// Lists the entries of this node's ledger from `after` that concern the caller.
#[utoipa::path(
    operation_id = "federation_reconciliation",
    get,
    path = RECONCILIATION_PATH,
    tag = "federation",
    params(ListingQuery),
    responses(
        (status = 200, description = "The entries from `after` up to `next` that concern the caller", body = LedgerListing),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn listing(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Query(query): Query<ListingQuery>,
) -> Result<Json<LedgerListing>, Problem> {
    let caller = member(&state, &peer)?;
    if !(1..=MAX_LIMIT).contains(&query.limit) {
        return Err(INVALID_QUERY
            .with(format!("`limit` must be 1 to {MAX_LIMIT}"))
            .with_extension("field", "limit"));
    }
    // A ledger index is an int64, as the document says; none is larger.
    if query.after > i64::MAX as u64 {
        return Err(INVALID_QUERY
            .with(format!("`after` must be a ledger index: 0 to {}", i64::MAX))
            .with_extension("field", "after"));
    }
    let own = state.authority.clone();
    let audit = Arc::clone(&state.audit);
    blocking(move || {
        let dir = open_dir(&audit)?;
        scan(&dir, &own, &caller, query.after, query.limit as usize).map_err(unreadable)
    })
    .await
    .map(Json)
}

fn scan(
    dir: &AuditDir,
    own: &str,
    caller: &str,
    after: u64,
    limit: usize,
) -> Result<LedgerListing, utbyte_audit::AuditError> {
    let size = dir.size();
    let end = size.min(after.saturating_add(SCAN_LIMIT));
    let mut addressees = Addressees::new(own);
    let mut entries = Vec::new();
    let mut next = end.max(after);
    for index in after..end {
        let record = dir.record(index)?;
        if addressees.of(dir, index, &record)?.as_deref() == Some(caller) {
            entries.push(ListedEntry {
                index,
                record: AuditRecord {
                    message: None,
                    bulk: None,
                    notices: None,
                    subjects: Vec::new(),
                    ..record
                },
            });
            if entries.len() == limit {
                next = index + 1;
                break;
            }
        }
    }
    Ok(LedgerListing {
        size,
        next,
        entries,
    })
}

/// Records that the answer at `index`, given to the caller, never reached it. Idempotent: the
/// record made the first time is named again.
#[utoipa::path(
    operation_id = "federation_undelivered",
    post,
    path = UNDELIVERED_PATH,
    tag = "federation",
    request_body = UndeliveredNotice,
    responses(
        (status = 200, description = "Recorded (now or before): the index of this node's `undelivered` record", body = UndeliveredRecorded),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No answer to the caller at that index", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn undelivered(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(notice): Json<UndeliveredNotice>,
) -> Result<Json<UndeliveredRecorded>, Problem> {
    let caller = member(&state, &peer)?;
    // One at a time, so that two notices of the same entry are recorded once.
    let _one_at_a_time = state.reconciler.provider_lock.lock().await;
    let own = state.authority.clone();
    let audit = Arc::clone(&state.audit);
    let index = notice.index;
    let found = blocking(move || {
        let dir = open_dir(&audit)?;
        undelivered_record(&dir, &own, &caller, index)
    })
    .await?;
    let index = match found {
        Found::Already(index) => index,
        Found::New(record) => state.record_committed(*record).await?.index,
    };
    Ok(Json(UndeliveredRecorded { index }))
}

enum Found {
    /// This node recorded it before, at this index.
    Already(u64),
    /// The record to make.
    New(Box<AuditRecord>),
}

/// The `undelivered` record for the answer at `index`, unless one was made before.
fn undelivered_record(
    dir: &AuditDir,
    own: &str,
    caller: &str,
    index: u64,
) -> Result<Found, Problem> {
    let absent = || {
        problems::NO_SUCH_ENTRY.with(format!(
            "entry {index} of this node's ledger is not an answer given to `{caller}`"
        ))
    };
    if index >= dir.size() {
        return Err(absent());
    }
    let answer = dir.record(index).map_err(unreadable)?;
    let mut addressees = Addressees::new(own);
    let given = super::is_answer(answer.event)
        && addressees
            .of(dir, index, &answer)
            .map_err(unreadable)?
            .as_deref()
            == Some(caller);
    if !given {
        return Err(absent());
    }
    for later in index + 1..dir.size() {
        let record = dir.record(later).map_err(unreadable)?;
        if record.event == EventKind::Undelivered
            && record.provider == own
            && record.refers_to == Some(index)
        {
            return Ok(Found::Already(later));
        }
    }
    Ok(Found::New(Box::new(AuditRecord {
        message: None,
        bulk: None,
        notices: None,
        event: EventKind::Undelivered,
        refers_to: Some(index),
        time: utbyte_audit::record::now(),
        ..answer
    })))
}
