//! The outbox and the inbox: every statement that reads or writes `outbox` and `inbox`, as
//! [`Mailbox`] for both engines.
//!
//! Posting is one `INSERT … ON CONFLICT DO NOTHING` over both of the outbox's keys (message id;
//! client and idempotency key), so of two posts under one key exactly one inserts. Taking in is
//! the same on the inbox's key (sender, message id): of two deliveries of one message exactly
//! one claims it, and a claim left unsettled by a node that stopped is taken over once stale.
//! Claims of due work (deliveries, accepted receipts to return) move the row's next time past
//! the claim, as the callback schedule does.
//!
//! Every write here changes the database with one statement at most (an insert that may change
//! nothing, then reads; or one update), so each goes through the writer's `write_one`.

use time::OffsetDateTime;

use super::{check_claim, time_of};
use async_trait::async_trait;

use crate::exchange::{check_id, check_json, check_text};
use crate::mailbox::{
    InboxEntry, InboxState, Mailbox, NewIncomingMessage, NewOutgoingMessage, OutboxEntry,
    OutboxState, Posted, TakenIn, MAX_SEALED_BYTES,
};
use crate::page::{Cursor, Page};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::StoreError;

const OUT_COLUMNS: &str = "message_id, client, idempotency_key, request_hash, sender_unit, \
    recipient, kind, envelope, sealed, state, attempts, next_attempt_at, give_up_at, last_error, \
    decision_index, delivered_receipt, accepted_receipt, created_at, updated_at, rowid";

const IN_COLUMNS: &str = "sender, message_id, unit, kind, envelope, sealed, state, received_at, \
    delivered_receipt, accepted_receipt, accepted_by, return_at, announce_attempts, rowid";

/// The condition on `$5`, the state a listing asks for: written as an equality when there is
/// one, so that the planner walks the `(state, time)` index instead of every message.
fn by_state(given: bool) -> &'static str {
    if given {
        "AND state = $5"
    } else {
        "AND $5 IS NULL"
    }
}

const POST: &str = "\
INSERT INTO outbox (message_id, client, idempotency_key, request_hash, sender_unit, recipient,
                    kind, envelope, sealed, state, next_attempt_at, give_up_at, decision_index,
                    created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
ON CONFLICT DO NOTHING";

const CLAIM_OUT: &str = "\
UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1
 WHERE state = 'pending' AND next_attempt_at <= $1
   AND message_id IN (SELECT message_id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1
                      ORDER BY next_attempt_at, rowid LIMIT $3)";

const DELIVERED: &str = "\
UPDATE outbox SET state = 'delivered', next_attempt_at = NULL, delivered_receipt = $2, updated_at = $3
 WHERE message_id = $1 AND state = 'pending'";

const RETRY: &str = "\
UPDATE outbox SET next_attempt_at = $3, last_error = $2, updated_at = $4
 WHERE message_id = $1 AND state = 'pending'";

const EXTEND: &str = "\
UPDATE outbox SET last_error = COALESCE($2, last_error), next_attempt_at = $3, updated_at = $4
 WHERE message_id = $1 AND state = 'pending'";

const FAILED: &str = "\
UPDATE outbox SET state = 'failed', next_attempt_at = NULL, last_error = $2, updated_at = $3
 WHERE message_id = $1 AND state = 'pending'";

const ACCEPTED: &str = "\
UPDATE outbox SET state = 'accepted', next_attempt_at = NULL, accepted_receipt = $2, updated_at = $3
 WHERE message_id = $1 AND state IN ('pending', 'delivered')";

const RELEASE: &str = "\
UPDATE outbox SET state = 'pending', envelope = $2, sealed = $3, next_attempt_at = $4, updated_at = $4
 WHERE message_id = $1 AND state = 'held'";

const REFUSE_HELD: &str = "\
UPDATE outbox SET state = 'failed', last_error = $2, updated_at = $3
 WHERE message_id = $1 AND state = 'held'";

const TAKE_IN: &str = "\
INSERT INTO inbox (sender, message_id, unit, kind, envelope, sealed, state, claimed_at, received_at)
VALUES ($1, $2, $3, $4, $5, $6, 'receiving', $7, $7)
ON CONFLICT (sender, message_id) DO NOTHING";

const TAKE_OVER: &str = "\
UPDATE inbox SET claimed_at = $3
 WHERE sender = $1 AND message_id = $2 AND state = 'receiving' AND claimed_at < $4";

