//! How long the node holds what it holds about people (`[retention]`).
//!
//! The node carries disclosures; the authorities' case systems keep them as records, and the
//! ledgers keep what was exchanged (digests and commitments, never values). What the node holds
//! for a case system to fetch, or for a requester to collect, is therefore forgotten once they
//! have had time to:
//!
//! ```toml
//! [retention]
//! requests_days = 30   # a request that ended (answered or failed): its answer with the
//!                      # values disclosed, and its callbacks; a retry of its key is a new
//!                      # request. A bulk, with its parts, counted from when it was made.
//! notices_days = 30    # a notice taken from a provider, in the feed
//! messages_days = 30   # a message received, with its attachments, counted from its arrival
//! reviews_days = 30    # as provider: a decided review (the request and the answer signed for
//!                      # it), counted from its decision
//! ```
//!
//! The leading instance looks once an hour (and at start), a batch at a time. A request whose
//! callback is still to be delivered is kept, as is a notice not yet pushed to the case
//! system's webhook and the newest notice taken from each provider (so that a batch the provider
//! sends again is still recognised), a message until its case system accepted it, the accepted
//! receipt is back at the sender and its arrival is no longer being announced, and a review
//! until it is decided. A message's files go before its row, so a stop between leaves the row to
//! be forgotten again. The provider's kept answers have their own period, `[recovery]
//! answer_retention_hours`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::watch;
use utbyte_store::StoreError;

use crate::state::NodeState;

/// How often the node looks for what to forget.
const EVERY: Duration = Duration::from_secs(3600);
/// Rows forgotten per write.
const BATCH: u32 = 1000;

/// `[retention]`: days each kind of holding is kept (each at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    #[serde(default = "default_days")]
    pub requests_days: u32,
    #[serde(default = "default_days")]
    pub notices_days: u32,
    #[serde(default = "default_days")]
    pub messages_days: u32,
    #[serde(default = "default_days")]
    pub reviews_days: u32,
}

fn default_days() -> u32 {
    30
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            requests_days: default_days(),
            notices_days: default_days(),
            messages_days: default_days(),
            reviews_days: default_days(),
        }
    }
}

impl RetentionConfig {
    pub fn validate(&self) -> Result<(), String> {
        let days = [
            self.requests_days,
            self.notices_days,
            self.messages_days,
            self.reviews_days,
        ];
        if days.contains(&0) {
            return Err("retention: each period (`…_days`) must be at least 1".into());
        }
        Ok(())
    }

    fn period(days: u32) -> time::Duration {
        time::Duration::days(i64::from(days))
    }
}

/// What one look forgot, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forgotten {
    pub requests: u64,
    pub bulks: u64,
    pub notices: u64,
    pub messages: u64,
    pub reviews: u64,
}

/// Forgets what is held past its period, every [`EVERY`] on the leading instance, until `stop`.
pub(crate) async fn run(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {
                if state.leading.load(Ordering::Relaxed) {
                    match forget(&state, OffsetDateTime::now_utc()).await {
                        Ok(forgotten) if forgotten == Forgotten::default() => {}
                        Ok(Forgotten { requests, bulks, notices, messages, reviews }) => tracing::info!(
                            requests, bulks, notices, messages, reviews,
                            "held past their retention; forgotten"
                        ),
                        Err(err) => tracing::warn!(%err, "what is held past its retention could not be forgotten"),
                    }
                }
            }
        }
    }
}

/// Forgets, as of `now`, everything held past its period.
pub(crate) async fn forget(
    state: &NodeState,
    now: OffsetDateTime,
) -> Result<Forgotten, StoreError> {
    let retention = state.retention;
    let before = |days| now - RetentionConfig::period(days);
    let exchange = &state.exchange;
    let requests_before = before(retention.requests_days);
    let requests = in_batches(|| exchange.forget_ended_outgoing(requests_before, BATCH)).await?;
    let bulks = in_batches(|| exchange.forget_bulks(requests_before, BATCH)).await?;
    // Not past what the webhook has accepted, when notices are pushed.
    let through = match state.notices.webhook {
        Some(_) => {
            exchange
                .push_state(crate::subscriptions::held::PUSH)
                .await?
                .through
        }
        None => u64::MAX,
    };
    let notices_before = before(retention.notices_days);
    let notices =
        in_batches(|| exchange.forget_received_notices(notices_before, through, BATCH)).await?;
    let messages = forget_messages(state, before(retention.messages_days)).await?;
    let reviews_before = before(retention.reviews_days);
    let reviews = in_batches(|| exchange.forget_decided_reviews(reviews_before, BATCH)).await?;
    Ok(Forgotten {
        requests,
        bulks,
        notices,
        messages,
        reviews,
    })
}

/// Forgets the messages received before `before` that are done with: files first, then rows.
async fn forget_messages(state: &NodeState, before: OffsetDateTime) -> Result<u64, StoreError> {
    let mut forgotten = 0;
    loop {
        let past = state.exchange.inbox_past(before, BATCH).await?;
        let mut removed = Vec::with_capacity(past.len());
        for (sender, message_id) in &past {
            match state.attachments.forget_incoming(sender, message_id).await {
                Ok(()) => removed.push((sender.clone(), message_id.clone())),
                // Kept, and tried again next time.
                Err(err) => tracing::warn!(%err, "a received message's files cannot be removed"),
            }
        }
        forgotten += state.exchange.forget_inbox(before, &removed).await?;
        if past.len() < BATCH as usize || removed.is_empty() {
            return Ok(forgotten);
        }
    }
}

/// Runs `batch` until it forgets fewer than a batch; returns how many it forgot in all.
async fn in_batches<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut forgotten = 0;
    loop {
        let now_forgotten = batch().await?;
        forgotten += now_forgotten;
        if now_forgotten < u64::from(BATCH) {
            return Ok(forgotten);
        }
    }
}
