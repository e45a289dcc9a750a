//! The audit ledger's log in PostgreSQL, for several instances of one authority's node: the
//! entries in order and the commits that made them part of the log, in the schema
//! `<prefix>_ledger` (`migrations/postgres/ledger/`), as Trillian and Tessera keep theirs in
//! MySQL. The tree, its tiles and signed checkpoints stay what they are on one machine: each
//! instance derives them from these entries into its own ledger directory (`utbyte-audit`).
//!
//! Any instance appends: [`PgLedgerLog::enqueue`] makes the entry durable in `queue` and
//! returns. One instance at a time sequences: it holds the lease, a session-level advisory lock
//! on a connection of its own ([`PgLedgerLog::try_lead`]), and moves queued entries into
//! `entries` at the next indices in one transaction per batch ([`Sequencer::sequence`]). Taking
//! the lease increments the log's epoch, and every batch is committed only if the epoch is still
//! its own: a sequencer that lost its lease can commit nothing (fencing). When the holder dies
//! its connection closes, PostgreSQL releases the lock, and the next instance that asks takes
//! over where the log stands; entries queued meanwhile wait in `queue`, so nothing acknowledged
//! is lost. Appenders learn where their entry went from [`PgLedgerLog::placed`], woken by the
//! notifications of [`PgLedgerLog::listen`].

use std::fmt;
use std::sync::{Arc, Mutex};

use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool};
use sqlx::Connection;

use super::{open, Postgres};
use crate::error::LEDGER;
use crate::StoreError;

static LEDGER_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres/ledger");

/// The largest entry accepted, as the ledger on a file accepts.
pub const MAX_LEDGER_ENTRY: usize = 1024 * 1024;

/// The log of a node's audit ledger in PostgreSQL, shared by its instances.
///
/// Cheap to clone (the clones share one connection pool).
#[derive(Clone)]
pub struct PgLedgerLog {
    pool: PgPool,
    /// How to open the sequencer's own connection.
    options: PgConnectOptions,
    /// The schema, which names the lease and the notification channels.
    schema: String,
    /// The connection that asked for the lease last and did not get it, kept for the next ask:
    /// an instance without the lease asks often, and a new connection is a new server process.
    contender: Arc<Mutex<Option<PgConnection>>>,
}

impl fmt::Debug for PgLedgerLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLedgerLog")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn failed(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Database {
        database: LEDGER,
        operation,
        source,
    }
}

impl PgLedgerLog {
    /// Connects to the log in the schema `<prefix>_ledger`, creating it and applying any
    /// migration not yet applied.
    pub async fn connect(postgres: &Postgres) -> Result<Self, StoreError> {
        let pool = open(postgres, LEDGER, "ledger", &LEDGER_MIGRATOR).await?;
        let schema = format!("{}_ledger", postgres.schema);
        let options = postgres
            .url
            .parse::<PgConnectOptions>()
            .map_err(failed("reading the URL"))?
            .options([("search_path", schema.as_str())]);
        Ok(Self {
            pool,
            options,
            schema,
            contender: Arc::default(),
        })
    }

    /// The channel a batch's sequencing is announced on.
    fn sequenced_channel(&self) -> String {
        format!(
            "utbyte_ledger_{:016x}_sequenced",
            channel_hash(&self.schema)
        )
    }

    /// The channel an appended entry is announced on.
    fn queued_channel(&self) -> String {
        format!("utbyte_ledger_{:016x}_queued", channel_hash(&self.schema))
    }

    /// Makes `entry` durable in the queue and returns its queue id: from here on it is the
    /// sequencer's to place, whichever instance holds the lease.
    pub async fn enqueue(&self, entry: &[u8], now: i64) -> Result<i64, StoreError> {
        if entry.is_empty() || entry.len() > MAX_LEDGER_ENTRY {
            return Err(StoreError::InvalidInput {
                what: "ledger entry",
                reason: format!(
                    "it must be 1 to {MAX_LEDGER_ENTRY} bytes long, not {}",
                    entry.len()
                ),
            });
        }
        let mut transaction = self
            .pool
            .begin()
            .await
            .map_err(failed("queueing an entry"))?;
        let id: i64 =
            sqlx::query_scalar("INSERT INTO queue (entry, queued_at) VALUES ($1, $2) RETURNING id")
                .bind(entry)
                .bind(now)
                .fetch_one(&mut *transaction)
                .await
                .map_err(failed("queueing an entry"))?;
        // Delivered when the insert commits, never before.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(self.queued_channel())
            .execute(&mut *transaction)
            .await
            .map_err(failed("announcing an entry"))?;
        transaction
            .commit()
            .await
            .map_err(failed("queueing an entry"))?;
        Ok(id)
    }