const KEEP_DELIVERED: &str = "\
UPDATE inbox SET state = 'delivered', delivered_receipt = $3,
                 announce_state = CASE WHEN $4 IS NULL THEN NULL ELSE 'pending' END, announce_at = $4
 WHERE sender = $1 AND message_id = $2 AND state = 'receiving'";

const CLAIM_ANNOUNCEMENTS: &str = "\
UPDATE inbox SET announce_at = $2
 WHERE announce_state = 'pending' AND announce_at <= $1
   AND (sender, message_id) IN (SELECT sender, message_id FROM inbox
                                 WHERE announce_state = 'pending' AND announce_at <= $1
                                 ORDER BY announce_at, rowid LIMIT $3)";

const ANNOUNCED: &str = "\
UPDATE inbox SET announce_state = 'delivered', announce_at = NULL, announce_attempts = announce_attempts + 1
 WHERE sender = $1 AND message_id = $2 AND announce_state = 'pending'";

const ANNOUNCE_AGAIN: &str = "\
UPDATE inbox SET announce_at = $3, announce_error = $4, announce_attempts = announce_attempts + 1
 WHERE sender = $1 AND message_id = $2 AND announce_state = 'pending'";

const ANNOUNCE_DEAD: &str = "\
UPDATE inbox SET announce_state = 'dead', announce_at = NULL, announce_error = $3,
                 announce_attempts = announce_attempts + 1
 WHERE sender = $1 AND message_id = $2 AND announce_state = 'pending'";

const ACCEPT: &str = "\
UPDATE inbox SET state = 'accepted', accepted_by = $3, accepted_receipt = $4, return_at = $5
 WHERE sender = $1 AND message_id = $2 AND state = 'delivered'";

const CLAIM_RETURNS: &str = "\
UPDATE inbox SET return_at = $2
 WHERE return_at <= $1
   AND (sender, message_id) IN (SELECT sender, message_id FROM inbox WHERE return_at <= $1
                                ORDER BY return_at, rowid LIMIT $3)";

const RETURNED: &str = "\
UPDATE inbox SET return_at = $3 WHERE sender = $1 AND message_id = $2 AND state = 'accepted'";

#[derive(sqlx::FromRow)]
struct OutRow {
    message_id: String,
    client: String,
    idempotency_key: String,
    request_hash: String,
    sender_unit: String,
    recipient: String,
    kind: String,
    envelope: String,
    sealed: Vec<u8>,
    state: String,
    attempts: i64,
    next_attempt_at: Option<i64>,
    give_up_at: i64,
    last_error: Option<String>,
    decision_index: i64,
    delivered_receipt: Option<String>,
    accepted_receipt: Option<String>,
    created_at: i64,
    updated_at: i64,
    rowid: i64,
}

#[derive(sqlx::FromRow)]
struct InRow {
    sender: String,
    message_id: String,
    unit: Option<String>,
    kind: String,
    envelope: String,
    sealed: Vec<u8>,
    state: String,
    received_at: i64,
    delivered_receipt: Option<String>,
    accepted_receipt: Option<String>,
    accepted_by: Option<String>,
    return_at: Option<i64>,
    announce_attempts: i64,
    rowid: i64,
}

fn check_outgoing(m: &NewOutgoingMessage) -> Result<(), StoreError> {
    check_id("message id", &m.message_id)?;
    check_id("client id", &m.client)?;
    check_id("idempotency key", &m.idempotency_key)?;
    check_id("request hash", &m.request_hash)?;
    check_id("sending unit", &m.sender_unit)?;
    check_id("recipient", &m.recipient)?;
    check_id("message kind", &m.kind)?;
    check_json("envelope", &m.envelope)?;
    check_sealed(&m.sealed)?;
    if !matches!(m.state, OutboxState::Pending | OutboxState::Held) {
        return Err(StoreError::InvalidInput {
            what: "message state",
            reason: "a message is posted pending or held".into(),
        });
    }
    Ok(())
}

fn check_incoming(m: &NewIncomingMessage) -> Result<(), StoreError> {
    check_id("sender", &m.sender)?;
    check_id("message id", &m.message_id)?;
    if let Some(unit) = &m.unit {
        check_id("unit", unit)?;
    }
    check_id("message kind", &m.kind)?;
    check_json("envelope", &m.envelope)?;
    check_sealed(&m.sealed)
}

