//! The callback schedule: every statement that reads or writes `callbacks`, as
//! [`CallbackSchedule`] for both engines. Notices are scheduled by `complete_outgoing` (in
//! `exchange`), in the same write that answers the request.
//!
//! Like the outgoing requests, each change is one conditional `UPDATE` whose `WHERE` names the
//! state it may start from, so an attempt racing a replay cannot both win.

use time::OffsetDateTime;

use super::time_of;
use async_trait::async_trait;

use crate::exchange::check_id;
use crate::page::{Cursor, Page};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::{CallbackAttempt, CallbackSchedule, CallbackState, StoreError, StoredCallback};

const COLUMNS: &str =
    "id, key, url, state, attempts, next_attempt_at, last_error, created_at, updated_at, rowid";

/// Scheduled in the write that answers a request: nothing when it has no callback. `$2` is the
/// notice's id ([`notice_id`]).
pub(super) const SCHEDULE: &str = "\
INSERT INTO callbacks (id, key, url, state, attempts, next_attempt_at, created_at, updated_at)
SELECT $2, key, callback, 'pending', 0, updated_at, updated_at, updated_at
  FROM outgoing
 WHERE key = $1 AND state = 'answered' AND callback IS NOT NULL
ON CONFLICT (key) DO NOTHING";

const DELIVERED: &str = "\
UPDATE callbacks
   SET state = 'delivered', attempts = attempts + 1, next_attempt_at = NULL, updated_at = $2
 WHERE id = $1 AND state = 'pending'";

const MARK_OUTGOING: &str = "\
UPDATE outgoing SET callback_delivered = TRUE
 WHERE key = (SELECT key FROM callbacks WHERE id = $1)";

const RETRY: &str = "\
UPDATE callbacks
   SET attempts = attempts + 1, next_attempt_at = $3, last_error = $4, updated_at = $2
 WHERE id = $1 AND state = 'pending'";

const GIVE_UP: &str = "\
UPDATE callbacks
   SET state = 'dead', attempts = attempts + 1, next_attempt_at = NULL, last_error = $3,
       updated_at = $2
 WHERE id = $1 AND state = 'pending'";

/// Claiming due notices: each is due again only when the claim ends. PostgreSQL re-checks
/// `next_attempt_at <= $1` on each row it locks, so of two instances claiming at once the second
/// skips what the first took; SQLite runs one writer at a time.
const CLAIM: &str = "\
UPDATE callbacks SET next_attempt_at = $2
 WHERE state = 'pending' AND next_attempt_at <= $1
   AND id IN (SELECT id FROM callbacks WHERE state = 'pending' AND next_attempt_at <= $1
              ORDER BY next_attempt_at, rowid LIMIT $3)";

/// A replayed notice starts a whole schedule afresh; its last error is kept until the next one.
const REPLAY: &str = "\
UPDATE callbacks SET state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2
 WHERE id = $1 AND state = 'dead'";

