//! The audit ledger of a node whose instances share one PostgreSQL database: the log is there
//! (`utbyte_store::PgLedgerLog`), and each instance's ledger directory is its replica
//! (`utbyte_audit::SharedLog`).
//!
//! Three tasks per instance. The *listener* hears the log's notifications and wakes whoever
//! waits for them. The *sequencer* asks for the lease every [`LEASE_POLL`] until it gets it, then
//! places queued entries in batches for as long as it holds it — and while it does, this
//! instance also runs the rounds that must run once per node (recovery, review polls,
//! reconciliation: `NodeState::leading`); when the instance holding it
//! dies, PostgreSQL ends its session and another instance's next ask takes over, so the
//! failover time is the time PostgreSQL takes to notice plus at most one poll. The *follower*
//! brings this instance's replica up to the log's end when other instances have appended, so
//! its audit API shows their records too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::watch;
use utbyte_audit::{AuditLog, SharedLog};
use utbyte_store::{Heard, PgLedgerLog, StoreError};

/// How often an instance without the lease asks for it.
pub const LEASE_POLL: Duration = Duration::from_millis(100);

/// The most entries placed in one transaction.
const BATCH: u32 = 512;

/// How long an appender waits for its entry to be placed before it gives up. The entry stays
/// queued and is placed later: the caller's exchange fails, and reconciliation sees the record.
const PLACE_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest an appender or the sequencer sleeps without a notification (one missed costs
/// no more than this).
const NAP: Duration = Duration::from_millis(50);

/// [`SharedLog`] over the PostgreSQL log, for the ledger's blocking appends.
pub(crate) struct PgShared {
    log: PgLedgerLog,
    handle: Handle,
    sequenced: watch::Receiver<u64>,
}

impl SharedLog for PgShared {
    fn append(&self, entry: &[u8]) -> Result<u64, String> {
        self.handle.block_on(async {
            let mut sequenced = self.sequenced.clone();
            let id = self
                .log
                .enqueue(entry, unix_now())
                .await
                .map_err(|e| e.to_string())?;
            let deadline = Instant::now() + PLACE_TIMEOUT;
            loop {
                sequenced.mark_unchanged();
                if let Some(index) = self.log.placed(id).await.map_err(|e| e.to_string())? {
                    return Ok(index);
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "no instance placed the entry within {} s (is a sequencer running?)",
                        PLACE_TIMEOUT.as_secs()
                    ));
                }
                let _ = tokio::time::timeout(NAP, sequenced.changed()).await;
            }
        })
    }

    fn entries(&self, from: u64, limit: u32) -> Result<Vec<Vec<u8>>, String> {
        self.handle
            .block_on(self.log.entries(from, limit))
            .map_err(|e| e.to_string())
    }

    fn settle(&self) -> Result<(), String> {
        self.handle.block_on(async {
            let mut sequenced = self.sequenced.clone();
            let Some(last) = self.log.last_queued().await.map_err(|e| e.to_string())? else {
                return Ok(());
            };
            let deadline = Instant::now() + PLACE_TIMEOUT;
            loop {
                sequenced.mark_unchanged();
                if !self
                    .log
                    .queued_up_to(last)
                    .await
                    .map_err(|e| e.to_string())?
                {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "entries queued earlier were not placed within {} s",
                        PLACE_TIMEOUT.as_secs()
                    ));
                }
                let _ = tokio::time::timeout(NAP, sequenced.changed()).await;
            }
        })
    }
}

/// The shared log's wake-ups: a counter per kind of notification.
pub(crate) struct Wakers {
    sequenced: watch::Sender<u64>,
    queued: watch::Sender<u64>,
}

/// Opens the shared log and the listener, and the [`SharedLog`] the audit log appends through.
pub(crate) async fn connect(
    log: PgLedgerLog,
) -> Result<(Arc<PgShared>, Wakers, utbyte_store::Notifications), StoreError> {
    let notifications = log.listen().await?;
    let (sequenced, sequenced_rx) = watch::channel(0);
    let (queued, _) = watch::channel(0);
    let shared = Arc::new(PgShared {
        log,
        handle: Handle::current(),
        sequenced: sequenced_rx,
    });
    Ok((shared, Wakers { sequenced, queued }, notifications))
}

/// Passes the log's notifications on until `stop`.
pub(crate) async fn listen(
    mut notifications: utbyte_store::Notifications,
    wakers: Arc<Wakers>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let heard = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            heard = notifications.next() => heard,
        };
        match heard {
            Ok(Heard::Sequenced) => wakers.sequenced.send_modify(|n| *n += 1),
            Ok(Heard::Queued) => wakers.queued.send_modify(|n| *n += 1),
            Err(err) => {
                tracing::warn!(%err, "the audit ledger's notifications were interrupted");
                // Whatever was missed is read again by the waiters' own naps.
                wakers.sequenced.send_modify(|n| *n += 1);
                tokio::time::sleep(NAP).await;
            }
        }
    }
}

/// Takes the lease when it is free and sequences while holding it, until `stop`; `leading` says
/// whether it holds it.
pub(crate) async fn sequence(
    log: PgLedgerLog,
    wakers: Arc<Wakers>,
    leading: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    let mut queued = wakers.queued.subscribe();
    loop {
        let lead = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            lead = log.try_lead() => lead,
        };
        let mut sequencer = match lead {
            Ok(Some(sequencer)) => sequencer,
            Ok(None) => {
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    _ = tokio::time::sleep(LEASE_POLL) => continue,
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot ask for the audit ledger's sequencer lease");
                tokio::time::sleep(LEASE_POLL).await;
                continue;
            }
        };
        tracing::info!(
            epoch = sequencer.epoch(),
            "sequencing the shared audit ledger"
        );
        leading.store(true, Ordering::Relaxed);
        loop {
            queued.mark_unchanged();
            match sequencer.sequence(BATCH, unix_now()).await {
                Ok(0) => {
                    let stopping = tokio::select! {
                        _ = stop.wait_for(|stop| *stop) => true,
                        _ = queued.changed() => false,
                        _ = tokio::time::sleep(NAP) => false,
                    };
                    if stopping {
                        leading.store(false, Ordering::Relaxed);
                        sequencer.resign().await;
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(%err, "stopped sequencing the shared audit ledger");
                    leading.store(false, Ordering::Relaxed);
                    sequencer.resign().await;
                    break;
                }
            }
        }
    }
}

/// Brings the replica up to the log's end whenever a batch is sequenced, until `stop`.
pub(crate) async fn follow(
    audit: Arc<AuditLog>,
    wakers: Arc<Wakers>,
    mut stop: watch::Receiver<bool>,
) {
    let mut sequenced = wakers.sequenced.subscribe();
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = sequenced.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let audit = Arc::clone(&audit);
        match tokio::task::spawn_blocking(move || audit.follow()).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(%err, "the audit ledger's replica did not follow"),
            Err(err) => tracing::warn!(%err, "the audit ledger's replica did not follow"),
        }
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
