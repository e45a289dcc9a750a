//! The provider side's replay guard: every statement that reads or writes `seen_requests`, as
//! [`ReplayGuard`] for both engines.
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING`: of two requests with the same id exactly one
//! claims it (SQLite runs one writer at a time; PostgreSQL makes the second insert wait for the
//! first and then do nothing). The answer is kept on the claimed row once it is signed, by one
//! conditional `UPDATE` that sets it only where none is kept yet, so a kept answer never
//! changes.

use time::OffsetDateTime;

use async_trait::async_trait;

use crate::exchange::{check_id, check_json};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::{KeptAnswer, KeptStatus, KnownRequest, ReplayGuard, StoreError};

const FORGET: &str = "DELETE FROM seen_requests WHERE seen_at < $1";

const CLAIM: &str = "\
INSERT INTO seen_requests (peer, request_id, seen_at) VALUES ($1, $2, $3)
ON CONFLICT (peer, request_id) DO NOTHING";

const KEEP: &str = "\
UPDATE seen_requests SET request_hash = $3, answer_status = $4, answer_json = $5
 WHERE peer = $1 AND request_id = $2 AND answer_json IS NULL";

const RELEASE: &str = "\
DELETE FROM seen_requests WHERE peer = $1 AND request_id = $2 AND answer_json IS NULL";

const RECLAIM: &str = "\
UPDATE seen_requests SET seen_at = $4
 WHERE peer = $1 AND request_id = $2 AND answer_json IS NULL AND seen_at < $3";

const KNOWN: &str = "\
SELECT request_hash, answer_status, answer_json FROM seen_requests
 WHERE peer = $1 AND request_id = $2";

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl ReplayGuard for $engine {
                async fn claim_request_id(
                    &self,
                    peer: &str,
                    request_id: &str,
                    now: OffsetDateTime,
                    forget_before: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("peer authority id", peer)?;
                    check_id("request id", request_id)?;
                    // One write: forgetting cannot interleave with another claim of the same pair.
                    let (peer, request_id) = (peer.to_owned(), request_id.to_owned());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                sqlx::query(FORGET)
                                    .bind(forget_before.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("forgetting old request ids"))?;
                                let claimed = sqlx::query(CLAIM)
                                    .bind(&peer)
                                    .bind(&request_id)
                                    .bind(now.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("remembering a request id"))?
                                    .rows_affected();
                                Ok(claimed == 1)
                            })
                        })
                        .await
                }

                async fn keep_answer(
                    &self,
                    peer: &str,
                    request_id: &str,
                    answer: &KeptAnswer,
                ) -> Result<(), StoreError> {
                    check_id("peer authority id", peer)?;
                    check_id("request id", request_id)?;
                    check_id("request hash", &answer.request_hash)?;
                    check_json("answer JSON", &answer.answer_json)?;
                    let (peer, request_id, answer) =
                        (peer.to_owned(), request_id.to_owned(), answer.clone());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let kept = sqlx::query(KEEP)
                                    .bind(&peer)
                                    .bind(&request_id)
                                    .bind(&answer.request_hash)
                                    .bind(answer.status.as_str())
                                    .bind(&answer.answer_json)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("keeping an answer"))?
                                    .rows_affected();
                                if kept == 1 {
                                    return Ok(());
                                }
                                match known(&mut *connection, &peer, &request_id).await? {
                                    None => Err(StoreError::NotFound { what: "request id" }),
                                    Some(_) => Err(StoreError::Duplicate {
                                        what: "kept answer",
                                    }),
                                }
                            })
                        })
                        .await
                }

                async fn release_request_id(
                    &self,
                    peer: &str,
                    request_id: &str,
                ) -> Result<bool, StoreError> {
                    check_id("peer authority id", peer)?;
                    check_id("request id", request_id)?;
                    let (peer, request_id) = (peer.to_owned(), request_id.to_owned());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let released = sqlx::query(RELEASE)
                                    .bind(&peer)
                                    .bind(&request_id)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("releasing a request id"))?
                                    .rows_affected();
                                Ok(released == 1)
                            })
                        })
                        .await
                }

                async fn reclaim_request_id(
                    &self,
                    peer: &str,
                    request_id: &str,
                    claimed_before: OffsetDateTime,
                    now: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("peer authority id", peer)?;
                    check_id("request id", request_id)?;
                    let (peer, request_id) = (peer.to_owned(), request_id.to_owned());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let taken = sqlx::query(RECLAIM)
                                    .bind(&peer)
                                    .bind(&request_id)
                                    .bind(claimed_before.unix_timestamp())
                                    .bind(now.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("taking over a request id"))?
                                    .rows_affected();
                                Ok(taken == 1)
                            })
                        })
                        .await
                }

                async fn known_request(
                    &self,
                    peer: &str,
                    request_id: &str,
                ) -> Result<Option<KnownRequest>, StoreError> {
                    check_id("peer authority id", peer)?;
                    check_id("request id", request_id)?;
                    known(&self.pool, peer, request_id).await
                }
            }

            async fn known<'e, E>(
                executor: E,
                peer: &str,
                request_id: &str,
            ) -> Result<Option<KnownRequest>, StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let row: Option<(Option<String>, Option<String>, Option<String>)> =
                    sqlx::query_as(KNOWN)
                        .bind(peer)
                        .bind(request_id)
                        .fetch_optional(executor)
                        .await
                        .map_err(StoreError::exchange("reading a request id"))?;
                row.map(|columns| match columns {
                    (Some(request_hash), Some(status), Some(answer_json)) => {
                        match KeptStatus::parse(&status) {
                            Some(status) => Ok(KnownRequest::Answered(KeptAnswer {
                                request_hash,
                                status,
                                answer_json,
                            })),
                            None => Err(corrupt("an unknown answer status")),
                        }
                    }
                    (None, None, None) => Ok(KnownRequest::Claimed),
                    _ => Err(corrupt("an answer kept in part")),
                })
                .transpose()
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "request id",
        reason: reason.to_owned(),
    }
}
