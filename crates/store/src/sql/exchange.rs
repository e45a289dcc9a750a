//! The consumer side's outgoing requests: every statement that reads or writes `outgoing`, as
//! [`OutgoingRequests`] for both engines. The provider side's tables are in `review` and
//! `replay`, the callback schedule in `callbacks`.
//!
//! Each state change is one conditional `UPDATE` whose `WHERE` names the states it may start
//! from, so two tasks racing on one request (the review poller and a late answer, say, or two
//! node instances on one PostgreSQL database) cannot both win; when it changes nothing, a second
//! read tells the caller why.

use time::OffsetDateTime;

use async_trait::async_trait;

use super::time_of;
use crate::exchange::{check_id, check_json, check_url};
use crate::page::{Cursor, Page};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::{
    Begun, OutgoingRequest, OutgoingRequests, OutgoingState, OutgoingUpdate, StoreError,
    StoredOutgoing,
};

const COLUMNS: &str = "key, request_hash, request_id, provider, officer, request_json, callback, \
                       state, answer_json, ticket, created_at, updated_at, callback_delivered, \
                       failure_json, client, rowid";

const INSERT: &str = "\
INSERT INTO outgoing (key, request_hash, request_id, provider, officer, request_json, callback,
                      state, created_at, updated_at, client)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_flight', $8, $8, $9)
ON CONFLICT (key) DO NOTHING";

/// Answering is allowed from in flight and from in review (a reviewer's decision arrived);
/// going to review only from in flight. `$3` is the target state.
const COMPLETE: &str = "\
UPDATE outgoing
   SET state = $3, answer_json = coalesce($4, answer_json), ticket = coalesce($5, ticket),
       updated_at = $6
 WHERE key = $1 AND (state = 'in_flight' OR (state = 'in_review' AND $2))";

/// Failing is allowed from in flight only: an answer or a ticket, once recorded, stands.
const FAIL: &str = "\
UPDATE outgoing SET state = 'failed', failure_json = $2, updated_at = $3
 WHERE key = $1 AND state = 'in_flight'";

const ABANDON: &str = "DELETE FROM outgoing WHERE key = $1 AND state = 'in_flight'";

/// The requests forgotten by [`FORGET_ENDED`] and their callbacks: the oldest made of those that
/// ended before $1 and have no callback to deliver, at most $2, in an order both statements of
/// one transaction see alike.
const ENDED: &str = "\
SELECT o.key FROM outgoing AS o
 WHERE o.created_at < $1 AND o.updated_at < $1 AND o.state IN ('answered', 'failed')
   AND NOT EXISTS (SELECT 1 FROM callbacks AS c WHERE c.key = o.key AND c.state = 'pending')
 ORDER BY o.created_at, o.key LIMIT $2";

fn forget_ended_sql() -> [String; 2] {
    [
        format!("DELETE FROM callbacks WHERE key IN ({ENDED})"),
        format!("DELETE FROM outgoing WHERE key IN ({ENDED})"),
    ]
}

