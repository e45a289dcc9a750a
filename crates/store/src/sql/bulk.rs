//! The consumer side's bulk exchanges: every statement that reads or writes `bulks` and
//! `bulk_parts`, as [`BulkExchanges`] for both engines.
//!
//! A part is kept by one guarded `UPDATE` of its bulk's counters, which changes a row only where
//! the bulk stands at the part's first subject, and the part's `INSERT` only when it did, in one
//! write. Of two instances taking the same part, one moves the bulk on; the other finds it moved
//! (on PostgreSQL after waiting for the first's row lock), changes nothing and is told so.

use async_trait::async_trait;

use super::subscriptions::corrupt;
use super::time_of;
use crate::bulk::{BulkBegun, BulkExchanges, BulkPart, NewBulk, StoredBulk};
use crate::exchange::{check_id, check_index};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::StoreError;

const BEGIN: &str = "\
INSERT INTO bulks (key, bulk_id, client, provider, offering, unit, request, subjects, parts,
                   answered, held, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, $8)
ON CONFLICT (key) DO NOTHING";

const BULK: &str = "\
SELECT key, bulk_id, client, provider, offering, unit, request, subjects, parts, answered, held,
       created_at
  FROM bulks WHERE key = $1";

/// Moves a bulk on by one part, only from where the part starts. `$2` is the part's first
/// subject; `$3`, `$4` and `$5` its count, answered and held subjects.
const ADVANCE: &str = "\
UPDATE bulks SET subjects = subjects + $3, parts = parts + 1, answered = answered + $4,
       held = held + $5
 WHERE key = $1 AND subjects = $2";

const ADD_PART: &str = "\
INSERT INTO bulk_parts (key, first, count, answered, held, answer)
VALUES ($1, $2, $3, $4, $5, $6)";

const STANDS: &str = "SELECT subjects FROM bulks WHERE key = $1";

/// The oldest bulks made before $1, at most $2; their parts go with them (`ON DELETE CASCADE`).
const FORGET: &str = "\
DELETE FROM bulks WHERE key IN (
    SELECT key FROM bulks WHERE created_at < $1 ORDER BY created_at, key LIMIT $2)";

/// The parts holding subjects at or after `$2`. Parts do not overlap, so the part holding `$2`
/// is the last to start at or before it: the lower bound on `first` only spares the scan of
/// the key's index the parts before that one, which the condition on the end would drop anyway.
const PARTS: &str = "\
SELECT first, count, answered, held, answer FROM bulk_parts
 WHERE key = $1 AND first + count > $2
   AND first >= coalesce((SELECT max(first) FROM bulk_parts WHERE key = $1 AND first <= $2), 0)
 ORDER BY first LIMIT $3";

#[derive(sqlx::FromRow)]
struct BulkRow {
    key: String,
    bulk_id: String,
    client: Option<String>,
    provider: String,
    offering: String,
    unit: String,
    request: String,
    subjects: i64,
    parts: i64,
    answered: i64,
    held: i64,
    created_at: i64,
}

