//! Delivering notices to subscribers' nodes, at least once, in order, each recorded once.
//!
//! Each subscriber owed notices is served on its own task, a batch at a time: the notices after
//! its acknowledged cursor (at most [`MAX_BATCH`]). The notices are decided again first: a
//! subscription cancelled or ended since they were queued, or an event type the rulebook now in
//! force no longer grants, holds them back. Then they are recorded — one ledger entry per run
//! of notices of one subscription with one outcome, at most 256 (a record's subjects), as
//! `notice_sent` or `notice_withheld` — and the store keeps how they were recorded before
//! anything leaves. The notices told go in one batch of CloudEvents to the subscriber's
//! `/federation/v1/notices`; its node answers with a signed acknowledgement naming its own
//! ledger entries, and the cursor moves past the batch.
//!
//! A subscriber that does not answer gets the same notices again, recorded once: the store's
//! `recorded` cursor and the parts it lists say how they were recorded, so a batch sent again is
//! the same batch. Attempts to an unreachable subscriber back off from one second to a minute,
//! without holding up the others; a subscriber down for a day catches up in batches when it
//! is back. Only the leading instance of a node delivers, so the ledger records a batch once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};
use utbyte_audit::record::FORMAT_VERSION;
use utbyte_audit::{Actor, AuditRecord, Basis, EventKind, FieldOutcome, NoticeBatch, Outcome};
use utbyte_store::{Notice, RecordedPart, StoredSubscription, SubscriptionState};

use super::grant::{self, Kept};
use super::notice::{part_digest, NoticeData, NoticeEvent, MAX_BATCH};
use super::receive::{NoticesAck, NOTICES_PATH};
use crate::exchange::answer::subject_identifier;
use crate::exchange::ask::call;
use crate::exchange::ExchangeError;
use crate::state::{Exchange, NodeState};

/// The most notices one ledger entry records (a record's limit of subjects).
const PART: usize = utbyte_audit::record::MAX_ITEMS;
/// How many subscribers are looked for at once besides those being served.
const SUBSCRIBERS: u32 = 64;
/// How long delivery rests when nothing is owed and nothing wakes it.
const IDLE: Duration = Duration::from_millis(250);
/// The first and the longest wait before a subscriber that failed is tried again.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Runs delivery until `stop`, each subscriber owed notices served on its own task: one whose
/// node is slow or does not answer holds only its own notices, never the others'. A subscriber
/// served is looked at again as soon as its batch is settled, so a full batch is followed at
/// once by the next. What is in flight at `stop` is finished first.
pub(crate) async fn run(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let mut serving = Serving::default();
    let mut idle = tokio::time::interval(IDLE);
    idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut look = true;
    loop {
        if look && state.leading.load(std::sync::atomic::Ordering::Relaxed) {
            serving.start(&state).await;
        }
        // Looked for again when a batch was full, notices were queued, or a while passed.
        look = tokio::select! {
            Some(settled) = serving.tasks.join_next_with_id() => serving.settle(settled),
            _ = stop.changed() => break,
            _ = state.notices.queued.notified() => true,
            _ = idle.tick() => true,
        };
    }
    while let Some(settled) = serving.tasks.join_next_with_id().await {
        serving.settle(settled);
    }
}

type Delivered = Result<bool, ExchangeError>;

/// The subscribers being served, and those waiting after a failure.
#[derive(Default)]
struct Serving {
    tasks: JoinSet<Delivered>,
    /// Who each task serves.
    serving: HashMap<tokio::task::Id, String>,
    /// By subscriber: failures in a row, and when to try again.
    waiting: HashMap<String, (u32, Instant)>,
}

impl Serving {
    /// Starts a task for each subscriber owed notices that is neither served nor waiting.
    async fn start(&mut self, state: &Arc<NodeState>) {
        let Ok(ctx) = state.exchange_context() else {
            return;
        };
        let looked_for = SUBSCRIBERS.saturating_add(self.serving.len() as u32);
        let owed = match state.exchange.subscribers_owed(looked_for).await {
            Ok(owed) => owed,
            Err(err) => {
                tracing::warn!(%err, "cannot read which subscribers are owed notices");
                return;
            }
        };
        let now = Instant::now();
        for subscriber in owed {
            let busy = self.serving.values().any(|s| *s == subscriber);
            if busy
                || self
                    .waiting
                    .get(&subscriber)
                    .is_some_and(|(_, at)| *at > now)
            {
                continue;
            }
            let (state, ctx, to) = (Arc::clone(state), ctx.clone(), subscriber.clone());
            let task = self
                .tasks
                .spawn(async move { deliver_to(&state, &ctx, &to).await });
            self.serving.insert(task.id(), subscriber);
        }
    }

