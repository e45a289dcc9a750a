//! The provider side's replay guard in SQLite: every statement that reads or writes
//! `seen_requests`, as methods of [`ExchangeStore`].
//!
//! A claim is one `INSERT … ON CONFLICT DO NOTHING`: SQLite runs one writer at a time, so of two
//! requests with the same id exactly one claims it. The answer is kept on the claimed row once
//! it is signed, by one conditional `UPDATE` that sets it only where none is kept yet, so a kept
//! answer never changes.

use time::OffsetDateTime;

use super::ExchangeStore;
use crate::exchange::{check_id, check_json};
use crate::{KeptAnswer, KeptStatus, KnownRequest, StoreError};

const FORGET: &str = "DELETE FROM seen_requests WHERE seen_at < ?1";

const CLAIM: &str = "\
INSERT INTO seen_requests (peer, request_id, seen_at) VALUES (?1, ?2, ?3)
ON CONFLICT (peer, request_id) DO NOTHING";

const KEEP: &str = "\
UPDATE seen_requests SET request_hash = ?3, answer_status = ?4, answer_json = ?5
 WHERE peer = ?1 AND request_id = ?2 AND answer_json IS NULL";

const KNOWN: &str = "\
SELECT request_hash, answer_status, answer_json FROM seen_requests
 WHERE peer = ?1 AND request_id = ?2";

impl ExchangeStore {
    /// Remembers that `peer` (an authority id) sent `request_id` at `now`, and forgets the ids
    /// remembered before `forget_before` (a replay that old is refused by its timestamp, not
    /// here), with the answers kept for them. `false` if the pair is still remembered: the request is a replay.
    pub async fn claim_request_id(
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

    /// Keeps the answer signed for a request id `peer` claimed, so the same request asked again
    /// gets it again. [`StoreError::NotFound`] if the id is not claimed (it was forgotten
    /// meanwhile); [`StoreError::Duplicate`] if an answer is already kept for it (the kept one
    /// stays).
    pub async fn keep_answer(
        &self,
        peer: &str,
        request_id: &str,
        answer: &KeptAnswer,
    ) -> Result<(), StoreError> {
        check_id("peer authority id", peer)?;
        check_id("request id", request_id)?;
        check_id("request hash", &answer.request_hash)?;
        check_json("answer JSON", &answer.answer_json)?;
        let (peer, request_id, answer) = (peer.to_owned(), request_id.to_owned(), answer.clone());
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

    /// What the replay guard knows of `request_id` from `peer`: nothing (never claimed, or
    /// forgotten), claimed only, or claimed and answered.
    pub async fn known_request(
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
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(KNOWN)
        .bind(peer)
        .bind(request_id)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::exchange("reading a request id"))?;
    row.map(|columns| match columns {
        (Some(request_hash), Some(status), Some(answer_json)) => match KeptStatus::parse(&status) {
            Some(status) => Ok(KnownRequest::Answered(KeptAnswer {
                request_hash,
                status,
                answer_json,
            })),
            None => Err(corrupt("an unknown answer status")),
        },
        (None, None, None) => Ok(KnownRequest::Claimed),
        _ => Err(corrupt("an answer kept in part")),
    })
    .transpose()
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "request id",
        reason: reason.to_owned(),
    }
}
