//! The administrator's view of callback notices on the local API: list them by state (the dead
//! letters above all) and replay a dead one. The delivery itself is `callback`.

use crate::access::Who;
use crate::paging::{self, Listed};
use crate::problems;
use crate::state::NodeState;
use axum::extract::State;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::OffsetDateTime;
use utbyte_api::access::Duty;
use utbyte_api::paths;
use utbyte_http::{Json, Path, Problem, Query};
use utbyte_store::{CallbackState, StoreError, StoredCallback};

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// Still to be delivered, at `next_attempt_at`.
    Pending,
    /// The case system accepted it.
    Delivered,
    /// Given up on after its attempts or age: a dead letter, until replayed.
    Dead,
}

impl From<CallbackState> for CallbackStatus {
    fn from(state: CallbackState) -> Self {
        match state {
            CallbackState::Pending => Self::Pending,
            CallbackState::Delivered => Self::Delivered,
            CallbackState::Dead => Self::Dead,
        }
    }
}

impl From<CallbackStatus> for CallbackState {
    fn from(status: CallbackStatus) -> Self {
        match status {
            CallbackStatus::Pending => Self::Pending,
            CallbackStatus::Delivered => Self::Delivered,
            CallbackStatus::Dead => Self::Dead,
        }
    }
}

/// A callback notice and its delivery schedule.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackView {
    /// The notice's id: its `webhook-id` and CloudEvent `id`.
    pub id: String,
    /// The request it is about.
    pub idempotency_key: String,
    /// Where it goes.
    pub url: String,
    pub state: CallbackStatus,
    /// Attempts since it was scheduled or last replayed.
    pub attempts: u32,
    /// When it is due (pending only).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// What went wrong on the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

impl From<StoredCallback> for CallbackView {
    fn from(stored: StoredCallback) -> Self {
        Self {
            id: stored.id,
            idempotency_key: stored.key,
            url: stored.url,
            state: stored.state.into(),
            attempts: stored.attempts,
            next_attempt_at: stored.next_attempt_at,
            last_error: stored.last_error,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct CallbackQuery {
    /// Only notices in this state.
    state: Option<CallbackStatus>,
    /// At most this many (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Where the page starts: the cursor in the previous page's `Link` header (`rel="next"`);
    /// the first page without one.
    #[param(min_length = 32, max_length = 32, pattern = r"^[0-9a-f]{32}$")]
    after: Option<String>,
}

pub(crate) fn routes() -> Router<Arc<NodeState>> {
    Router::new()
        .route(paths::CALLBACKS, get(list))
        .route(paths::CALLBACK_REPLAY, post(replay))
}

fn store_problem(error: StoreError) -> Problem {
    match error {
        StoreError::NotFound { .. } => {
            problems::NO_SUCH_CALLBACK.with("no callback notice has this id")
        }
        StoreError::InvalidTransition { from, .. } => problems::CALLBACK_NOT_DEAD.with(format!(
            "the notice is {from}; only a dead one can be replayed"
        )),
        StoreError::InvalidInput { .. } => {
            problems::NO_SUCH_CALLBACK.with("no callback notice has this id")
        }
        other => problems::STORE_FAILED.with(other.to_string()),
    }
}

/// Callback notices with their schedule, newest first; `state=dead` lists the dead letters.
#[utoipa::path(
    operation_id = "callbacks_list",
    get,
    path = paths::CALLBACKS,
    tag = "callbacks",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Notices, newest first", body = Vec<CallbackView>, headers(
            ("Link" = String, description = "The next page, `rel=\"next\"`, when there is one (RFC 8288)")
        )),
        (status = 400, description = "A query parameter is malformed, or `after` is not a cursor (32 lowercase hexadecimal digits)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "limit out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list(
    State(state): State<Arc<NodeState>>,
    who: Who,
    uri: Uri,
    Query(query): Query<CallbackQuery>,
) -> Result<Listed<CallbackView>, Problem> {
    who.require(Duty::Admin)?;
    let limit = paging::limit(query.limit)?;
    let after = paging::after(query.after.as_deref())?;
    let page = state
        .exchange
        .list_callbacks(query.state.map(Into::into), limit, after)
        .await
        .map_err(store_problem)?;
    Ok(Listed::new(&uri, page.map(Into::into)))
}

/// Puts a dead notice back on the schedule, due now, with a whole new run of attempts.
#[utoipa::path(
    operation_id = "callbacks_replay",
    post,
    path = paths::CALLBACK_REPLAY,
    tag = "callbacks",
    params(("id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "Replayed: pending, due now", body = CallbackView),
        (status = 404, description = "No notice with this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The notice is not dead", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn replay(
    State(state): State<Arc<NodeState>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<CallbackView>, Problem> {
    who.require(Duty::Admin)?;
    let replayed = state
        .exchange
        .replay_callback(&id, OffsetDateTime::now_utc())
        .await
        .map_err(store_problem)?;
    tracing::info!(callback = %replayed.id, "dead callback replayed");
    Ok(Json(replayed.into()))
}