    /// Takes a task's outcome; whether its batch was full (more may be owed). A failure (or a
    /// task that ended without an outcome) waits before its subscriber is tried again, doubling
    /// from [`RETRY_FIRST`] up to [`RETRY_MAX`].
    fn settle(&mut self, settled: Result<(tokio::task::Id, Delivered), JoinError>) -> bool {
        let (id, outcome) = match settled {
            Ok((id, outcome)) => (id, outcome.map_err(|err| err.to_string())),
            Err(err) => (err.id(), Err(err.to_string())),
        };
        let Some(subscriber) = self.serving.remove(&id) else {
            return false;
        };
        match outcome {
            Ok(full) => {
                self.waiting.remove(&subscriber);
                full
            }
            Err(err) => {
                let failures = self.waiting.get(&subscriber).map_or(0, |(n, _)| *n) + 1;
                let wait = RETRY_FIRST
                    .saturating_mul(1 << (failures - 1).min(10))
                    .min(RETRY_MAX);
                tracing::info!(%subscriber, %err, failures, "notices not delivered; trying again later");
                self.waiting
                    .insert(subscriber, (failures, Instant::now() + wait));
                false
            }
        }
    }
}

/// Delivers the next batch owed to `subscriber`; whether the batch was full.
async fn deliver_to(
    state: &NodeState,
    ctx: &Exchange,
    subscriber: &str,
) -> Result<bool, ExchangeError> {
    let cursor = state.exchange.delivery_cursor(subscriber).await?;
    let mut notices = state
        .exchange
        .notices_after(subscriber, cursor.delivered, MAX_BATCH as u32)
        .await?;
    let full = notices.len() == MAX_BATCH;
    let mut judge = Judge::new(state, ctx);
    let parts = if cursor.recorded > cursor.delivered {
        notices.retain(|n| n.seq <= cursor.recorded);
        cursor.parts
    } else {
        if notices.is_empty() {
            return Ok(false);
        }
        let parts = record(state, ctx, &mut judge, &notices).await?;
        let through = notices.last().map_or(cursor.delivered, |n| n.seq);
        state
            .exchange
            .notices_recorded(subscriber, through, &parts)
            .await?;
        parts
    };
    let Some(through) = notices.last().map(|n| n.seq) else {
        return Ok(false);
    };
    let mut events = Vec::new();
    for part in parts.iter().filter(|p| p.told) {
        for notice in notices
            .iter()
            .filter(|n| (part.first..=part.last).contains(&n.seq))
        {
            if let Some(data) = as_recorded(&mut judge, part, notice).await {
                events.push(NoticeEvent::new(&state.authority, data, part.index));
            }
        }
    }
    let withheld = notices.len() - events.len();
    if !events.is_empty() {
        send(state, ctx, subscriber, &events).await?;
    }
    state
        .exchange
        .notices_delivered(subscriber, through)
        .await?;
    state.metrics.notices("sent", events.len() as u64);
    state.metrics.notices("withheld", withheld as u64);
    Ok(full)
}

/// What `notice` tells as `part` recorded it: its event types and the values it carried.
async fn as_recorded(
    judge: &mut Judge<'_>,
    part: &RecordedPart,
    notice: &Notice,
) -> Option<NoticeData> {
    let mut data = NoticeData::of(notice, local_id(notice));
    if part.events.is_empty() {
        // Recorded by a node that did not keep the event types with the part: decided again.
        data.events = judge.told(notice).await?.events;
    } else {
        data.events = part.events.clone();
    }
    data.values = part.values.get(&notice.seq).cloned().unwrap_or_default();
    Some(data)
}

/// Sends a batch and checks the subscriber's acknowledgement of it.
async fn send(
    state: &NodeState,
    ctx: &Exchange,
    subscriber: &str,
    events: &[NoticeEvent],
) -> Result<(), ExchangeError> {
    let member = ctx.config.member(subscriber).ok_or_else(|| {
        ExchangeError::NotAMember(format!("`{subscriber}` is no longer a member"))
    })?;
    let body = serde_json::to_vec(events).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    let response = call(state, ctx, member, Method::POST, NOTICES_PATH, Some(body)).await?;
    if !response.status.is_success() {
        let detail = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(ExchangeError::ProviderUnreachable(format!(
            "`{subscriber}` answered {} to notices: {detail}",
            response.status
        )));
    }
    let last = events.last().map_or(0, |e| e.data.seq);
    NoticesAck::verify(&response.body, member, &state.authority, last)?;
    Ok(())
}

