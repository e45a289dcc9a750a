//! The subscriber's feed forgets what it has held long enough.
//!
//! A notice taken from a provider names a person and what changed about them, and may carry
//! values; the node holds it for its case systems to read or to be pushed, not as a record (the
//! ledgers keep what was told). So a notice taken more than `[subscriptions]
//! feed_retention_days` ago is forgotten, by the leading instance, once an hour and at start —
//! unless a webhook is set and the notice has not been pushed yet, or it is the newest taken
//! from its provider (which tells the node what it took from that provider before).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use utbyte_store::StoreError;

use crate::state::NodeState;

/// How often the feed is looked over.
const EVERY: Duration = Duration::from_secs(3600);
/// Notices forgotten per write.
const BATCH: u32 = 1000;

/// Forgets old notices every [`EVERY`] until `stop`.
pub(crate) async fn run(state: Arc<NodeState>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {
                if state.leading.load(Ordering::Relaxed) {
                    match forget(&state, OffsetDateTime::now_utc()).await {
                        Ok(0) => {}
                        Ok(forgotten) => tracing::info!(forgotten, "old notices left the feed"),
                        Err(err) => tracing::warn!(%err, "old notices could not be forgotten"),
                    }
                }
            }
        }
    }
}

/// Forgets the notices taken before `now` less the retention; returns how many.
pub(crate) async fn forget(state: &NodeState, now: OffsetDateTime) -> Result<u64, StoreError> {
    let before = now - state.notices.feed_retention;
    let through = match state.notices.webhook {
        Some(_) => state.exchange.push_state(super::held::PUSH).await?.through,
        None => u64::MAX,
    };
    let mut forgotten = 0;
    loop {
        let now_forgotten = state
            .exchange
            .forget_received_notices(before, through, BATCH)
            .await?;
        forgotten += now_forgotten;
        if now_forgotten < u64::from(BATCH) {
            return Ok(forgotten);
        }
    }
}
