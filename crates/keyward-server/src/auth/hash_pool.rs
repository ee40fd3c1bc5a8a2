//! Where argon2 runs: a few threads of its own, one per core, and nowhere else.
//!
//! Each argon2id run takes 19 MiB and about 10 ms of one core. Run on tokio's blocking pool
//! (up to 512 threads, shared with every SQLite call) a burst of guesses could take gigabytes
//! and leave the database without threads. Here at most one run per core is in progress, so
//! memory stays at `threads × 19 MiB`, and the database's threads are never used for it.
//!
//! Callers from an address that has failed too often this minute go through a narrow lane: one
//! run at a time for all of them together, and only a few may wait for it. They still get a
//! true answer (a valid key behind a busy proxy works), but together they can occupy at most one
//! of the threads, so everyone else's first use of a key or sign-in keeps its pace.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use keyward_core::hashing;
use tokio::sync::{Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send>;

/// How many callers from failing addresses may wait for the narrow lane before more are turned
/// away at once.
const SUSPECT_QUEUE: usize = 8;
/// How long one of them may wait for it.
const SUSPECT_WAIT: Duration = Duration::from_secs(10);
/// Checks that may wait for a thread, per thread, before more are turned away at once: about
/// 0.7 s of work each, so nobody queues behind minutes of backlog.
const QUEUE_PER_THREAD: usize = 64;

/// Why a check did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashPoolError {
    #[error("too many checks from failing addresses are waiting")]
    Busy,
    #[error("too many checks are waiting")]
    Overloaded,
    #[error("the argon2 workers stopped")]
    Stopped,
}

pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
    threads: usize,
    /// A place in the queue (or on a thread); bounded so the backlog stays short.
    queue: Arc<Semaphore>,
    suspect_lane: Arc<Semaphore>,
    suspect_waiting: AtomicUsize,
    /// Verifications run, shared with `/metrics`.
    runs: prometheus_client::metrics::counter::Counter,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl HashPool {
    /// A pool with one thread per core this process may use.
    pub fn for_this_machine() -> HashPool {
        HashPool::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    pub fn new(threads: usize) -> HashPool {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job, not to run it.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("the operating system refused to start an argon2 thread");
        }
        HashPool {
            jobs: Mutex::new(sender),
            threads,
            queue: Arc::new(Semaphore::new(threads * QUEUE_PER_THREAD)),
            suspect_lane: Arc::new(Semaphore::new(1)),
            suspect_waiting: AtomicUsize::new(0),
            runs: Default::default(),
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Runs `f` on an argon2 thread and waits for its result.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, HashPoolError> {
        let place = self.queue.clone().try_acquire_owned().map_err(|_| HashPoolError::Overloaded)?;
        let (reply, answer) = oneshot::channel();
        let (running, peak) = (self.running.clone(), self.peak.clone());
        let job: Job = Box::new(move || {
            let _place = place;
            // The caller went away (its client hung up): nobody wants the answer.
            if reply.is_closed() {
                return;
            }
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            // A panic in argon2 must not take the thread with it.
            let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            running.fetch_sub(1, Ordering::SeqCst);
            if let Ok(value) = value {
                let _ = reply.send(value);
            }
        });
        self.jobs.lock().map_err(|_| HashPoolError::Stopped)?.send(job).map_err(|_| HashPoolError::Stopped)?;
        answer.await.map_err(|_| HashPoolError::Stopped)
    }

    /// Whether `secret` matches the PHC string `phc`. `suspect`: the caller's address has
    /// failed too often this minute, so the check takes the narrow lane.
    pub async fn verify(&self, secret: &str, phc: &str, suspect: bool) -> Result<bool, HashPoolError> {
        let _lane = if suspect {
            if self.suspect_waiting.fetch_add(1, Ordering::SeqCst) >= SUSPECT_QUEUE {
                self.suspect_waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(HashPoolError::Busy);
            }
            let permit = tokio::time::timeout(SUSPECT_WAIT, self.suspect_lane.clone().acquire_owned()).await;
            self.suspect_waiting.fetch_sub(1, Ordering::SeqCst);
            Some(permit.map_err(|_| HashPoolError::Busy)?.map_err(|_| HashPoolError::Stopped)?)
        } else {
            None
        };
        self.runs.inc();
        let (secret, phc) = (secret.to_owned(), phc.to_owned());
        self.run(move || hashing::verify_secret(&secret, &phc)).await
    }

    /// The argon2id PHC string of a new secret (a key's, or a password).
    pub async fn hash(&self, secret: &str) -> Result<String, HashPoolError> {
        let secret = secret.to_owned();
        self.run(move || hashing::hash_secret(&secret)).await?.map_err(|_| HashPoolError::Stopped)
    }

    /// How many verifications have run since start.
    pub fn verifications(&self) -> u64 {
        self.runs.get()
    }

    /// The verification counter, to register with `/metrics`.
    pub fn verification_counter(&self) -> prometheus_client::metrics::counter::Counter {
        self.runs.clone()
    }

    /// The most argon2 runs that were ever in progress at once; never more than [`Self::threads`].
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn no_more_runs_at_once_than_threads_and_every_answer_is_true() {
        let pool = Arc::new(HashPool::new(2));
        let phc = pool.hash("right").await.unwrap();
        let checks: Vec<_> = (0..12)
            .map(|i| {
                let (pool, phc) = (pool.clone(), phc.clone());
                tokio::spawn(async move { pool.verify(if i % 2 == 0 { "right" } else { "wrong" }, &phc, false).await.unwrap() })
            })
            .collect();
        for (i, check) in checks.into_iter().enumerate() {
            assert_eq!(check.await.unwrap(), i % 2 == 0);
        }
        assert!(pool.peak_concurrency() <= 2, "{} ran at once", pool.peak_concurrency());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_narrow_lane_turns_away_a_crowd_but_answers_truly() {
        let pool = Arc::new(HashPool::new(2));
        let phc = pool.hash("right").await.unwrap();
        let checks: Vec<_> = (0..40)
            .map(|_| {
                let (pool, phc) = (pool.clone(), phc.clone());
                tokio::spawn(async move { pool.verify("wrong", &phc, true).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(matched) => assert!(!matched),
                Err(HashPoolError::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(busy >= 40 - SUSPECT_QUEUE - 2, "only {busy} of 40 were turned away");
        assert_eq!(pool.peak_concurrency(), 1, "suspect checks run one at a time");
        assert!(pool.verify("right", &phc, true).await.unwrap(), "a right secret still matches in the narrow lane");
    }
}
