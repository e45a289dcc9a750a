//! Recovery of the recipient's exchanges left in flight: a request stored in flight whose
//! sender is gone (the node crashed between sending it and recording the answer, or the case
//! system hung up and its handler was dropped) is driven to an end, never left stuck.
//!
//! A request has lost its sender when it was begun before this run of the node started, or
//! longer ago than `[recovery] grace_seconds` (which outlasts any live handler). It is asked
//! again of its provider under its original request id, body and time; the provider answers a
//! request it answered before from its record, so the answer is the one first signed — the same
//! provider receipt, no new disclosure — and is verified and recorded exactly as a first answer
//! is. Then:
//!
//! - an answer (or a ticket for review) is kept under the key as usual;
//! - a refusal (any 4xx: an id it never answered with a `sent_at` now stale, a replay, an
//!   invalid request), an answer that fails verification, or a request that can no longer be
//!   built (its provider left the federation, its unit is no longer ours) fails the request with
//!   a `request-failed` problem carrying the provider's own;
//! - an unreachable provider, a server error, or no configuration leaves it in flight for the
//!   next round, until `give_up_hours` after it was begun, when it fails too.
//!
//! Recoveries are serialised by one lock and re-read the request under it, so the background
//! round and a case system's retry never record the same answer twice; and an answer whose
//! receipt the first attempt recorded before it was cut off is kept with that receipt, not
//! recorded again (`record_and_keep`).

use super::ask::{ask_provider, check_case, record_and_keep};
use super::ExchangeError;
use crate::problems;
use crate::state::NodeState;
use time::OffsetDateTime;
use utbyte_api::requests::CaseRequest;
use utbyte_http::Problem;
use utbyte_store::{OutgoingState, StoreError, StoredOutgoing};

/// How many requests one round takes on; the rest wait for the next.
const PER_ROUND: u32 = 100;

/// Whether a stored request is in flight with nobody sending it.
pub(crate) fn orphaned(state: &NodeState, stored: &StoredOutgoing, now: OffsetDateTime) -> bool {
    stored.state == OutgoingState::InFlight && stored.created_at < cutoff(state, now)
}

/// Requests begun before this are orphaned. Stored times are whole seconds, so the start is
/// taken to its second: a request begun in this run's first second is never taken for an
/// earlier run's.
fn cutoff(state: &NodeState, now: OffsetDateTime) -> OffsetDateTime {
    let grace = now - state.recovery.grace();
    match state.started_at {
        Some(started) => started.replace_nanosecond(0).unwrap_or(started).max(grace),
        None => grace,
    }
}

/// One round: every orphaned request, oldest first, asked again or failed. Returns how many
/// were taken on.
pub(crate) async fn round(state: &NodeState, now: OffsetDateTime) -> usize {
    let waiting = match state
        .exchange
        .outgoing_in_flight(cutoff(state, now), PER_ROUND)
        .await
    {
        Ok(waiting) => waiting,
        Err(err) => {
            tracing::warn!(%err, "cannot list requests in flight for recovery");
            return 0;
        }
    };
    for stored in &waiting {
        if let Err(err) = recover(state, &stored.key, now).await {
            tracing::info!(provider = %stored.provider, %err, "recovery will try again");
        }
    }
    waiting.len()
}

/// A request as it stands after recovering it, if it needed recovering. An error is a
/// passing one (the provider unreachable, say): the request stays in flight.
pub(crate) async fn now_or_later(
    state: &NodeState,
    stored: StoredOutgoing,
    now: OffsetDateTime,
) -> Result<StoredOutgoing, ExchangeError> {
    if !orphaned(state, &stored, now) {
        return Ok(stored);
    }
    if let Err(err) = recover(state, &stored.key, now).await {
        tracing::info!(provider = %stored.provider, %err, "recovery will try again");
    }
    state
        .exchange
        .outgoing(&stored.key)
        .await?
        .ok_or(ExchangeError::NoSuchRequest { key: stored.key })
}

/// Drives one request to an end if it is still in flight.
async fn recover(state: &NodeState, key: &str, now: OffsetDateTime) -> Result<(), ExchangeError> {
    let _one_at_a_time = state.recovery_lock.lock().await;
    let Some(stored) = state.exchange.outgoing(key).await? else {
        return Ok(());
    };
    if stored.state != OutgoingState::InFlight {
        return Ok(());
    }
    let ctx = state.exchange_context()?;
    let rebuilt = serde_json::from_str::<CaseRequest>(&stored.request_json)
        .map_err(|e| ExchangeError::Internal(format!("stored request unreadable: {e}")))
        .and_then(|case| check_case(state, &ctx, &case, stored.created_at));
    let request = match rebuilt {
        Ok(request) => request,
        Err(err) => return fail(state, &stored, err, now).await,
    };
    let Some(member) = ctx.config.member(&stored.provider).cloned() else {
        let err = ExchangeError::ProviderUnreachable(format!(
            "`{}` has left the federation",
            stored.provider
        ));
        return fail(state, &stored, err, now).await;
    };
    let asked = ask_provider(
        state,
        &ctx,
        &member,
        &request,
        &stored.request_id,
        stored.created_at,
    )
    .await;
    match asked {
        Ok((signed, opened)) => {
            let asked_before = Some(stored.created_at);
            record_and_keep(state, key, &request, &member, signed, opened, asked_before).await?;
            Ok(())
        }
        Err(err) if definitive(&err) || now - stored.created_at >= state.recovery.give_up() => {
            fail(state, &stored, err, now).await
        }
        Err(err) => Err(err),
    }
}

/// Whether the provider's word (or its answer) settles it: asking again would get the same.
fn definitive(err: &ExchangeError) -> bool {
    match err {
        ExchangeError::ProviderRefused { status, .. } => (400..500).contains(status),
        ExchangeError::BadAnswer(_) => true,
        _ => false,
    }
}

/// Ends a request as failed, with `cause` (and the provider's problem, when it gave one).
async fn fail(
    state: &NodeState,
    stored: &StoredOutgoing,
    cause: ExchangeError,
    now: OffsetDateTime,
) -> Result<(), ExchangeError> {
    let cause = Problem::from(cause);
    let mut failed = problems::REQUEST_FAILED
        .with(format!(
            "the request with key `{}` ended without an answer: {}",
            stored.key, cause.detail
        ))
        .with_extension("cause", cause.kind.clone());
    if let Some(provider_problem) = cause.extensions.get("provider_problem") {
        failed = failed.with_extension("provider_problem", provider_problem.clone());
    }
    let json =
        serde_json::to_string(&failed).map_err(|e| ExchangeError::Internal(e.to_string()))?;
    tracing::warn!(provider = %stored.provider, cause = %cause.kind, "request failed");
    match state.exchange.fail_outgoing(&stored.key, &json, now).await {
        // An answer recorded first stands.
        Ok(()) | Err(StoreError::InvalidTransition { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The problem a failed request ended with, as recorded.
pub(crate) fn failure(stored: &StoredOutgoing) -> ExchangeError {
    stored
        .failure_json
        .as_deref()
        .and_then(|json| serde_json::from_str::<Problem>(json).ok())
        .map(|problem| ExchangeError::RequestFailed(Box::new(problem)))
        .unwrap_or_else(|| {
            ExchangeError::Internal("a failed request's problem is unreadable".into())
        })
}
