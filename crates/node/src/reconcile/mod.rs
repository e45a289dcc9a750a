//! Reconciliation between ledgers: every answer a provider recorded for this node is matched
//! with this node's receipt, or both record that it never arrived.
//!
//! A provider records each answer it gives (disclosure, refusal, ticket for review, review
//! decision) before it sends it; the recipient records a receipt naming that entry and the
//! answer's digest when it has verified the answer. A crash, a cut connection or a provider
//! unreachable for longer than recovery waits can leave an answer recorded on one side only.
//! Recovery ([`crate::exchange::recover`]) closes most such gaps by asking again; this closes
//! the rest and shows what cannot be closed.
//!
//! Periodically (`[recovery] reconcile_seconds`) and when an auditor asks, the recipient reads,
//! from each provider, the entries of the provider's ledger that concern it
//! ([`listing`], paged from where the last round settled) and compares each answer with its
//! own receipts:
//!
//! - a receipt with the same digest: matched;
//! - a receipt with another digest, or a receipt for an entry the provider did not record for
//!   this node: a *finding* — kept, shown to auditors, never closed automatically;
//! - no receipt while the exchange may still end (a request to that provider begun by then is
//!   still in flight — or, for a review decision, in review — or the entry is younger than the
//!   grace period): pending; the round stops there and the next one starts from it;
//! - no receipt otherwise: the answer never arrived. This node records an `undelivered` event
//!   naming the provider's entry and tells the provider, which records one too (once, however
//!   often it is told). Both ledgers then say the same.
//!
//! The recipient's receipts are read from its own ledger, scanned once from the start when the
//! node starts and then incrementally; only those for entries not yet settled are held.

pub(crate) mod api;
pub(crate) mod listing;

pub(crate) use api::routes as local_routes;
pub(crate) use listing::routes as federation_routes;

use crate::audit_api::open_dir;
use crate::exchange::answer::REQUEST_WINDOW;
use crate::exchange::ExchangeError;
use crate::protocol::{
    LedgerListing, UndeliveredNotice, UndeliveredRecorded, RECONCILIATION_PATH, UNDELIVERED_PATH,
};
use crate::state::{Exchange, NodeState};
use axum::http::{Method, StatusCode};
use std::collections::{BTreeMap, HashMap, HashSet};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utbyte_audit::{AuditDir, AuditError, AuditRecord, EventKind};
use utbyte_federation::Member;
use utbyte_store::{Finding, FindingKind, OutgoingState, PeerReconciliation};

/// Entries asked for per page.
const PAGE: u32 = 500;
/// Pages read from one provider per round; a long backlog is worked off over several rounds.
const PAGES_PER_ROUND: usize = 20;

/// Whether an event is an answer given to a recipient, which it should hold a receipt for.
pub(crate) fn is_answer(event: EventKind) -> bool {
    matches!(
        event,
        EventKind::Disclosure
            | EventKind::Refusal
            | EventKind::ReviewRequest
            | EventKind::ReviewDecision
    )
}

/// To whom the records of this node's own ledger were given, remembered while one scan lasts
/// (a review decision and an `undelivered` record name their recipient only through the entry
/// they refer to).
pub(crate) struct Addressees<'a> {
    own: &'a str,
    known: HashMap<u64, Option<String>>,
}

impl<'a> Addressees<'a> {
    pub(crate) fn new(own: &'a str) -> Self {
        Self {
            own,
            known: HashMap::new(),
        }
    }

