//! Subscriptions, the subjects they cover, change cursors and notices: every statement that
//! reads or writes them, as [`Subscriptions`] for both engines.
//!
//! Matching is one `INSERT … SELECT` per batch of changes: the batch arrives as one JSON array,
//! read as rows (`json_each` on SQLite, `jsonb_to_recordset` on PostgreSQL — the one place the
//! engines' SQL differs), and joined to `subscribed` on its key, so each change costs one index
//! lookup whatever the number of pairs held. On PostgreSQL a matcher holds a transaction-level
//! advisory lock, so two instances never match one feed at once and notices commit in `seq`
//! order; on SQLite the one writer does the same.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;

use super::time_of;
use crate::exchange::check_id;
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::subscriptions::{
    check_feed, check_subjects, ChangeToMatch, DeliveryCursor, NewSubscription, Notice,
    NoticeDelivery, NoticeValues, ReceivedNotice, RecordedPart, Renewal, StoredSubscription,
    SubscriptionState, Subscriptions,
};
use crate::StoreError;

/// Rows per multi-row `INSERT` of subjects: three parameters each.
const ROWS_PER_STATEMENT: usize = 1000;

const SUBSCRIPTION_COLUMNS: &str = "id, subscriber, offering, events, fields, request, \
    decision_index, state, created_at, ends_at";

const CREATE: &str = "\
INSERT INTO subscriptions (id, subscriber, offering, events, fields, request, decision_index, state,
                           created_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9)
ON CONFLICT (id) DO NOTHING";

const CANCEL: &str =
    "UPDATE subscriptions SET state = 'cancelled' WHERE id = $1 AND state = 'active'";

/// A renewal: the event types still granted, the new end, the decision and the request kept.
const RENEW: &str = "\
UPDATE subscriptions SET events = $2, ends_at = $3, decision_index = $4, request = $5,
       fields = $6
 WHERE id = $1 AND state = 'active' AND created_at < $3";

const ACTIVE_OFFERING: &str =
    "SELECT offering FROM subscriptions WHERE id = $1 AND state = 'active'";

const COUNT_SUBJECTS: &str = "SELECT COUNT(*) FROM subscribed WHERE subscription = $1";

const CURSOR: &str = "SELECT after FROM change_cursors WHERE feed = $1";

const ADVANCE: &str = "\
INSERT INTO change_cursors (feed, after) VALUES ($1, $2)
ON CONFLICT (feed) DO UPDATE SET after = excluded.after WHERE change_cursors.after < excluded.after";

const NOTICE_COLUMNS: &str = "seq, subscription, subscriber, feed, change_seq, offering, subject, \
    events, fields, changed_at";

/// The notices of a batch of changes ($1, a JSON array), for feed $2, after its cursor $3: each
/// (subscription, change) where the subscription covers the subject, holds one of the change's
/// event types (the notice names those it holds) and was active when the change was made.
const SQLITE_MATCH: &str = "\
INSERT INTO notices (subscription, subscriber, feed, change_seq, offering, subject, events, fields,
                     changed_at)
SELECT s.id, s.subscriber, $2, c.seq, c.offering, c.subject,
       (SELECT json_group_array(value) FROM
          (SELECT e.value FROM json_each(c.events) AS e
            WHERE e.value IN (SELECT value FROM json_each(s.events)) ORDER BY e.value)),
       c.fields, c.at
  FROM (SELECT json_extract(j.value, '$.seq') AS seq, json_extract(j.value, '$.offering') AS offering,
               json_extract(j.value, '$.subject') AS subject, json_extract(j.value, '$.events') AS events,
               json_extract(j.value, '$.fields') AS fields, json_extract(j.value, '$.at') AS at
          FROM json_each($1) AS j) AS c
  JOIN subscribed AS p ON p.offering = c.offering AND p.subject = c.subject
  JOIN subscriptions AS s ON s.id = p.subscription
 WHERE c.seq > $3 AND s.state = 'active' AND s.created_at * 1000 <= c.at AND c.at < s.ends_at * 1000
   AND EXISTS (SELECT 1 FROM json_each(c.events) AS e WHERE e.value IN (SELECT value FROM json_each(s.events)))
 ORDER BY c.seq, s.id
