//! The threads password hashing runs on: as many as the gate has permits, started as they are
//! first needed and kept.
//!
//! Not tokio's blocking pool: there a computation lands on whichever thread is free — a new one
//! when none is — and every thread that has hashed keeps what argon2 used (in the allocator, or
//! in a kept [`Memory`]), so a flood leaves ever more of them: 485 MiB at the peak for 48
//! sign-ins at a cap of two (`benches/sign_in_flood.rs`). Here there are as many threads as
//! permits, each with one [`Memory`] for every computation it runs, so argon2 holds
//! `cap × 19 MiB` at most.

use super::argon::Memory;
use super::hashing::HashError;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

/// A computation, given the memory of the thread that runs it.
pub(crate) type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// The hashing threads and their queue of jobs. The threads end when this is dropped.
pub(crate) struct Hashers {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
    started: AtomicUsize,
}

impl Hashers {
    pub fn new() -> Self {
        let (jobs, queue) = mpsc::channel();
        Self {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            started: AtomicUsize::new(0),
        }
    }

    /// Threads started so far.
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Runs `job` on a hashing thread, first starting threads until there are `needed` (the
    /// permits held, this job's included), so that every permitted job has a thread.
    pub fn run(&self, job: Job, needed: usize) -> Result<(), HashError> {
        while self
            .started
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < needed).then_some(n + 1)
            })
            .is_ok()
        {
            let queue = Arc::clone(&self.queue);
            let spawned = std::thread::Builder::new()
                .name("argon2".into())
                .spawn(move || work(&queue));
            if let Err(e) = spawned {
                self.started.fetch_sub(1, Ordering::SeqCst);
                if self.started() == 0 {
                    return Err(HashError::Failed(format!("no hashing thread: {e}")));
                }
                break;
            }
        }
        self.jobs
            .send(job)
            .map_err(|_| HashError::Failed("the hashing threads have stopped".into()))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    let mut memory = Memory::default();
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = job else {
            return;
        };
        // A panic in one computation must not take its thread: the cap counts on the threads.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}
