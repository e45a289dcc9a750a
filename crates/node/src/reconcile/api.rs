//! The auditor's view of reconciliation on the local API: where it stands with each provider,
//! and a round run at once.

use crate::access::Who;
use crate::exchange::{could_exist, ExchangeError};
use crate::paging::{self, Listed};
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::get;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::audit::{
    FindingListQuery, PeerReconciliation, ReconciliationFinding, ReconciliationState,
    ReconciliationView, FINDINGS_SHOWN,
};
use utbyte_api::paths;
use utbyte_http::{Json, Problem, Query};
use utbyte_store::{Finding, MAX_ID_BYTES};

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::AUDIT_RECONCILIATION, get(show).post(run))
        .route(paths::AUDIT_RECONCILIATION_FINDINGS, get(findings))
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
    let totals: BTreeMap<String, u64> = state
        .exchange
        .reconciliation_finding_counts()
        .await?
        .into_iter()
        .collect();
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
                findings_total: 0,
                findings: Vec::new(),
            },
        );
    }
    for (peer, view) in &mut peers {
        view.findings_total = totals.get(peer).copied().unwrap_or(0);
        if view.findings_total > 0 {
            let shown = state
                .exchange
                .reconciliation_findings(peer, None, FINDINGS_SHOWN)
                .await?;
            view.findings = shown.items.into_iter().map(finding_view).collect();
        }
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
        findings_total: 0,
        findings: Vec::new(),
    }
}

fn finding_view(finding: Finding) -> ReconciliationFinding {
    ReconciliationFinding {
        provider_index: finding.provider_index,
        kind: finding.kind.as_str().to_owned(),
        found_at: finding.found_at,
    }
}

/// The findings that stand with one provider, by entry in its ledger, a page at a time.
#[utoipa::path(
    operation_id = "audit_reconciliation_findings",
    get,
    path = paths::AUDIT_RECONCILIATION_FINDINGS,
    tag = "audit",
    params(FindingListQuery),
    responses(
        (status = 200, description = "Findings, by entry in the provider's ledger", body = Vec<ReconciliationFinding>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "Bad query: no `peer`, an unknown parameter, or an `after` that is not a cursor (32 lowercase hexadecimal digits)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`limit` outside 1 to 500, or a `peer` that is no authority id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn findings(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<FindingListQuery>,
) -> Result<Listed<ReconciliationFinding>, Problem> {
    who.require(Duty::Audit)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    if !could_exist(&query.peer, MAX_ID_BYTES) {
        return Err(problems::INVALID_REQUEST
            .with("`peer` must be an authority id: 1 to 256 visible ASCII characters")
            .with_extension("field", "peer"));
    }
    let page = state
        .exchange
        .reconciliation_findings(&query.peer, after, limit)
        .await
        .map_err(ExchangeError::from)?;
    Ok(Listed::new(&uri, page.map(finding_view)))
}

/// Unreconciled while a finding stands; reconciled once everything the provider recorded up to
/// its ledger's size at the last round is settled and that round finished.
pub(crate) fn judged(view: &PeerReconciliation) -> ReconciliationState {
    if view.findings_total > 0 {
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
