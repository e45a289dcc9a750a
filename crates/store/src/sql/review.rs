//! The provider side's review queue: every statement that reads or writes `reviews`, as
//! [`ReviewQueue`] for both engines. The replay guard is in `replay`.
//!
//! Deciding a review is one conditional `UPDATE` (`WHERE state = 'pending'`): SQLite runs one
//! writer at a time, and PostgreSQL re-checks the condition on the row it locked, so of two
//! reviewers deciding the same ticket at once exactly one changes the row, and the other sees it
//! decided. A decision is recorded in the ledger and signed before that `UPDATE`, so the node
//! first claims the deciding (`decision_claims`, one row per review or held notice): of
//! instances deciding the same thing at once, exactly one takes the claim.

use super::{check_claim, time_of};
use async_trait::async_trait;
use time::OffsetDateTime;

use crate::exchange::{check_id, check_index, check_json};
use crate::page::{Cursor, Page};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::{
    BatchDecision, Deciding, NewReview, ReviewBatch, ReviewDecided, ReviewQueue, ReviewState,
    StoreError, StoredReview,
};

const ENQUEUE: &str = "\
INSERT INTO reviews (ticket, requester, request_id, request_json, decision_json, ledger_index,
                     created_at, state, batch)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)
ON CONFLICT (ticket) DO NOTHING";

const DECIDE: &str = "\
UPDATE reviews
   SET state = 'decided', reviewer = $2, review_json = $3, answer_json = $4,
       decided_ledger_index = $5, decided_at = $6
 WHERE ticket = $1 AND state = 'pending'";

const EXISTS: &str = "SELECT 1 FROM reviews WHERE ticket = $1";

const COLUMNS: &str = "ticket, requester, request_id, request_json, decision_json, ledger_index, \
                       created_at, state, reviewer, review_json, answer_json, \
                       decided_ledger_index, decided_at, rowid, batch";

/// Pending reviews of a batch, each with its batch's count and its place in the batch's queue
/// (1: the oldest); `{filter}` narrows the batches.
const BATCH_HEADS: &str = "\
SELECT {COLUMNS}, pending FROM (
    SELECT {COLUMNS},
           COUNT(*) OVER (PARTITION BY batch) AS pending,
           ROW_NUMBER() OVER (PARTITION BY batch ORDER BY created_at, rowid) AS place
      FROM reviews
     WHERE state = 'pending' AND {filter}
) AS queued
 WHERE place = 1";

/// The batch heads of batches with at least `min` pending reviews, the one whose oldest review
/// has waited longest first.
fn batches_sql() -> String {
    let heads = BATCH_HEADS
        .replace("{COLUMNS}", COLUMNS)
        .replace("{filter}", "batch IS NOT NULL");
    format!("{heads} AND pending >= $1 ORDER BY created_at, batch LIMIT $2")
}

/// The batch head of batch `$1`.
fn batch_sql() -> String {
    BATCH_HEADS
        .replace("{COLUMNS}", COLUMNS)
        .replace("{filter}", "batch = $1")
}

/// A decision on a batch, covering the batch's newest pending review and every one before it.
const BEGIN_BATCH_DECISION: &str = "\
INSERT INTO batch_decisions (id, batch, decision_json, until_created_at, until_rowid, created_at)
SELECT $1, $2, $3, created_at, rowid, $4
  FROM reviews
 WHERE state = 'pending' AND batch = $2
 ORDER BY created_at DESC, rowid DESC
 LIMIT 1";

const BATCH_DECISIONS: &str = "\
SELECT id, batch, decision_json, created_at FROM batch_decisions ORDER BY created_at, id";

const END_BATCH_DECISION: &str = "DELETE FROM batch_decisions WHERE id = $1";

/// Takes the claim on deciding `($1, $2)` for `$3` until `$5`, unless another's runs past `$4`.
const CLAIM_DECIDING: &str = "\
INSERT INTO decision_claims (what, key, holder, claimed_until) VALUES ($1, $2, $3, $5)
ON CONFLICT (what, key) DO UPDATE SET holder = excluded.holder, claimed_until = excluded.claimed_until
 WHERE decision_claims.claimed_until <= $4 OR decision_claims.holder = excluded.holder";

