//! Liveness and readiness, for the process supervisor and the load balancer in front of a node.
//!
//! `GET /healthz` answers as long as the process serves requests at all. `GET /readyz` answers
//! 200 only when the node can do its job: it holds a federation configuration that verified and
//! has not expired, with its rulebook compiled, and its audit ledger takes writes (the current
//! tree is published, which writes the checkpoint). Anything else is 503 `not-ready`, naming
//! what is missing, so a balancer sends exchanges elsewhere until the node is whole again.

use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use std::sync::Arc;
use utbyte_api::paths;
use utbyte_http::{Json, Problem};

/// The answer of a live or ready node.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `alive` or `ready`.
    pub status: &'static str,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::HEALTHZ, get(alive))
        .route(paths::READYZ, get(ready))
}

/// The process is serving.
#[utoipa::path(
    get,
    path = paths::HEALTHZ,
    tag = "health",
    operation_id = "health_alive",
    responses((status = 200, description = "The node's process serves requests", body = Health))
)]
pub(crate) async fn alive() -> Json<Health> {
    Json(Health { status: "alive" })
}

/// The node can exchange: a valid, unexpired configuration with its rulebook, and a writable
/// ledger.
#[utoipa::path(
    get,
    path = paths::READYZ,
    tag = "health",
    operation_id = "health_ready",
    responses(
        (status = 200, description = "Ready to exchange", body = Health),
        (status = 503, description = "Not ready; the detail names what is missing", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn ready(State(state): State<Arc<NodeState>>) -> Result<Json<Health>, Problem> {
    let mut missing = Vec::new();
    if let Err(problem) = state.exchange_context() {
        missing.push(format!("configuration: {problem}"));
    }
    let audit = Arc::clone(&state.audit);
    let ledger = tokio::task::spawn_blocking(move || audit.ledger().checkpoint().map(|_| ())).await;
    match ledger {
        Ok(Ok(())) => {}
        Ok(Err(err)) => missing.push(format!("audit ledger: {err}")),
        Err(_) => missing.push("audit ledger: the check did not finish".to_owned()),
    }
    if missing.is_empty() {
        Ok(Json(Health { status: "ready" }))
    } else {
        Err(problems::NOT_READY.with(missing.join("; ")))
    }
}