fn check_sealed(sealed: &[u8]) -> Result<(), StoreError> {
    if sealed.is_empty() || sealed.len() > MAX_SEALED_BYTES {
        return Err(StoreError::InvalidInput {
            what: "sealed content",
            reason: format!("it must hold 1 to {MAX_SEALED_BYTES} bytes"),
        });
    }
    Ok(())
}

fn check_error(error: &str) -> Result<(), StoreError> {
    check_text("delivery error", error, 512)
}

/// Inbox rows done with: accepted, the accepted receipt returned, not being announced; that
/// arrived before $1.
const DONE_WITH: &str = "state = 'accepted' AND received_at < $1 AND return_at IS NULL \
                         AND (announce_state IS NULL OR announce_state <> 'pending')";

fn inbox_past_sql() -> String {
    format!(
        "SELECT sender, message_id FROM inbox WHERE {DONE_WITH} \
         ORDER BY received_at, sender, message_id LIMIT $2"
    )
}

fn forget_inbox_sql() -> String {
    format!("DELETE FROM inbox WHERE {DONE_WITH} AND sender = $2 AND message_id = $3")
}

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl Mailbox for $engine {
                async fn post_message(
                    &self,
                    message: &NewOutgoingMessage,
                ) -> Result<Posted, StoreError> {
                    check_outgoing(message)?;
                    let m = message.clone();
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let created = m.created_at.unix_timestamp();
                                let due = (m.state == OutboxState::Pending).then_some(created);
                                let inserted = sqlx::query(POST)
                                    .bind(&m.message_id)
                                    .bind(&m.client)
                                    .bind(&m.idempotency_key)
                                    .bind(&m.request_hash)
                                    .bind(&m.sender_unit)
                                    .bind(&m.recipient)
                                    .bind(&m.kind)
                                    .bind(&m.envelope)
                                    .bind(&m.sealed)
                                    .bind(m.state.as_str())
                                    .bind(due)
                                    .bind(m.give_up_at.unix_timestamp())
                                    .bind(crate::exchange::check_index("decision index", m.decision_index)?)
                                    .bind(created)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("posting a message"))?
                                    .rows_affected();
                                if inserted == 1 {
                                    return Ok(Posted::New);
                                }
                                let sql = format!(
                                    "SELECT {OUT_COLUMNS} FROM outbox WHERE client = $1 AND idempotency_key = $2"
                                );
                                let earlier = sqlx::query_as::<_, OutRow>(&sql)
                                    .bind(&m.client)
                                    .bind(&m.idempotency_key)
                                    .fetch_optional(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("reading a posted message"))?;
                                match earlier.map(OutRow::checked).transpose()? {
                                    Some(e) if e.message.request_hash == m.request_hash => {
                                        Ok(Posted::Existing(Box::new(e)))
                                    }
                                    Some(_) => Err(StoreError::IdempotencyConflict),
                                    None => Err(StoreError::Duplicate { what: "message id" }),
                                }
                            })
                        })
                        .await
                }

                async fn outgoing_message(
                    &self,
                    message_id: &str,
                ) -> Result<Option<OutboxEntry>, StoreError> {
                    check_id("message id", message_id)?;
                    let sql = format!("SELECT {OUT_COLUMNS} FROM outbox WHERE message_id = $1");
                    sqlx::query_as::<_, OutRow>(&sql)
                        .bind(message_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a message in the outbox"))?
                        .map(OutRow::checked)
                        .transpose()
                }

                async fn outgoing_by_key(
                    &self,
                    client: &str,
                    idempotency_key: &str,
                ) -> Result<Option<OutboxEntry>, StoreError> {
                    check_id("client id", client)?;
                    check_id("idempotency key", idempotency_key)?;
                    let sql = format!(
                        "SELECT {OUT_COLUMNS} FROM outbox WHERE client = $1 AND idempotency_key = $2"
                    );
                    sqlx::query_as::<_, OutRow>(&sql)
                        .bind(client)
                        .bind(idempotency_key)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a message in the outbox"))?
                        .map(OutRow::checked)
                        .transpose()
                }

                async fn claim_due_messages(
                    &self,
                    now: OffsetDateTime,
                    claimed_until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<OutboxEntry>, StoreError> {
                    check_claim(now, claimed_until)?;
                    let sql = format!("{CLAIM_OUT} RETURNING {OUT_COLUMNS}");
                    let (now, until) = (now.unix_timestamp(), claimed_until.unix_timestamp());
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let rows = sqlx::query_as::<_, OutRow>(&sql)
                                    .bind(now)
                                    .bind(until)
                                    .bind(i64::from(limit))
                                    .fetch_all(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("claiming due messages"))?;
                                let mut claimed = rows
                                    .into_iter()
                                    .map(OutRow::checked)
                                    .collect::<Result<Vec<_>, _>>()?;
                                claimed.sort_by_key(|m| m.row);
                                Ok(claimed)
                            })
                        })
                        .await
                }

                async fn message_delivered(
                    &self,
                    message_id: &str,
                    receipt: &str,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("message id", message_id)?;
                    check_json("delivered receipt", receipt)?;
                    self.outbox_update(DELIVERED, message_id, Some(receipt.to_owned()), None, at)
                        .await
                }

                async fn extend_message_claim(
                    &self,
                    message_id: &str,
                    claimed_until: OffsetDateTime,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("message id", message_id)?;
                    self.outbox_update(EXTEND, message_id, None, Some(claimed_until), at)
                        .await
                }

                async fn message_not_delivered(
                    &self,
                    message_id: &str,
                    error: &str,
                    next_attempt_at: Option<OffsetDateTime>,
                    at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    check_id("message id", message_id)?;
                    check_error(error)?;
                    let statement = if next_attempt_at.is_some() { RETRY } else { FAILED };
                    self.outbox_update(statement, message_id, Some(error.to_owned()), next_attempt_at, at)
                        .await
                        .map(|_| ())
                }

                async fn message_accepted(
                    &self,
                    message_id: &str,
                    receipt: &str,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("message id", message_id)?;
                    check_json("accepted receipt", receipt)?;
                    self.outbox_update(ACCEPTED, message_id, Some(receipt.to_owned()), None, at)
                        .await
                }

                async fn held_messages(
                    &self,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<OutboxEntry>, StoreError> {
                    let sql = format!(
                        "SELECT {OUT_COLUMNS} FROM outbox WHERE state = 'held' \
                         AND ($2 IS NULL OR (created_at, rowid) > ($2, $3)) \
                         ORDER BY created_at, rowid LIMIT $1"
                    );
                    let rows = sqlx::query_as::<_, OutRow>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing held messages"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(OutRow::checked)
                }

                async fn release_held(
                    &self,
                    message_id: &str,
                    envelope: &str,
                    sealed: &[u8],
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("message id", message_id)?;
                    check_json("envelope", envelope)?;
                    check_sealed(sealed)?;
                    let (id, envelope, sealed) =
                        (message_id.to_owned(), envelope.to_owned(), sealed.to_vec());
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let changed = sqlx::query(RELEASE)
                                    .bind(&id)
                                    .bind(&envelope)
                                    .bind(&sealed)
                                    .bind(at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("releasing a held message"))?
                                    .rows_affected();
                                Ok(changed == 1)
                            })
                        })
                        .await
                }

                async fn refuse_held(
                    &self,
                    message_id: &str,
                    reason: &str,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("message id", message_id)?;
                    check_error(reason)?;
                    self.outbox_update(REFUSE_HELD, message_id, Some(reason.to_owned()), None, at)
                        .await
                }

                async fn list_outbox(
                    &self,
                    unit: Option<&str>,
                    state: Option<OutboxState>,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<OutboxEntry>, StoreError> {
                    if let Some(unit) = unit {
                        check_id("unit", unit)?;
                    }
                    let sql = format!(
                        "SELECT {OUT_COLUMNS} FROM outbox WHERE ($2 IS NULL OR sender_unit = $2) \
                         AND ($3 IS NULL OR (created_at, rowid) < ($3, $4)) \
                         {} ORDER BY created_at DESC, rowid DESC LIMIT $1",
                        by_state(state.is_some())
                    );
                    let rows = sqlx::query_as::<_, OutRow>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(unit)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .bind(state.map(OutboxState::as_str))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing the outbox"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.created_at,
                        row: row.rowid,
                    })
                    .try_map(OutRow::checked)
                }

                async fn take_in(
                    &self,
                    message: &NewIncomingMessage,
                    now: OffsetDateTime,
                    stale_before: OffsetDateTime,
                ) -> Result<TakenIn, StoreError> {
                    check_incoming(message)?;
                    let m = message.clone();
                    let (now, stale) = (now.unix_timestamp(), stale_before.unix_timestamp());
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let inserted = sqlx::query(TAKE_IN)
                                    .bind(&m.sender)
                                    .bind(&m.message_id)
                                    .bind(&m.unit)
                                    .bind(&m.kind)
                                    .bind(&m.envelope)
                                    .bind(&m.sealed)
                                    .bind(now)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("taking in a message"))?
                                    .rows_affected();
                                if inserted == 1 {
                                    return Ok(TakenIn::Claimed);
                                }
                                let held = select_in(&mut *connection, &m.sender, &m.message_id)
                                    .await?
                                    .ok_or(StoreError::NotFound { what: "message" })?;
                                if held.message.envelope != m.envelope || held.message.sealed != m.sealed {
                                    return Err(StoreError::Duplicate { what: "message id" });
                                }
                                if held.state != InboxState::Receiving {
                                    return Ok(TakenIn::Received(Box::new(held)));
                                }
                                // The first claim's time: every claim since may have recorded it.
                                let (since,): (i64,) = sqlx::query_as(
                                    "SELECT received_at FROM inbox WHERE sender = $1 AND message_id = $2",
                                )
                                .bind(&m.sender)
                                .bind(&m.message_id)
                                .fetch_one(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("reading a claim"))?;
                                let taken = sqlx::query(TAKE_OVER)
                                    .bind(&m.sender)
                                    .bind(&m.message_id)
                                    .bind(now)
                                    .bind(stale)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("taking over a message"))?
                                    .rows_affected();
                                Ok(if taken == 1 {
                                    TakenIn::TakenOver { since: time(since)? }
                                } else {
                                    TakenIn::Busy
                                })
                            })
                        })
                        .await
                }

                async fn keep_delivered_receipt(
                    &self,
                    sender: &str,
                    message_id: &str,
                    receipt: &str,
                    announce_at: Option<OffsetDateTime>,
                ) -> Result<(), StoreError> {
                    check_id("sender", sender)?;
                    check_id("message id", message_id)?;
                    check_json("delivered receipt", receipt)?;
                    let (s, id, r) = (sender.to_owned(), message_id.to_owned(), receipt.to_owned());
                    let announce = announce_at.map(OffsetDateTime::unix_timestamp);
                    let kept = self
                        .inbox_update(KEEP_DELIVERED, s, id, move |q| q.bind(r).bind(announce))
                        .await?;
                    if kept {
                        Ok(())
                    } else {
                        Err(StoreError::NotFound {
                            what: "message being received",
                        })
                    }
                }

                async fn claim_due_announcements(
                    &self,
                    now: OffsetDateTime,
                    claimed_until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<InboxEntry>, StoreError> {
                    self.claim_inbox(CLAIM_ANNOUNCEMENTS, "claiming arrivals to announce", now, claimed_until, limit)
                        .await
                }

                async fn announcement_attempted(
                    &self,
                    sender: &str,
                    message_id: &str,
                    attempt: &crate::CallbackAttempt,
                ) -> Result<(), StoreError> {
                    check_id("sender", sender)?;
                    check_id("message id", message_id)?;
                    attempt.check()?;
                    let (s, id) = (sender.to_owned(), message_id.to_owned());
                    match attempt.clone() {
                        crate::CallbackAttempt::Delivered => {
                            self.inbox_update(ANNOUNCED, s, id, |q| q).await
                        }
                        crate::CallbackAttempt::Retry { error, next_attempt_at } => {
                            let next = next_attempt_at.unix_timestamp();
                            self.inbox_update(ANNOUNCE_AGAIN, s, id, move |q| q.bind(next).bind(error))
                                .await
                        }
                        crate::CallbackAttempt::GiveUp { error } => {
                            self.inbox_update(ANNOUNCE_DEAD, s, id, move |q| q.bind(error)).await
                        }
                    }
                    .map(|_| ())
                }

                async fn incoming_message(
                    &self,
                    sender: &str,
                    message_id: &str,
                ) -> Result<Option<InboxEntry>, StoreError> {
                    check_id("sender", sender)?;
                    check_id("message id", message_id)?;
                    select_in(&self.pool, sender, message_id).await
                }

                async fn list_inbox(
                    &self,
                    unit: Option<&str>,
                    state: Option<InboxState>,
                    limit: u32,
                    after: Option<Cursor>,
                ) -> Result<Page<InboxEntry>, StoreError> {
                    if let Some(unit) = unit {
                        check_id("unit", unit)?;
                    }
                    let sql = format!(
                        "SELECT {IN_COLUMNS} FROM inbox WHERE state <> 'receiving' \
                         AND ($2 IS NULL OR unit = $2 OR unit IS NULL) \
                         AND ($3 IS NULL OR (received_at, rowid) < ($3, $4)) \
                         {} ORDER BY received_at DESC, rowid DESC LIMIT $1",
                        by_state(state.is_some())
                    );
                    let rows = sqlx::query_as::<_, InRow>(&sql)
                        .bind(i64::from(limit) + 1)
                        .bind(unit)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .bind(state.map(InboxState::as_str))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing the inbox"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.received_at,
                        row: row.rowid,
                    })
                    .try_map(InRow::checked)
                }

                async fn accept_incoming(
                    &self,
                    sender: &str,
                    message_id: &str,
                    accepted_by: &str,
                    receipt: &str,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("sender", sender)?;
                    check_id("message id", message_id)?;
                    check_id("accepted by", accepted_by)?;
                    check_json("accepted receipt", receipt)?;
                    let (by, r) = (accepted_by.to_owned(), receipt.to_owned());
                    let accepted = self
                        .inbox_update(ACCEPT, sender.to_owned(), message_id.to_owned(), move |q| {
                            q.bind(by).bind(r).bind(at.unix_timestamp())
                        })
                        .await?;
                    if accepted {
                        return Ok(true);
                    }
                    match select_in(&self.pool, sender, message_id).await? {
                        Some(e) if e.state == InboxState::Accepted => Ok(false),
                        Some(_) => Err(StoreError::NotFound {
                            what: "delivered message",
                        }),
                        None => Err(StoreError::NotFound { what: "message" }),
                    }
                }

                async fn claim_due_returns(
                    &self,
                    now: OffsetDateTime,
                    claimed_until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<InboxEntry>, StoreError> {
                    self.claim_inbox(CLAIM_RETURNS, "claiming receipts to return", now, claimed_until, limit)
                        .await
                }

                async fn receipt_returned(
                    &self,
                    sender: &str,
                    message_id: &str,
                    again_at: Option<OffsetDateTime>,
                ) -> Result<(), StoreError> {
                    check_id("sender", sender)?;
                    check_id("message id", message_id)?;
                    let again = again_at.map(OffsetDateTime::unix_timestamp);
                    self.inbox_update(RETURNED, sender.to_owned(), message_id.to_owned(), move |q| {
                        q.bind(again)
                    })
                    .await
                    .map(|_| ())
                }

                async fn inbox_past(
                    &self,
                    before: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<(String, String)>, StoreError> {
                    sqlx::query_as(&inbox_past_sql())
                        .bind(before.unix_timestamp())
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading the messages done with"))
                }

                async fn forget_inbox(
                    &self,
                    before: OffsetDateTime,
                    messages: &[(String, String)],
                ) -> Result<u64, StoreError> {
                    let (before, messages) = (before.unix_timestamp(), messages.to_vec());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let sql = forget_inbox_sql();
                                let mut forgotten = 0;
                                for (sender, message_id) in &messages {
                                    forgotten += sqlx::query(&sql)
                                        .bind(before)
                                        .bind(sender)
                                        .bind(message_id)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("forgetting a message"))?
                                        .rows_affected();
                                }
                                Ok(forgotten)
                            })
                        })
                        .await
                }
            }

            impl $engine {
                /// Claims up to `limit` inbox rows `statement` finds due at `now`, until
                /// `claimed_until` (`$1`, `$2`, `$3`).
                async fn claim_inbox(
                    &self,
                    statement: &'static str,
                    what: &'static str,
                    now: OffsetDateTime,
                    claimed_until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<InboxEntry>, StoreError> {
                    check_claim(now, claimed_until)?;
                    let sql = format!("{statement} RETURNING {IN_COLUMNS}");
                    let (now, until) = (now.unix_timestamp(), claimed_until.unix_timestamp());
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let rows = sqlx::query_as::<_, InRow>(&sql)
                                    .bind(now)
                                    .bind(until)
                                    .bind(i64::from(limit))
                                    .fetch_all(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange(what))?;
                                rows.into_iter().map(InRow::checked).collect()
                            })
                        })
                        .await
                }

                /// Runs one of the outbox's state changes: `$1` the id, `$2` the receipt or
                /// error, then the next attempt if given, and the time.
                async fn outbox_update(
                    &self,
                    statement: &'static str,
                    message_id: &str,
                    text: Option<String>,
                    next: Option<OffsetDateTime>,
                    at: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let id = message_id.to_owned();
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let mut query = sqlx::query(statement).bind(&id).bind(&text);
                                if let Some(next) = next {
                                    query = query.bind(next.unix_timestamp());
                                }
                                let changed = query
                                    .bind(at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("updating a message in the outbox"))?
                                    .rows_affected();
                                Ok(changed == 1)
                            })
                        })
                        .await
                }

                /// Runs one of the inbox's state changes on (`$1`, `$2`), with further
                /// parameters bound by `bind`.
                async fn inbox_update<F>(
                    &self,
                    statement: &'static str,
                    sender: String,
                    message_id: String,
                    bind: F,
                ) -> Result<bool, StoreError>
                where
                    F: for<'q> FnOnce(
                            sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>
                        + Send
                        + 'static,
                {
                    self.writer
                        .write_one(move |connection| {
                            Box::pin(async move {
                                let query = sqlx::query(statement).bind(&sender).bind(&message_id);
                                let changed = bind(query)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("updating a message in the inbox"))?
                                    .rows_affected();
                                Ok(changed == 1)
                            })
                        })
                        .await
                }
            }

            async fn select_in<'e, E>(
                executor: E,
                sender: &str,
                message_id: &str,
            ) -> Result<Option<InboxEntry>, StoreError>
            where
                E: sqlx::Executor<'e, Database = $db>,
            {
                let sql = format!("SELECT {IN_COLUMNS} FROM inbox WHERE sender = $1 AND message_id = $2");
                sqlx::query_as::<_, InRow>(&sql)
                    .bind(sender)
                    .bind(message_id)
                    .fetch_optional(executor)
                    .await
                    .map_err(StoreError::exchange("reading a message in the inbox"))?
                    .map(InRow::checked)
                    .transpose()
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "message",
        reason: reason.to_owned(),
    }
}

