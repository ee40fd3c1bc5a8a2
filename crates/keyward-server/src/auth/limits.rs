//! Fixed-window counters: the per-key rate limit and the counts of failed authentication (per
//! client address, per account, per account and address). They live in memory on purpose: they
//! protect this process, and nothing that decides whether a key is valid is kept here.
//!
//! Windows are aligned to a shared clock (every `window` from the limiter's start), so ending a
//! window is dropping a whole map, never a scan: each shard notices on its next use that its
//! window is over and swaps in an empty map. The counts are split over shards so that one busy
//! caller does not serialise everyone behind one lock, and each shard holds at most a fixed
//! number of callers: past that, new callers share one overflow count, so a flood of distinct
//! names cannot grow memory without bound. The overflow count never refuses anyone (a flood
//! must not lock out whoever arrives after it); it only reports them as busy (see [`used`]).
//! Callers are remembered by a keyed 128-bit hash of their name, so a long name costs no more
//! memory than a short one.
//!
//! [`used`]: WindowLimiter::used

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a caller stands in the current window, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset: u64,
}

const SHARDS: usize = 32;
/// Callers one shard remembers in a window; 32 × 4096 in all.
const SHARD_CAPACITY: usize = 4096;
/// The count that callers share once their shard is full (no name hashes to it in practice).
const OVERFLOW: u128 = 0;

struct Shard {
    /// Which window these counts belong to (windows since `WindowLimiter::start`).
    window: u64,
    counts: HashMap<u128, u32>,
}

pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    start: Instant,
    hashers: (RandomState, RandomState),
    shards: Vec<Mutex<Shard>>,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        let window = window.max(Duration::from_millis(1));
        WindowLimiter {
            limit,
            window,
            start: Instant::now(),
            hashers: (RandomState::new(), RandomState::new()),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard { window: 0, counts: HashMap::new() })).collect(),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The current window's number and the seconds left in it.
    fn now(&self) -> (u64, u64) {
        let elapsed = self.start.elapsed().as_nanos();
        let window = self.window.as_nanos();
        let index = (elapsed / window) as u64;
        let left = Duration::from_nanos((window - elapsed % window) as u64);
        (index, left.as_secs_f64().ceil().max(1.0) as u64)
    }

    fn quota(&self, used: u32, reset: u64) -> Quota {
        Quota { limit: self.limit, remaining: self.limit.saturating_sub(used), reset }
    }

    /// Runs `f` on `who`'s shard with the counts of the current window and the name `who` is
    /// counted under, then drops the map of an ended window outside the lock.
    fn with_slot<T>(&self, who: &str, f: impl FnOnce(&mut HashMap<u128, u32>, Slot, u64) -> T) -> T {
        let high = self.hashers.0.hash_one(who);
        let low = self.hashers.1.hash_one(who);
        let name = (u128::from(high) << 64 | u128::from(low)).max(1);
        let shard = &self.shards[high as usize % SHARDS];
        let (window, reset) = self.now();
        let mut guard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let ended = if guard.window != window {
            guard.window = window;
            Some(std::mem::take(&mut guard.counts))
        } else {
            None
        };
        let slot = if guard.counts.contains_key(&name) || guard.counts.len() < SHARD_CAPACITY { Slot::Own(name) } else { Slot::Overflow };
        let value = f(&mut guard.counts, slot, reset);
        drop(guard);
        drop(ended);
        value
    }

    /// Counts one request for `who`; `Err` with the quota (remaining 0) once over the limit.
    /// A caller counted in the overflow is never refused.
    pub fn hit(&self, who: &str) -> Result<Quota, Quota> {
        self.with_slot(who, |counts, slot, reset| {
            let used = counts.entry(slot.key()).or_insert(0);
            match slot {
                Slot::Own(_) if *used >= self.limit => Err(self.quota(*used, reset)),
                Slot::Own(_) => {
                    *used += 1;
                    Ok(self.quota(*used, reset))
                }
                Slot::Overflow => {
                    *used = used.saturating_add(1);
                    Ok(self.quota(0, reset))
                }
            }
        })
    }

    /// Counts one for `who` even past the limit (a failure that happened, not a request to
    /// allow).
    pub fn count(&self, who: &str) {
        self.with_slot(who, |counts, slot, _| {
            let used = counts.entry(slot.key()).or_insert(0);
            *used = used.saturating_add(1);
        });
    }

    /// Takes back one count from `who` in the current window (an attempt that turned out fine).
    pub fn give_back(&self, who: &str) {
        self.with_slot(who, |counts, slot, _| {
            if let Some(used) = counts.get_mut(&slot.key()) {
                *used = used.saturating_sub(1);
            }
        });
    }

    /// How many `who` has used in the current window; for a caller in the overflow, how many
    /// the overflow has (so a flood of new names reads as busy, never as idle).
    pub fn used(&self, who: &str) -> u32 {
        self.with_slot(who, |counts, slot, _| counts.get(&slot.key()).copied().unwrap_or(0))
    }

    /// Whether `who` is at or over the limit, without counting; the quota if so. A caller in
    /// the overflow is never blocked.
    pub fn blocked(&self, who: &str) -> Option<Quota> {
        self.with_slot(who, |counts, slot, reset| {
            let Slot::Own(name) = slot else { return None };
            let used = counts.get(&name).copied().unwrap_or(0);
            (used >= self.limit).then(|| self.quota(used, reset))
        })
    }
}