/// A row as SQLite holds it; [`StoredOutgoing`] once checked.
#[derive(sqlx::FromRow)]
struct Row {
    key: String,
    request_hash: String,
    request_id: String,
    provider: String,
    officer: Option<String>,
    request_json: String,
    callback: Option<String>,
    state: String,
    answer_json: Option<String>,
    ticket: Option<String>,
    created_at: i64,
    updated_at: i64,
    callback_delivered: bool,
    failure_json: Option<String>,
    client: Option<String>,
    /// Where the row stands in a listing, with `created_at`.
    rowid: i64,
}

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl OutgoingRequests for $engine {


                async fn begin_outgoing(&self, request: &OutgoingRequest) -> Result<Begun, StoreError> {
                    check_id("idempotency key", &request.key)?;
                    check_id("request hash", &request.request_hash)?;
                    check_id("request id", &request.request_id)?;
                    check_id("provider authority id", &request.provider)?;
                    if let Some(officer) = &request.officer {
                        check_id("officer id", officer)?;
                    }
                    if let Some(client) = &request.client {
                        check_id("client id", client)?;
                    }
                    check_json("request JSON", &request.request_json)?;
                    if let Some(callback) = &request.callback {
                        check_url("callback URL", callback)?;
                    }
                    // The insert and the read run in one write, so the row read cannot be abandoned or
                    // changed in between: the two statements see one state.
                    let request = request.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let inserted = sqlx::query(INSERT)
                                    .bind(&request.key)
                                    .bind(&request.request_hash)
                                    .bind(&request.request_id)
                                    .bind(&request.provider)
                                    .bind(&request.officer)
                                    .bind(&request.request_json)
                                    .bind(&request.callback)
                                    .bind(request.created_at.unix_timestamp())
                                    .bind(&request.client)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("storing an outgoing request"))?
                                    .rows_affected();
                                if inserted == 1 {
                                    return Ok(Begun::Started);
                                }
                                let existing = select_one(&mut *connection, &request.key).await?.ok_or(
                                    StoreError::NotFound {
                                        what: "outgoing request",
                                    },
                                )?;
                                if existing.request_hash != request.request_hash {
                                    return Err(StoreError::IdempotencyConflict);
                                }
                                Ok(Begun::Existing(existing))
                            })
                        })
                        .await
                }

                async fn complete_outgoing(
                    &self,
                    key: &str,
                    update: &OutgoingUpdate,
                ) -> Result<(), StoreError> {
                    check_id("idempotency key", key)?;
                    let (to, from_review) = match update.state {
                        OutgoingState::InFlight => {
                            return Err(StoreError::InvalidInput {
                                what: "outcome",
                                reason: "a request cannot be put back in flight; abandon it instead".into(),
                            })
                        }
                        OutgoingState::Failed => {
                            return Err(StoreError::InvalidInput {
                                what: "outcome",
                                reason: "a failure needs its problem; fail the request instead".into(),
                            })
                        }
                        OutgoingState::Answered if update.answer_json.is_none() => {
                            return Err(StoreError::InvalidInput {
                                what: "outcome",
                                reason: "an answered request needs its answer".into(),
                            })
                        }
                        OutgoingState::InReview if update.ticket.is_none() => {
                            return Err(StoreError::InvalidInput {
                                what: "outcome",
                                reason: "a request in review needs its ticket".into(),
                            })
                        }
                        OutgoingState::Answered => ("become answered", true),
                        OutgoingState::InReview => ("go to review", false),
                    };
                    if let Some(answer) = &update.answer_json {
                        check_json("answer JSON", answer)?;
                    }
                    if let Some(ticket) = &update.ticket {
                        check_id("review ticket", ticket)?;
                    }
                    let key = key.to_owned();
                    let update = update.clone();
                    let notice = super::callbacks::notice_id()?;
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let changed = sqlx::query(COMPLETE)
                                    .bind(&key)
                                    .bind(from_review)
                                    .bind(update.state.as_str())
                                    .bind(&update.answer_json)
                                    .bind(&update.ticket)
                                    .bind(update.updated_at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange(
                                        "recording the outcome of an outgoing request",
                                    ))?
                                    .rows_affected();
                                if changed == 1 {
                                    // An answer with a callback owes its case system a notice: scheduled in
                                    // this same write, so none is ever lost between the two.
                                    sqlx::query(super::callbacks::SCHEDULE)
                                        .bind(&key)
                                        .bind(&notice)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("scheduling a callback"))?;
                                    return Ok(());
                                }
                                let stored =
                                    select_one(&mut *connection, &key)
                                        .await?
                                        .ok_or(StoreError::NotFound {
                                            what: "outgoing request",
                                        })?;
                                Err(StoreError::InvalidTransition {
                                    from: described(stored.state),
                                    to,
                                })
                            })
                        })
                        .await
                }

                async fn abandon_outgoing(&self, key: &str) -> Result<bool, StoreError> {
                    check_id("idempotency key", key)?;
                    let key = key.to_owned();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let deleted = sqlx::query(ABANDON)
                                    .bind(&key)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("abandoning an outgoing request"))?
                                    .rows_affected();
                                Ok(deleted == 1)
                            })
                        })
                        .await
                }

                async fn forget_ended_outgoing(
                    &self,
                    before: OffsetDateTime,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    super::forget_before!(self, "forgetting ended requests", before, limit, forget_ended_sql().into())
                }

                async fn outgoing(&self, key: &str) -> Result<Option<StoredOutgoing>, StoreError> {
                    check_id("idempotency key", key)?;
                    select_one(&self.pool, key).await
                }

                async fn fail_outgoing(
                    &self,
                    key: &str,
                    failure_json: &str,
                    at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    check_id("idempotency key", key)?;
                    check_json("failure JSON", failure_json)?;
                    let (key, failure_json) = (key.to_owned(), failure_json.to_owned());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let changed = sqlx::query(FAIL)
                                    .bind(&key)
                                    .bind(&failure_json)
                                    .bind(at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("failing an outgoing request"))?
                                    .rows_affected();
                                if changed == 1 {
                                    return Ok(());
                                }
                                let stored =
                                    select_one(&mut *connection, &key)
                                        .await?
                                        .ok_or(StoreError::NotFound {
                                            what: "outgoing request",
                                        })?;
                                Err(StoreError::InvalidTransition {
                                    from: described(stored.state),
                                    to: "fail",
                                })
                            })
                        })
                        .await
                }

                async fn outgoing_in_flight(
                    &self,
                    begun_before: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<StoredOutgoing>, StoreError> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM outgoing WHERE state = 'in_flight' AND created_at < $1 \
                         ORDER BY created_at, rowid LIMIT $2"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(begun_before.unix_timestamp())
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing outgoing requests in flight"))?;
                    rows.into_iter().map(Row::checked).collect()
                }

                async fn outgoing_in_review(&self, limit: u32) -> Result<Vec<StoredOutgoing>, StoreError> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM outgoing WHERE state = 'in_review' \
                         ORDER BY created_at, rowid LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing outgoing requests in review"))?;
                    rows.into_iter().map(Row::checked).collect()
                }

                async fn list_outgoing(
                    &self,
                    officer: Option<&str>,
                    client: Option<&str>,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<StoredOutgoing>, StoreError> {
                    // Only the conditions asked for, each an equality an index serves, rather than
                    // `? IS NULL OR officer = ?`, which none does.
                    let mut conditions = Vec::new();
                    let mut next = 0;
                    let mut placeholder = || {
                        next += 1;
                        format!("${next}")
                    };
                    if let Some(officer) = officer {
                        check_id("officer id", officer)?;
                        conditions.push(format!("officer = {}", placeholder()));
                    }
                    if let Some(client) = client {
                        check_id("client id", client)?;
                        // Requests from before clients were authenticated belong to no one client.
                        conditions.push(format!("(client = {} OR client IS NULL)", placeholder()));
                    }
                    if after.is_some() {
                        let (key, row) = (placeholder(), placeholder());
                        conditions.push(format!("(created_at, rowid) < ({key}, {row})"));
                    }
                    let filter = if conditions.is_empty() {
                        String::new()
                    } else {
                        format!("WHERE {}", conditions.join(" AND "))
                    };
                    let sql = format!(
                        "SELECT {COLUMNS} FROM outgoing {filter} \
                         ORDER BY created_at DESC, rowid DESC LIMIT {}",
                        placeholder()
                    );
                    let mut query = sqlx::query_as::<_, Row>(&sql);
                    for value in [officer, client].into_iter().flatten() {
                        query = query.bind(value);
                    }
                    if let Some(after) = after {
                        query = query.bind(after.key).bind(after.row);
                    }
                    let rows = query
                        .bind(i64::from(limit) + 1)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing outgoing requests"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(Row::checked)
                }
            }

            async fn select_one<'e, E>(executor: E, key: &str) -> Result<Option<StoredOutgoing>, StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let sql = format!("SELECT {COLUMNS} FROM outgoing WHERE key = $1");
                sqlx::query_as::<_, Row>(&sql)
                    .bind(key)
                    .fetch_optional(executor)
                    .await
                    .map_err(StoreError::exchange("reading an outgoing request"))?
                    .map(Row::checked)
                    .transpose()
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

impl Row {
    fn checked(self) -> Result<StoredOutgoing, StoreError> {
        let state = OutgoingState::parse(&self.state).ok_or_else(|| corrupt("an unknown state"))?;
        Ok(StoredOutgoing {
            key: self.key,
            request_hash: self.request_hash,
            request_id: self.request_id,
            provider: self.provider,
            officer: self.officer,
            request_json: self.request_json,
            callback: self.callback,
            state,
            answer_json: self.answer_json,
            ticket: self.ticket,
            created_at: time_of(self.created_at).ok_or_else(|| corrupt("a time out of range"))?,
            updated_at: time_of(self.updated_at).ok_or_else(|| corrupt("a time out of range"))?,
            callback_delivered: self.callback_delivered,
            failure_json: self.failure_json,
            client: self.client,
        })
    }
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "outgoing request",
        reason: reason.to_owned(),
    }
}

/// A state as the words of an error message.
fn described(state: OutgoingState) -> &'static str {
    match state {
        OutgoingState::InFlight => "in flight",
        OutgoingState::Answered => "answered",
        OutgoingState::InReview => "in review",
        OutgoingState::Failed => "failed",
    }
}