    /// The member the record at `index` concerns as the recipient of an answer of this node,
    /// if any.
    pub(crate) fn of(
        &mut self,
        dir: &AuditDir,
        index: u64,
        record: &AuditRecord,
    ) -> Result<Option<String>, AuditError> {
        if let Some(known) = self.known.get(&index) {
            return Ok(known.clone());
        }
        // Messages and notices are paired by their signed receipts and acknowledgements, not by
        // reconciliation of answers.
        let addressee = if record.provider != self.own || record.message.is_some() {
            None
        } else {
            match record.event {
                EventKind::Disclosure | EventKind::Refusal | EventKind::ReviewRequest => {
                    Some(record.actor.authority.clone())
                }
                EventKind::ReviewDecision | EventKind::Undelivered => match record.refers_to {
                    Some(earlier) if earlier < index => {
                        let referred = dir.record(earlier)?;
                        let wanted = if record.event == EventKind::ReviewDecision {
                            EventKind::ReviewRequest
                        } else {
                            referred.event
                        };
                        if referred.event == wanted && is_answer(referred.event) {
                            self.of(dir, earlier, &referred)?
                        } else {
                            None
                        }
                    }
                    _ => None,
                },
                EventKind::Receipt
                | EventKind::ConfigurationChange
                | EventKind::MessageSent
                | EventKind::MessageDelivered
                | EventKind::MessageAccepted
                | EventKind::SubscriptionDecision
                | EventKind::NoticeSent
                | EventKind::NoticeReceived
                | EventKind::NoticeWithheld => None,
            }
        };
        self.known.insert(index, addressee.clone());
        Ok(addressee)
    }
}

/// What this node holds about one entry of a provider's ledger.
#[derive(Debug, Clone)]
struct Held {
    /// An `undelivered` record rather than a receipt.
    undelivered: bool,
    digest: Option<String>,
}

/// This node's receipts and `undelivered` records, by provider and provider's index.
#[derive(Debug, Default)]
pub(crate) struct OwnRecords {
    /// Own ledger entries read so far.
    scanned: u64,
    by_peer: HashMap<String, BTreeMap<u64, Vec<Held>>>,
}

/// Reconciliation's state in the node: one round at a time, and the provider side's lock.
#[derive(Debug, Default)]
pub(crate) struct Reconciler {
    own: tokio::sync::Mutex<OwnRecords>,
    /// One `undelivered` notice at a time, so that each entry is recorded once.
    pub(crate) provider_lock: tokio::sync::Mutex<()>,
}

/// Reads this node's ledger from where the last read stopped.
async fn catch_up(state: &NodeState, own: &mut OwnRecords) -> Result<(), ExchangeError> {
    let audit = std::sync::Arc::clone(&state.audit);
    let authority = state.authority.clone();
    let from = own.scanned;
    let (size, found) = tokio::task::spawn_blocking(move || {
        let dir = open_dir(&audit).map_err(|p| ExchangeError::Audit(p.detail))?;
        let mut found = Vec::new();
        for index in from..dir.size() {
            let record = dir
                .record(index)
                .map_err(|e| ExchangeError::Audit(e.to_string()))?;
            let held = match record.event {
                EventKind::Receipt => false,
                EventKind::Undelivered => true,
                _ => continue,
            };
            if record.provider == authority {
                continue;
            }
            if let Some(provider_index) = record.refers_to {
                found.push((
                    record.provider,
                    provider_index,
                    Held {
                        undelivered: held,
                        digest: record.payload_sha256,
                    },
                ));
            }
        }
        Ok::<_, ExchangeError>((dir.size().max(from), found))
    })
    .await
    .map_err(|e| ExchangeError::Internal(e.to_string()))??;
    for (peer, index, held) in found {
        own.by_peer
            .entry(peer)
            .or_default()
            .entry(index)
            .or_default()
            .push(held);
    }
    own.scanned = size;
    Ok(())
}