/// Where a caller is counted: under its own name, or in the shared overflow.
#[derive(Clone, Copy)]
enum Slot {
    Own(u128),
    Overflow,
}

impl Slot {
    fn key(self) -> u128 {
        match self {
            Slot::Own(name) => name,
            Slot::Overflow => OVERFLOW,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_plus_one_is_refused_and_others_are_unaffected() {
        let limiter = WindowLimiter::new(3, Duration::from_secs(60));
        for remaining in [2, 1, 0] {
            assert_eq!(limiter.hit("a").unwrap().remaining, remaining);
        }
        let refused = limiter.hit("a").unwrap_err();
        assert!(refused.reset >= 1 && refused.reset <= 60);
        assert!(limiter.blocked("a").is_some());
        assert!(limiter.hit("b").is_ok());
        assert!(limiter.blocked("b").is_none());
    }

    #[test]
    fn a_new_window_starts_afresh() {
        let limiter = WindowLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(45));
        assert!(limiter.hit("a").is_ok());
    }

    #[test]
    fn a_flood_of_distinct_callers_is_bounded_and_locks_nobody_out() {
        let limiter = WindowLimiter::new(5, Duration::from_secs(60));
        for i in 0..(SHARDS * SHARD_CAPACITY + 10_000) {
            let _ = limiter.hit(&format!("caller {i} {}", "x".repeat(i % 100)));
        }
        let remembered: usize = limiter.shards.iter().map(|s| s.lock().unwrap().counts.len()).sum();
        assert!(remembered <= SHARDS * (SHARD_CAPACITY + 1), "{remembered} callers remembered");
        // Those who arrive after the flood are not refused for it…
        for _ in 0..10 {
            assert!(limiter.hit("yet another caller").is_ok());
        }
        assert!(limiter.blocked("yet another caller").is_none());
        // …but read as busy, so their costly checks take the narrow lane.
        assert!(limiter.used("yet another caller") >= 5);
        // Callers remembered before the flood keep their own counts.
        assert_eq!(limiter.used("caller 0 "), 1);
    }

    #[test]
    fn give_back_undoes_one_count() {
        let limiter = WindowLimiter::new(1, Duration::from_secs(60));
        assert!(limiter.hit("a").is_ok());
        limiter.give_back("a");
        assert!(limiter.hit("a").is_ok());
        limiter.count("a");
        assert_eq!(limiter.used("a"), 2);
    }
}
