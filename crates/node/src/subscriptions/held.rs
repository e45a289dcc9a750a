//! placeholder
use crate::state::NodeState;
use axum::Router;
use std::sync::Arc;
pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
}
