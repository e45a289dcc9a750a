//! The cap on password hashing: at most a fixed number of argon2 computations at once, whatever
//! arrives. Every argon2 computation of the portal runs here — verifying a sign-in (against the
//! account's hash or the decoy), hashing a password an administrator sets; only the decoy, made
//! once at start, is hashed outside it (`hash_now`).
//!
//! A computation takes 19 MiB and tens of milliseconds of a core. [`HashingGate::verify`] and
//! [`HashingGate::hash`]:
//!
//! 1. take a permit at once if one is free; otherwise take a place in the queue — at most
//!    [`HashingLimits::waiting`] places, and without one the answer is [`HashError::Busy`] at once;
//! 2. wait at most [`HashingLimits::wait`] for one of [`HashingLimits::concurrent`] permits (tokio's
//!    semaphore serves waiters in order), else [`HashError::Busy`];
//! 3. run argon2 on one of the gate's own threads (`threads`: as many as the permits, each
//!    computing in the same memory every time, `argon`) with the permit moved into the job, so a
//!    computation counts against the cap until it has finished, even when the client has gone and
//!    its request was dropped.
//!
//! Hashing memory is therefore `concurrent × 19 MiB` at most, and a waiting sign-in holds only
//! its form. The gate counts the computations running inside the cap and their high-water mark, so
//! tests and measurements can check the cap rather than trust it.

use super::argon::{self, Memory};
use super::threads::Hashers;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a sign-in waits for its turn before it is told to come back: long enough to ride
/// out a burst of colleagues signing in at nine, short enough that a flood is answered rather
/// than queued.
pub const HASH_WAIT: Duration = Duration::from_secs(2);

/// Places in the queue per permit. At tens of milliseconds per computation, 16 waiting per permit
/// are served well within [`HASH_WAIT`]; a longer queue would only make sign-ins wait to be
/// refused.
pub const WAITING_PER_PERMIT: usize = 16;

/// How much password hashing runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// argon2 computations at once (at least one).
    pub concurrent: usize,
    /// Sign-ins waiting for a turn, at most.
    pub waiting: usize,
    /// How long one waits for its turn.
    pub wait: Duration,
}

impl Default for HashingLimits {
    /// One computation per core the process may use: more would not finish sooner, only hold
    /// more memory at once.
    fn default() -> Self {
        let concurrent = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        Self {
            concurrent,
            waiting: concurrent * WAITING_PER_PERMIT,
            wait: HASH_WAIT,
        }
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No turn within the wait, or no place in the queue: try again in a moment.
    #[error("too many password computations at once")]
    Busy,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The one way into argon2. Cheap to clone; clones share the cap.
#[derive(Clone)]
pub struct HashingGate {
    inner: Arc<Gate>,
}

struct Gate {
    limits: HashingLimits,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    computations: AtomicU64,
    hashers: Hashers,
}

impl HashingGate {
    pub fn new(limits: HashingLimits) -> Self {
        let limits = HashingLimits {
            concurrent: limits.concurrent.clamp(1, Semaphore::MAX_PERMITS),
            ..limits
        };
        Self {
            inner: Arc::new(Gate {
                permits: Arc::new(Semaphore::new(limits.concurrent)),
                limits,
                waiting: AtomicUsize::new(0),
                running: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                computations: AtomicU64::new(0),
                hashers: Hashers::new(),
            }),
        }
    }

    pub fn limits(&self) -> HashingLimits {
        self.inner.limits
    }

    /// Computations running now.
    pub fn running(&self) -> usize {
        self.inner.running.load(Ordering::SeqCst)
    }

    /// The most computations that ever ran at once.
    pub fn peak(&self) -> usize {
        self.inner.peak.load(Ordering::SeqCst)
    }

    /// Computations started so far.
    pub fn computations(&self) -> u64 {
        self.inner.computations.load(Ordering::SeqCst)
    }

    /// Threads that hash (never more than the cap).
    pub fn threads(&self) -> usize {
        self.inner.hashers.started()
    }

    /// Whether `password` matches the PHC string `phc` (an unreadable `phc` matches nothing).
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, HashError> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.run(move |memory| argon::verify(memory, &password, &phc))
            .await
    }

    /// Hashes `password` with a fresh salt, as a PHC string.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.run(move |memory| argon::hash(memory, &password))
            .await?
            .map_err(HashError::Failed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = self.turn().await?;
        let needed = self.inner.limits.concurrent - self.inner.permits.available_permits();
        let gate = Arc::clone(&self.inner);
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = move |memory: &mut Memory| {
            let done = {
                let _running = Running::start(&gate);
                work(memory)
            };
            // Counted out and the permit back before the answer: whoever reads the answer sees
            // the gate as it is.
            drop(permit);
            let _ = answer.send(done);
        };
        self.inner.hashers.run(Box::new(job), needed)?;
        answered
            .await
            .map_err(|_| HashError::Failed("the password computation failed".into()))
    }

    async fn turn(&self) -> Result<OwnedSemaphorePermit, HashError> {
        let permits = Arc::clone(&self.inner.permits);
        if let Ok(permit) = Arc::clone(&permits).try_acquire_owned() {
            return Ok(permit);
        }
        let _place = Place::take(&self.inner.waiting, self.inner.limits.waiting)?;
        match tokio::time::timeout(self.inner.limits.wait, permits.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a wait that ran out is the ordinary case.
            Ok(Err(_)) | Err(_) => Err(HashError::Busy),
        }
    }
}

/// A place in the queue, given back when the wait ends either way.
struct Place<'a>(&'a AtomicUsize);