    /// The index the entry queued as `queue_id` was given, once it is sequenced.
    pub async fn placed(&self, queue_id: i64) -> Result<Option<u64>, StoreError> {
        let index: Option<i64> = sqlx::query_scalar("SELECT idx FROM entries WHERE queue_id = $1")
            .bind(queue_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("finding a sequenced entry"))?;
        index.map(|index| unsigned(index, "idx")).transpose()
    }

    /// The newest queue id, if any entry is queued: what [`Self::queued_up_to`] waits out.
    pub async fn last_queued(&self) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT max(id) FROM queue")
            .fetch_one(&self.pool)
            .await
            .map_err(failed("reading the queue"))
    }

    /// Whether an entry queued as `queue_id` or earlier still waits for its place.
    pub async fn queued_up_to(&self, queue_id: i64) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM queue WHERE id <= $1)")
            .bind(queue_id)
            .fetch_one(&self.pool)
            .await
            .map_err(failed("reading the queue"))
    }

    /// The number of sequenced entries.
    pub async fn size(&self) -> Result<u64, StoreError> {
        let size: i64 = sqlx::query_scalar("SELECT size FROM state")
            .fetch_one(&self.pool)
            .await
            .map_err(failed("reading the log's size"))?;
        unsigned(size, "size")
    }

    /// Up to `limit` sequenced entries from index `from` on, in order.
    pub async fn entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, StoreError> {
        let from = i64::try_from(from).map_err(|_| StoreError::InvalidInput {
            what: "ledger index",
            reason: "too large".into(),
        })?;
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT idx, entry FROM entries WHERE idx >= $1 ORDER BY idx LIMIT $2")
                .bind(from)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(failed("reading entries"))?;
        let mut entries = Vec::with_capacity(rows.len());
        for (expected, (index, entry)) in (from..).zip(rows) {
            if index != expected {
                return Err(corrupt("the log has a gap"));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Notifications of this log: a batch sequenced, an entry queued. A connection of its own.
    pub async fn listen(&self) -> Result<Notifications, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(failed("listening for the log's notifications"))?;
        let (sequenced, queued) = (self.sequenced_channel(), self.queued_channel());
        listener
            .listen_all([sequenced.as_str(), queued.as_str()])
            .await
            .map_err(failed("listening for the log's notifications"))?;
        Ok(Notifications {
            listener,
            sequenced,
        })
    }

    /// Takes the lease if no instance holds it: the returned [`Sequencer`] is then the only
    /// one that can place entries, until it is dropped or its connection is lost.
    pub async fn try_lead(&self) -> Result<Option<Sequencer>, StoreError> {
        let kept = self
            .contender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let mut connection = match kept {
            Some(connection) => connection,
            None => PgConnection::connect_with(&self.options)
                .await
                .map_err(failed("connecting the sequencer"))?,
        };
        // A connection that fails here is dropped, not kept: the next ask opens a new one.
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1), 1)")
            .bind(&self.schema)
            .fetch_one(&mut connection)
            .await
            .map_err(failed("taking the sequencer lease"))?;
        if !taken {
            *self.contender.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection);
            return Ok(None);
        }
        let epoch: i64 = sqlx::query_scalar("UPDATE state SET epoch = epoch + 1 RETURNING epoch")
            .fetch_one(&mut connection)
            .await
            .map_err(failed("taking the sequencer lease"))?;
        Ok(Some(Sequencer {
            connection,
            epoch,
            channel: self.sequenced_channel(),
            schema: self.schema.clone(),
        }))
    }
}

/// What [`PgLedgerLog::listen`] hears.
pub struct Notifications {
    listener: PgListener,
    sequenced: String,
}