/// Records `notices` in the ledger, in parts; returns the parts.
async fn record(
    state: &NodeState,
    ctx: &Exchange,
    judge: &mut Judge<'_>,
    notices: &[Notice],
) -> Result<Vec<RecordedPart>, ExchangeError> {
    // Runs of one subscription, one outcome and the same event types, each one ledger entry.
    let mut runs: Vec<(bool, Vec<&Notice>, Vec<NoticeData>)> = Vec::new();
    for notice in notices {
        let told = match judge.told(notice).await {
            Some(data) => judge.with_values(notice, data).await?,
            None => None,
        };
        let data = told
            .clone()
            .unwrap_or_else(|| NoticeData::of(notice, local_id(notice)));
        let same = runs.last().is_some_and(|(was_told, run, kept)| {
            *was_told == told.is_some()
                && run.len() < PART
                && run[0].subscription == notice.subscription
                && kept[0].events == data.events
        });
        if !same {
            runs.push((told.is_some(), Vec::new(), Vec::new()));
        }
        if let Some((_, run, kept)) = runs.last_mut() {
            run.push(notice);
            kept.push(data);
        }
    }
    let mut parts = Vec::with_capacity(runs.len());
    for (told, run, data) in runs {
        // A subscription that cannot be read holds its notices back, and they are not recorded
        // until it can: the record names the subscription's decision.
        let held = judge
            .subscription(&run[0].subscription)
            .await
            .ok_or_else(|| {
                ExchangeError::Internal("a subscription cannot be read; delivery waits".into())
            })?;
        let index = record_part(state, ctx, &held, told, &run, &data).await?;
        parts.push(RecordedPart {
            first: run[0].seq,
            last: run[run.len() - 1].seq,
            index,
            told,
            events: if told {
                data[0].events.clone()
            } else {
                Vec::new()
            },
            values: data
                .iter()
                .filter(|d| told && !d.values.is_empty())
                .map(|d| (d.seq, d.values.clone()))
                .collect(),
        });
    }
    Ok(parts)
}

/// Records one part: `notice_sent` when `told`, else `notice_withheld`.
async fn record_part(
    state: &NodeState,
    ctx: &Exchange,
    held: &Held,
    told: bool,
    run: &[&Notice],
    data: &[NoticeData],
) -> Result<u64, ExchangeError> {
    let first = run[0];
    let fields: BTreeSet<&str> = data
        .iter()
        .flat_map(|d| d.fields.iter().map(String::as_str))
        .collect();
    let outcome = if told {
        Outcome::Disclose
    } else {
        Outcome::Refuse
    };
    let request = &held.kept.request;
    let record = AuditRecord {
        actor: Actor {
            authority: first.subscriber.clone(),
            client: None,
            role: request.role.clone(),
            unit: request.unit.clone(),
            vouch: None,
        },
        change: None,
        event: if told {
            EventKind::NoticeSent
        } else {
            EventKind::NoticeWithheld
        },
        fields: fields
            .into_iter()
            .map(|field| FieldOutcome {
                citations: Vec::new(),
                field: field.to_owned(),
                outcome,
            })
            .collect(),
        message: None,
        bulk: None,
        notices: Some(NoticeBatch {
            count: run.len() as u32,
            events: data[0].events.clone(),
            first: first.seq,
            from: state.authority.clone(),
            last: run[run.len() - 1].seq,
            subscription: local_id(first).to_owned(),
            to: first.subscriber.clone(),
        }),
        offering: Some(first.offering.clone()),
        payload_sha256: Some(part_digest(data)),
        provider: state.authority.clone(),
        refers_to: Some(held.stored.subscription.decision_index),
        rulebook_sha256: ctx.rulebook.hash().to_owned(),
        subjects: Vec::new(),
        time: utbyte_audit::record::now(),
        v: FORMAT_VERSION,
        why: Some(Basis {
            case_ref: request.case_ref.clone(),
            legal_basis: request.legal_basis.clone(),
            operation_ref: request.operation.clone(),
            purpose: request.purpose.clone(),
        }),
    };
    let subjects = run
        .iter()
        .map(|n| subject_identifier(&n.subject))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(state.record(record, subjects).await?.index)
}

/// The subscriber's own id of the subscription a notice is for (the provider keeps it under
/// the subscriber's authority).
fn local_id(notice: &Notice) -> &str {
    notice
        .subscription
        .split_once('/')
        .map_or(notice.subscription.as_str(), |(_, id)| id)
}

