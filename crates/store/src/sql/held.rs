//! The subscriber's side of subscriptions: the subscriptions this node holds at providers and
//! the state of pushing the notices it took to a case system, as [`HeldSubscriptions`] for
//! both engines.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::subscriptions::{corrupt, index, json_list, list};
use super::time_of;
use crate::exchange::{check_id, check_text};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::subscriptions::{
    HeldSubscription, HeldSubscriptions, PushState, StoredHeld, SubscriptionState,
};
use crate::StoreError;

const HOLD: &str = "\
INSERT INTO held_subscriptions (id, provider, offering, unit, role, officer, purpose,
                                legal_basis, case_ref, events, subjects, verdict, state,
                                created_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $14)
ON CONFLICT (id) DO NOTHING";

const COLUMNS: &str =
    "id, provider, offering, unit, role, officer, purpose, legal_basis, case_ref, \
    events, subjects, verdict, state, created_at, ends_at";

const SUBJECTS: &str = "UPDATE held_subscriptions SET subjects = $2 WHERE id = $1";

const RENEW: &str = "\
UPDATE held_subscriptions SET events = $2, ends_at = $3, verdict = $4
 WHERE id = $1 AND state = 'active' AND created_at < $3";

const END: &str =
    "UPDATE held_subscriptions SET state = 'cancelled' WHERE id = $1 AND state = 'active'";

const PUSH_STATE: &str =
    "SELECT through, attempts, next_attempt_at, error, state FROM notice_push WHERE name = $1";

const SET_PUSH_STATE: &str = "\
INSERT INTO notice_push (name, through, attempts, next_attempt_at, error, state)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO UPDATE SET through = excluded.through, attempts = excluded.attempts,
       next_attempt_at = excluded.next_attempt_at, error = excluded.error, state = excluded.state";

/// The longest stored push error, in bytes.
const MAX_ERROR: usize = 500;

#[derive(sqlx::FromRow)]
struct HeldRow {
    id: String,
    provider: String,
    offering: String,
    unit: String,
    role: String,
    officer: Option<String>,
    purpose: String,
    legal_basis: String,
    case_ref: String,
    events: String,
    subjects: i64,
    verdict: String,
    state: String,
    created_at: i64,
    ends_at: i64,
}

impl HeldRow {
    fn checked(self) -> Result<StoredHeld, StoreError> {
        let what = "held subscription";
        let time = |s| time_of(s).ok_or_else(|| corrupt(what, "a time out of range"));
        Ok(StoredHeld {
            held: HeldSubscription {
                id: self.id,
                provider: self.provider,
                offering: self.offering,
                unit: self.unit,
                role: self.role,
                officer: self.officer,
                purpose: self.purpose,
                legal_basis: self.legal_basis,
                case_ref: self.case_ref,
                events: list(what, &self.events)?,
                subjects: u64::try_from(self.subjects)
                    .map_err(|_| corrupt(what, "a negative count"))?,
                verdict: self.verdict,
                created_at: time(self.created_at)?,
                ends_at: time(self.ends_at)?,
            },
            state: SubscriptionState::parse(&self.state)
                .ok_or_else(|| corrupt(what, "an unknown state"))?,
        })
    }
}