impl<'a> Place<'a> {
    fn take(waiting: &'a AtomicUsize, places: usize) -> Result<Self, HashError> {
        if waiting.fetch_add(1, Ordering::SeqCst) >= places {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(HashError::Busy);
        }
        Ok(Place(waiting))
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One computation inside the cap, counted while it runs (and when argon2 panics).
struct Running<'a>(&'a Gate);

impl<'a> Running<'a> {
    fn start(gate: &'a Gate) -> Self {
        let now = gate.running.fetch_add(1, Ordering::SeqCst) + 1;
        gate.peak.fetch_max(now, Ordering::SeqCst);
        gate.computations.fetch_add(1, Ordering::SeqCst);
        Running(gate)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Hashes `password` here and now, in memory of its own: only for the decoy made once at start,
/// which no request can cause. Everything else goes through a [`HashingGate`].
pub(crate) fn hash_now(password: &str) -> Result<String, HashError> {
    argon::hash(&mut Memory::default(), password).map_err(HashError::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    fn gate(concurrent: usize, waiting: usize, wait: Duration) -> HashingGate {
        HashingGate::new(HashingLimits {
            concurrent,
            waiting,
            wait,
        })
    }

    #[test]
    fn the_default_cap_is_the_machines_parallelism() {
        let limits = HashingLimits::default();
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(limits.concurrent, cores);
        assert_eq!(limits.waiting, cores * WAITING_PER_PERMIT);
        assert_eq!(limits.wait, HASH_WAIT);
        // A cap of nothing would refuse every sign-in for ever.
        assert_eq!(gate(0, 0, HASH_WAIT).limits().concurrent, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_than_the_cap_run_at_once_and_all_are_served() {
        let gate = gate(2, 100, Duration::from_secs(10));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move {
                    gate.run(|_| std::thread::sleep(Duration::from_millis(20)))
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(gate.peak(), 2);
        assert_eq!(gate.computations(), 16);
        assert_eq!(gate.running(), 0);
        assert_eq!(gate.threads(), 2, "one thread per permit, kept");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_computation_that_panics_keeps_neither_its_permit_nor_its_thread_from_others() {
        let gate = gate(1, 10, Duration::from_millis(500));
        let failed = gate.run(|_| panic!("argon2 failed")).await;
        assert!(matches!(failed, Err(HashError::Failed(_))));
        assert_eq!(gate.running(), 0);
        gate.run(|_| ()).await.unwrap();
        assert_eq!(gate.threads(), 1);
    }

    /// Holds the gate's only permit until the returned sender is dropped.
    async fn occupied(gate: &HashingGate) -> (mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, hold) = mpsc::channel::<()>();
        let busy = gate.clone();
        let task = tokio::spawn(async move {
            busy.run(move |_| {
                let _ = hold.recv();
            })
            .await
            .unwrap();
        });
        while gate.running() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (release, task)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wait_longer_than_allowed_is_busy() {
        let gate = gate(1, 10, Duration::from_millis(50));
        let (release, task) = occupied(&gate).await;
        let started = Instant::now();
        assert!(matches!(gate.run(|_| ()).await, Err(HashError::Busy)));
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(release);
        task.await.unwrap();
        gate.run(|_| ()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_the_answer_is_busy_at_once() {
        let gate = gate(1, 2, Duration::from_secs(30));
        let (release, task) = occupied(&gate).await;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.run(|_| ()).await })
            })
            .collect();
        while gate.inner.waiting.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let started = Instant::now();
        assert!(matches!(gate.run(|_| ()).await, Err(HashError::Busy)));
        assert!(started.elapsed() < Duration::from_secs(5), "not at once");
        drop(release);
        task.await.unwrap();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        assert_eq!(gate.inner.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_computation_holds_its_permit_after_its_request_is_gone() {
        let gate = gate(1, 10, Duration::from_millis(50));
        let (release, task) = occupied(&gate).await;
        // The client goes away: the request's future is dropped mid-computation.
        task.abort();
        let _ = task.await;
        assert_eq!(gate.running(), 1, "argon2 still runs");
        assert!(matches!(gate.run(|_| ()).await, Err(HashError::Busy)));
        drop(release);
        while gate.running() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        gate.run(|_| ()).await.unwrap();
        assert_eq!(gate.peak(), 1);
    }

    #[tokio::test]
    async fn verifies_and_hashes_argon2id() {
        let gate = gate(1, 1, HASH_WAIT);
        let phc = gate.hash("correct horse battery").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(gate.verify("correct horse battery", &phc).await.unwrap());
        assert!(!gate.verify("correct horse batterY", &phc).await.unwrap());
        // Unreadable hash: matches nothing, and still goes through the gate.
        assert!(!gate.verify("anything", "not a phc string").await.unwrap());
        assert_eq!(gate.computations(), 4);
    }
}
