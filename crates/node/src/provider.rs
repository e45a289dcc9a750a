//! The federation listener's handlers: other members' nodes ask for this authority's
//! offerings and about their requests in review. The exchange itself is
//! [`crate::exchange::answer`]; these only read the request and write the answer.

use crate::exchange::answer::{answer, Answered};
use crate::exchange::{to_the_end, ExchangeError};
use crate::problems;
use crate::protocol::{
    AnswerStatus, ExchangeRequest, Receipt, ReviewState, REQUESTS_PATH, REVIEW_PATH,
};
use crate::state::NodeState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_http::{Json, Path, Peer, Problem};

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(REQUESTS_PATH, post(exchange))
        .route(REVIEW_PATH, get(review_state))
}

/// Answers another node's request for disclosure.
#[utoipa::path(
    operation_id = "federation_exchange",
    post,
    path = REQUESTS_PATH,
    tag = "federation",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Decided: a JWS whose payload holds the answer (only disclosed fields) and its receipt", body = utbyte_federation::Jws),
        (status = 202, description = "Routed to review: a signed answer with status `review` and a ticket", body = utbyte_federation::Jws),
        (status = 400, description = "Stale request or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The certificate is not a listed member's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node does not publish the offering", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Replayed request id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid request or subject identifier", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No valid federation configuration, or the register is unavailable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn exchange(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Json(incoming): Json<ExchangeRequest>,
) -> Result<Response, Problem> {
    let Answered { status, signed } =
        to_the_end(async move { answer(&state, &peer, incoming, OffsetDateTime::now_utc()).await })
            .await?;
    let status = match status {
        AnswerStatus::Answered => StatusCode::OK,
        AnswerStatus::Review => StatusCode::ACCEPTED,
    };
    Ok((status, Json(signed)).into_response())
}

/// Tells the requesting node whether its review is decided, and if so hands over the answer.
#[utoipa::path(
    operation_id = "federation_review_state",
    get,
    path = REVIEW_PATH,
    tag = "federation",
    params(("ticket" = String, Path, description = "The ticket from a `review` answer")),
    responses(
        (status = 200, description = "`pending`, or `decided` with the signed answer", body = ReviewState),
        (status = 404, description = "No such ticket for this requester", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn review_state(
    State(state): State<Arc<NodeState>>,
    Extension(Peer(peer)): Extension<Peer>,
    Path(ticket): Path<String>,
) -> Result<Json<ReviewState>, Problem> {
    let ctx = state.exchange_context()?;
    let fingerprint = peer.fingerprint.to_string();
    if ctx.config.member_by_certificate(&fingerprint).is_none() {
        return Err(problems::NOT_A_MEMBER.with("the certificate is not a listed member's"));
    }
    crate::review::possible(&ticket)?;
    let review = state
        .exchange
        .review(&ticket)
        .await
        .map_err(ExchangeError::from)?
        // Another authority's ticket is answered exactly like one that does not exist.
        .filter(|r| r.requester == peer.authority.as_str())
        .ok_or_else(|| {
            problems::NO_SUCH_REVIEW.with(format!("no review `{ticket}` for `{}`", peer.authority))
        })?;
    let answer = match &review.answer_json {
        Some(json) => {
            Some(serde_json::from_str(json).map_err(|e| ExchangeError::Internal(e.to_string()))?)
        }
        None => None,
    };
    Ok(Json(ReviewState {
        state: if answer.is_some() {
            "decided"
        } else {
            "pending"
        }
        .into(),
        answer,
    }))
}

impl NodeState {
    pub(crate) fn receipt(&self, receipt: &utbyte_ledger::Receipt) -> Receipt {
        Receipt {
            ledger: self.origin.clone(),
            index: receipt.index,
            tree_size: receipt.tree_size,
            root: hex::encode(receipt.root.as_bytes()),
        }
    }
}
