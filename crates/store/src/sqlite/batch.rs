//! Group commit for the exchange state: every write of the SQLite exchange state
//! goes through one writer task, which runs the writes waiting at that moment in one
//! transaction — so that one write's failure does not undo another's, each runs under a
//! savepoint of its own or, when it changes the database with one statement at most
//! ([`Writer::write_one`]), relies on SQLite undoing a failed statement by itself — and commits
//! them with one sync to disk. A write's result is handed back only after that commit, so
//! nothing is acknowledged before it is durable.
//!
//! A savepoint is not free: it is a round trip to the connection's thread, and SQLite copies
//! each page the write then changes to a statement journal. The writes of messages' and
//! requests' hot paths change one row each, and skip it.
//!
//! Without it, each write is its own transaction and its own sync, and the writes of concurrent
//! exchanges queue for SQLite's single write lock one sync at a time; that, not computing,
//! bounded a node's throughput. SQLite has no group commit of its own, and sqlx none on top.

use std::future::Future;
use std::pin::Pin;

use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::error::EXCHANGE;
use crate::sql::Step;
use crate::StoreError;

/// The most writes committed together; beyond it a batch's sync no longer dominates.
const MAX_BATCH: usize = 512;

/// Hands a write's outcome back once its batch has committed (or failed to).
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One write's work, run on the writer's connection inside the batch's transaction: whether it
/// succeeded, and how to deliver its result.
type Work = Box<
    dyn for<'c> FnOnce(
            &'c mut SqliteConnection,
        ) -> Pin<Box<dyn Future<Output = (bool, Deliver)> + Send + 'c>>
        + Send,
>;

/// One write and whether it needs a savepoint of its own.
struct Job {
    work: Work,
    savepoint: bool,
}

/// The handle writes are sent through; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Writer {
    /// Starts the writer task over `pool`.
    pub(crate) fn start(pool: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, queue));
        Self { jobs }
    }

    /// Runs `work` in the next batch and returns its result once the batch is durable; if it
    /// fails, nothing it wrote stays.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> Step<'c, T> + Send + 'static,
    {
        self.submit(work, true).await
    }

    /// [`Writer::write`] for work that changes the database with one statement at most (any
    /// reads before or after it are free): it runs without a savepoint, since a failed
    /// statement leaves nothing behind. Work with two changing statements must use `write`.
    pub(crate) async fn write_one<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> Step<'c, T> + Send + 'static,
    {
        self.submit(work, false).await
    }

    async fn submit<T, F>(&self, work: F, savepoint: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> Step<'c, T> + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let work: Work = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = work(connection).await;
                let ok = outcome.is_ok();
                let deliver: Deliver = Box::new(move |committed| {
                    let _ = done.send(match committed {
                        Ok(()) => outcome,
                        Err(reason) if ok => Err(commit_failed(reason)),
                        Err(_) => outcome,
                    });
                });
                (ok, deliver)
            })
        });
        self.jobs
            .send(Job { work, savepoint })
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

fn commit_failed(reason: String) -> StoreError {
    StoreError::Database {
        database: EXCHANGE,
        operation: "committing a batch of writes",
        source: sqlx::Error::Protocol(reason),
    }
}

fn stopped() -> StoreError {
    StoreError::Database {
        database: EXCHANGE,
        operation: "writing",
        source: sqlx::Error::PoolClosed,
    }
}

async fn run(pool: SqlitePool, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        // The connection is taken per batch, not held, so that closing the pool is not blocked.
        let Ok(mut connection) = pool.acquire().await else {
            // The pool is closed: dropping the jobs tells each waiting write so.
            drop(jobs);
            continue;
        };
        commit_batch(&mut connection, jobs).await;
    }
}

/// Boxed, with its `Send` stated, because the compiler cannot prove it through sqlx's
/// executor lifetimes on its own when the writer task is spawned.
fn commit_batch(
    connection: &mut PoolConnection<Sqlite>,
    jobs: Vec<Job>,
) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
    Box::pin(commit_batch_inner(connection, jobs))
}

async fn commit_batch_inner(connection: &mut PoolConnection<Sqlite>, jobs: Vec<Job>) {
    let connection: &mut SqliteConnection = connection;
    let mut deliveries = Vec::with_capacity(jobs.len());
    // `alive` spans the batch: releasing and opening it again fails only if SQLite has rolled
    // the whole transaction back by itself (it may, on a full disk or an I/O error), which a
    // write without a savepoint would not otherwise notice. The savepoints of single writes
    // are not released: each opens inside the last, and `alive` or the commit releases them
    // all, which saves a round trip per write.
    let mut outcome = exec(connection, "BEGIN IMMEDIATE; SAVEPOINT alive").await;
    let mut jobs = jobs.into_iter();
    while outcome.is_ok() {
        let Some(job) = jobs.next() else { break };
        if job.savepoint {
            outcome = exec(connection, "SAVEPOINT write").await;
            if outcome.is_err() {
                break;
            }
        }
        let (ok, deliver) = (job.work)(connection).await;
        deliveries.push(deliver);
        if !ok {
            outcome = if job.savepoint {
                // To the innermost `write`: the one opened just before this job.
                exec(connection, "ROLLBACK TO write").await
            } else {
                exec(connection, "RELEASE alive; SAVEPOINT alive").await
            };
        }
    }
    outcome = match outcome {
        Ok(()) => exec(connection, "COMMIT").await,
        Err(reason) => {
            let _ = exec(connection, "ROLLBACK").await;
            Err(reason)
        }
    };
    // Jobs never run are dropped here, which tells their writers the batch failed.
    drop(jobs);
    for deliver in deliveries {
        deliver(outcome.clone());
    }
}

/// Statements without parameters or results, in one round trip; boxed for the same reason as
/// [`commit_batch`].
fn exec<'c>(
    connection: &'c mut SqliteConnection,
    sql: &'static str,
) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'c>> {
    Box::pin(async move {
        sqlx::query(sql)
            .execute(connection)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}