/// One round with every other member of the federation. Each provider's outcome is saved as
/// it is reached; a provider that cannot be reached is noted and tried again next round.
pub(crate) async fn round(state: &NodeState, now: OffsetDateTime) {
    let mut own = state.reconciler.own.lock().await;
    if let Err(err) = catch_up(state, &mut own).await {
        tracing::warn!(%err, "reconciliation cannot read this node's ledger");
        return;
    }
    let Ok(ctx) = state.exchange_context() else {
        return;
    };
    let mut saved: HashMap<String, PeerReconciliation> = match state.exchange.reconciliation().await
    {
        Ok(rows) => rows.into_iter().map(|r| (r.peer.clone(), r)).collect(),
        Err(err) => {
            tracing::warn!(%err, "cannot read reconciliation state");
            return;
        }
    };
    let members: Vec<Member> = ctx
        .config
        .members
        .iter()
        .filter(|m| m.authority != state.authority)
        .cloned()
        .collect();
    for member in members {
        let mut peer = saved
            .remove(&member.authority)
            .unwrap_or(PeerReconciliation {
                peer: member.authority.clone(),
                settled_to: 0,
                provider_size: 0,
                matched: 0,
                undelivered: 0,
                pending: 0,
                checked_at: now,
                error: None,
            });
        let mut round = PeerRound {
            state,
            ctx: &ctx,
            member: &member,
            now,
            findings: Vec::new(),
        };
        let held = own.by_peer.entry(member.authority.clone()).or_default();
        peer.error = round
            .run(&mut peer, held)
            .await
            .err()
            .map(|e| e.to_string());
        if let Some(err) = &peer.error {
            tracing::info!(peer = %member.authority, %err, "reconciliation will try again");
        }
        peer.checked_at = now;
        // What is settled is no longer needed.
        let settled = peer.settled_to;
        held.retain(|index, _| *index >= settled);
        let findings = round.findings;
        if let Err(err) = state.exchange.save_reconciliation(&peer, &findings).await {
            tracing::warn!(peer = %member.authority, %err, "cannot save reconciliation state");
        }
        for finding in &findings {
            tracing::error!(
                peer = %member.authority,
                provider_index = finding.provider_index,
                kind = finding.kind.as_str(),
                "reconciliation finding"
            );
        }
        let kept = match state.exchange.reconciliation_finding_counts().await {
            Ok(counts) => counts
                .into_iter()
                .find(|(peer, _)| *peer == member.authority)
                .map_or(0, |(_, count)| count),
            Err(_) => findings.len() as u64,
        };
        state.metrics.reconciled(&peer, kept);
    }
}

/// One round with one provider.
struct PeerRound<'a> {
    state: &'a NodeState,
    ctx: &'a Exchange,
    member: &'a Member,
    now: OffsetDateTime,
    findings: Vec<Finding>,
}

/// What became of one of the provider's answers.
enum Settled {
    Matched,
    Mismatch,
    Undelivered,
    Pending,
}