ON CONFLICT DO NOTHING";

/// [`SQLITE_MATCH`] on PostgreSQL.
const POSTGRES_MATCH: &str = "\
INSERT INTO notices (subscription, subscriber, feed, change_seq, offering, subject, events, fields,
                     changed_at)
SELECT s.id, s.subscriber, $2, c.seq, c.offering, c.subject,
       (SELECT jsonb_agg(e ORDER BY e) FROM jsonb_array_elements_text(c.events) AS e
         WHERE s.events::jsonb ? e)::text,
       c.fields::text, c.at
  FROM jsonb_to_recordset($1::jsonb)
       AS c(seq BIGINT, offering TEXT, subject TEXT, events JSONB, fields JSONB, at BIGINT)
  JOIN subscribed AS p ON p.offering = c.offering AND p.subject = c.subject
  JOIN subscriptions AS s ON s.id = p.subscription
 WHERE c.seq > $3 AND s.state = 'active' AND s.created_at * 1000 <= c.at AND c.at < s.ends_at * 1000
   AND s.events::jsonb ?| ARRAY(SELECT jsonb_array_elements_text(c.events))
 ORDER BY c.seq, s.id
ON CONFLICT DO NOTHING";

/// Serializes matchers on PostgreSQL (see the module's text).
const POSTGRES_MATCH_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7305221100018)");

/// Serializes takers of notices on PostgreSQL, so the notices taken commit in `seq` order and
/// a case system following the feed never skips one.
const POSTGRES_TAKE_LOCK: Option<&str> = Some("SELECT pg_advisory_xact_lock(7305221100019)");

const DELIVERY_CURSOR: &str =
    "SELECT through, recorded, parts FROM notice_cursors WHERE subscriber = $1";

/// Delivered through $2; what was recorded beyond it keeps its parts.
const DELIVERED: &str = "\
INSERT INTO notice_cursors (subscriber, through, recorded, parts) VALUES ($1, $2, $2, '[]')
ON CONFLICT (subscriber) DO UPDATE SET through = excluded.through,
       recorded = CASE WHEN notice_cursors.recorded < excluded.through
                       THEN excluded.through ELSE notice_cursors.recorded END,
       parts = CASE WHEN notice_cursors.recorded <= excluded.through
                    THEN '[]' ELSE notice_cursors.parts END
 WHERE notice_cursors.through < excluded.through";

/// The notices to $1 through $2, acknowledged.
const FORGET_DELIVERED: &str = "DELETE FROM notices WHERE subscriber = $1 AND seq <= $2";

const RECORDED: &str = "\
INSERT INTO notice_cursors (subscriber, through, recorded, parts) VALUES ($1, 0, $2, $3)
ON CONFLICT (subscriber) DO UPDATE SET recorded = excluded.recorded, parts = excluded.parts
 WHERE notice_cursors.recorded < excluded.recorded";

const OWED: &str = "\
SELECT DISTINCT n.subscriber FROM notices AS n
  LEFT JOIN notice_cursors AS c ON c.subscriber = n.subscriber
 WHERE n.seq > COALESCE(c.through, 0)
 ORDER BY n.subscriber LIMIT $1";

const TAKE: &str = "\
INSERT INTO received_notices (provider, provider_seq, subscription, offering, subject, events,
                              fields, changed_at, received_at, notice_values)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (provider, provider_seq) DO NOTHING";

const TAKEN_THROUGH: &str =
    "SELECT COALESCE(MAX(provider_seq), 0) FROM received_notices WHERE provider = $1";

/// The oldest notices taken before $1, through $2, at most $3, but each provider's newest.
const FORGET_RECEIVED: &str = "\
DELETE FROM received_notices WHERE seq IN (
    SELECT r.seq FROM received_notices AS r
     WHERE r.received_at < $1 AND r.seq <= $2
       AND r.provider_seq < (SELECT MAX(m.provider_seq) FROM received_notices AS m
                              WHERE m.provider = r.provider)
     ORDER BY r.seq LIMIT $3)";

