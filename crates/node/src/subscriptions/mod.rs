//! Subscriptions (pattern D), the provider's side: subscriptions decided with the rulebook and
//! granted, and the change feeds of this node's registers matched against them, queuing thin
//! notices.
//!
//! `grant` takes subscriptions from subscribers' nodes (`/federation/v1/subscriptions`),
//! decides and records them, and keeps what was granted with the subjects covered.
//! `matcher` follows each register's change feed from the cursor kept in the exchange store,
//! names the event types each change is (the rulebook's `[[offering.event]]`), and hands the
//! batch to the store, which queues one notice per covering subscription and advances the
//! cursor in one transaction; the changes matched are then forgotten by the register.

pub mod grant;
pub mod matcher;

use std::sync::Arc;

use axum::Router;
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

pub(crate) fn federation_routes() -> Router<Arc<NodeState>> {
    grant::routes()
}
