//! Reconciliation state: `reconciliation` and `reconciliation_findings`, and the question
//! reconciliation asks of `outgoing`, as [`ReconciliationLog`] for both engines.

use time::OffsetDateTime;

use super::time_of;
use async_trait::async_trait;

use crate::exchange::{check_id, check_text};
use crate::page::{Cursor, Page};
use crate::postgres::PgExchange;
use crate::sqlite::SqliteExchange;
use crate::{
    Finding, FindingKind, OutgoingState, PeerReconciliation, ReconciliationLog, StoreError,
};

const SAVE: &str = "\
INSERT INTO reconciliation
       (peer, settled_to, provider_size, matched, undelivered, pending, checked_at, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (peer) DO UPDATE SET
       settled_to = excluded.settled_to, provider_size = excluded.provider_size,
       matched = excluded.matched, undelivered = excluded.undelivered,
       pending = excluded.pending, checked_at = excluded.checked_at, error = excluded.error";

const FIND: &str = "\
INSERT INTO reconciliation_findings (peer, provider_index, kind, found_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (peer, provider_index, kind) DO NOTHING";

const STATES: &str = "\
SELECT peer, settled_to, provider_size, matched, undelivered, pending, checked_at, error
  FROM reconciliation ORDER BY peer";

const FINDINGS: &str = "\
SELECT peer, provider_index, kind, found_at, rowid FROM reconciliation_findings
 WHERE peer = $1 AND ($2 IS NULL OR (provider_index, rowid) > ($2, $3))
 ORDER BY provider_index, rowid LIMIT $4";

const FINDING_COUNTS: &str = "\
SELECT peer, count(*) FROM reconciliation_findings GROUP BY peer ORDER BY peer";

const OPEN: &str = "\
SELECT EXISTS (SELECT 1 FROM outgoing
                WHERE provider = $1 AND state = $2 AND created_at <= $3)";

/// The longest error text kept.
const MAX_ERROR: usize = 512;

type StateRow = (String, i64, i64, i64, i64, i64, i64, Option<String>);

fn unsigned(what: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(what))
}

fn corrupt(column: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "reconciliation row",
        reason: format!("`{column}` out of range"),
    }
}

fn signed(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::InvalidInput {
        what,
        reason: "too large".into(),
    })
}

macro_rules! engine {
    ($engine:ty, $db:ty) => {
        const _: () = {
            #[async_trait]
            impl ReconciliationLog for $engine {
                async fn save_reconciliation(
                    &self,
                    state: &PeerReconciliation,
                    findings: &[Finding],
                ) -> Result<(), StoreError> {
                    check_id("peer authority id", &state.peer)?;
                    let error = state.error.as_deref().map(|e| clip(e, MAX_ERROR));
                    if let Some(error) = &error {
                        check_text("reconciliation error", error, MAX_ERROR)?;
                    }
                    let numbers = [
                        signed("settled_to", state.settled_to)?,
                        signed("provider_size", state.provider_size)?,
                        signed("matched", state.matched)?,
                        signed("undelivered", state.undelivered)?,
                        signed("pending", state.pending)?,
                    ];
                    let mut found = Vec::with_capacity(findings.len());
                    for finding in findings {
                        check_id("peer authority id", &finding.peer)?;
                        found.push((
                            finding.peer.clone(),
                            signed("provider_index", finding.provider_index)?,
                            finding.kind.as_str(),
                            finding.found_at.unix_timestamp(),
                        ));
                    }
                    let (peer, checked_at) =
                        (state.peer.clone(), state.checked_at.unix_timestamp());
                    self.writer
                        .write(move |connection| {
                            Box::pin(async move {
                                let mut query = sqlx::query(SAVE).bind(&peer);
                                for number in numbers {
                                    query = query.bind(number);
                                }
                                query
                                    .bind(checked_at)
                                    .bind(&error)
                                    .execute(&mut *connection)
                                    .await
                                    .map_err(StoreError::exchange("saving reconciliation state"))?;
                                for (peer, index, kind, at) in &found {
                                    sqlx::query(FIND)
                                        .bind(peer)
                                        .bind(index)
                                        .bind(kind)
                                        .bind(at)
                                        .execute(&mut *connection)
                                        .await
                                        .map_err(StoreError::exchange(
                                            "keeping a reconciliation finding",
                                        ))?;
                                }
                                Ok(())
                            })
                        })
                        .await
                }

                async fn reconciliation(&self) -> Result<Vec<PeerReconciliation>, StoreError> {
                    let rows: Vec<StateRow> = sqlx::query_as(STATES)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading reconciliation state"))?;
                    rows.into_iter()
                        .map(
                            |(
                                peer,
                                settled_to,
                                size,
                                matched,
                                undelivered,
                                pending,
                                checked_at,
                                error,
                            )| {
                                Ok(PeerReconciliation {
                                    peer,
                                    settled_to: unsigned("settled_to", settled_to)?,
                                    provider_size: unsigned("provider_size", size)?,
                                    matched: unsigned("matched", matched)?,
                                    undelivered: unsigned("undelivered", undelivered)?,
                                    pending: unsigned("pending", pending)?,
                                    checked_at: time_of(checked_at)
                                        .ok_or_else(|| corrupt("checked_at"))?,
                                    error,
                                })
                            },
                        )
                        .collect()
                }

                async fn reconciliation_findings(
                    &self,
                    peer: &str,
                    after: Option<Cursor>,
                    limit: u32,
                ) -> Result<Page<Finding>, StoreError> {
                    check_id("provider authority id", peer)?;
                    let rows: Vec<(String, i64, String, i64, i64)> = sqlx::query_as(FINDINGS)
                        .bind(peer)
                        .bind(after.map(|c| c.key))
                        .bind(after.map(|c| c.row))
                        .bind(i64::from(limit) + 1)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("reading reconciliation findings"))?;
                    Page::of(rows, limit, |row| Cursor {
                        key: row.1,
                        row: row.4,
                    })
                    .try_map(|(peer, index, kind, found_at, _)| {
                        Ok(Finding {
                            peer,
                            provider_index: unsigned("provider_index", index)?,
                            kind: FindingKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                            found_at: time_of(found_at).ok_or_else(|| corrupt("found_at"))?,
                        })
                    })
                }

                async fn reconciliation_finding_counts(
                    &self,
                ) -> Result<Vec<(String, u64)>, StoreError> {
                    let rows: Vec<(String, i64)> = sqlx::query_as(FINDING_COUNTS)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::exchange("counting reconciliation findings"))?;
                    rows.into_iter()
                        .map(|(peer, count)| Ok((peer, unsigned("finding count", count)?)))
                        .collect()
                }

                async fn outgoing_open(
                    &self,
                    provider: &str,
                    state: OutgoingState,
                    begun_by: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    check_id("provider authority id", provider)?;
                    if !matches!(state, OutgoingState::InFlight | OutgoingState::InReview) {
                        return Err(StoreError::InvalidInput {
                            what: "state",
                            reason: "only requests in flight or in review are open".into(),
                        });
                    }
                    sqlx::query_scalar(OPEN)
                        .bind(provider)
                        .bind(state.as_str())
                        .bind(begun_by.unix_timestamp())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(StoreError::exchange("looking for open requests"))
                }
            }
        };
    };
}

engine!(SqliteExchange, sqlx::Sqlite);
engine!(PgExchange, sqlx::Postgres);

/// At most `max` bytes of `text`, cut on a character boundary.
fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