/// The notices taken after $1, of the subscriptions unit $2 holds (every unit's when null).
const RECEIVED_AFTER: &str = "\
SELECT r.seq, r.provider, r.provider_seq, r.subscription, r.offering, r.subject, r.events,
       r.fields, r.changed_at, r.received_at, r.notice_values
  FROM received_notices AS r
  LEFT JOIN held_subscriptions AS h ON h.id = r.subscription
 WHERE r.seq > $1 AND ($2 IS NULL OR h.unit = $2)
 ORDER BY r.seq LIMIT $3";

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    subscriber: String,
    offering: String,
    events: String,
    fields: String,
    request: String,
    decision_index: i64,
    state: String,
    created_at: i64,
    ends_at: i64,
}

#[derive(sqlx::FromRow)]
struct NoticeRow {
    seq: i64,
    subscription: String,
    subscriber: String,
    feed: String,
    change_seq: i64,
    offering: String,
    subject: String,
    events: String,
    fields: String,
    changed_at: i64,
}

#[derive(sqlx::FromRow)]
struct ReceivedRow {
    seq: i64,
    provider: String,
    provider_seq: i64,
    subscription: String,
    offering: String,
    subject: String,
    events: String,
    fields: String,
    changed_at: i64,
    received_at: i64,
    notice_values: String,
}