/// The earliest decided of the reviews decided before $1, at most $2.
const FORGET_DECIDED: &str = "\
DELETE FROM reviews WHERE ticket IN (
    SELECT ticket FROM reviews WHERE state = 'decided' AND decided_at < $1
     ORDER BY decided_at, ticket LIMIT $2)";

const RELEASE_DECIDING: &str = "\
DELETE FROM decision_claims WHERE what = $1 AND key = $2 AND holder = $3";

#[derive(sqlx::FromRow)]
struct DecisionRow {
    id: String,
    batch: String,
    decision_json: String,
    created_at: i64,
}

/// A row as SQLite holds it; [`StoredReview`] once checked.
#[derive(sqlx::FromRow)]
struct Row {
    ticket: String,
    requester: String,
    request_id: String,
    request_json: String,
    decision_json: String,
    ledger_index: i64,
    created_at: i64,
    state: String,
    reviewer: Option<String>,
    review_json: Option<String>,
    answer_json: Option<String>,
    decided_ledger_index: Option<i64>,
    decided_at: Option<i64>,
    /// Where the row stands in a listing, with `created_at` or `decided_at`.
    rowid: i64,
    batch: Option<String>,
}

/// A batch's oldest pending review, with the batch's count.
#[derive(sqlx::FromRow)]
struct BatchRow {
    #[sqlx(flatten)]
    first: Row,
    pending: i64,
}

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl ReviewQueue for $engine {
                async fn enqueue_review(&self, review: &NewReview) -> Result<(), StoreError> {
                    check_id("review ticket", &review.ticket)?;
                    check_id("requester authority id", &review.requester)?;
                    check_id("request id", &review.request_id)?;
                    check_json("request JSON", &review.request_json)?;
                    check_json("decision JSON", &review.decision_json)?;
                    check_id("review batch", &review.batch)?;
                    let ledger_index = check_index("ledger index", review.ledger_index)?;
                    let review = review.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let inserted = sqlx::query(ENQUEUE)
                                    .bind(&review.ticket)
                                    .bind(&review.requester)
                                    .bind(&review.request_id)
                                    .bind(&review.request_json)
                                    .bind(&review.decision_json)
                                    .bind(ledger_index)
                                    .bind(review.created_at.unix_timestamp())
                                    .bind(&review.batch)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("queueing a review"))?
                                    .rows_affected();
                                if inserted == 0 {
                                    return Err(StoreError::Duplicate {
                                        what: "review ticket",
                                    });
                                }
                                Ok(())
                            })
                        })
                        .await
                }

                async fn review(&self, ticket: &str) -> Result<Option<StoredReview>, StoreError> {
                    check_id("review ticket", ticket)?;
                    let sql = format!("SELECT {COLUMNS} FROM reviews WHERE ticket = $1");
                    sqlx::query_as::<_, Row>(&sql)
                        .bind(ticket)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a review"))?
                        .map(Row::checked)
                        .transpose()
                }

                async fn reviews(
                    &self,
                    state: ReviewState,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<StoredReview>, StoreError> {
                    let (filter, order) = match state {
                        ReviewState::Pending => (
                            "state = 'pending' AND ($2 IS NULL OR (created_at, rowid) > ($2, $3))",
                            "created_at, rowid",
                        ),
                        ReviewState::Decided => (
                            "state = 'decided' AND ($2 IS NULL OR (decided_at, rowid) < ($2, $3))",
                            "decided_at DESC, rowid DESC",
                        ),
                    };
                    let sql = format!(
                        "SELECT {COLUMNS} FROM reviews WHERE {filter} ORDER BY {order} LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing reviews"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: match state {
                            ReviewState::Pending => row.created_at,
                            ReviewState::Decided => row.decided_at.unwrap_or_default(),
                        },
                        row: row.rowid,
                    })
                    .try_map(Row::checked)
                }

                async fn decide_review(
                    &self,
                    ticket: &str,
                    decided: &ReviewDecided,
                ) -> Result<(), StoreError> {
                    check_id("review ticket", ticket)?;
                    check_id("reviewer id", &decided.reviewer)?;
                    check_json("review JSON", &decided.review_json)?;
                    check_json("answer JSON", &decided.answer_json)?;
                    let ledger_index = check_index("ledger index", decided.ledger_index)?;
                    let ticket = ticket.to_owned();
                    let decided = decided.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let changed = sqlx::query(DECIDE)
                                    .bind(&ticket)
                                    .bind(&decided.reviewer)
                                    .bind(&decided.review_json)
                                    .bind(&decided.answer_json)
                                    .bind(ledger_index)
                                    .bind(decided.decided_at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("deciding a review"))?
                                    .rows_affected();
                                if changed == 1 {
                                    return Ok(());
                                }
                                let exists = sqlx::query(EXISTS)
                                    .bind(&ticket)
                                    .fetch_optional(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("reading a review"))?
                                    .is_some();
                                Err(if exists {
                                    StoreError::AlreadyDecided
                                } else {
                                    StoreError::NotFound { what: "review" }
                                })
                            })
                        })
                        .await
                }

                async fn pending_review_count(&self) -> Result<i64, StoreError> {
                    sqlx::query_scalar("SELECT COUNT(*) FROM reviews WHERE state = 'pending'")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::exchange("counting pending reviews"))
                }

                async fn review_batches(
                    &self,
                    min: u32,
                    limit: u32,
                ) -> Result<Vec<ReviewBatch>, StoreError> {
                    let rows = sqlx::query_as::<_, BatchRow>(&batches_sql())
                        .bind(i64::from(min.max(1)))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing review batches"))?;
                    rows.into_iter().map(BatchRow::checked).collect()
                }

                async fn review_batch(
                    &self,
                    batch: &str,
                ) -> Result<Option<ReviewBatch>, StoreError> {
                    check_id("review batch", batch)?;
                    sqlx::query_as::<_, BatchRow>(&batch_sql())
                        .bind(batch)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a review batch"))?
                        .map(BatchRow::checked)
                        .transpose()
                }

                async fn batch_reviews(
                    &self,
                    batch: &str,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<StoredReview>, StoreError> {
                    check_id("review batch", batch)?;
                    let sql = format!(
                        "SELECT {COLUMNS} FROM reviews \
                          WHERE state = 'pending' AND batch = $4 \
                            AND ($2 IS NULL OR (created_at, rowid) > ($2, $3)) \
                          ORDER BY created_at, rowid LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .bind(batch)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing a review batch"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(Row::checked)
                }

                async fn begin_batch_decision(
                    &self,
                    decision: &BatchDecision,
                ) -> Result<bool, StoreError> {
                    check_id("batch decision id", &decision.id)?;
                    check_id("review batch", &decision.batch)?;
                    check_json("batch decision JSON", &decision.decision_json)?;
                    let decision = decision.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let kept = sqlx::query(BEGIN_BATCH_DECISION)
                                    .bind(&decision.id)
                                    .bind(&decision.batch)
                                    .bind(&decision.decision_json)
                                    .bind(decision.created_at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("keeping a batch decision"))?
                                    .rows_affected();
                                Ok(kept == 1)
                            })
                        })
                        .await
                }

                async fn batch_decisions(&self) -> Result<Vec<BatchDecision>, StoreError> {
                    let rows = sqlx::query_as::<_, DecisionRow>(BATCH_DECISIONS)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing batch decisions"))?;
                    rows.into_iter()
                        .map(|row| {
                            Ok(BatchDecision {
                                created_at: time_of(row.created_at)
                                    .ok_or_else(|| corrupt("a time out of range"))?,
                                id: row.id,
                                batch: row.batch,
                                decision_json: row.decision_json,
                            })
                        })
                        .collect()
                }

                async fn batch_decision_reviews(
                    &self,
                    id: &str,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<StoredReview>, StoreError> {
                    check_id("batch decision id", id)?;
                    let columns = COLUMNS
                        .split(", ")
                        .map(|c| format!("r.{}", c.trim()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "SELECT {columns} FROM reviews r JOIN batch_decisions d ON r.batch = d.batch \
                          WHERE d.id = $4 AND r.state = 'pending' \
                            AND (r.created_at, r.rowid) <= (d.until_created_at, d.until_rowid) \
                            AND ($2 IS NULL OR (r.created_at, r.rowid) > ($2, $3)) \
                          ORDER BY r.created_at, r.rowid LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, Row>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .bind(id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing a batch decision's reviews"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(Row::checked)
                }

                async fn end_batch_decision(&self, id: &str) -> Result<(), StoreError> {
                    check_id("batch decision id", id)?;
                    let id = id.to_owned();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                sqlx::query(END_BATCH_DECISION)
                                    .bind(&id)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("ending a batch decision"))?;
                                Ok(())
                            })
                        })
                        .await
                }

                async fn claim_deciding(
                    &self,
                    what: Deciding<'_>,
                    holder: &str,
                    now: OffsetDateTime,
                    until: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_claim(now, until)?;
                    let (what, key) = what.parts();
                    check_id("decided key", &key)?;
                    check_id("decider", holder)?;
                    let holder = holder.to_owned();
                    let (now, until) = (now.unix_timestamp(), until.unix_timestamp());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let taken = sqlx::query(CLAIM_DECIDING)
                                    .bind(what)
                                    .bind(&key)
                                    .bind(&holder)
                                    .bind(now)
                                    .bind(until)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("claiming a decision"))?
                                    .rows_affected();
                                Ok(taken == 1)
                            })
                        })
                        .await
                }

                async fn forget_decided_reviews(
                    &self,
                    before: OffsetDateTime,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let statements = vec![FORGET_DECIDED.to_owned()];
                    super::forget_before!(self, "forgetting decided reviews", before, limit, statements)
                }

                async fn release_deciding(
                    &self,
                    what: Deciding<'_>,
                    holder: &str,
                ) -> Result<(), StoreError> {
                    let (what, key) = what.parts();
                    let holder = holder.to_owned();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                sqlx::query(RELEASE_DECIDING)
                                    .bind(what)
                                    .bind(&key)
                                    .bind(&holder)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("releasing a decision"))?;
                                Ok(())
                            })
                        })
                        .await
                }
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