/// A row as SQLite holds it; [`StoredCallback`] once checked.
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    key: String,
    url: String,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    /// Where the row stands in a listing, with `created_at`.
    rowid: i64,
}

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl CallbackSchedule for $engine {
                async fn due_callbacks(
                    &self,
                    now: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<StoredCallback>, StoreError> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM callbacks WHERE state = 'pending' AND next_attempt_at <= $1 \
                         ORDER BY next_attempt_at, rowid LIMIT $2"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(now.unix_timestamp())
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing due callbacks"))?;
                    rows.into_iter().map(Row::checked).collect()
                }

                async fn claim_due_callbacks(
                    &self,
                    now: OffsetDateTime,
                    claimed_until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<StoredCallback>, StoreError> {
                    if claimed_until <= now {
                        return Err(StoreError::InvalidInput {
                            what: "claim",
                            reason: "a claim must end after it begins".into(),
                        });
                    }
                    let sql = format!("{CLAIM} RETURNING {COLUMNS}");
                    let (now, until) = (now.unix_timestamp(), claimed_until.unix_timestamp());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let rows = sqlx::query_as::<_, Row>(&sql)
                                    .bind(now)
                                    .bind(until)
                                    .bind(i64::from(limit))
                                    .fetch_all(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("claiming due callbacks"))?;
                                let mut claimed = rows
                                    .into_iter()
                                    .map(Row::checked)
                                    .collect::<Result<Vec<_>, _>>()?;
                                claimed.sort_by_key(|callback| callback.created_at);
                                Ok(claimed)
                            })
                        })
                        .await
                }

                async fn list_callbacks(
                    &self,
                    state: Option<CallbackState>,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<StoredCallback>, StoreError> {
                    let sql = format!(
                        "SELECT {COLUMNS} FROM callbacks WHERE ($2 IS NULL OR state = $2) \
                         AND ($3 IS NULL OR (created_at, rowid) < ($3, $4)) \
                         ORDER BY created_at DESC, rowid DESC LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(state.map(CallbackState::as_str))
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing callbacks"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(Row::checked)
                }

                async fn callback(&self, id: &str) -> Result<Option<StoredCallback>, StoreError> {
                    check_id("callback id", id)?;
                    select_one(&self.pool, id).await
                }

                async fn callback_for(&self, key: &str) -> Result<Option<StoredCallback>, StoreError> {
                    check_id("idempotency key", key)?;
                    let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE key = $1");
                    sqlx::query_as::<_, Row>(&sql)
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a callback"))?
                        .map(Row::checked)
                        .transpose()
                }

                async fn record_callback_attempt(
                    &self,
                    id: &str,
                    attempt: &CallbackAttempt,
                    at: OffsetDateTime,
                ) -> Result<StoredCallback, StoreError> {
                    check_id("callback id", id)?;
                    attempt.check()?;
                    let id = id.to_owned();
                    let attempt = attempt.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let at = at.unix_timestamp();
                                let query = match &attempt {
                                    CallbackAttempt::Delivered => sqlx::query(DELIVERED).bind(&id).bind(at),
                                    CallbackAttempt::Retry {
                                        error,
                                        next_attempt_at,
                                    } => sqlx::query(RETRY)
                                        .bind(&id)
                                        .bind(at)
                                        .bind(next_attempt_at.unix_timestamp())
                                        .bind(error),
                                    CallbackAttempt::GiveUp { error } => {
                                        sqlx::query(GIVE_UP).bind(&id).bind(at).bind(error)
                                    }
                                };
                                let changed = query
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("recording a callback attempt"))?
                                    .rows_affected();
                                if changed == 1 && attempt == CallbackAttempt::Delivered {
                                    sqlx::query(MARK_OUTGOING)
                                        .bind(&id)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("marking a callback delivered"))?;
                                }
                                settled(&mut *connection, &id, changed, "record an attempt").await
                            })
                        })
                        .await
                }

                async fn replay_callback(
                    &self,
                    id: &str,
                    now: OffsetDateTime,
                ) -> Result<StoredCallback, StoreError> {
                    check_id("callback id", id)?;
                    let id = id.to_owned();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let changed = sqlx::query(REPLAY)
                                    .bind(&id)
                                    .bind(now.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("replaying a callback"))?
                                    .rows_affected();
                                settled(&mut *connection, &id, changed, "be replayed").await
                            })
                        })
                        .await
                }

                async fn undelivered_callback_count(&self) -> Result<i64, StoreError> {
                    sqlx::query_scalar(
                        "SELECT COUNT(*) FROM outgoing \
                         WHERE state = 'answered' AND callback IS NOT NULL AND callback_delivered = FALSE",
                    )
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::exchange("counting undelivered callbacks"))
                }
            }

            /// The notice after a conditional update: as it now is when the update changed it, otherwise
            /// why not.
            async fn settled(
                connection: &mut <$db as sqlx::Database>::Connection,
                id: &str,
                changed: u64,
                to: &'static str,
            ) -> Result<StoredCallback, StoreError> {
                let stored = select_one(&mut *connection, id)
                    .await?
                    .ok_or(StoreError::NotFound { what: "callback" })?;
                if changed == 1 {
                    return Ok(stored);
                }
                Err(StoreError::InvalidTransition {
                    from: match stored.state {
                        CallbackState::Pending => "pending",
                        CallbackState::Delivered => "delivered",
                        CallbackState::Dead => "dead",
                    },
                    to,
                })
            }

            async fn select_one<'e, E>(executor: E, id: &str) -> Result<Option<StoredCallback>, StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let sql = format!("SELECT {COLUMNS} FROM callbacks WHERE id = $1");
                sqlx::query_as::<_, Row>(&sql)
                    .bind(id)
                    .fetch_optional(executor)
                    .await
                    .map_err(StoreError::exchange("reading a callback"))?
                    .map(Row::checked)
                    .transpose()
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

impl Row {
    fn checked(self) -> Result<StoredCallback, StoreError> {
        let time = |seconds| time_of(seconds).ok_or_else(|| corrupt("a time out of range"));
        Ok(StoredCallback {
            state: CallbackState::parse(&self.state).ok_or_else(|| corrupt("an unknown state"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("a count out of range"))?,
            next_attempt_at: self.next_attempt_at.map(time).transpose()?,
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
            id: self.id,
            key: self.key,
            url: self.url,
            last_error: self.last_error,
        })
    }
}

/// A new notice id: 128 random bits as 32 lowercase hexadecimal digits, drawn here rather than
/// in SQL so that both engines give the same kind of id.
pub(super) fn notice_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| StoreError::Database {
        database: crate::error::EXCHANGE,
        operation: "drawing a notice id",
        source: sqlx::Error::Io(std::io::Error::other(error.to_string())),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "callback",
        reason: reason.to_owned(),
    }
}