macro_rules! engine {
    ($engine:ty, $db:ty, $match:expr, $lock:expr, $take_lock:expr) => {
        const _: () = {
            #[async_trait]
            impl Subscriptions for $engine {
                async fn create_subscription(
                    &self,
                    subscription: &NewSubscription,
                ) -> Result<bool, StoreError> {
                    subscription.check()?;
                    let new = subscription.clone();
                    let inserted = self
                        .writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let done = sqlx::query(CREATE)
                                    .bind(&new.id)
                                    .bind(&new.subscriber)
                                    .bind(&new.offering)
                                    .bind(json_list(&new.events))
                                    .bind(json_list(&new.fields))
                                    .bind(&new.request)
                                    .bind(index(new.decision_index)?)
                                    .bind(new.created_at.unix_timestamp())
                                    .bind(new.ends_at.unix_timestamp())
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("keeping a subscription"))?;
                                Ok(done.rows_affected() == 1)
                            })
                        })
                        .await?;
                    if inserted {
                        return Ok(true);
                    }
                    match self.subscription(&subscription.id).await? {
                        Some(held) if same_grant(&held.subscription, subscription) => Ok(false),
                        _ => Err(StoreError::Duplicate {
                            what: "subscription id",
                        }),
                    }
                }

                async fn add_subjects(
                    &self,
                    id: &str,
                    subjects: &[SubjectId],
                ) -> Result<u64, StoreError> {
                    check_id("subscription id", id)?;
                    check_subjects(subjects)?;
                    let id = id.to_owned();
                    let subjects: Vec<String> =
                        subjects.iter().map(|s| s.as_str().to_owned()).collect();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let offering: Option<(String,)> = sqlx::query_as(ACTIVE_OFFERING)
                                    .bind(&id)
                                    .fetch_optional(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("reading a subscription"))?;
                                let Some((offering,)) = offering else {
                                    return Err(StoreError::NotFound {
                                        what: "active subscription",
                                    });
                                };
                                let mut added = 0;
                                for chunk in subjects.chunks(ROWS_PER_STATEMENT) {
                                    let mut query = QueryBuilder::<$db>::new(
                                        "INSERT INTO subscribed (offering, subject, subscription) ",
                                    );
                                    query.push_values(chunk, |mut row, subject| {
                                        row.push_bind(offering.as_str())
                                            .push_bind(subject.as_str())
                                            .push_bind(id.as_str());
                                    });
                                    query.push(" ON CONFLICT DO NOTHING");
                                    added += query
                                        .build()
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("adding subjects"))?
                                        .rows_affected();
                                }
                                Ok(added)
                            })
                        })
                        .await
                }

                async fn subscription(
                    &self,
                    id: &str,
                ) -> Result<Option<StoredSubscription>, StoreError> {
                    check_id("subscription id", id)?;
                    let sql =
                        format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1");
                    let Some(row) = sqlx::query_as::<_, SubscriptionRow>(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a subscription"))?
                    else {
                        return Ok(None);
                    };
                    let (subjects,): (i64,) = sqlx::query_as(COUNT_SUBJECTS)
                        .bind(id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::exchange("counting a subscription's subjects"))?;
                    row.checked(u64::try_from(subjects).unwrap_or(0)).map(Some)
                }

                async fn subscriptions_granted(
                    &self,
                    after: Option<&str>,
                    limit: u32,
                ) -> Result<Vec<StoredSubscription>, StoreError> {
                    let sql = format!(
                        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id > $1 \
                         ORDER BY id LIMIT $2"
                    );
                    let rows = sqlx::query_as::<_, SubscriptionRow>(&sql)
                        .bind(after.unwrap_or(""))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing subscriptions"))?;
                    let mut granted = Vec::with_capacity(rows.len());
                    for row in rows {
                        let (subjects,): (i64,) = sqlx::query_as(COUNT_SUBJECTS)
                            .bind(&row.id)
                            .fetch_one(&self.pool)
                            .await
                            .map_err(StoreError::exchange("counting a subscription's subjects"))?;
                        granted.push(row.checked(u64::try_from(subjects).unwrap_or(0))?);
                    }
                    Ok(granted)
                }

                async fn renew_subscription(&self, renewal: &Renewal) -> Result<bool, StoreError> {
                    renewal.check()?;
                    let renewal = renewal.clone();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let done = sqlx::query(RENEW)
                                    .bind(&renewal.id)
                                    .bind(json_list(&renewal.events))
                                    .bind(renewal.ends_at.unix_timestamp())
                                    .bind(index(renewal.decision_index)?)
                                    .bind(&renewal.request)
                                    .bind(json_list(&renewal.fields))
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("renewing a subscription"))?;
                                Ok(done.rows_affected() == 1)
                            })
                        })
                        .await
                }

                async fn cancel_subscription(&self, id: &str) -> Result<bool, StoreError> {
                    check_id("subscription id", id)?;
                    let id = id.to_owned();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let done = sqlx::query(CANCEL)
                                    .bind(&id)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("cancelling a subscription"))?;
                                Ok(done.rows_affected() == 1)
                            })
                        })
                        .await
                }

                async fn change_cursor(&self, feed: &str) -> Result<u64, StoreError> {
                    check_feed(feed)?;
                    let after: Option<(i64,)> = sqlx::query_as(CURSOR)
                        .bind(feed)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a change cursor"))?;
                    Ok(after.map_or(0, |(after,)| u64::try_from(after).unwrap_or(0)))
                }

                async fn match_changes(
                    &self,
                    feed: &str,
                    through: u64,
                    changes: &[ChangeToMatch],
                ) -> Result<u64, StoreError> {
                    check_feed(feed)?;
                    if changes.iter().any(|c| c.seq > through) {
                        return Err(StoreError::InvalidInput {
                            what: "changes",
                            reason: "one is after the position matched through".to_owned(),
                        });
                    }
                    let (feed, batch, last) =
                        (feed.to_owned(), batch_json(changes)?, index(through)?);
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                if let Some(lock) = $lock {
                                    sqlx::query(lock)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("ordering matchers"))?;
                                }
                                let after: Option<(i64,)> = sqlx::query_as(CURSOR)
                                    .bind(&feed)
                                    .fetch_optional(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("reading a change cursor"))?;
                                let after = after.map_or(0, |(after,)| after);
                                if last <= after {
                                    return Ok(0);
                                }
                                let queued = if batch == "[]" {
                                    0
                                } else {
                                    sqlx::query($match)
                                        .bind(&batch)
                                        .bind(&feed)
                                        .bind(after)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("matching changes"))?
                                        .rows_affected()
                                };
                                sqlx::query(ADVANCE)
                                    .bind(&feed)
                                    .bind(last)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("advancing a change cursor"))?;
                                Ok(queued)
                            })
                        })
                        .await
                }

                async fn notices_after(
                    &self,
                    subscriber: &str,
                    after: u64,
                    limit: u32,
                ) -> Result<Vec<Notice>, StoreError> {
                    check_id("subscriber", subscriber)?;
                    let sql = format!(
                        "SELECT {NOTICE_COLUMNS} FROM notices WHERE subscriber = $1 AND seq > $2 \
                         ORDER BY seq LIMIT $3"
                    );
                    sqlx::query_as::<_, NoticeRow>(&sql)
                        .bind(subscriber)
                        .bind(i64::try_from(after).unwrap_or(i64::MAX))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading notices"))?
                        .into_iter()
                        .map(NoticeRow::checked)
                        .collect()
                }
            }

            #[async_trait]
            impl NoticeDelivery for $engine {
                async fn delivery_cursor(
                    &self,
                    subscriber: &str,
                ) -> Result<DeliveryCursor, StoreError> {
                    check_id("subscriber", subscriber)?;
                    let cursor: Option<(i64, i64, String)> = sqlx::query_as(DELIVERY_CURSOR)
                        .bind(subscriber)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading a delivery cursor"))?;
                    let Some((through, recorded, parts)) = cursor else {
                        return Ok(DeliveryCursor::default());
                    };
                    Ok(DeliveryCursor {
                        delivered: u64::try_from(through).unwrap_or(0),
                        recorded: u64::try_from(recorded).unwrap_or(0),
                        parts: serde_json::from_str(&parts)
                            .map_err(|_| corrupt("delivery cursor", "unreadable parts"))?,
                    })
                }

                async fn notices_delivered(
                    &self,
                    subscriber: &str,
                    through: u64,
                ) -> Result<(), StoreError> {
                    self.advance_cursor(DELIVERED, subscriber, through, None)
                        .await
                }

                async fn notices_recorded(
                    &self,
                    subscriber: &str,
                    through: u64,
                    parts: &[RecordedPart],
                ) -> Result<(), StoreError> {
                    let parts =
                        serde_json::to_string(parts).map_err(|e| StoreError::InvalidInput {
                            what: "recorded parts",
                            reason: e.to_string(),
                        })?;
                    self.advance_cursor(RECORDED, subscriber, through, Some(parts))
                        .await
                }

                async fn subscribers_owed(&self, limit: u32) -> Result<Vec<String>, StoreError> {
                    let owed: Vec<(String,)> = sqlx::query_as(OWED)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("listing subscribers owed notices"))?;
                    Ok(owed.into_iter().map(|(subscriber,)| subscriber).collect())
                }

                async fn take_notices(
                    &self,
                    provider: &str,
                    notices: &[Notice],
                    received_at: OffsetDateTime,
                ) -> Result<u64, StoreError> {
                    check_id("provider", provider)?;
                    for notice in notices {
                        check_id("subscription id", &notice.subscription)?;
                        crate::register::check_name("offering", &notice.offering)?;
                        if notice.values.keys().any(|f| !notice.fields.contains(f)) {
                            return Err(StoreError::InvalidInput {
                                what: "notice values",
                                reason: "a value of a field the notice does not name".into(),
                            });
                        }
                    }
                    let (provider, notices) = (provider.to_owned(), notices.to_vec());
                    let received_at = received_at.unix_timestamp();
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                if let Some(lock) = $take_lock {
                                    sqlx::query(lock)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("ordering takers"))?;
                                }
                                let mut taken = 0;
                                for notice in &notices {
                                    taken += sqlx::query(TAKE)
                                        .bind(&provider)
                                        .bind(index(notice.seq)?)
                                        .bind(&notice.subscription)
                                        .bind(&notice.offering)
                                        .bind(notice.subject.as_str())
                                        .bind(json_list(&notice.events))
                                        .bind(json_list(&notice.fields))
                                        .bind(millis(notice.changed_at))
                                        .bind(received_at)
                                        .bind(values_json(&notice.values)?)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange("taking notices"))?
                                        .rows_affected();
                                }
                                Ok(taken)
                            })
                        })
                        .await
                }

                async fn taken_through(&self, provider: &str) -> Result<u64, StoreError> {
                    check_id("provider", provider)?;
                    let (through,): (i64,) = sqlx::query_as(TAKEN_THROUGH)
                        .bind(provider)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading the notices taken"))?;
                    Ok(u64::try_from(through).unwrap_or(0))
                }

                async fn forget_received_notices(
                    &self,
                    before: OffsetDateTime,
                    through: u64,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let before = before.unix_timestamp();
                    let through = i64::try_from(through).unwrap_or(i64::MAX);
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let forgotten = sqlx::query(FORGET_RECEIVED)
                                    .bind(before)
                                    .bind(through)
                                    .bind(i64::from(limit))
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("forgetting notices taken"))?
                                    .rows_affected();
                                Ok(forgotten)
                            })
                        })
                        .await
                }

                async fn received_after(
                    &self,
                    unit: Option<&str>,
                    after: u64,
                    limit: u32,
                ) -> Result<Vec<ReceivedNotice>, StoreError> {
                    if let Some(unit) = unit {
                        crate::exchange::check_text("unit", unit, 256)?;
                    }
                    sqlx::query_as::<_, ReceivedRow>(RECEIVED_AFTER)
                        .bind(i64::try_from(after).unwrap_or(i64::MAX))
                        .bind(unit)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading the notices taken"))?
                        .into_iter()
                        .map(ReceivedRow::checked)
                        .collect()
                }
            }
        };
    };
}

