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
//! `deliver` decides the queued notices again, records them and sends them to each
//! subscriber's node in batches of CloudEvents (`notice`), moving on at its signed
//! acknowledgement.
//!
//! The subscriber's side: `receive` takes the batches (`/federation/v1/notices`), records and
//! keeps each notice once; `held` is the local API through which officers and case systems
//! subscribe, list, add subjects, cancel, and follow the notices taken (a feed with a cursor
//! and long-poll), which the node also pushes to a case system's webhook (`callback`). How long
//! the feed holds a notice is `retention`'s.

pub mod deliver;
pub mod grant;
pub mod held;
pub mod matcher;
pub mod notice;
pub mod receive;

use std::sync::Arc;

use axum::Router;
use tokio::sync::{watch, Notify};

use crate::state::NodeState;

/// What the subscription loops and handlers share: wake-ups, and where notices are pushed.
#[derive(Debug, Default)]
pub(crate) struct Notices {
    /// Notices were queued for delivery.
    pub queued: Notify,
    /// Notices were taken from a provider (wakes the feed's long polls).
    pub taken: Notify,
    /// The case system's webhook the notices taken are pushed to (`[subscriptions] webhook`).
    pub webhook: Option<String>,
}

/// Runs the matcher and delivery until `stop`.
pub(crate) async fn run(state: Arc<NodeState>, stop: watch::Receiver<bool>) {
    let feeds = matcher::feeds(&state.registers);
    let delivery = deliver::run(Arc::clone(&state), stop.clone());
    if feeds.is_empty() {
        return delivery.await;
    }
    tokio::join!(matcher::run(state, feeds, stop), delivery);
}

pub(crate) fn federation_routes() -> Router<Arc<NodeState>> {
    grant::routes().merge(receive::routes())
}

pub(crate) fn local_routes() -> Router<Arc<NodeState>> {
    held::routes()
}