/// One notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// A batch was sequenced.
    Sequenced,
    /// An entry was queued.
    Queued,
}

impl Notifications {
    /// Waits for the next notification. After a lost connection it reconnects and reports
    /// [`Heard::Sequenced`]: what was missed meanwhile must be read again.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        match self
            .listener
            .try_recv()
            .await
            .map_err(failed("listening for the log's notifications"))?
        {
            Some(notification) if notification.channel() != self.sequenced => Ok(Heard::Queued),
            _ => Ok(Heard::Sequenced),
        }
    }
}

/// The holder of the sequencer lease.
pub struct Sequencer {
    connection: PgConnection,
    epoch: i64,
    channel: String,
    schema: String,
}

impl fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sequencer")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Sequencer {
    /// The lease's epoch: it grows with every taking of the lease.
    pub fn epoch(&self) -> u64 {
        u64::try_from(self.epoch).unwrap_or_default()
    }

    /// Places up to `max` queued entries, oldest first, at the next indices, in one
    /// transaction, and returns how many. [`StoreError::LeaseLost`] if another instance has
    /// taken the lease since (then nothing is placed, and this sequencer must stop).
    pub async fn sequence(&mut self, max: u32, now: i64) -> Result<u64, StoreError> {
        let mut transaction = self
            .connection
            .begin()
            .await
            .map_err(failed("sequencing"))?;
        let (size, epoch): (i64, i64) = sqlx::query_as("SELECT size, epoch FROM state FOR UPDATE")
            .fetch_one(&mut *transaction)
            .await
            .map_err(failed("sequencing"))?;
        if epoch != self.epoch {
            return Err(StoreError::LeaseLost);
        }
        let queued: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, entry FROM queue ORDER BY id LIMIT $1 FOR UPDATE")
                .bind(i64::from(max))
                .fetch_all(&mut *transaction)
                .await
                .map_err(failed("reading the queue"))?;
        if queued.is_empty() {
            return Ok(0);
        }
        let count = i64::try_from(queued.len()).map_err(|_| corrupt("a batch too large"))?;
        let (ids, entries): (Vec<i64>, Vec<Vec<u8>>) = queued.into_iter().unzip();
        let indices: Vec<i64> = (size..size + count).collect();
        sqlx::query(
            "INSERT INTO entries (idx, entry, queue_id, epoch) \
             SELECT idx, entry, queue_id, $4 FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) \
             AS placed (idx, entry, queue_id)",
        )
        .bind(&indices)
        .bind(&entries)
        .bind(&ids)
        .bind(self.epoch)
        .execute(&mut *transaction)
        .await
        .map_err(failed("placing entries"))?;
        sqlx::query("DELETE FROM queue WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *transaction)
            .await
            .map_err(failed("taking entries from the queue"))?;
        let new_size = size + count;
        sqlx::query("UPDATE state SET size = $1")
            .bind(new_size)
            .execute(&mut *transaction)
            .await
            .map_err(failed("recording the log's size"))?;
        sqlx::query("INSERT INTO commits (size, epoch, committed_at) VALUES ($1, $2, $3)")
            .bind(new_size)
            .bind(self.epoch)
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(failed("recording a commit"))?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(&self.channel)
            .execute(&mut *transaction)
            .await
            .map_err(failed("announcing a commit"))?;
        transaction
            .commit()
            .await
            .map_err(failed("committing a batch"))?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    /// Gives the lease up: the next instance that asks takes it. (Without this, the lease ends
    /// when the connection does; PostgreSQL notices that a little later.)
    pub async fn resign(mut self) {
        let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1), 1)")
            .bind(&self.schema)
            .execute(&mut self.connection)
            .await;
        let _ = self.connection.close().await;
    }
}

/// FNV-1a of the schema's name: channel names are global to the database and at most 63 bytes,
/// which a schema's name with a suffix can exceed, so a channel is named by this hash instead.
fn channel_hash(schema: &str) -> u64 {
    schema.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn unsigned(value: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| corrupt(&format!("`{column}` is negative")))
}

fn corrupt(reason: &str) -> StoreError {
    StoreError::CorruptRow {
        what: "ledger entry",
        reason: reason.to_owned(),
    }
}