impl Row {
    fn checked(self) -> Result<StoredReview, StoreError> {
        let state = ReviewState::parse(&self.state).ok_or_else(|| corrupt("an unknown state"))?;
        let index = |index: i64| u64::try_from(index).map_err(|_| corrupt("a negative index"));
        let time = |seconds: i64| time_of(seconds).ok_or_else(|| corrupt("a time out of range"));
        Ok(StoredReview {
            ticket: self.ticket,
            requester: self.requester,
            request_id: self.request_id,
            request_json: self.request_json,
            decision_json: self.decision_json,
            ledger_index: index(self.ledger_index)?,
            created_at: time(self.created_at)?,
            batch: self.batch,
            state,
            reviewer: self.reviewer,
            review_json: self.review_json,
            answer_json: self.answer_json,
            decided_ledger_index: self.decided_ledger_index.map(index).transpose()?,
            decided_at: self.decided_at.map(time).transpose()?,
        })
    }
}

impl BatchRow {
    fn checked(self) -> Result<ReviewBatch, StoreError> {
        let first = self.first.checked()?;
        Ok(ReviewBatch {
            batch: first
                .batch
                .clone()
                .ok_or_else(|| corrupt("a batch without a name"))?,
            pending: u64::try_from(self.pending).map_err(|_| corrupt("a negative count"))?,
            first,
        })
    }
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "review",
        reason: reason.to_owned(),
    }
}
