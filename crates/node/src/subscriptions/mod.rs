//! Subscriptions (pattern D), the provider's side: the change feeds of this node's registers
//! matched against the subscriptions it granted, queuing thin notices.
//!
//! `matcher` follows each register's change feed from the cursor kept in the exchange store,
//! names the event types each change is (the rulebook's `[[offering.event]]`), and hands the
//! batch to the store, which queues one notice per covering subscription and advances the
//! cursor in one transaction; the changes matched are then forgotten by the register.

pub mod matcher;

use std::sync::Arc;

use tokio::sync::watch;

use crate::state::NodeState;

/// Runs the matcher until `stop`.
pub(crate) async fn run(state: Arc<NodeState>, stop: watch::Receiver<bool>) {
    let feeds = matcher::feeds(&state.registers);
    if feeds.is_empty() {
        return;
    }
    matcher::run(state, feeds, stop).await;
}