impl BulkRow {
    fn checked(self) -> Result<StoredBulk, StoreError> {
        let what = "bulk";
        let count = |n: i64| u64::try_from(n).map_err(|_| corrupt(what, "a negative count"));
        Ok(StoredBulk {
            bulk: NewBulk {
                key: self.key,
                bulk_id: self.bulk_id,
                client: self.client,
                provider: self.provider,
                offering: self.offering,
                unit: self.unit,
                request: self.request,
                created_at: time_of(self.created_at)
                    .ok_or_else(|| corrupt(what, "a time out of range"))?,
            },
            subjects: count(self.subjects)?,
            parts: count(self.parts)?,
            answered: count(self.answered)?,
            held: count(self.held)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PartRow {
    first: i64,
    count: i64,
    answered: i64,
    held: i64,
    answer: String,
}

impl PartRow {
    fn checked(self) -> Result<BulkPart, StoreError> {
        let what = "bulk part";
        let count = |n: i64| u32::try_from(n).map_err(|_| corrupt(what, "a count out of range"));
        Ok(BulkPart {
            first: u64::try_from(self.first).map_err(|_| corrupt(what, "a negative offset"))?,
            count: count(self.count)?,
            answered: count(self.answered)?,
            held: count(self.held)?,
            answer: self.answer,
        })
    }
}

macro_rules! engine {
    ($engine:ty) => {
        #[async_trait]
        impl BulkExchanges for $engine {
            async fn forget_bulks(
                &self,
                before: time::OffsetDateTime,
                limit: u32,
            ) -> Result<u64, StoreError> {
                super::forget_before!(
                    self,
                    "forgetting bulks",
                    before,
                    limit,
                    vec![FORGET.to_owned()]
                )
            }

            async fn begin_bulk(&self, bulk: &NewBulk) -> Result<BulkBegun, StoreError> {
                bulk.check()?;
                // The insert and the read run in one write, so the bulk read is the one the key
                // was taken by, as it stands at that moment.
                let bulk = bulk.clone();
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let inserted = sqlx::query(BEGIN)
                                .bind(&bulk.key)
                                .bind(&bulk.bulk_id)
                                .bind(&bulk.client)
                                .bind(&bulk.provider)
                                .bind(&bulk.offering)
                                .bind(&bulk.unit)
                                .bind(&bulk.request)
                                .bind(bulk.created_at.unix_timestamp())
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("keeping a bulk"))?
                                .rows_affected();
                            if inserted == 1 {
                                return Ok(BulkBegun::New);
                            }
                            let kept = sqlx::query_as::<_, BulkRow>(BULK)
                                .bind(&bulk.key)
                                .fetch_optional(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("reading a bulk"))?
                                .ok_or(StoreError::NotFound { what: "bulk" })?
                                .checked()?;
                            if !kept.bulk.asks_as(&bulk) {
                                return Err(StoreError::Duplicate {
                                    what: "idempotency key",
                                });
                            }
                            Ok(BulkBegun::Existing(kept))
                        })
                    })
                    .await
            }

            async fn bulk(&self, key: &str) -> Result<Option<StoredBulk>, StoreError> {
                check_id("idempotency key", key)?;
                sqlx::query_as::<_, BulkRow>(BULK)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(StoreError::exchange("reading a bulk"))?
                    .map(BulkRow::checked)
                    .transpose()
            }

            async fn add_bulk_part(&self, key: &str, part: &BulkPart) -> Result<bool, StoreError> {
                check_id("idempotency key", key)?;
                part.check()?;
                let first = check_index("bulk part offset", part.first)?;
                let (key, part) = (key.to_owned(), part.clone());
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let moved = sqlx::query(ADVANCE)
                                .bind(&key)
                                .bind(first)
                                .bind(i64::from(part.count))
                                .bind(i64::from(part.answered))
                                .bind(i64::from(part.held))
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("moving a bulk on"))?
                                .rows_affected();
                            if moved != 1 {
                                // Nothing was written: tell a bulk standing elsewhere from none.
                                let stands: Option<(i64,)> = sqlx::query_as(STANDS)
                                    .bind(&key)
                                    .fetch_optional(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("reading a bulk"))?;
                                return match stands {
                                    Some(_) => Ok(false),
                                    None => Err(StoreError::NotFound { what: "bulk" }),
                                };
                            }
                            sqlx::query(ADD_PART)
                                .bind(&key)
                                .bind(first)
                                .bind(i64::from(part.count))
                                .bind(i64::from(part.answered))
                                .bind(i64::from(part.held))
                                .bind(&part.answer)
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("keeping a bulk part"))?;
                            Ok(true)
                        })
                    })
                    .await
            }

            async fn bulk_parts(
                &self,
                key: &str,
                from: u64,
                limit: u32,
            ) -> Result<Vec<BulkPart>, StoreError> {
                check_id("idempotency key", key)?;
                // No part holds a subject beyond the largest offset kept.
                let from = i64::try_from(from).unwrap_or(i64::MAX);
                sqlx::query_as::<_, PartRow>(PARTS)
                    .bind(key)
                    .bind(from)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::exchange("reading the parts of a bulk"))?
                    .into_iter()
                    .map(PartRow::checked)
                    .collect()
            }
        }
    };
}

engine!(SqliteExchange);
engine!(PgExchange);