fn time(seconds: i64) -> Result<OffsetDateTime, StoreError> {
    time_of(seconds).ok_or_else(|| corrupt("a time out of range"))
}

impl OutRow {
    fn checked(self) -> Result<OutboxEntry, StoreError> {
        let state = OutboxState::parse(&self.state).ok_or_else(|| corrupt("an unknown state"))?;
        Ok(OutboxEntry {
            message: NewOutgoingMessage {
                message_id: self.message_id,
                client: self.client,
                idempotency_key: self.idempotency_key,
                request_hash: self.request_hash,
                sender_unit: self.sender_unit,
                recipient: self.recipient,
                kind: self.kind,
                envelope: self.envelope,
                sealed: self.sealed,
                state,
                decision_index: u64::try_from(self.decision_index)
                    .map_err(|_| corrupt("a negative ledger index"))?,
                created_at: time(self.created_at)?,
                give_up_at: time(self.give_up_at)?,
            },
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: self.next_attempt_at.map(time).transpose()?,
            last_error: self.last_error,
            updated_at: time(self.updated_at)?,
            delivered_receipt: self.delivered_receipt,
            accepted_receipt: self.accepted_receipt,
            row: self.rowid,
        })
    }
}

impl InRow {
    fn checked(self) -> Result<InboxEntry, StoreError> {
        Ok(InboxEntry {
            message: NewIncomingMessage {
                sender: self.sender,
                message_id: self.message_id,
                unit: self.unit,
                kind: self.kind,
                envelope: self.envelope,
                sealed: self.sealed,
            },
            state: InboxState::parse(&self.state).ok_or_else(|| corrupt("an unknown state"))?,
            received_at: time(self.received_at)?,
            delivered_receipt: self.delivered_receipt,
            accepted_receipt: self.accepted_receipt,
            accepted_by: self.accepted_by,
            return_at: self.return_at.map(time).transpose()?,
            announce_attempts: u32::try_from(self.announce_attempts).unwrap_or(u32::MAX),
            row: self.rowid,
        })
    }
}