/// A subscription as delivery reads it.
struct Held {
    stored: StoredSubscription,
    kept: Kept,
    /// The event types the rulebook in force grants it; empty: nothing is told.
    granted: BTreeSet<String>,
    /// The fields whose values its notices carry under the rulebook in force.
    values: BTreeSet<String>,
}

/// Decides, once per subscription and round, what may be told now.
struct Judge<'a> {
    state: &'a NodeState,
    ctx: &'a Exchange,
    now: OffsetDateTime,
    held: HashMap<String, Option<Arc<Held>>>,
}

impl<'a> Judge<'a> {
    fn new(state: &'a NodeState, ctx: &'a Exchange) -> Self {
        Self {
            state,
            ctx,
            now: OffsetDateTime::now_utc(),
            held: HashMap::new(),
        }
    }

    /// What `notice` tells now, or `None` when it is held back.
    async fn told(&mut self, notice: &Notice) -> Option<NoticeData> {
        let held = self.subscription(&notice.subscription).await?;
        let events: Vec<String> = notice
            .events
            .iter()
            .filter(|e| held.granted.contains(*e))
            .cloned()
            .collect();
        if events.is_empty() {
            return None;
        }
        let mut data = NoticeData::of(notice, local_id(notice));
        data.events = events;
        Some(data)
    }

    /// `data` with the values `notice` carries: the register's values now of the fields changed
    /// that the subscription may carry. `None` when the subject has protected identity now:
    /// then nothing of it is told.
    async fn with_values(
        &mut self,
        notice: &Notice,
        mut data: NoticeData,
    ) -> Result<Option<NoticeData>, ExchangeError> {
        let Some(held) = self.subscription(&notice.subscription).await else {
            return Ok(None);
        };
        let carried: Vec<&str> = notice
            .fields
            .iter()
            .filter(|f| held.values.contains(*f))
            .map(String::as_str)
            .collect();
        if carried.is_empty() {
            return Ok(Some(data));
        }
        let register = self.state.registers.get(&notice.offering).ok_or_else(|| {
            ExchangeError::Register(format!("no register holds `{}`", notice.offering))
        })?;
        let read = |e: utbyte_store::StoreError| ExchangeError::Register(e.to_string());
        if register
            .protected_identity(&notice.subject)
            .await
            .map_err(read)?
        {
            return Ok(None);
        }
        let record = register
            .fetch(&notice.offering, &notice.subject, &carried)
            .await
            .map_err(read)?;
        data.values = record.map(|r| r.into_fields()).unwrap_or_default();
        Ok(Some(data))
    }

    /// The subscription `id`, decided again if the rulebook changed since it was granted;
    /// `None` when it cannot be read.
    async fn subscription(&mut self, id: &str) -> Option<Arc<Held>> {
        if let Some(held) = self.held.get(id) {
            return held.clone();
        }
        let held = self.read(id).await.map(Arc::new);
        self.held.insert(id.to_owned(), held.clone());
        held
    }

    async fn read(&self, id: &str) -> Option<Held> {
        let stored = match self.state.exchange.subscription(id).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(%err, "a subscription cannot be read; its notices are held back");
                return None;
            }
        };
        let kept: Kept = serde_json::from_str(&stored.subscription.request).ok()?;
        let in_force =
            stored.state == SubscriptionState::Active && self.now < stored.subscription.ends_at;
        let (granted, values) = if !in_force {
            (BTreeSet::new(), BTreeSet::new())
        } else if kept.rulebook_sha256 == self.ctx.rulebook.hash() {
            (
                stored.subscription.events.iter().cloned().collect(),
                stored.subscription.fields.iter().cloned().collect(),
            )
        } else {
            match grant::decide(
                self.state,
                self.ctx,
                &stored.subscription.subscriber,
                &kept.request,
                self.now,
            ) {
                // Never wider than granted: event types and carried fields granted before.
                Ok(decided) => (
                    decided
                        .granted
                        .into_iter()
                        .filter(|e| stored.subscription.events.contains(e))
                        .collect(),
                    decided
                        .values
                        .into_iter()
                        .filter(|f| stored.subscription.fields.contains(f))
                        .collect(),
                ),
                Err(err) => {
                    tracing::info!(%err, "a subscription no longer holds under the rulebook in force");
                    (BTreeSet::new(), BTreeSet::new())
                }
            }
        };
        Some(Held {
            stored,
            kept,
            granted,
            values,
        })
    }
}