macro_rules! cursors {
    ($engine:ty) => {
        impl $engine {
            /// Moves one of a subscriber's delivery cursors forward with `sql` (which takes the
            /// parts recorded as `$3` when there are some).
            async fn advance_cursor(
                &self,
                sql: &'static str,
                subscriber: &str,
                through: u64,
                parts: Option<String>,
            ) -> Result<(), StoreError> {
                check_id("subscriber", subscriber)?;
                let (subscriber, through) = (subscriber.to_owned(), index(through)?);
                self.writer
                    .write(move |connection| {
                        Box::pin(async move {
                            let mut query = sqlx::query(sql).bind(&subscriber).bind(through);
                            if let Some(parts) = &parts {
                                query = query.bind(parts);
                            }
                            query
                                .execute(&mut *connection)
                                .await
                                .map_err(StoreError::exchange("advancing a delivery cursor"))?;
                            if sql == DELIVERED {
                                sqlx::query(FORGET_DELIVERED)
                                    .bind(&subscriber)
                                    .bind(through)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange(
                                        "forgetting notices delivered",
                                    ))?;
                            }
                            Ok(())
                        })
                    })
                    .await
            }
        }
    };
}

cursors!(SqliteExchange);
cursors!(PgExchange);

engine!(
    SqliteExchange,
    sqlx::Sqlite,
    SQLITE_MATCH,
    None::<&str>,
    None::<&str>
);
engine!(
    PgExchange,
    sqlx::Postgres,
    POSTGRES_MATCH,
    POSTGRES_MATCH_LOCK,
    POSTGRES_TAKE_LOCK
);