macro_rules! engine {
    ($engine:ty) => {
        #[async_trait]
        impl HeldSubscriptions for $engine {
            async fn hold_subscription(&self, held: &HeldSubscription) -> Result<bool, StoreError> {
                held.check()?;
                let new = held.clone();
                let inserted = self
                    .writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let done = sqlx::query(HOLD)
                                .bind(&new.id)
                                .bind(&new.provider)
                                .bind(&new.offering)
                                .bind(&new.unit)
                                .bind(&new.role)
                                .bind(&new.officer)
                                .bind(&new.purpose)
                                .bind(&new.legal_basis)
                                .bind(&new.case_ref)
                                .bind(json_list(&new.events))
                                .bind(index(new.subjects)?)
                                .bind(&new.verdict)
                                .bind(new.created_at.unix_timestamp())
                                .bind(new.ends_at.unix_timestamp())
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("keeping a held subscription"))?;
                            Ok(done.rows_affected() == 1)
                        })
                    })
                    .await?;
                if inserted {
                    return Ok(true);
                }
                match self.held_subscription(&held.id).await? {
                    Some(stored) if stored.held.verdict == held.verdict => Ok(false),
                    _ => Err(StoreError::Duplicate {
                        what: "subscription id",
                    }),
                }
            }

            async fn held_subscription(&self, id: &str) -> Result<Option<StoredHeld>, StoreError> {
                check_id("subscription id", id)?;
                let sql = format!("SELECT {COLUMNS} FROM held_subscriptions WHERE id = $1");
                sqlx::query_as::<_, HeldRow>(&sql)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::exchange("reading a held subscription"))?
                    .map(HeldRow::checked)
                    .transpose()
            }

            async fn held_subscriptions(
                &self,
                unit: Option<&str>,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<StoredHeld>, StoreError> {
                if let Some(unit) = unit {
                    check_text("unit", unit, 256)?;
                }
                let sql = format!(
                    "SELECT {COLUMNS} FROM held_subscriptions \
                     WHERE ($1 IS NULL OR unit = $1) AND id > $2 ORDER BY id LIMIT $3"
                );
                sqlx::query_as::<_, HeldRow>(&sql)
                    .bind(unit)
                    .bind(after.unwrap_or(""))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::exchange("listing held subscriptions"))?
                    .into_iter()
                    .map(HeldRow::checked)
                    .collect()
            }

            async fn held_subjects(&self, id: &str, subjects: u64) -> Result<(), StoreError> {
                check_id("subscription id", id)?;
                let (id, subjects) = (id.to_owned(), index(subjects)?);
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            sqlx::query(SUBJECTS)
                                .bind(&id)
                                .bind(subjects)
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange(
                                    "counting a held subscription's subjects",
                                ))?;
                            Ok(())
                        })
                    })
                    .await
            }

            async fn renew_held(
                &self,
                id: &str,
                events: &[String],
                ends_at: OffsetDateTime,
                verdict: &str,
            ) -> Result<bool, StoreError> {
                check_id("subscription id", id)?;
                crate::exchange::check_json("verdict", verdict)?;
                for name in events {
                    crate::register::check_name("event type", name)?;
                }
                let (id, events, verdict) = (id.to_owned(), json_list(events), verdict.to_owned());
                let ends_at = ends_at.unix_timestamp();
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let done = sqlx::query(RENEW)
                                .bind(&id)
                                .bind(&events)
                                .bind(ends_at)
                                .bind(&verdict)
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("renewing a held subscription"))?;
                            Ok(done.rows_affected() == 1)
                        })
                    })
                    .await
            }

            async fn end_held_subscription(&self, id: &str) -> Result<bool, StoreError> {
                check_id("subscription id", id)?;
                let id = id.to_owned();
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let done =
                                sqlx::query(END)
                                    .bind(&id)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("ending a held subscription"))?;
                            Ok(done.rows_affected() == 1)
                        })
                    })
                    .await
            }

            async fn push_state(&self, name: &str) -> Result<PushState, StoreError> {
                check_id("webhook", name)?;
                let row: Option<(i64, i32, Option<i64>, Option<String>, String)> =
                    sqlx::query_as(PUSH_STATE)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading where pushing stands"))?;
                let Some((through, attempts, next, error, state)) = row else {
                    return Ok(PushState::default());
                };
                let what = "notice push";
                Ok(PushState {
                    through: u64::try_from(through)
                        .map_err(|_| corrupt(what, "a negative number"))?,
                    attempts: u32::try_from(attempts)
                        .map_err(|_| corrupt(what, "a negative number"))?,
                    next_attempt_at: next
                        .map(|at| time_of(at).ok_or_else(|| corrupt(what, "a time out of range")))
                        .transpose()?,
                    error,
                    dead: match state.as_str() {
                        "active" => false,
                        "dead" => true,
                        _ => return Err(corrupt(what, "an unknown state")),
                    },
                })
            }

            async fn set_push_state(
                &self,
                name: &str,
                state: &PushState,
            ) -> Result<(), StoreError> {
                check_id("webhook", name)?;
                let name = name.to_owned();
                let through = index(state.through)?;
                let attempts = i32::try_from(state.attempts).unwrap_or(i32::MAX);
                let next = state.next_attempt_at.map(OffsetDateTime::unix_timestamp);
                let error = state.error.as_deref().map(bounded);
                let dead = if state.dead { "dead" } else { "active" };
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            sqlx::query(SET_PUSH_STATE)
                                .bind(&name)
                                .bind(through)
                                .bind(attempts)
                                .bind(next)
                                .bind(&error)
                                .bind(dead)
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("keeping where pushing stands"))?;
                            Ok(())
                        })
                    })
                    .await
            }
        }
    };
}

engine!(SqliteExchange);
engine!(PgExchange);

/// An error text cut to what is kept, on a character boundary.
fn bounded(error: &str) -> String {
    let mut end = error.len().min(MAX_ERROR);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    error[..end].to_owned()
}
