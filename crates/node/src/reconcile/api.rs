//! The auditor's view of reconciliation on the local API: where it stands with each provider,
//! and a round run at once.

use crate::access::Who;
use crate::exchange::ExchangeError;
use crate::state::NodeState;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::audit::{
    PeerReconciliation, ReconciliationFinding, ReconciliationState, ReconciliationView,
};
use utbyte_api::paths;
use utbyte_http::{Json, Problem};

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new().route(paths::AUDIT_RECONCILIATION, get(show).post(run))
}

/// Where reconciliation of this node's receipts stands with every provider.
#[utoipa::path(
    operation_id = "audit_reconciliation",
    get,
    path = paths::AUDIT_RECONCILIATION,
    tag = "audit",
    responses(
        (status = 200, description = "Per provider: how far its ledger is settled, what is pending, and the findings", body = ReconciliationView),
    )
)]
pub(crate) async fn show(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<ReconciliationView>, Problem> {
    who.require(Duty::Audit)?;
    Ok(Json(view(&state).await?))
}

/// Runs a round with every provider now (after any round under way), then answers as `GET`
/// does.
#[utoipa::path(
    operation_id = "audit_reconcile",
    post,
    path = paths::AUDIT_RECONCILIATION,
    tag = "audit",
    responses(
        (status = 200, description = "Reconciliation after the round", body = ReconciliationView),
    )
)]
pub(crate) async fn run(
    State(state): State<Arc<NodeState>>,
    who: Who,
) -> Result<Json<ReconciliationView>, Problem> {
    who.require(Duty::Audit)?;
    super::round(&state, OffsetDateTime::now_utc()).await;
    Ok(Json(view(&state).await?))
}

/// Every other member of the federation, and every provider reconciled with before.
async fn view(state: &NodeState) -> Result<ReconciliationView, ExchangeError> {
    let mut findings: BTreeMap<String, Vec<ReconciliationFinding>> = BTreeMap::new();
    for finding in state.exchange.reconciliation_findings().await? {
        findings
            .entry(finding.peer)
            .or_default()
            .push(ReconciliationFinding {
                provider_index: finding.provider_index,
                kind: finding.kind.as_str().to_owned(),
                found_at: finding.found_at,
            });
    }
    let mut peers: BTreeMap<String, PeerReconciliation> = BTreeMap::new();
    if let Ok(ctx) = state.exchange_context() {
        for member in &ctx.config.members {
            if member.authority != state.authority {
                peers.insert(member.authority.clone(), never(&member.authority));
            }
        }
    }
    for saved in state.exchange.reconciliation().await? {
        peers.insert(
            saved.peer.clone(),
            PeerReconciliation {
                peer: saved.peer,
                state: ReconciliationState::Pending,
                settled_to: saved.settled_to,
                provider_size: saved.provider_size,
                matched: saved.matched,
                undelivered: saved.undelivered,
                pending: saved.pending,
                checked_at: Some(saved.checked_at),
                error: saved.error,
                findings: Vec::new(),
            },
        );
    }
    for (peer, view) in &mut peers {
        view.findings = findings.remove(peer).unwrap_or_default();
        view.state = judged(view);
    }
    Ok(ReconciliationView {
        peers: peers.into_values().collect(),
    })
}

fn never(peer: &str) -> PeerReconciliation {
    PeerReconciliation {
        peer: peer.to_owned(),
        state: ReconciliationState::Pending,
        settled_to: 0,
        provider_size: 0,
        matched: 0,
        undelivered: 0,
        pending: 0,
        checked_at: None,
        error: None,
        findings: Vec::new(),
    }
}

/// Unreconciled while a finding stands; reconciled once everything the provider recorded up to
/// its ledger's size at the last round is settled and that round finished.
pub(crate) fn judged(view: &PeerReconciliation) -> ReconciliationState {
    if !view.findings.is_empty() {
        ReconciliationState::Unreconciled
    } else if view.checked_at.is_some()
        && view.error.is_none()
        && view.pending == 0
        && view.settled_to >= view.provider_size
    {
        ReconciliationState::Reconciled
    } else {
        ReconciliationState::Pending
    }
}