/// Whether two grants are the same (what a retried creation sends again).
fn same_grant(held: &NewSubscription, new: &NewSubscription) -> bool {
    let (mut new, mut held) = (new.clone(), held.clone());
    // Times are kept in whole seconds.
    for grant in [&mut new, &mut held] {
        grant.created_at = grant
            .created_at
            .replace_nanosecond(0)
            .unwrap_or(grant.created_at);
        grant.ends_at = grant.ends_at.replace_nanosecond(0).unwrap_or(grant.ends_at);
        grant.request = serde_json::from_str::<serde_json::Value>(&grant.request)
            .map(|v| v.to_string())
            .unwrap_or_default();
    }
    held == new
}

pub(super) fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items).to_string()
}

pub(super) fn index(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::InvalidInput {
        what: "index",
        reason: "it is out of range".to_owned(),
    })
}

/// The batch as the matching statement reads it.
fn batch_json(changes: &[ChangeToMatch]) -> Result<String, StoreError> {
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "seq": c.seq,
                "offering": c.offering,
                "subject": c.subject.as_str(),
                "events": c.events,
                "fields": c.fields,
                "at": millis(c.at),
            })
        })
        .collect();
    serde_json::to_string(&rows).map_err(|e| StoreError::InvalidInput {
        what: "changes",
        reason: e.to_string(),
    })
}

fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time [`millis`] stored.
fn from_millis(millis: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).ok()
}

pub(super) fn corrupt(what: &'static str, reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what,
        reason: reason.to_owned(),
    }
}

pub(super) fn list(what: &'static str, text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| corrupt(what, "an unreadable list"))
}

impl SubscriptionRow {
    fn checked(self, subjects: u64) -> Result<StoredSubscription, StoreError> {
        let what = "subscription";
        let time = |s| time_of(s).ok_or_else(|| corrupt(what, "a time out of range"));
        Ok(StoredSubscription {
            subscription: NewSubscription {
                id: self.id,
                subscriber: self.subscriber,
                offering: self.offering,
                events: list(what, &self.events)?,
                fields: list(what, &self.fields)?,
                request: self.request,
                decision_index: u64::try_from(self.decision_index)
                    .map_err(|_| corrupt(what, "a negative index"))?,
                created_at: time(self.created_at)?,
                ends_at: time(self.ends_at)?,
            },
            state: SubscriptionState::parse(&self.state)
                .ok_or_else(|| corrupt(what, "an unknown state"))?,
            subjects,
        })
    }
}

impl NoticeRow {
    fn checked(self) -> Result<Notice, StoreError> {
        let what = "notice";
        let number = |n: i64| u64::try_from(n).map_err(|_| corrupt(what, "a negative number"));
        Ok(Notice {
            seq: number(self.seq)?,
            subscription: self.subscription,
            subscriber: self.subscriber,
            feed: self.feed,
            change_seq: number(self.change_seq)?,
            offering: self.offering,
            subject: self
                .subject
                .parse()
                .map_err(|_| corrupt(what, "an invalid subject"))?,
            events: list(what, &self.events)?,
            fields: list(what, &self.fields)?,
            changed_at: from_millis(self.changed_at)
                .ok_or_else(|| corrupt(what, "a time out of range"))?,
            values: NoticeValues::new(),
        })
    }
}

/// A notice's values as stored (a JSON object).
fn values_json(values: &NoticeValues) -> Result<String, StoreError> {
    serde_json::to_string(values).map_err(|e| StoreError::InvalidInput {
        what: "notice values",
        reason: e.to_string(),
    })
}

impl ReceivedRow {
    fn checked(self) -> Result<ReceivedNotice, StoreError> {
        let what = "received notice";
        let number = |n: i64| u64::try_from(n).map_err(|_| corrupt(what, "a negative number"));
        Ok(ReceivedNotice {
            seq: number(self.seq)?,
            provider: self.provider,
            provider_seq: number(self.provider_seq)?,
            subscription: self.subscription,
            offering: self.offering,
            subject: self
                .subject
                .parse()
                .map_err(|_| corrupt(what, "an invalid subject"))?,
            events: list(what, &self.events)?,
            fields: list(what, &self.fields)?,
            values: serde_json::from_str(&self.notice_values)
                .map_err(|_| corrupt(what, "unreadable values"))?,
            changed_at: from_millis(self.changed_at)
                .ok_or_else(|| corrupt(what, "a time out of range"))?,
            received_at: time_of(self.received_at)
                .ok_or_else(|| corrupt(what, "a time out of range"))?,
        })
    }
}