impl PeerRound<'_> {
    async fn run(
        &mut self,
        peer: &mut PeerReconciliation,
        held: &mut BTreeMap<u64, Vec<Held>>,
    ) -> Result<(), ExchangeError> {
        peer.pending = 0;
        for _ in 0..PAGES_PER_ROUND {
            let listing = self.list(peer.settled_to).await?;
            peer.provider_size = listing.size;
            let confirmed: HashSet<u64> = listing
                .entries
                .iter()
                .filter(|e| e.record.event == EventKind::Undelivered)
                .filter_map(|e| e.record.refers_to)
                .collect();
            let answers: BTreeMap<u64, &AuditRecord> = listing
                .entries
                .iter()
                .filter(|e| is_answer(e.record.event))
                .map(|e| (e.index, &e.record))
                .collect();
            let mut end = listing.next.max(peer.settled_to);
            for (&index, record) in &answers {
                let settled = match self
                    .settle(index, record, held, confirmed.contains(&index))
                    .await
                {
                    Ok(settled) => settled,
                    Err(err) => {
                        self.unknown_entries(held, peer.settled_to, index, &answers);
                        peer.settled_to = index;
                        return Err(err);
                    }
                };
                match settled {
                    Settled::Matched => peer.matched += 1,
                    Settled::Undelivered => peer.undelivered += 1,
                    Settled::Mismatch => self.found(index, FindingKind::DigestMismatch),
                    Settled::Pending => {
                        peer.pending = answers.range(index..).count() as u64;
                        end = index;
                        break;
                    }
                }
            }
            self.unknown_entries(held, peer.settled_to, end, &answers);
            peer.settled_to = end;
            if peer.pending > 0 || listing.next >= listing.size {
                break;
            }
        }
        Ok(())
    }

    fn found(&mut self, provider_index: u64, kind: FindingKind) {
        self.findings.push(Finding {
            peer: self.member.authority.clone(),
            provider_index,
            kind,
            found_at: self.now,
        });
    }

    /// Receipts for entries in `from..to` that the provider did not list as answers to us.
    fn unknown_entries(
        &mut self,
        held: &BTreeMap<u64, Vec<Held>>,
        from: u64,
        to: u64,
        answers: &BTreeMap<u64, &AuditRecord>,
    ) {
        let unknown: Vec<u64> = held
            .range(from..to)
            .filter(|(index, records)| {
                !answers.contains_key(index) && records.iter().any(|h| !h.undelivered)
            })
            .map(|(index, _)| *index)
            .collect();
        for index in unknown {
            self.found(index, FindingKind::UnknownEntry);
        }
    }

    async fn settle(
        &mut self,
        index: u64,
        record: &AuditRecord,
        held: &mut BTreeMap<u64, Vec<Held>>,
        confirmed: bool,
    ) -> Result<Settled, ExchangeError> {
        let ours = held.get(&index).map(Vec::as_slice).unwrap_or_default();
        let receipts: Vec<&Held> = ours.iter().filter(|h| !h.undelivered).collect();
        if !receipts.is_empty() {
            return Ok(
                if receipts.iter().any(|h| h.digest == record.payload_sha256) {
                    Settled::Matched
                } else {
                    Settled::Mismatch
                },
            );
        }
        if ours.iter().any(|h| h.undelivered) {
            if !confirmed {
                self.tell(index).await?;
            }
            return Ok(Settled::Undelivered);
        }
        if self.may_still_arrive(record).await? {
            return Ok(Settled::Pending);
        }
        let ours = AuditRecord {
            message: None,
            bulk: None,
            notices: None,
            event: EventKind::Undelivered,
            refers_to: Some(index),
            time: utbyte_audit::record::now(),
            ..record.clone()
        };
        self.state.record(ours, Vec::new()).await?;
        held.entry(index).or_default().push(Held {
            undelivered: true,
            digest: record.payload_sha256.clone(),
        });
        tracing::warn!(peer = %self.member.authority, provider_index = index, "answer never delivered; recorded on both sides");
        self.tell(index).await?;
        Ok(Settled::Undelivered)
    }

    /// Whether the exchange that produced `record` may still end with a receipt.
    async fn may_still_arrive(&self, record: &AuditRecord) -> Result<bool, ExchangeError> {
        let at = OffsetDateTime::parse(&record.time, &Rfc3339)
            .map_err(|e| ExchangeError::Internal(format!("a listed record's time: {e}")))?;
        if at > self.now - self.state.recovery.grace() {
            return Ok(true);
        }
        let begun_by = at + REQUEST_WINDOW;
        let provider = &self.member.authority;
        if self
            .state
            .exchange
            .outgoing_open(provider, OutgoingState::InFlight, begun_by)
            .await?
        {
            return Ok(true);
        }
        Ok(record.event == EventKind::ReviewDecision
            && self
                .state
                .exchange
                .outgoing_open(provider, OutgoingState::InReview, begun_by)
                .await?)
    }

    async fn list(&self, after: u64) -> Result<LedgerListing, ExchangeError> {
        let path = format!("{RECONCILIATION_PATH}?after={after}&limit={PAGE}");
        self.ask(Method::GET, &path, None).await
    }

    /// One call to the provider's federation listener, and its 200 answer read as `T`.
    async fn ask<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ExchangeError> {
        let provider = &self.member.authority;
        let response =
            crate::exchange::ask::call(self.state, self.ctx, self.member, method, path, body)
                .await?;
        if response.status != StatusCode::OK {
            return Err(crate::exchange::ask::provider_refused(
                provider,
                response.status,
                &response.body,
            ));
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            ExchangeError::ProviderUnreachable(format!("`{provider}` answered unreadably: {e}"))
        })
    }

    /// Tells the provider that the answer at `index` never arrived.
    async fn tell(&self, index: u64) -> Result<(), ExchangeError> {
        let body = serde_json::to_vec(&UndeliveredNotice { index })
            .map_err(|e| ExchangeError::Internal(e.to_string()))?;
        self.ask::<UndeliveredRecorded>(Method::POST, UNDELIVERED_PATH, Some(body))
            .await
            .map(|_| ())
    }
}
